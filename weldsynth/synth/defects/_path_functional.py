"""Pure helpers for defects that reshape the bead along a section of its path.

Shared by ``bead_deviation``, ``excess_material`` and ``missing_plate``: sparse pixel edits,
smooth along-the-bead weights, a texture-keeping resampler, and the straight runs of a
closed path. The path coordinates of the pixels near a local centreline come from
:meth:`weldsynth.geometry.path.BeadPath.pixels`. No randomness, no plugin state.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from weldsynth.geometry.path import BeadPath
from weldsynth.synth.defects import functional as F

TEXTURE_SIGMA = 1.0
"""Gaussian sigma (px) separating the smooth surface from its fine texture when resampling."""


def edit_pixels(
    height: np.ndarray,
    box: F.Box | None,
    compute: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`weldsynth.synth.defects.functional.edit_box`, for edits that touch a few pixels.

    Args:
        height: 2-D uint8/uint16/float map; not modified.
        box: Pixel box the edit reads (None: nothing changes).
        compute: ``compute(unit) -> (iy, ix, values)``: gets the box as float64 heights in
            [0, 1], returns the rows and columns (in the box, each at most once) of the
            pixels it sets and their new heights (clipped to [0, 1] afterwards).

    Returns:
        A new array of the input's dtype and shape, and the bool mask of pixels whose
        stored value differs from the input.
    """
    F.check_height(height)
    out = height.copy()
    mask = np.zeros(height.shape, dtype=bool)
    if box is None:
        return out, mask
    x0, y0, x1, y1 = box
    old_box = height[y0:y1, x0:x1]
    iy, ix, values = compute(F.to_unit(old_box))
    new = F.from_unit(np.asarray(values, dtype=np.float64), height.dtype)
    old = old_box[iy, ix]
    changed = new != old
    if height.dtype.kind == "f":
        changed &= ~(np.isnan(new) & np.isnan(old))
    rows, cols = iy[changed] + y0, ix[changed] + x0
    out[rows, cols] = new[changed]
    mask[rows, cols] = True
    return out, mask


def section_weight(s: np.ndarray, s0: float, s1: float, ramp: float) -> np.ndarray:
    """1 inside [s0 + ramp, s1 - ramp], raised-cosine ramps to 0 at s0 and s1, 0 outside.

    ``ramp = 0`` gives a hard 0/1 section.
    """
    if ramp <= 0:
        return ((s >= s0) & (s <= s1)).astype(np.float64)
    up = np.clip((s - s0) / ramp, 0.0, 1.0)
    down = np.clip((s1 - s) / ramp, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * np.minimum(up, down))


def smoothstep(x: np.ndarray) -> np.ndarray:
    """Cubic 0..1 step over x in [0, 1] (clipped outside)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


class TextureSampler:
    """Sample a height box at fractional positions keeping its fine texture.

    Plain bilinear interpolation at a half-pixel shift halves the pixel noise, so a moved
    bead would look smoother than the rest of the weld. Here the surface is split into a
    smooth part (normalised Gaussian blur of the measured pixels, interpolated bilinearly)
    and the fine texture (the rest, taken from the nearest pixel); no-data (0) is taken from
    the nearest pixel as it is, so shadows move with the surface and stay exactly 0.

    Args:
        unit: Box heights in [0, 1] (0 = no data).
        floor: Smallest value a measured pixel may take (keeps it from rounding to 0).
    """

    def __init__(self, unit: np.ndarray, floor: float) -> None:
        self.unit = unit
        self.valid = unit > 0
        valid = self.valid.astype(np.float64)
        blur = cv2.GaussianBlur(unit, (0, 0), TEXTURE_SIGMA, borderType=cv2.BORDER_REFLECT)
        norm = cv2.GaussianBlur(valid, (0, 0), TEXTURE_SIGMA, borderType=cv2.BORDER_REFLECT)
        self.low = np.where(norm > 1e-3, blur / np.maximum(norm, 1e-3), 0.0)
        self.high = np.where(self.valid, unit - self.low, 0.0)
        self.floor = floor

    def __call__(self, bx: np.ndarray, by: np.ndarray) -> np.ndarray:
        """Values at box coordinates (column ``bx``, row ``by``), clamped to the box."""
        h, w = self.unit.shape
        bx = np.clip(bx, 0.0, w - 1.0)
        by = np.clip(by, 0.0, h - 1.0)
        nx = np.rint(bx).astype(int)
        ny = np.rint(by).astype(int)
        x0 = np.minimum(np.floor(bx).astype(int), w - 2) if w > 1 else np.zeros_like(nx)
        y0 = np.minimum(np.floor(by).astype(int), h - 2) if h > 1 else np.zeros_like(ny)
        fx = np.clip(bx - x0, 0.0, 1.0)
        fy = np.clip(by - y0, 0.0, 1.0)
        x1 = np.minimum(x0 + 1, w - 1)
        y1 = np.minimum(y0 + 1, h - 1)
        low = self.low
        smooth = (1 - fy) * ((1 - fx) * low[y0, x0] + fx * low[y0, x1]) + fy * (
            (1 - fx) * low[y1, x0] + fx * low[y1, x1]
        )
        value = np.clip(smooth + self.high[ny, nx], self.floor, 1.0)
        return np.where(self.valid[ny, nx], value, 0.0)


def unit_floor(dtype: np.dtype) -> float:
    """Smallest height a measured pixel of ``dtype`` may be set to without becoming 0."""
    return 1.0 / F.full_scale(dtype) if np.dtype(dtype).kind != "f" else 1.0 / 65535.0


def straight_runs(path: BeadPath, tolerance: float = 4.0) -> list[tuple[float, float]]:
    """Arc-length intervals where the path runs straight (within ``tolerance`` degrees).

    For a closed path the intervals may run past the seam (``end > length``); a path that
    never turns is one run. Used to keep shape-changing defects off the corners of square
    welds.
    """
    verts = path.vertices
    seg = np.diff(verts, axis=0)
    ang = np.degrees(np.arctan2(seg[:, 1], seg[:, 0]))
    arc = path.arc
    m = len(seg)

    def turn(a: float, b: float) -> float:
        return abs((a - b + 180.0) % 360.0 - 180.0)

    start = 0
    if path.closed:
        breaks = [i for i in range(m) if turn(ang[i], ang[i - 1]) > tolerance]
        if not breaks:
            return [(0.0, path.length)]
        start = breaks[0]
    runs: list[tuple[float, float]] = []
    order = [(start + i) % m for i in range(m)]
    run_first, run_angle = order[0], ang[order[0]]
    s_begin = arc[run_first]
    s_pos = s_begin
    for i in order:
        if turn(ang[i], run_angle) > tolerance:
            runs.append((s_begin, s_pos))
            s_begin, run_angle = s_pos, ang[i]
        s_pos = s_pos + (arc[i + 1] - arc[i])
    runs.append((s_begin, s_pos))
    return runs
