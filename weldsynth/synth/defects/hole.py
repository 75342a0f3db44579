"""``hole``: a pore, a small roughly round pit inside the bead (seed 001, 6.3 "Agujeros").

The pit is a spherical bowl: heights inside an ellipse (slightly elongated along the bead)
are multiplied by ``1 - depth * sqrt(1 - r²)``, so the centre loses ``depth`` of its height
(``depth = 1`` reaches 0: the scanner sees no bottom) and the rim is untouched. Texture is
kept (the surface is scaled, not replaced) and no-data pixels stay 0. This is the reference
plugin: read it next to :mod:`weldsynth.synth.defects.base`.

Norm: a surface pore (ISO 6520-1 2017), measured by its largest dimension, the diameter
``2 × radius × aspect``. Under a norm the verdict is drawn first, then the radius inside
the interval that gives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from weldsynth.geometry import WeldGeometry
from weldsynth.synth.defects import functional as F
from weldsynth.synth.defects.base import Defect, DefectConfig, DefectParams, param
from weldsynth.synth.defects.registry import register_defect
from weldsynth.synth.defects.sampling import draw_on_bead, tangent_angle, uniform


@dataclass(frozen=True)
class HoleConfig(DefectConfig):
    """What a recipe may set for ``hole``."""

    radius: tuple[float, float] = param(
        (2.0, 4.5), bounds=(1.0, 30.0), unit="px", help="pit radius across the bead"
    )
    depth: tuple[float, float] = param(
        (0.5, 1.0),
        bounds=(0.05, 1.0),
        unit="× height",
        help="fraction of the height removed at the centre",
    )
    aspect: tuple[float, float] = param(
        (1.0, 1.4), bounds=(1.0, 3.0), unit="", help="elongation along the bead (1 = round)"
    )
    offset: tuple[float, float] = param(
        (0.0, 0.7),
        bounds=(0.0, 1.0),
        unit="× half width",
        help="distance of the centre from the centreline",
    )


@dataclass(frozen=True)
class HoleParams(DefectParams):
    """One drawn hole.

    Attributes:
        center: (x, y) in image coordinates.
        radius: Semi-axis across the bead, px.
        aspect: Semi-axis along the bead / radius.
        angle: Direction of the long axis, degrees in image coordinates.
        depth: Fraction of the height removed at the centre.
        s: Arc length of the centre (for the record).
        d: Signed offset of the centre (for the record).
    """

    center: tuple[float, float]
    radius: float
    aspect: float
    angle: float
    depth: float
    s: float = 0.0
    d: float = 0.0


def apply_hole(height: np.ndarray, p: HoleParams) -> tuple[np.ndarray, np.ndarray]:
    """Pure pit maths on any supported dtype; returns (new height, changed mask)."""
    reach = p.radius * p.aspect
    cx, cy = p.center
    box = F.clip_box((cx - reach, cy - reach, cx + reach, cy + reach), height.shape)

    def edit(unit: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        r = F.ellipse_radius(xs, ys, p.center, p.radius, p.aspect, p.angle)
        return F.pit(unit, r, p.depth)

    return F.edit_box(height, box, edit)


@register_defect
class Hole(Defect):
    """A pore: a small round pit inside the bead."""

    name = "hole"
    description = "pore: a small roughly round pit inside the bead (depth may reach 0)"
    Config = HoleConfig
    Params = HoleParams
    config: HoleConfig
    imperfections = ("surface_pore",)
    norm_size = ("radius", 2.0)

    def measure(
        self, params: HoleParams, calibration: Any = None, geometry: Any = None
    ) -> dict[str, float]:  # type: ignore[override]
        """Largest dimension of the pore: ``diameter_mm`` (``diameter_px`` uncalibrated)."""
        d = 2.0 * params.radius * params.aspect
        if calibration is None:
            return {"diameter_px": d}
        return {"diameter_mm": calibration.px_to_mm(d)}

    def sample(self, rng: np.random.Generator, geometry: WeldGeometry) -> HoleParams:
        """Centre on the bead (on measured data when possible), pit inside the bead."""
        c = self.config
        if self.judged("surface_pore"):  # verdict first, then a radius that gives it
            aspect = uniform(rng, c.aspect)
            per_px = 2.0 * aspect * self.judge.px_per_unit()
            radius = self.draw_size(rng, c.radius, geometry, per_px, "surface_pore")
        else:
            radius = uniform(rng, c.radius)
            aspect = uniform(rng, c.aspect)
        depth = uniform(rng, c.depth)
        s, d, xy = draw_on_bead(
            rng, geometry, margin=radius * aspect + 1.0, offset=c.offset, inset=radius
        )
        angle = tangent_angle(geometry.path, s)  # type: ignore[arg-type]
        return HoleParams(
            center=(float(xy[0]), float(xy[1])),
            radius=radius,
            aspect=aspect,
            angle=angle,
            depth=depth,
            s=s,
            d=d,
        )

    def apply(self, height: np.ndarray, params: HoleParams) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[override]
        """See :func:`apply_hole`."""
        return apply_hole(height, params)
