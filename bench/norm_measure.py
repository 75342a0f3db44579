"""What each defect's norm measure reads from the image: independent size estimators.

A plugin's ``measure(params, calibration, geometry)`` computes the norm's quantity from the
draw's parameters. These functions measure the same quantity on the map the plugin wrote
(before, after, changed mask), knowing only where to look (the draw's position, never its
size), so ``bench/norm.py`` can say how far the label's number is from the defect a
network sees. Lengths come back in px, heights in [0, 1] units.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from weldsynth.core.units import to_unit

HALF_PIXEL = 0.5
"""Added to the largest distance between the changed pixel centres of a round defect."""
ONE_PIXEL = 1.0
"""Added to the spread of the pixel centres along the bead: the n pixels a band of length
L covers (n = floor(L) or ceil(L)) have centres n - 1 apart, so n is within 1 px of L
(half a pixel would leave the estimate half a pixel short on average)."""


def feret_px(mask: np.ndarray) -> float:
    """Largest distance between changed pixel centres, plus half a pixel."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return 0.0
    pts = np.stack([xs, ys], 1).astype(np.float32)
    hull = cv2.convexHull(pts).reshape(-1, 2).astype(np.float64)
    diff = hull[:, None, :] - hull[None, :, :]
    return float(np.sqrt((diff**2).sum(-1)).max()) + HALF_PIXEL


def extent_along_px(mask: np.ndarray, geometry: Any) -> float:
    """Extent along the bead (arc length) of the changed pixels nearest the centreline
    (within 1.5 px of the nearest: round a corner the far edge of a band is longer than
    its centreline), plus one pixel (see ``ONE_PIXEL``)."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return 0.0
    path = geometry.path
    s, d = path.project(xs.astype(np.float64), ys.astype(np.float64))
    s = np.sort(s[np.abs(d) <= np.abs(d).min() + 1.5])
    if not path.closed:
        return float(s[-1] - s[0]) + ONE_PIXEL
    gaps = np.diff(np.concatenate([s, [s[0] + path.length]]))  # round a closed bead
    return float(path.length - gaps.max()) + ONE_PIXEL


def _sample(unit: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Bilinear heights at (x, y) points (any leading shape)."""
    flat = xy.reshape(-1, 2).astype(np.float32)
    out = cv2.remap(
        unit.astype(np.float32),
        flat[:, 0].reshape(-1, 1),
        flat[:, 1].reshape(-1, 1),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )
    return out.reshape(xy.shape[:-1])


def _stations(lo: float, hi: float, n: int = 9) -> np.ndarray:
    """n arc lengths over [lo, hi] (its middle when it is empty)."""
    if hi - lo < 1.0:
        return np.array([(lo + hi) / 2])
    return np.linspace(lo + 0.5, hi - 0.5, n)


def deviation_offset_px(before: np.ndarray, after: np.ndarray, params: Any, geometry: Any) -> float:
    """Sideways shift of the bead where it is fully deviated: the shift of the old cross
    profile that best matches the new one (least squares over the bead core), median of
    nine stations."""
    path = geometry.path
    b_unit, a_unit = to_unit(before), to_unit(after)
    o, ramp = params.s, params.ramp
    lo = o + params.s0 + ramp if params.kind != "start" else 0.0
    hi = o + params.s1 - ramp if params.kind != "end" else path.length
    stations = _stations(max(0.0, lo), min(path.length, hi))
    reach = float(np.max(params.widths)) + abs(params.amplitude) + 4.0
    e = np.arange(-reach, reach + 1e-9, 0.25)
    shifts = np.arange(-abs(params.amplitude) - 4.0, abs(params.amplitude) + 4.0, 0.05)
    found = []
    for s in stations:
        p, n = path.point_at(s), path.normal_at(s)
        xy = p[None, :] + e[:, None] * n[None, :]
        old, new = _sample(b_unit, xy), _sample(a_unit, xy)
        half = 0.8 * float(path.width_at(s)) / 2
        cost = []
        for d in shifts:
            core = np.abs(e - d) <= half
            moved = np.interp(e[core] - d, e, old)
            cost.append(np.mean((new[core] - moved) ** 2))
        found.append(shifts[int(np.argmin(cost))])
    return float(abs(np.median(found)))


def raise_unit(before: np.ndarray, after: np.ndarray, mask: np.ndarray) -> float:
    """Largest raise of the surface ([0, 1] units)."""
    if not mask.any():
        return 0.0
    return float((to_unit(after)[mask] - to_unit(before)[mask]).max())


def groove_depth_unit(before: np.ndarray, after: np.ndarray, params: Any, geometry: Any) -> float:
    """Depth of the groove below the plate beside it ([0, 1] units): the plate surface that
    is mirrored into the groove's middle, minus the groove there (median of nine stations
    on the full-depth part of the section)."""
    path = geometry.path
    b_unit, a_unit = to_unit(before), to_unit(after)
    lo = params.s + params.s0 + params.ramp
    hi = params.s + params.s1 - params.ramp
    depths = []
    for s in _stations(lo, hi):
        p, n = path.point_at(s), path.normal_at(s) * params.side
        half = float(path.width_at(s)) / 2
        e0, e1 = half * (1 - params.flank), half * (1 + params.margin)
        mid = (e0 + e1) / 2
        plate = _sample(b_unit, (p + (2 * e1 - mid) * n)[None, :])[0]
        groove = _sample(a_unit, (p + mid * n)[None, :])[0]
        depths.append(plate - groove)
    return float(np.median(depths))


def image_size(
    name: str, rule_id: str, before: np.ndarray, result: Any, geometry: Any
) -> tuple[str, float]:
    """(kind, size seen on the map): kind "px" (a length) or "unit" (a height)."""
    after, mask, params = result.height, result.mask, result.params
    if name in ("hole", "ball"):
        return "px", feret_px(mask)
    if name == "cut" or rule_id == "lack_of_fusion":
        return "px", extent_along_px(mask, geometry)
    if name == "bead_deviation":
        return "px", deviation_offset_px(before, after, params, geometry)
    if name == "excess_material":
        return "unit", raise_unit(before, after, mask)
    if name == "missing_plate":
        return "unit", groove_depth_unit(before, after, params, geometry)
    raise KeyError(f"no image estimator for {name}")
