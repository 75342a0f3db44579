"""``missing_plate``: the bead did not fuse with one plate (seed 001, 6.3 "Falta de material
en una chapa").

Along a section, on one side of the centreline, the outer part of the bead's flank is
missing and a groove separates what is left of the bead from the plate. Across the bead,
with ``q`` the distance from the centreline on that side and ``h`` the half width:

* ``q < e0 = h × (1 - flank)``: the bead, untouched (a soft 1.5 px shoulder at ``e0``);
* ``e0 <= q <= e1 = h × (1 + margin)``: the surroundings on that side, mirrored across
  ``e1`` (plate with its texture and shadows, or 0 where nothing was measured beside the
  bead), lowered by a groove ``1 - depth × sin(π (q - e0) / (e1 - e0))`` (depth 1 reaches
  0 mid-groove: a gap the scanner cannot see into);
* ``q > e1``: untouched.

Material is only removed (``min`` with the old surface), no-data stays 0, and raised-cosine
ramps of length ``ramp`` blend the section's ends into the sound bead. On a square weld the
groove follows the path round the outside corners; inside (where mirrored rays converge at
the corners) the section stays on one straight side.

Norm: while the groove keeps a bottom (``depth < LACK_OF_FUSION_DEPTH``) beside a plate,
the bead is still fused and the draw is an *undercut* (ISO 6520-1 5011). Its depth is then
cut below the plate it copies, not as a fraction of it: the groove's target is ``plate -
groove × min(1, 1.25 sin(...))`` (a flat bottom) with ``groove = depth ×`` the local plate
height (the median of the plate mirrored into the groove's middle along the section,
recorded in mm as ``reference_mm``), so the groove lies ``depth × reference_mm`` below the
plate beside it all along the section: what the norm measures and what the map shows. A
section whose plate is lower than the groove, or whose surface already is, is redrawn. A
groove down to no data, or no plate on that side, is *lack of fusion* (401). Verdict drawn
first. Recipes without a norm cut the groove as a fraction of the plate, byte for byte as
before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from weldsynth.core.units import full_scale
from weldsynth.geometry import PLATE_LEFT, PLATE_RIGHT, WeldGeometry
from weldsynth.geometry.path import BeadPath
from weldsynth.synth.defects import functional as F
from weldsynth.synth.defects._path_functional import (
    TextureSampler,
    edit_pixels,
    section_weight,
    smoothstep,
    unit_floor,
)
from weldsynth.synth.defects._path_sampling import draw_side, local_piece, place_section
from weldsynth.synth.defects.base import Defect, DefectConfig, DefectParams, NoSizeError, param
from weldsynth.synth.defects.registry import register_defect
from weldsynth.synth.defects.sampling import uniform

SHOULDER = 1.5
"""Width (px) of the soft step where the remaining bead meets the groove."""
END_MARGIN = 0.08
"""On open beads a section keeps this fraction of the bead length from the ends."""
PLATE_BIAS = 0.5
"""With side "any" and one plate visible, that side is chosen 75 % of the time."""
LACK_OF_FUSION_DEPTH = 0.9
"""A groove at least this deep (× plate height) no longer leaves the bead fused."""
FLAT_BOTTOM = 1.25
"""Under a norm the groove's profile is ``min(1, FLAT_BOTTOM × sin)``: a flat bottom over the
middle 40 % of the groove, where the map shows the measured depth."""
GROOVE_ROOM = 0.002
"""Under a norm, an undercut's groove stays this far ([0, 1]) above 0 where the plate beside
the section is lowest (the groove never reaches no data)."""


@dataclass(frozen=True)
class MissingPlateConfig(DefectConfig):
    """What a recipe may set for ``missing_plate``."""

    length: tuple[float, float] = param(
        (0.15, 0.5), bounds=(0.03, 1.0), unit="× length", help="section length"
    )
    flank: tuple[float, float] = param(
        (0.3, 0.6),
        bounds=(0.05, 0.95),
        unit="× half width",
        help="outer part of the flank that is missing",
    )
    depth: tuple[float, float] = param(
        (0.2, 0.8),
        bounds=(0.0, 1.0),
        unit="× plate height",
        help="groove depth below the plate level (1 = gap, 0)",
    )
    margin: float = param(
        0.25,
        bounds=(0.0, 1.0),
        unit="× half width",
        help="where the plate begins beyond the bead edge",
    )
    ramp: tuple[float, float] = param(
        (0.6, 1.5),
        bounds=(0.0, 5.0),
        unit="× width",
        help="transition length at each end of the section",
    )
    side: str = param(
        "any",
        choices=("any", "left", "right"),
        help="unfused side: left of travel (north / outside) or right",
    )


@dataclass(frozen=True)
class MissingPlateParams(DefectParams):
    """One drawn lack of fusion.

    Attributes:
        points: Local centreline ((x, y), ...) around the section, open.
        widths: Bead width at each local point.
        s0: Section start, arc length along ``points``.
        s1: Section end.
        ramp: Transition length at each end, px.
        side: +1 left of travel (north / outside), -1 right (south / inside).
        flank: Missing part of the flank, fraction of the half width.
        margin: Plate start beyond the bead edge, fraction of the half width.
        depth: Groove depth, fraction of the mirrored plate height.
        s: Arc length on the whole bead of the first local point (for the record).
    """

    points: tuple[tuple[float, float], ...]
    widths: tuple[float, ...]
    s0: float
    s1: float
    ramp: float
    side: float
    flank: float
    margin: float
    depth: float
    s: float = 0.0
    reference_mm: float | None = None
    """Under a norm: the plate height (mm) beside the section; 0 when there is no plate."""
    groove: float | None = None
    """Under a norm (undercut): the groove's depth below the plate it copies, [0, 1] units
    (``depth`` × the local plate height); None: the groove is ``depth`` × the plate."""


def apply_missing_plate(height: np.ndarray, p: MissingPlateParams) -> tuple[np.ndarray, np.ndarray]:
    """Cut the flank on one side down to a grooved plate; see the module docstring."""
    pts = np.asarray(p.points, dtype=np.float64)
    wid = np.asarray(p.widths, dtype=np.float64)
    half_max = float(wid.max()) / 2
    reach = half_max * (1 + p.margin) + 1.0
    src_reach = half_max * (1 + 2 * p.margin + p.flank) + SHOULDER + 2.0
    box = F.clip_box(F.bounds_of(pts, src_reach + 1.0), height.shape)
    floor = unit_floor(height.dtype)
    local = BeadPath(pts, wid)

    def edit(unit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lo, hi = (0.0, reach) if p.side > 0 else (-reach, 0.0)

        def band(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """One side, on the section only (nothing changes elsewhere)."""
            on = (s > p.s0) & (s < p.s1)
            return np.where(on, lo, np.inf), np.where(on, hi, -np.inf)

        f = local.pixels(box, reach, band)  # type: ignore[arg-type]
        half = local.width_at(f.s) / 2
        e0 = half * (1 - p.flank)
        e1 = half * (1 + p.margin)
        q = p.side * f.d
        weight = section_weight(f.s, p.s0, p.s1, p.ramp) * smoothstep(
            (q - (e0 - SHOULDER)) / SHOULDER
        )
        sel = (weight > 0) & (q > 0) & (q <= e1) & (f.beyond <= 0)
        if not sel.any():
            return f.iy[sel], f.ix[sel], np.zeros(0)
        w, qs, e0s, e1s = weight[sel], q[sel], e0[sel], e1[sel]
        # mirror across e1 along the ray from the foot (outwards round outside corners)
        vx, vy = f.x[sel] - f.fx[sel], f.y[sel] - f.fy[sel]
        norm = np.maximum(np.hypot(vx, vy), 1e-9)
        step = 2.0 * (e1s - qs) / norm
        plate = TextureSampler(unit, floor)(
            f.x[sel] + step * vx - box[0],  # type: ignore[index]
            f.y[sel] + step * vy - box[1],
        )  # type: ignore[index]
        groove = np.sin(np.pi * np.clip((qs - e0s) / np.maximum(e1s - e0s, 1e-6), 0.0, 1.0))
        if p.groove is None:
            target = plate * (1.0 - p.depth * groove)
        else:  # under a norm: a depth below the plate beside it, the same all along, on a
            # flat bottom (the pixels round the middle all show the whole depth)
            bottom = np.minimum(FLAT_BOTTOM * groove, 1.0)
            target = np.where(plate > 0, np.maximum(plate - p.groove * bottom, floor), 0.0)
        old = unit[f.iy[sel], f.ix[sel]]
        new = np.minimum(old, old + w * (target - old))
        new = np.where((old > 0) & (new < floor) & (target > 0), floor, new)
        return f.iy[sel], f.ix[sel], new

    return edit_pixels(height, box, edit)


@register_defect
class MissingPlate(Defect):
    """Along a section the bead does not reach one plate."""

    name = "missing_plate"
    description = (
        "lack of fusion with one plate: along a section the bead's flank on one "
        "side is missing and a groove separates it from the plate"
    )
    Config = MissingPlateConfig
    Params = MissingPlateParams
    config: MissingPlateConfig
    imperfections = ("undercut", "lack_of_fusion")
    measures_height = True
    norm_relative = ("depth", "plate_height")  # the undercut is depth × plate height

    def imperfection_of(self, params: MissingPlateParams) -> str:  # type: ignore[override]
        """Undercut while fused (a groove with a bottom beside a plate), else lack of fusion."""
        if params.depth >= LACK_OF_FUSION_DEPTH or params.reference_mm == 0.0:
            return "lack_of_fusion"
        return "undercut"

    def measure(
        self, params: MissingPlateParams, calibration: Any = None, geometry: Any = None
    ) -> dict[str, float]:  # type: ignore[override]
        """Groove depth (``depth_mm``; ``depth_rel`` × plate height without a height
        calibration) and section length (``length_mm`` / ``length_px``)."""
        length = params.s1 - params.s0
        if params.reference_mm is None or calibration is None:
            return {"depth_rel": params.depth, "length_px": length}
        if params.reference_mm == 0.0:  # no plate beside it: lack of fusion, a length only
            return {"length_mm": calibration.px_to_mm(length)}
        return {
            "depth_mm": params.depth * params.reference_mm,
            "length_mm": calibration.px_to_mm(length),
        }

    def plate_beside(
        self, geometry: WeldGeometry, side: float, flank: float, span: tuple[float, float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(plate, surface) heights ([0, 1]) every 2 px over ``span``: the plate the groove
        copies at its middle (the current map at the mirror, across ``e1``, of the groove's
        middle line) and the surface the groove is cut into there."""
        path = geometry.path
        assert path is not None and self._map is not None
        s = np.linspace(span[0], span[1], max(2, int((span[1] - span[0]) / 2.0)))
        half = path.width_at(s) / 2
        e0, e1 = half * (1 - flank), half * (1 + self.config.margin)
        mid = (e0 + e1) / 2
        xy = np.concatenate([path.to_image(s, side * (2 * e1 - mid)), path.to_image(s, side * mid)])
        h, w = self._map.shape
        ix = np.clip(np.rint(xy[:, 0]).astype(int), 0, w - 1)
        iy = np.clip(np.rint(xy[:, 1]).astype(int), 0, h - 1)
        heights = self._map[iy, ix].astype(np.float64) / full_scale(self._map.dtype)
        return heights[: len(s)], heights[len(s) :]

    def draw_depth(
        self,
        rng: np.random.Generator,
        geometry: WeldGeometry,
        side: float,
        flank: float,
        span: tuple[float, float],
    ) -> tuple[float, float, float | None]:
        """(depth, plate height in mm, groove) under a norm judging undercut, verdict first:
        the depth below the plate beside the section (``span``, its full-depth part).

        Raises:
            NoSizeError: An acceptable undercut where no plate is seen, a groove deeper
                than the plate beside it, or a surface already lower than the groove.
        """
        c = self.config
        want = PLATE_LEFT if side > 0 else PLATE_RIGHT
        fused = any(p.side == want and p.area > 0 for p in geometry.plates)
        plate, surface = self.plate_beside(geometry, side, flank, span) if fused else ((), ())
        plate = np.asarray(plate)
        if not plate.size or plate.min() <= 0.0:  # no plate seen there: lack of fusion
            if self.wanted == "accept":
                raise NoSizeError(f"{self.name}: no plate beside the section to be fused with")
            return uniform(rng, c.depth), 0.0, None
        level = float(np.median(plate))
        ref = level * self.judge.height_mm_per_unit(self.map_bits(), "undercut")
        hi = c.depth[1] if self.wanted == "reject" else min(c.depth[1], LACK_OF_FUSION_DEPTH - 1e-3)
        depth = self.draw_size(rng, (c.depth[0], hi), geometry, ref, "undercut")
        if depth >= LACK_OF_FUSION_DEPTH:
            return depth, ref, None
        if depth * level > float(plate.min()) - GROOVE_ROOM:
            raise NoSizeError(f"{self.name}: the plate beside the section is lower than the groove")
        if np.any(np.asarray(surface) < plate - depth * level):
            raise NoSizeError(f"{self.name}: the surface there already lies below the groove")
        return depth, ref, depth * level

    def sample(self, rng: np.random.Generator, geometry: WeldGeometry) -> MissingPlateParams:
        """Side (favouring a visible plate), section, flank, groove depth (under a norm
        drawn last, against the plate beside the section drawn)."""
        c = self.config
        path = geometry.path
        assert path is not None
        side = draw_side(rng, c.side, geometry, PLATE_BIAS)
        length = uniform(rng, c.length) * path.length
        flank = uniform(rng, c.flank)
        judged = self.judged("undercut")
        depth = 0.0 if judged else uniform(rng, c.depth)
        ramp = uniform(rng, c.ramp) * path.mean_width
        half = float(np.max(path.widths)) / 2
        guard = half * (1 + 2 * c.margin + flank) + SHOULDER
        a, b = place_section(
            rng,
            path,
            length,
            END_MARGIN * path.length,
            guard=guard,
            straight=path.closed and side < 0,
        )
        ramp = min(ramp, (b - a) / 3)
        ref = groove = None
        if judged:
            depth, ref, groove = self.draw_depth(rng, geometry, side, flank, (a + ramp, b - ramp))
        pad = half + 2.0
        points, widths, origin = local_piece(path, a - pad, b + pad)
        return MissingPlateParams(
            points=points,
            widths=widths,
            s0=a - origin,
            s1=b - origin,
            ramp=ramp,
            side=side,
            flank=flank,
            margin=c.margin,
            depth=depth,
            s=origin,
            reference_mm=ref,
            groove=groove,
        )

    def apply(
        self,
        height: np.ndarray,
        params: MissingPlateParams,  # type: ignore[override]
    ) -> tuple[np.ndarray, np.ndarray]:
        """See :func:`apply_missing_plate`."""
        return apply_missing_plate(height, params)
