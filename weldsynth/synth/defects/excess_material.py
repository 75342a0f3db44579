"""``excess_material``: north/south imbalance of the bead (seed 001, 6.3 "Exceso de material").

Too much material went to one side of the centreline and too little to the other: one half
of the bead is whiter, the other darker, over the whole bead or over one section of it.
Heights are scaled, never painted, so ripples and texture stay:

    h' = h × (1 + strength × a(s) × sin(π d / half width))     for |d| <= half width

``a(s)`` is 1 on the section with raised-cosine ramps of length ``ramp`` at its ends (1
everywhere for the whole bead), ``d`` the signed distance to the centreline (the factor
follows the path round the corners of a square weld). The centreline and the bead edges
keep their heights; the change peaks half-way to each edge. A raise takes at most
``HEADROOM`` of the room left under ``CEILING``, approached softly (clipped white plateaus
would erase the texture). No-data pixels stay 0.

Norm: excess weld metal (ISO 6520-1 502), the height of the raised side above the
nominal reinforcement. Under a norm the change is *added* instead of scaled, so that this
height is the same all along the section and is what the map shows:

    h' = h + strength × level × a(s) × sin(π d / half width)

with ``level`` the bead's median height on the map (recorded in the params): the crest of
the raised half stands ``|strength| × level`` above the bead it replaces (mm:
``|strength| × reference_mm``, ``reference_mm`` = ``level`` in mm from the calibration's
``height_mm``) and the texture is kept (added to). Heights above ``KNEE`` are compressed
softly towards full scale; the draw keeps most of the crest line under it, so the crest
shows the whole raise. Verdict drawn first. Recipes without a norm scale the surface as
above, byte for byte as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from weldsynth.core.units import full_scale
from weldsynth.geometry import WeldGeometry
from weldsynth.geometry.path import BeadPath
from weldsynth.synth.defects import functional as F
from weldsynth.synth.defects._path_functional import (
    edit_pixels,
    section_weight,
    unit_floor,
)
from weldsynth.synth.defects._path_sampling import (
    draw_side,
    local_piece,
    place_section,
    whole_piece,
)
from weldsynth.synth.defects.base import Defect, DefectConfig, DefectParams, param
from weldsynth.synth.defects.registry import register_defect
from weldsynth.synth.defects.sampling import uniform

CEILING = 0.98
"""Full-scale height raises are kept under (softly, instead of clipping at 1)."""
HEADROOM = 0.6
"""A raise takes at most this share of the room left under ``CEILING`` (so even a bead near
the top keeps some of its texture)."""
END_MARGIN = 0.05
"""On open beads a section keeps this fraction of the bead length from the ends."""
KNEE = 0.95
"""Under a norm, raised heights above this are compressed softly towards full scale (as a
scanner nearing the end of its range); below it the raise is exact."""
CREST_QUANTILE = 25.0
"""Under a norm, a draw keeps this percentile of the crest line's heights (half-way to the
bead edges) plus the raise under ``KNEE``, so the crest shows the whole raise."""


@dataclass(frozen=True)
class ExcessMaterialConfig(DefectConfig):
    """What a recipe may set for ``excess_material``."""

    strength: tuple[float, float] = param(
        (0.12, 0.3),
        bounds=(0.02, 0.8),
        unit="× height",
        help="relative raise of one half (and drop of the other)",
    )
    p_whole: float = param(
        0.4,
        bounds=(0.0, 1.0),
        unit="",
        help="share of draws over the whole bead (else one section)",
    )
    length: tuple[float, float] = param(
        (0.2, 0.6), bounds=(0.05, 1.0), unit="× length", help="section length"
    )
    ramp: tuple[float, float] = param(
        (0.5, 1.5),
        bounds=(0.0, 5.0),
        unit="× width",
        help="length of the transition at each end of a section",
    )
    side: str = param(
        "any",
        choices=("any", "left", "right"),
        help="raised half: left of travel (north / outside) or right",
    )


@dataclass(frozen=True)
class ExcessMaterialParams(DefectParams):
    """One drawn imbalance.

    Attributes:
        points: Centreline ((x, y), ...): the local piece around the section, or the whole
            path.
        widths: Bead width at each point.
        closed: True when ``points`` is a whole closed path.
        whole: True for the whole bead (``s0``, ``s1``, ``ramp`` unused).
        s0: Section start, arc length along ``points``.
        s1: Section end.
        ramp: Transition length at each end, px.
        strength: Signed relative change: + raises the left half (north / outside).
        s: Arc length on the whole bead of the first point (for the record).
    """

    points: tuple[tuple[float, float], ...]
    widths: tuple[float, ...]
    closed: bool
    whole: bool
    s0: float
    s1: float
    ramp: float
    strength: float
    s: float = 0.0
    reference_mm: float | None = None
    """Under a norm: the bead height (mm) the strength is a fraction of."""
    level: float | None = None
    """Under a norm: the bead height ([0, 1] units) the strength is a fraction of; the raise
    ``strength × level`` is then added (see the module docstring). None: scaled."""


def apply_excess_material(
    height: np.ndarray, p: ExcessMaterialParams
) -> tuple[np.ndarray, np.ndarray]:
    """Scale the two halves of the bead in opposite directions; see the module docstring."""
    pts = np.asarray(p.points, dtype=np.float64)
    wid = np.asarray(p.widths, dtype=np.float64)
    reach = float(wid.max()) / 2 + 1.0
    box = F.clip_box(F.bounds_of(pts, reach + 1.0), height.shape)
    floor = unit_floor(height.dtype)
    local = BeadPath(pts, wid, p.closed)

    def edit(unit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        def band(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Across the bead, on the section only (nothing changes elsewhere)."""
            on = (s > p.s0) & (s < p.s1)
            return np.where(on, -reach, np.inf), np.where(on, reach, -np.inf)

        f = local.pixels(box, reach, None if p.whole else band)  # type: ignore[arg-type]
        half = local.width_at(f.s) / 2
        # across the bead; past an open end, across the end's normal (a cap keeps the
        # profile of the bead it ends)
        u = np.where(f.beyond > 0, f.e, f.d) / np.maximum(half, 1e-6)
        across = np.where(np.abs(u) <= 1.0, np.sin(np.pi * u), 0.0)
        along = np.ones_like(f.s) if p.whole else section_weight(f.s, p.s0, p.s1, p.ramp)
        along = along * np.clip(1.0 - f.beyond / np.maximum(half, 1e-6), 0.0, 1.0)
        old = unit[f.iy, f.ix]
        if p.level is not None:  # under a norm: the raise added, its crest as measured
            new = old + p.strength * p.level * along * across
            soft = 1.0 - KNEE  # above the knee: softly towards full scale
            top = KNEE + soft * -np.expm1(-np.maximum(new - KNEE, 0.0) / soft)
            new = np.where(new > KNEE, top, new)
            return f.iy, f.ix, np.where(old > 0, np.clip(new, floor, 1.0), 0.0)
        change = old * (p.strength * along * across)
        # raises approach the ceiling softly (a clipped plateau would erase the texture)
        room = np.maximum(HEADROOM * (CEILING - old), 1e-6)
        rise = change > 0  # only there: a lowered pixel's exponent would overflow, unused
        change[rise] = room[rise] * -np.expm1(-change[rise] / room[rise])
        return f.iy, f.ix, np.where(old > 0, np.clip(old + change, floor, 1.0), 0.0)

    return edit_pixels(height, box, edit)


