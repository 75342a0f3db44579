"""Pure array helpers shared by the defect plugins (no randomness, no plugin state).

Every plugin's ``apply`` follows the same pattern: pick a small pixel box around the
defect, convert that box to float64 heights in [0, 1], compute the new values, convert back
to the input's dtype, and write only the box into a copy of the input. The helpers below do
the bookkeeping so a plugin only writes the maths.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from weldsynth.core import units
from weldsynth.core.units import from_unit, full_scale, is_pixel_dtype
from weldsynth.geometry.path import BeadPath

Box = tuple[int, int, int, int]
"""Half-open pixel box (x0, y0, x1, y1)."""

__all__ = [
    "Box",
    "band_mask",
    "bounds_of",
    "box_grid",
    "check_height",
    "clip_box",
    "edit_box",
    "ellipse_radius",
    "from_unit",
    "full_scale",
    "local_path",
    "pit",
    "sphere_profile",
    "to_unit",
]


def check_height(height: np.ndarray) -> None:
    """Raise ``TypeError``/``ValueError`` unless ``height`` is a 2-D uint8/uint16/float map."""
    if not isinstance(height, np.ndarray):
        raise TypeError(f"height must be a numpy array, got {type(height).__name__}")
    if height.ndim != 2:
        raise ValueError(f"height must be 2-D (H, W), got shape {height.shape}")
    if not is_pixel_dtype(height.dtype) and height.dtype.kind != "f":
        raise TypeError(f"height must be uint8, uint16 or float, got {height.dtype}")


def to_unit(pixels: np.ndarray) -> np.ndarray:
    """Pixels of any supported dtype to float64 heights in [0, 1] (a new array)."""
    return units.to_unit(pixels, np.float64)


def clip_box(box: tuple[float, float, float, float], shape: tuple[int, int]) -> Box | None:
    """Round a float (x0, y0, x1, y1) outward to whole pixels and clip it to the image.

    Returns None when the box misses the image.
    """
    h, w = shape
    x0 = max(0, int(np.floor(box[0])))
    y0 = max(0, int(np.floor(box[1])))
    x1 = min(w, int(np.ceil(box[2])) + 1)
    y1 = min(h, int(np.ceil(box[3])) + 1)
    if x0 >= x1 or y0 >= y1:
        return None
    return x0, y0, x1, y1


def box_grid(box: Box) -> tuple[np.ndarray, np.ndarray]:
    """(X, Y) float64 pixel-centre coordinates of a box."""
    x0, y0, x1, y1 = box
    ys, xs = np.mgrid[y0:y1, x0:x1]
    return xs.astype(np.float64), ys.astype(np.float64)


def edit_box(
    height: np.ndarray,
    box: Box | None,
    edit: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``edit`` to one box of a height map, returning (new map, mask of changed pixels).

    Args:
        height: 2-D uint8/uint16/float map; not modified.
        box: Pixel box to edit (None: nothing changes).
        edit: ``edit(unit, xs, ys) -> new_unit``: gets the box as float64 heights in [0, 1]
            and its pixel coordinates, returns the new float64 heights (clipped afterwards).

    Returns:
        A new array of the input's dtype and shape, and the bool mask of pixels whose
        stored value differs from the input.
    """
    check_height(height)
    out = height.copy()
    mask = np.zeros(height.shape, dtype=bool)
    if box is None:
        return out, mask
    x0, y0, x1, y1 = box
    old = height[y0:y1, x0:x1]
    xs, ys = box_grid(box)
    new = from_unit(edit(to_unit(old), xs, ys), height.dtype)
    changed = new != old
    if height.dtype.kind == "f":
        changed &= ~(np.isnan(new) & np.isnan(old))
    out[y0:y1, x0:x1] = np.where(changed, new, old)
    mask[y0:y1, x0:x1] = changed
    return out, mask


def ellipse_radius(
    xs: np.ndarray,
    ys: np.ndarray,
    center: tuple[float, float],
    radius: float,
    aspect: float = 1.0,
    angle: float = 0.0,
) -> np.ndarray:
    """Normalised elliptical radius (1 on the rim) of pixels around ``center``.

    Args:
        xs: Pixel x coordinates.
        ys: Pixel y coordinates.
        center: (x, y) of the centre.
        radius: Semi-minor axis in pixels.
        aspect: Semi-major / semi-minor (>= 1).
        angle: Direction of the major axis in degrees, measured in image coordinates
            (from +x towards +y).
    """
    a = np.radians(angle)
    dx = xs - center[0]
    dy = ys - center[1]
    u = dx * np.cos(a) + dy * np.sin(a)
    v = -dx * np.sin(a) + dy * np.cos(a)
    return np.sqrt((u / (radius * aspect)) ** 2 + (v / radius) ** 2)


def sphere_profile(r: np.ndarray) -> np.ndarray:
    """Spherical cap profile: 1 at the centre, 0 on and beyond the rim (r = 1)."""
    return np.sqrt(np.clip(1.0 - r * r, 0.0, 1.0))


def pit(unit: np.ndarray, r: np.ndarray, depth: float) -> np.ndarray:
    """Lower heights by the fraction ``depth * sphere_profile(r)``; no-data (0) stays 0."""
    return unit * (1.0 - depth * sphere_profile(r))


def local_path(path: BeadPath, s_from: float, s_to: float) -> tuple[np.ndarray, np.ndarray]:
    """The piece of a path between two arc lengths, as an open polyline.

    For closed paths ``s_from``/``s_to`` may run past the seam (negative or beyond the
    length); the piece then crosses it. For open paths they are clipped to the path.

    Returns:
        (points (K, 2), widths (K,)) including the two end points and every vertex between.
    """
    if not path.closed:
        s_from, s_to = (float(v) for v in np.clip([s_from, s_to], 0.0, path.length))
    arc = path.arc
    if path.closed:
        period = path.length
        inner = np.concatenate([arc[:-1] + k * period for k in (-1, 0, 1, 2)])
    else:
        inner = arc
    inner = inner[(inner > s_from + 1e-9) & (inner < s_to - 1e-9)]
    s = np.concatenate([[s_from], inner, [s_to]])
    return path.point_at(s), path.width_at(s)


def band_mask(
    xs: np.ndarray,
    ys: np.ndarray,
    points: np.ndarray,
    s0: float,
    s1: float,
    half_width: float,
) -> np.ndarray:
    """Pixels whose path coordinates on a local polyline satisfy s0 <= s < s1, |d| <= hw.

    Args:
        xs: Pixel x coordinates.
        ys: Pixel y coordinates.
        points: (K, 2) local centreline (open), arc length measured from its first point.
        s0: Start of the band along the polyline.
        s1: End of the band (exclusive).
        half_width: Half extent across the centreline in pixels.
    """
    local = BeadPath(points=np.asarray(points, dtype=np.float64), widths=np.ones(len(points)))
    s, d = local.project(xs, ys)  # |d| is the Euclidean distance, also round corners
    return (s >= s0) & (s < s1) & (np.abs(d) <= half_width)


def bounds_of(points: np.ndarray, pad: float) -> tuple[float, float, float, float]:
    """Float bounding box (x0, y0, x1, y1) of points, padded by ``pad`` pixels."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return (
        float(p[:, 0].min() - pad),
        float(p[:, 1].min() - pad),
        float(p[:, 0].max() + pad),
        float(p[:, 1].max() + pad),
    )
