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
the bead is still fused and the draw is an *undercut* (ISO 6520-1 5011) of depth ``depth ×
plate height`` (mm, from the plate's mean height, recorded as ``reference_mm``); a groove
down to no data, or no plate on that side, is *lack of fusion* (401). Verdict drawn first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

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
        target = plate * (1.0 - p.depth * groove)
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

    def draw_depth(
        self, rng: np.random.Generator, geometry: WeldGeometry, side: float
    ) -> tuple[float, float | None]:
        """(depth, plate height in mm or None): verdict first under a norm judging undercut."""
        c = self.config
        if not self.judged("undercut"):
            return uniform(rng, c.depth), None
        want = PLATE_LEFT if side > 0 else PLATE_RIGHT
        levels = [p.mean_height for p in geometry.plates if p.side == want and p.area > 0]
        per = self.judge.height_mm_per_unit(self.map_bits(), "undercut")
        ref = float(levels[0]) * per if levels else 0.0
        if ref <= 0.0:  # no plate on that side: lack of fusion, never acceptable
            if self.wanted == "accept":
                raise NoSizeError(f"{self.name}: no plate beside the section to be fused with")
            return uniform(rng, c.depth), 0.0
        hi = c.depth[1] if self.wanted == "reject" else min(c.depth[1], LACK_OF_FUSION_DEPTH - 1e-3)
        return self.draw_size(rng, (c.depth[0], hi), geometry, ref, "undercut"), ref

    def sample(self, rng: np.random.Generator, geometry: WeldGeometry) -> MissingPlateParams:
        """Side (favouring a visible plate), section, flank, groove depth."""
        c = self.config
        path = geometry.path
        assert path is not None
        side = draw_side(rng, c.side, geometry, PLATE_BIAS)
        length = uniform(rng, c.length) * path.length
        flank = uniform(rng, c.flank)
        depth, ref = self.draw_depth(rng, geometry, side)
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
        )

    def apply(
        self,
        height: np.ndarray,
        params: MissingPlateParams,  # type: ignore[override]
    ) -> tuple[np.ndarray, np.ndarray]:
        """See :func:`apply_missing_plate`."""
        return apply_missing_plate(height, params)
