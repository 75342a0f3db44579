"""Find the bead in a height map: centreline path, widths, axis, plates, no-data zones.

``locate(height)`` returns a :class:`WeldGeometry`. Defects and reports place things in the
path coordinates of :class:`weldsynth.geometry.path.BeadPath` (arc length along, signed
offset across).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from weldsynth.core.units import is_pixel_dtype, to_unit
from weldsynth.geometry.beads import (
    MAX_BORDER,
    Candidate,
    border_share,
    branches,
    candidates,
    crossing_ridge,
    dominant,
    enclosure_problem,
)
from weldsynth.geometry.closed import fit_closed, ring_hole
from weldsynth.geometry.line import fit_line
from weldsynth.geometry.path import BeadPath, axis_angle
from weldsynth.geometry.regions import (
    PLATE_LEFT,
    PLATE_NONE,
    PLATE_RIGHT,
    Plate,
    band,
    close_mask,
    left_of,
    plates_of,
)
from weldsynth.geometry.ridge import (
    CORE_LEVEL,
    Reduced,
    noise_level,
    quantiles,
    reduce,
    ridge_response,
)

__all__ = ["PLATE_LEFT", "PLATE_NONE", "PLATE_RIGHT", "Plate", "WeldGeometry", "locate"]


@dataclass(frozen=True)
class WeldGeometry:
    """Where the bead and the plates are in one height map.

    Attributes:
        shape: (H, W) of the map.
        found: False when no bead could be located; then ``path`` is None and ``reason``
            says why. Callers must not guess a bead in that case.
        reason: Why the bead was not found (None when found).
        path: The bead centreline with widths (None when not found).
        axis_angle: Main axis in degrees (see :func:`weldsynth.geometry.path.axis_angle`) for
            line-shaped beads; None for closed (square) beads and when not found.
        bead_mask: bool (H, W), pixels of the bead.
        plate_labels: uint8 (H, W): ``PLATE_NONE``, ``PLATE_LEFT`` or ``PLATE_RIGHT``.
        plates: One :class:`Plate` per plate label present.
        nodata_mask: bool (H, W), pixels equal to 0 (shadow, noise or removed plane).
        corners: Arc lengths of the corners of a closed path (empty for line beads).
        warnings: What the caller should know about a found bead (e.g. ``several beads:
            ...`` when other ridges were left out); empty when nothing is doubtful.
    """

    shape: tuple[int, int]
    found: bool
    reason: str | None
    path: BeadPath | None
    axis_angle: float | None
    bead_mask: np.ndarray
    plate_labels: np.ndarray
    plates: tuple[Plate, ...]
    nodata_mask: np.ndarray
    corners: tuple[float, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        """ "line", "closed", or "none" when not found."""
        if self.path is None:
            return "none"
        return "closed" if self.path.closed else "line"

    def segments(self) -> list[tuple[float, float]]:
        """(start, end) arc lengths of the straight runs between corners.

        A line bead is one segment; a closed bead has one per side.
        """
        if self.path is None:
            return []
        if not self.corners:
            return [(0.0, self.path.length)]
        cs = sorted(self.corners)
        if self.path.closed:
            return [
                (cs[i], cs[(i + 1) % len(cs)] if i + 1 < len(cs) else cs[0] + self.path.length)
                for i in range(len(cs))
            ]
        edges = [0.0, *cs, self.path.length]
        return list(itertools.pairwise(edges))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (masks reduced to pixel counts)."""
        return {
            "shape": list(self.shape),
            "found": self.found,
            "reason": self.reason,
            "kind": self.kind,
            "axis_angle": None if self.axis_angle is None else round(self.axis_angle, 3),
            "length": None if self.path is None else round(self.path.length, 3),
            "mean_width": None if self.path is None else round(self.path.mean_width, 3),
            "path": None if self.path is None else self.path.to_dict(),
            "corners": [round(c, 3) for c in self.corners],
            "plates": [p.to_dict() for p in self.plates],
            "bead_pixels": int(self.bead_mask.sum()),
            "nodata_pixels": int(self.nodata_mask.sum()),
            "warnings": list(self.warnings),
        }


MIN_VALID_FRACTION = 0.03
"""Below this fraction of measured pixels a map is reported as empty."""
MIN_RELIEF = 0.02
"""Smallest height range (1st to 99th percentile) of a map that may hold a bead."""
MIN_RIDGE = 0.04
"""Smallest height of a bead above its surroundings (heights in [0, 1])."""
NOISE_RIDGE = 2.1
"""The ridge response that white pixel noise alone reaches (its 99.5th percentile), in units
of the pixel noise, at full resolution (halved on a half-resolution map)."""
MIN_SNR = 2.9
"""Smallest bead height (ridge peak) in units of the ridge's noise floor."""
MIN_COVERED = 0.75
"""Smallest fraction of the rough ridge that a line bead found in it must cover."""
CROSS_REACH = 0.45
"""Cross-section reach on each side of a bead wider than the square window, as a fraction
of the map's extent across it."""


