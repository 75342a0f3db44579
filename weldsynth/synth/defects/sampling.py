"""Random placement helpers for ``sample()``: positions in path coordinates.

All randomness comes from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import numpy as np

from weldsynth.geometry import WeldGeometry
from weldsynth.geometry.path import BeadPath


def uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """One draw from [lo, hi] (exactly lo when lo == hi)."""
    lo, hi = bounds
    return float(lo) if hi <= lo else float(rng.uniform(lo, hi))


def draw_s(
    rng: np.random.Generator, path: BeadPath, margin: float = 0.0, span: float = 0.0
) -> float:
    """Arc length of the start of a feature of length ``span`` along the path.

    On open paths the feature stays ``margin`` pixels away from both ends (or is centred
    when the path is too short); on closed paths any start is fine (the feature may cross
    the seam).
    """
    if path.closed:
        return float(rng.uniform(0.0, path.length))
    lo, hi = margin, path.length - margin - span
    if hi <= lo:
        return float(max(0.0, (path.length - span) / 2))
    return float(rng.uniform(lo, hi))


def is_valid_at(geometry: WeldGeometry, xy: np.ndarray) -> bool:
    """True when the pixel nearest to (x, y) is inside the map and has data."""
    h, w = geometry.shape
    x, y = round(float(xy[0])), round(float(xy[1]))
    if not (0 <= x < w and 0 <= y < h):
        return False
    return not bool(geometry.nodata_mask[y, x])


def draw_on_bead(
    rng: np.random.Generator,
    geometry: WeldGeometry,
    margin: float,
    offset: tuple[float, float],
    inset: float = 0.0,
    attempts: int = 12,
) -> tuple[float, float, np.ndarray]:
    """A point on the bead, on measured data when possible.

    Args:
        rng: Random source.
        geometry: Located weld (``path`` set).
        margin: Distance kept from the ends of an open path, px.
        offset: Range of |d| as a fraction of the usable half width; the sign is random.
        inset: Pixels subtracted from the half width before scaling (keeps a feature of
            that radius inside the bead).
        attempts: Draws tried to land on a pixel with data; the last one is kept otherwise.

    Returns:
        (s, d, xy): arc length, signed offset and image point.
    """
    path = geometry.path
    assert path is not None
    s = d = 0.0
    xy = np.zeros(2)
    for _ in range(attempts):
        s = draw_s(rng, path, margin)
        half = max(0.0, float(path.width_at(s)) / 2 - inset)
        d = uniform(rng, offset) * half * (1.0 if rng.random() < 0.5 else -1.0)
        xy = path.to_image(s, d)
        if is_valid_at(geometry, xy):
            break
    return s, d, xy


def tangent_angle(path: BeadPath, s: float) -> float:
    """Direction of travel at ``s`` in degrees, image coordinates (from +x towards +y)."""
    t = path.tangent_at(s)
    return float(np.degrees(np.arctan2(t[1], t[0])))