@register_defect
class ExcessMaterial(Defect):
    """One half of the bead higher, the other lower."""

    name = "excess_material"
    description = (
        "north/south imbalance: one half of the bead raised, the other lowered, "
        "over the whole bead or a section (texture kept)"
    )
    Config = ExcessMaterialConfig
    Params = ExcessMaterialParams
    config: ExcessMaterialConfig
    imperfections = ("excess_weld_metal",)
    measures_height = True
    norm_relative = ("strength", "bead_height")  # the raise is strength × bead level

    def measure(
        self, params: ExcessMaterialParams, calibration: Any = None, geometry: Any = None
    ) -> dict[str, float]:  # type: ignore[override]
        """Raise of the high side: ``height_mm`` (``height_rel``, × bead height, without a
        height calibration)."""
        if params.reference_mm is None:
            return {"height_rel": abs(params.strength)}
        return {"height_mm": abs(params.strength) * params.reference_mm}

    def headroom(
        self, geometry: WeldGeometry, sign: float, span: tuple[float, float]
    ) -> tuple[float, float]:
        """(bead level, room for a raise), [0, 1] units: the bead's median height on the
        current map, and how far the crest line of the raised half (half-way to its edge,
        lower ``CREST_QUANTILE``, over the arc lengths ``span``) lies under ``KNEE``."""
        level = self.bead_level(geometry)
        path = geometry.path
        if self._map is None or path is None:
            return level, KNEE - level
        s = np.linspace(span[0], span[1], max(2, int((span[1] - span[0]) / 2.0)))
        xy = path.to_image(s, sign * path.width_at(s) / 4)
        h, w = self._map.shape
        ix = np.clip(np.rint(xy[:, 0]).astype(int), 0, w - 1)
        iy = np.clip(np.rint(xy[:, 1]).astype(int), 0, h - 1)
        crest = self._map[iy, ix].astype(np.float64)
        crest = crest[crest > 0] / full_scale(self._map.dtype)
        low = float(np.percentile(crest, CREST_QUANTILE)) if crest.size else level
        return level, max(0.0, KNEE - low)

    def judged_size(
        self, rng: np.random.Generator, geometry: WeldGeometry, sign: float, span: tuple
    ) -> tuple[float, float, float]:
        """(|strength|, bead level, reference_mm) drawn verdict first, the crest of the
        raised half kept under ``KNEE`` (the raise is then what the map shows)."""
        c = self.config
        level, room = self.headroom(geometry, sign, span)
        ref = level * self.judge.height_mm_per_unit(self.map_bits(), "excess_weld_metal")
        bounds = (c.strength[0], min(c.strength[1], room / max(level, 1e-9)))
        size = self.draw_size(rng, bounds, geometry, max(ref, 1e-9), "excess_weld_metal")
        return size, level, ref

    def sample(self, rng: np.random.Generator, geometry: WeldGeometry) -> ExcessMaterialParams:
        """Side, strength, and the whole bead or a section of it (under a norm the strength
        is drawn last, for the crest of the section drawn)."""
        c = self.config
        path = geometry.path
        assert path is not None
        judged = self.judged("excess_weld_metal")
        size = 0.0 if judged else uniform(rng, c.strength)
        sign = draw_side(rng, c.side)
        whole = bool(rng.random() < c.p_whole)
        length = uniform(rng, c.length) * path.length
        ramp = uniform(rng, c.ramp) * path.mean_width
        ref = level = None
        if whole:
            if judged:
                size, level, ref = self.judged_size(rng, geometry, sign, (0.0, path.length))
            points, widths = whole_piece(path)
            return ExcessMaterialParams(
                points=points,
                widths=widths,
                closed=path.closed,
                whole=True,
                s0=0.0,
                s1=path.length,
                ramp=0.0,
                strength=size * sign,
                s=0.0,
                reference_mm=ref,
                level=level,
            )
        a, b = place_section(rng, path, length, END_MARGIN * path.length)
        ramp = min(ramp, (b - a) / 3)
        if judged:
            size, level, ref = self.judged_size(rng, geometry, sign, (a + ramp, b - ramp))
        pad = float(np.max(path.widths)) / 2 + 2.0
        points, widths, origin = local_piece(path, a - pad, b + pad)
        return ExcessMaterialParams(
            points=points,
            widths=widths,
            closed=False,
            whole=False,
            s0=a - origin,
            s1=b - origin,
            ramp=ramp,
            strength=size * sign,
            s=origin,
            reference_mm=ref,
            level=level,
        )

    def apply(
        self,
        height: np.ndarray,
        params: ExcessMaterialParams,  # type: ignore[override]
    ) -> tuple[np.ndarray, np.ndarray]:
        """See :func:`apply_excess_material`."""
        return apply_excess_material(height, params)