def locate(height: np.ndarray) -> WeldGeometry:
    """Locate the bead in a height map.

    The bead is the ridge that stands out of its local background (a morphological opening
    wider than the bead removes it and leaves flat or tilted plates), found roughly at half
    resolution; a bead wider than that window that crosses the whole map is found against
    a background taken along the map's rows or columns instead. A ridge that encloses a
    region it separates from the map's border on every side is a closed (square) bead;
    otherwise it is a line bead along its main axis (along the borders it joins, when it
    crosses the map). Cross-sections of the full-resolution map along the rough centreline
    then give the exact edges, so the centre, widths and ends
    (:mod:`weldsynth.geometry.profile`). Plates are the measured pixels on either side.
    Several ridges are fitted one by one (:mod:`weldsynth.geometry.beads`): the main bead
    is reported with a ``several beads`` warning, or none when no bead dominates.

    Args:
        height: 2-D array, float in [0, 1] or uint8/uint16 pixels; 0 = no data. Not modified.

    Returns:
        The :class:`WeldGeometry`; ``found`` is False (with a reason) when there is no bead.
    """
    f = _to_float(height)
    valid = f > 0
    n_valid = int(np.count_nonzero(valid))
    if n_valid < max(MIN_VALID_FRACTION * f.size, 32):
        return _missing(f, f"almost no data ({100.0 * n_valid / f.size:.1f}% of pixels measured)")
    validf = valid.astype(np.float32)
    small = reduce(f, validf)
    lo, hi = quantiles(small.height[small.valid], (0.01, 0.99))
    if hi - lo < MIN_RELIEF:
        return _missing(f, f"flat map (heights vary by {hi - lo:.3f})")
    ridge = ridge_response(small.height, small.valid)
    (peak,) = quantiles(ridge[small.valid], (0.995,))
    # the ridge is measured on the reduced, smoothed map: its noise is lower than the pixels'
    noise = noise_level(f, valid)
    floor = NOISE_RIDGE * noise / float(np.sqrt(small.scale[0] * small.scale[1]))
    along = None
    wide = crossing_ridge(small, peak, floor)
    if wide is not None:
        ridge, peak, along = wide
    if peak < max(MIN_RIDGE, MIN_SNR * floor):
        return _missing(f, f"no ridge stands out (ridge {peak:.3f}, noise {noise:.3f})")
    found = candidates(ridge, peak, small.valid, floor)
    if not found:
        return _missing(f, "no bead-sized ridge")
    return _choose(_Scene(f, validf, small, ridge, peak, along), found)


@dataclass(frozen=True)
class _Scene:
    """What the fits of one map share: heights, validity, the reduced map and its ridge.

    ``along`` is the axis (0 = x, 1 = y) of a bead wider than the square window that crosses
    the map (the ridge then comes from a row or column background), else None.
    """

    f: np.ndarray
    validf: np.ndarray
    small: Reduced
    ridge: np.ndarray
    peak: float
    along: int | None

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.f.shape[0]), int(self.f.shape[1]))


def _choose(scene: _Scene, found: list[Candidate]) -> WeldGeometry:
    """Fit every candidate ridge; the main bead with its warnings, or not found.

    Beads measured whole rank before beads cut by the map's border, then by crest; the
    main bead must dominate the others of its rank (:func:`dominant`).
    """
    fits: list[tuple[bool, int, WeldGeometry]] = []
    reasons = []
    for cand in found:
        geo = _fit(scene, cand)
        if not geo.found or geo.path is None:
            reasons.append(geo.reason)
            continue
        cut = border_share(geo.path, scene.shape) > MAX_BORDER
        if cut:
            text = "the bead runs along the image border: its width and centre are of its part"
            geo = replace(geo, warnings=(*geo.warnings, f"{text} inside the image"))
        fits.append((cut, cand.crest, geo))
    if not fits:
        return _missing(scene.f, str(reasons[0]))
    fits.sort(key=lambda fit: (fit[0], -fit[1]))
    rivals = [crest for cut, crest, _ in fits if cut == fits[0][0]]
    if not dominant(rivals):
        return _missing(
            scene.f, f"several beads: {len(rivals)} of similar size, none dominates (not merged)"
        )
    geo = fits[0][2]
    if len(found) > 1:
        extra = f"several beads: {len(found) - 1} other ridge(s) beside the main bead, not used"
        geo = replace(geo, warnings=(*geo.warnings, extra))
    return geo


def _fit(scene: _Scene, cand: Candidate) -> WeldGeometry:
    """The bead of one candidate ridge: closed when it encloses a region, else a line."""
    note = None
    if cand.along is None and scene.along is None:
        closed = _locate_closed(scene, cand.mask)
        if isinstance(closed, WeldGeometry):
            return closed
        note = closed
    geo = _locate_line(scene, cand)
    if note is None:
        return geo
    if not geo.found:
        return _missing(scene.f, f"not a closed bead ({note}); {geo.reason}")
    return replace(geo, warnings=(f"a ring-shaped ridge is not a closed bead: {note}",))


