"""Find the bead in a height map: centreline path, widths, axis, plates, no-data zones.

``locate(height)`` returns a :class:`WeldGeometry`. Defects and reports place things in the
path coordinates of :class:`weldsynth.geometry.path.BeadPath` (arc length along, signed
offset across).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from weldsynth.core.units import is_pixel_dtype, to_unit
from weldsynth.geometry.closed import fit_closed, ring_hole
from weldsynth.geometry.line import fit_line
from weldsynth.geometry.path import BeadPath, axis_angle
from weldsynth.geometry.ridge import (
    Reduced,
    crest_component,
    noise_level,
    quantiles,
    reduce,
    ridge_response,
)

PLATE_NONE = 0
PLATE_LEFT = 1
"""Plate on the positive-offset side (left of travel; north for a left-to-right bead,
outside for a closed path)."""
PLATE_RIGHT = 2
"""Plate on the negative-offset side (right of travel; south, or inside for a closed path)."""


@dataclass(frozen=True)
class Plate:
    """A plate plane beside the bead.

    Attributes:
        side: ``PLATE_LEFT`` or ``PLATE_RIGHT``.
        area: Number of pixels.
        mean_height: Mean height in [0, 1].
        plane: (a, b, c) of the least-squares plane ``h = a*x + b*y + c``.
    """

    side: int
    area: int
    mean_height: float
    plane: tuple[float, float, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "side": "left" if self.side == PLATE_LEFT else "right",
            "area": int(self.area),
            "mean_height": round(float(self.mean_height), 6),
            "plane": [round(float(v), 8) for v in self.plane],
        }


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
        }


MIN_VALID_FRACTION = 0.03
"""Below this fraction of measured pixels a map is reported as empty."""
MIN_RELIEF = 0.02
"""Smallest height range (1st to 99th percentile) of a map that may hold a bead."""
MIN_RIDGE = 0.04
"""Smallest height of a bead above its surroundings (heights in [0, 1])."""
MIN_SNR = 6.0
"""Smallest bead height in units of the pixel noise."""
MIN_COVERED = 0.75
"""Smallest fraction of the rough ridge that a line bead found in it must cover."""
MIN_PLATE_FRACTION = 0.02
"""Smallest plate, as a fraction of the map, reported as a plate."""


def locate(height: np.ndarray) -> WeldGeometry:
    """Locate the bead in a height map.

    The bead is the ridge that stands out of its local background (a morphological opening
    wider than the bead removes it and leaves flat or tilted plates), found roughly at half
    resolution. A ridge that encloses a hole is a closed (square) bead; otherwise it is a
    line bead along its main axis. Cross-sections of the full-resolution map along the rough
    centreline then give the exact edges, so the centre, widths and ends
    (:mod:`weldsynth.geometry.profile`). Plates are the measured pixels on either side.

    Args:
        height: 2-D array, float in [0, 1] or uint8/uint16 pixels; 0 = no data. Not modified.

    Returns:
        The :class:`WeldGeometry`; ``found`` is False (with a reason) when there is no bead.
    """
    f = _to_float(height)
    shape = (int(f.shape[0]), int(f.shape[1]))
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
    noise = noise_level(f, valid)
    if peak < max(MIN_RIDGE, MIN_SNR * noise):
        return _missing(f, f"no ridge stands out (ridge {peak:.3f}, noise {noise:.3f})")
    crest = crest_component(ridge, peak)
    if crest is None:
        return _missing(f, "no bead-sized ridge")
    min_hole = max(0.01 * crest.size, 25.0)
    ring = _close(crest, 3)
    hole = ring_hole(ring, min_hole)
    if hole is None:  # a nearly closed ring (a gap, a cut) still makes a square weld
        ring = _close(crest, 9)
        hole = ring_hole(ring, min_hole)
    if hole is not None:
        closed = fit_closed(ring & ~hole, hole, small.to_full, small.scale, f, validf)
        if closed is None:
            return _missing(f, "closed ridge without a usable midline")
        bead = _band(closed.path, shape) & valid
        labels, plates = _plates(f, valid, bead, ~closed.inside)
        return WeldGeometry(
            shape, True, None, closed.path, None, bead, labels, plates, ~valid, closed.corners
        )
    return _locate_line(f, validf, small, ridge, crest)


def _locate_line(
    f: np.ndarray, validf: np.ndarray, small: Reduced, ridge: np.ndarray, crest: np.ndarray
) -> WeldGeometry:
    """The line bead along the crest (no hole in it), or a not-found geometry.

    Args:
        f: float32 heights, 0 = no data.
        validf: float32 1 where there is data.
        small: The reduced map the ridge and crest were found on.
        ridge: Ridge response of ``small``.
        crest: bool mask of the bead's crest in ``small``.
    """
    shape = (int(f.shape[0]), int(f.shape[1]))
    valid = validf > 0
    ys, xs = np.nonzero(crest)
    fx, fy = small.to_full(xs.astype(np.float64), ys.astype(np.float64))
    line = fit_line(
        fx,
        fy,
        ridge[ys, xs].astype(np.float64),
        f,
        validf,
        reach=round(0.33 * min(shape)),
        pixel_area=small.scale[0] * small.scale[1],
    )
    if line is None or line.straightness < 0.8 or line.support < 0.5:
        return _missing(f, "the ridge is not line-shaped")
    if line.path.length < 2.0 * line.path.mean_width:
        return _missing(f, "the ridge is too short for a bead")
    band = _band(line.path, shape)
    xi = np.clip(np.rint(fx).astype(np.intp), 0, shape[1] - 1)
    yi = np.clip(np.rint(fy).astype(np.intp), 0, shape[0] - 1)
    covered = float(np.mean(band[yi, xi]))
    if covered < MIN_COVERED:
        return _missing(f, f"the ridge is not one line bead ({100 * covered:.0f}% on the path)")
    bead = band & valid
    labels, plates = _plates(f, valid, bead, _left_of(line.path, shape))
    # the main axis: the line through the centres (parallel to a curved bead's chord)
    angle = axis_angle(line.axis)
    return WeldGeometry(shape, True, None, line.path, angle, bead, labels, plates, ~valid, ())


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


def _vertex_normals(path: BeadPath) -> np.ndarray:
    """Unit left normals at the vertices (central differences; one-sided at open ends)."""
    pts = path.points
    if path.closed:
        t = np.roll(pts, -1, axis=0) - np.roll(pts, 1, axis=0)
    else:
        t = np.gradient(pts, axis=0)
    t = t / np.maximum(np.hypot(t[:, 0], t[:, 1]), 1e-9)[:, None]
    return np.stack([t[:, 1], -t[:, 0]], axis=1)


def _fill(
    shape: tuple[int, int], polys: list[np.ndarray], value: int = 1, out: np.ndarray | None = None
) -> np.ndarray:
    """Fill polygons (float (x, y) vertices) with sub-pixel precision."""
    if out is None:
        out = np.zeros(shape, np.uint8)
    cv2.fillPoly(out, [np.rint(p * 16).astype(np.int32) for p in polys], value, cv2.LINE_8, 4)
    return out


def _band(path: BeadPath, shape: tuple[int, int]) -> np.ndarray:
    """Pixels within half the local width of the centreline (polygon fill, not projection)."""
    n = _vertex_normals(path) * (0.5 * path.widths)[:, None]
    pts = path.points
    if path.closed:
        out = _fill(shape, [pts + n])
        return _fill(shape, [pts - n], 0, out) > 0
    return _fill(shape, [np.vstack([pts + n, (pts - n)[::-1]])]) > 0


def _left_of(path: BeadPath, shape: tuple[int, int]) -> np.ndarray:
    """Pixels on the positive-offset side of a line path, its ends extended straight."""
    pts = path.points
    far = 4.0 * (shape[0] + shape[1])
    t0 = path.tangent_at(0.0)
    t1 = path.tangent_at(path.length)
    n0 = np.array([t0[1], -t0[0]])
    n1 = np.array([t1[1], -t1[0]])
    start, end = pts[0] - far * t0, pts[-1] + far * t1
    return _fill(shape, [np.vstack([start, pts, end, end + far * n1, start + far * n0])]) > 0


def _plates(
    f: np.ndarray, valid: np.ndarray, bead: np.ndarray, left: np.ndarray
) -> tuple[np.ndarray, tuple[Plate, ...]]:
    """Plate labels and plane fits of the measured pixels on either side of the bead."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))
    free = valid & (cv2.dilate(bead.astype(np.uint8), kernel) == 0)
    labels = np.zeros(f.shape, np.uint8)
    plates = []
    for side, sel in ((PLATE_LEFT, free & left), (PLATE_RIGHT, free & ~left)):
        idx = np.flatnonzero(sel)
        if len(idx) < MIN_PLATE_FRACTION * f.size:
            continue
        labels.ravel()[idx] = side
        z = f.ravel()[idx]
        sub = idx[:: max(1, len(idx) // 3000)]
        ys, xs = np.divmod(sub, f.shape[1])
        a = np.stack([xs, ys, np.ones(len(sub))], axis=1).astype(np.float64)
        coef = np.linalg.lstsq(a, f.ravel()[sub].astype(np.float64), rcond=None)[0]
        plates.append(
            Plate(side, len(idx), float(z.mean()), (float(coef[0]), float(coef[1]), float(coef[2])))
        )
    return labels, tuple(plates)


def _close(mask: np.ndarray, k: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, kernel) > 0
