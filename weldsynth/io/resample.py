"""Resample a height map with rectangular pixels to square pixels, keeping no-data as it is.

A laser line scanner's point spacing (x, along the laser line) and line pitch (y, the feed)
often differ. Geometry and defects assume square pixels, so such a map is resampled first,
to the finer of the two pitches: the finer axis is kept as it is and the coarser one is
upsampled.

Interpolation: **linear along the coarser axis, on valid pixels only.** Output sample ``j``
of that axis sits at source coordinate ``u = (j + 0.5) * p_out / p_in - 0.5`` (pixel
centres, the same physical extent), clamped to the first and last source pixel. Its value
is the linear blend of the source pixels ``floor(u)`` and ``floor(u) + 1`` with weights
``1 - t`` and ``t``. A source pixel with weight 0 does not take part. An output pixel is
**valid only where every source pixel that takes part is valid**; otherwise it is 0 (no
data). So 0 is never blended into a height, and no-data never shrinks: it grows by less
than one source pixel at its edges, never more. Blends of valid values (>= 1) stay >= 1,
so a valid output pixel is never 0.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from weldsynth.io.calibration import Calibration

SQUARE_RTOL = 1e-3
"""x and y pitch closer than this (relative) count as square: nothing is resampled."""


def square_shape(shape: tuple[int, int], pixel_mm_x: float, pixel_mm_y: float) -> tuple[int, int]:
    """(rows, columns) of the square-pixel grid that covers the same area.

    Args:
        shape: (rows, columns) of the source map.
        pixel_mm_x: Source pitch along x (columns), mm.
        pixel_mm_y: Source pitch along y (rows), mm.
    """
    pitch = min(pixel_mm_x, pixel_mm_y)
    rows, cols = shape
    return (
        max(1, round(rows * pixel_mm_y / pitch)),
        max(1, round(cols * pixel_mm_x / pitch)),
    )


def resample_square(
    pixels: np.ndarray, pixel_mm_x: float, pixel_mm_y: float
) -> tuple[np.ndarray, float]:
    """Resample ``pixels`` (0 = no data) to square pixels of the finer pitch.

    Args:
        pixels: 2-D uint8/uint16 height map (or float heights), 0 = no data.
        pixel_mm_x: Pitch along x (columns), mm.
        pixel_mm_y: Pitch along y (rows), mm.

    Returns:
        (resampled map of the same dtype, its pitch in mm). Square input comes back as it
        is (the same array).
    """
    if pixels.ndim != 2:
        raise ValueError(f"a height map is 2-D, got shape {pixels.shape}")
    if math.isclose(pixel_mm_x, pixel_mm_y, rel_tol=SQUARE_RTOL):
        return pixels, float(pixel_mm_x)
    pitch = float(min(pixel_mm_x, pixel_mm_y))
    rows, cols = square_shape(pixels.shape, pixel_mm_x, pixel_mm_y)
    if pixel_mm_y > pixel_mm_x:
        out = _resample_axis(pixels, rows, pitch / pixel_mm_y, axis=0)
    else:
        out = _resample_axis(pixels, cols, pitch / pixel_mm_x, axis=1)
    return out, pitch


def resample_calibrated(
    pixels: np.ndarray, calibration: Calibration
) -> tuple[np.ndarray, Calibration]:
    """:func:`resample_square` with a calibration: the map and its (now square)
    calibration, which keeps its source. Square input comes back unchanged."""
    if calibration.is_square:
        return pixels, calibration
    out, pitch = resample_square(pixels, calibration.pixel_mm_x, calibration.pixel_mm_y)
    return out, _with_pitch(calibration, pitch)


def _with_pitch(calibration: Calibration, pitch: float) -> Calibration:
    return replace(calibration, pixel_mm_x=pitch, pixel_mm_y=pitch)


def _resample_axis(pixels: np.ndarray, n_out: int, step: float, axis: int) -> np.ndarray:
    """Linear resampling of ``pixels`` along ``axis`` to ``n_out`` samples ``step`` source
    pixels apart (< 1: upsampling), valid-only."""
    src = np.moveaxis(pixels, axis, 0)
    n_in = src.shape[0]
    u = (np.arange(n_out, dtype=np.float64) + 0.5) * step - 0.5
    u = np.clip(u, 0.0, n_in - 1)
    snap = np.rint(u)
    u = np.where(np.abs(u - snap) < 1e-9, snap, u)  # on a source pixel: that pixel alone
    i0 = np.floor(u).astype(np.int64)
    t = u - i0
    i1 = np.minimum(i0 + 1, n_in - 1)
    t = np.where(i1 == i0, 0.0, t)[:, None]
    a = src[i0].astype(np.float64)
    b = src[i1].astype(np.float64)
    takes_part = t > 0.0
    valid = (a != 0) & ((b != 0) | ~takes_part)
    value = a * (1.0 - t) + np.where(takes_part, b * t, 0.0)
    value = np.where(valid, value, 0.0)
    if np.issubdtype(pixels.dtype, np.integer):
        value = np.rint(value)
        value = np.where(valid, np.maximum(value, 1.0), 0.0)
    out = value.astype(pixels.dtype)
    return np.ascontiguousarray(np.moveaxis(out, 0, axis))
