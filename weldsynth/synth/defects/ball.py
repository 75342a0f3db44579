"""``ball``: a round lump of material on or at the edge of the bead (seed 001, 6.3 "Bolas").

The lump is a spherical cap over a disc of radius ``radius``: its rim sits at the lowest
measured height under the disc and its top ``height`` above the highest measured point
within ``CONTEXT`` pixels of the disc, so the centre is the whitest point even on the slope
of the bead and the lump stands above the surface around it. The new surface is the higher
of the old surface and the cap (material is only added), and the fine texture of the
surface underneath (height minus its local blur) is carried onto the cap. Shadow pixels
under the disc are covered by the lump. A disc with no measured pixel under it changes
nothing (the draw is then rejected as a no-op).

Norm: spatter / a lump (a plant rule; ISO 5817 leaves spatter to the application),
measured by its diameter ``2 × radius``; verdict drawn first, then the radius. On a sloped
bead the cap above leaves the uphill part of its disc under the surface, so the lump on the
map is smaller than its disc. Under a norm the lump is therefore *added* onto the surface
(``rim_on_surface``): ``h' = h + (top - h(centre)) × sphere(r)`` over the whole disc (shadow
under it filled with the smoothed surroundings first), so its rim follows the surface, the
whole disc rises and the diameter measured is the one the map shows. Recipes without a norm
draw the cap as above, byte for byte as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from weldsynth.geometry import WeldGeometry
from weldsynth.synth.defects import functional as F
from weldsynth.synth.defects.base import Defect, DefectConfig, DefectParams, param
from weldsynth.synth.defects.registry import register_defect
from weldsynth.synth.defects.sampling import draw_on_bead, uniform

MAX_RADIUS_PER_WIDTH = 0.6
"""A drawn radius is capped at this fraction of the local bead width."""
CONTEXT = 3.0
"""Pixels around the disc whose highest point the top of the lump must clear."""


@dataclass(frozen=True)
class BallConfig(DefectConfig):
    """What a recipe may set for ``ball``."""

    radius: tuple[float, float] = param(
        (3.0, 7.0), bounds=(1.0, 30.0), unit="px", help="lump radius (capped at 0.6 × bead width)"
    )
    height: tuple[float, float] = param(
        (0.08, 0.25),
        bounds=(0.01, 1.0),
        unit="of full scale",
        help="top of the lump above the highest point near it",
    )
    offset: tuple[float, float] = param(
        (0.0, 0.85),
        bounds=(0.0, 1.5),
        unit="× half width",
        help="distance of the centre from the centreline",
    )


@dataclass(frozen=True)
class BallParams(DefectParams):
    """One drawn ball.

    Attributes:
        center: (x, y) in image coordinates.
        radius: Disc radius, px.
        height: Prominence of the top over the highest surface within ``CONTEXT`` px of the
            disc (full scale).
        s: Arc length of the centre (for the record).
        d: Signed offset of the centre (for the record).
    """

    center: tuple[float, float]
    radius: float
    height: float
    s: float = 0.0
    d: float = 0.0
    rim_on_surface: bool = False
    """Under a norm: the lump is added onto the surface over its whole disc (see the module
    docstring); False: the cap's rim sits at the lowest point under the disc."""