def _locate_closed(scene: _Scene, crest: np.ndarray) -> WeldGeometry | str | None:
    """The closed bead of a ridge that encloses a hole; why not (a reason) or None (no hole)."""
    f, validf, small = scene.f, scene.validf, scene.small
    min_hole = max(0.01 * crest.size, 25.0)
    ring = close_mask(crest, 3)
    hole = ring_hole(ring, min_hole)
    if hole is None:  # a nearly closed ring (a gap, a cut) still makes a square weld
        ring = close_mask(crest, 9)
        hole = ring_hole(ring, min_hole)
    if hole is None:
        return None
    closed = fit_closed(ring & ~hole, hole, small.to_full, small.scale, f, validf)
    if closed is None:
        return "closed ridge without a usable midline"
    valid = validf > 0
    full = band(closed.path, scene.shape)
    problem = enclosure_problem(closed, full)
    if problem is not None:
        return problem
    bead = full & valid
    labels, plates = plates_of(f, valid, bead, ~closed.inside)
    geo = WeldGeometry(
        scene.shape, True, None, closed.path, None, bead, labels, plates, ~valid, closed.corners
    )
    return _with_branches(geo, scene, crest, full)


def _locate_line(scene: _Scene, cand: Candidate) -> WeldGeometry:
    """The line bead along a candidate ridge (no enclosure), or a not-found geometry."""
    f, validf, small, shape = scene.f, scene.validf, scene.small, scene.shape
    valid = validf > 0
    ys, xs = np.nonzero(cand.mask)
    fx, fy = small.to_full(xs.astype(np.float64), ys.astype(np.float64))
    reach = round(0.33 * min(shape))
    if scene.along is not None:  # a wide bead: sections across most of the map
        reach = max(reach, round(CROSS_REACH * shape[scene.along]))
    line = fit_line(
        fx,
        fy,
        scene.ridge[ys, xs].astype(np.float64),
        f,
        validf,
        reach=reach,
        pixel_area=small.scale[0] * small.scale[1],
        along=cand.along,
    )
    if line is None or line.straightness < 0.8 or line.support < 0.5:
        return _missing(f, "the ridge is not line-shaped")
    if cand.along is None and line.path.length < 2.0 * line.path.mean_width:
        return _missing(f, "the ridge is too short for a bead")
    full = band(line.path, shape)
    xi = np.clip(np.rint(fx).astype(np.intp), 0, shape[1] - 1)
    yi = np.clip(np.rint(fy).astype(np.intp), 0, shape[0] - 1)
    covered = float(np.mean(full[yi, xi]))
    if covered < MIN_COVERED:
        return _missing(f, f"the ridge is not one line bead ({100 * covered:.0f}% on the path)")
    bead = full & valid
    labels, plates = plates_of(f, valid, bead, left_of(line.path, shape))
    # the main axis: the line through the centres (parallel to a curved bead's chord)
    angle = axis_angle(line.axis)
    geo = WeldGeometry(shape, True, None, line.path, angle, bead, labels, plates, ~valid, ())
    return _with_branches(geo, scene, cand.mask, full)


def _with_branches(
    geo: WeldGeometry, scene: _Scene, mask: np.ndarray, full: np.ndarray
) -> WeldGeometry:
    """``geo`` with a ``several beads`` warning when crest branches off its band (a T)."""
    assert geo.path is not None
    core = mask & (scene.ridge > CORE_LEVEL * scene.peak)
    n, share = branches(core, full, scene.small, geo.path.mean_width)
    if n == 0:
        return geo
    text = f"several beads: {n} branch(es) leave the main bead ({100 * share:.0f}% of its crest)"
    return replace(geo, warnings=(*geo.warnings, text))


def _missing(f: np.ndarray, reason: str) -> WeldGeometry:
    """A not-found geometry of the heights ``f`` (no data where ``f`` is 0)."""
    shape = (int(f.shape[0]), int(f.shape[1]))
    return WeldGeometry(
        shape,
        False,
        reason,
        None,
        None,
        np.zeros(shape, bool),
        np.zeros(shape, np.uint8),
        (),
        ~(f > 0),
    )


def _to_float(height: np.ndarray) -> np.ndarray:
    """Heights as float32 in [0, 1] (a new array; the input is never modified)."""
    a = np.asarray(height)
    if a.ndim != 2:
        raise ValueError(f"a height map must be 2-D, got shape {a.shape}")
    if is_pixel_dtype(a.dtype):
        return to_unit(a)
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"expected float, uint8 or uint16 heights, got {a.dtype}")
    out = np.nan_to_num(a.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(out, 0.0, 1.0, out=out)