def texture_of(unit: np.ndarray, valid: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """Fine texture: height minus its blur over measured pixels only (0 on no-data)."""
    w = valid.astype(np.float32)
    num = cv2.GaussianBlur((unit * valid).astype(np.float32), (0, 0), sigma)
    den = cv2.GaussianBlur(w, (0, 0), sigma)
    smooth = num / np.maximum(den, 1e-6)
    return np.where(valid, unit - smooth, 0.0)


def ball_surface(unit: np.ndarray, r: np.ndarray, radius: float, height: float) -> np.ndarray:
    """New float heights of a box with a lump over ``r < 1`` (see module docstring)."""
    inside = r < 1.0
    valid = unit > 0
    under = unit[inside & valid]
    if under.size == 0:
        return unit
    near = unit[(r < 1.0 + CONTEXT / radius) & valid]
    lo, hi = float(under.min()), float(near.max())
    top = min(hi + height, 1.0)
    cap = lo + (top - lo) * F.sphere_profile(r) + texture_of(unit, valid)
    return np.where(inside, np.maximum(unit, np.minimum(cap, 1.0)), unit)


def ball_on_surface(unit: np.ndarray, r: np.ndarray, radius: float, height: float) -> np.ndarray:
    """New float heights of a box with a lump added onto the surface over ``r < 1``: its top
    ``height`` above the highest measured point within ``CONTEXT`` px of the disc, its rim
    following the surface (every pixel of the disc rises)."""
    inside = r < 1.0
    valid = unit > 0
    if not (inside & valid).any():
        return unit
    near = unit[(r < 1.0 + CONTEXT / radius) & valid]
    top = min(float(near.max()) + height, 1.0)
    w = valid.astype(np.float32)
    num = cv2.GaussianBlur((unit * valid).astype(np.float32), (0, 0), 1.5)
    den = cv2.GaussianBlur(w, (0, 0), 1.5)
    base = np.where(valid, unit, num / np.maximum(den, 1e-6))  # shadow: the surroundings
    centre = float(base.flat[int(np.argmin(r))])
    rise = max(top - centre, height) * F.sphere_profile(r)
    return np.where(inside, np.minimum(base + rise, 1.0), unit)


def apply_ball(height: np.ndarray, p: BallParams) -> tuple[np.ndarray, np.ndarray]:
    """Pure lump maths on any supported dtype; returns (new height, changed mask)."""
    cx, cy = p.center
    reach = p.radius + CONTEXT + 1.0  # the context ring, also for the texture blur
    box = F.clip_box((cx - reach, cy - reach, cx + reach, cy + reach), height.shape)

    def edit(unit: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        r = F.ellipse_radius(xs, ys, p.center, p.radius)
        if p.rim_on_surface:
            return ball_on_surface(unit, r, p.radius, p.height)
        return ball_surface(unit, r, p.radius, p.height)

    return F.edit_box(height, box, edit)


@register_defect
class Ball(Defect):
    """A round lump of material whose centre is whitest."""

    name = "ball"
    description = "lump of material: a round dome on or at the edge of the bead, centre whitest"
    Config = BallConfig
    Params = BallParams
    config: BallConfig
    imperfections = ("spatter",)
    norm_size = ("radius", 2.0)

    def measure(
        self, params: BallParams, calibration: Any = None, geometry: Any = None
    ) -> dict[str, float]:  # type: ignore[override]
        """The lump's diameter: ``diameter_mm`` (``diameter_px`` uncalibrated)."""
        d = 2.0 * params.radius
        return (
            {"diameter_px": d} if calibration is None else {"diameter_mm": calibration.px_to_mm(d)}
        )

    def sample(self, rng: np.random.Generator, geometry: WeldGeometry) -> BallParams:
        """Centre on (or at the edge of) the bead, on measured data when possible."""
        c = self.config
        judged = self.judged("spatter")
        if judged:
            per_px = 2.0 * self.judge.px_per_unit()
            radius = self.draw_size(rng, c.radius, geometry, per_px, "spatter")
        else:
            radius = uniform(rng, c.radius)
        height = uniform(rng, c.height)
        s, d, xy = draw_on_bead(rng, geometry, margin=radius, offset=c.offset)
        width = float(geometry.path.width_at(s))  # type: ignore[union-attr]
        radius = max(1.0, min(radius, MAX_RADIUS_PER_WIDTH * width))
        return BallParams(
            center=(float(xy[0]), float(xy[1])),
            radius=radius,
            height=height,
            s=s,
            d=d,
            rim_on_surface=judged,
        )

    def apply(self, height: np.ndarray, params: BallParams) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[override]
        """See :func:`apply_ball`."""
        return apply_ball(height, params)
