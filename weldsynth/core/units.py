"""Pixel values <-> heights in [0, 1]: the one place that knows 255 and 65535.

A height map on disk is an 8- or 16-bit grayscale PNG; in memory it is a float array in
[0, 1] where 1.0 is the largest pixel value of the file's bit depth. Integer -> float is an
exact division; float -> integer clips to [0, 1] and rounds to nearest, so
``from_unit(to_unit(p), p.dtype)`` gives ``p`` back bit for bit for every 8- and 16-bit value.

Typical use::

    from weldsynth.core.units import from_unit, to_unit

    height = to_unit(pixels)                 # float32 in [0, 1]
    pixels = from_unit(height, np.uint16)    # back to 16-bit
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

BIT_DEPTHS = (8, 16)
"""Bit depths a height map may have."""

_FULL_SCALE = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}
_DTYPE_OF_DEPTH = {8: np.dtype(np.uint8), 16: np.dtype(np.uint16)}


def is_pixel_dtype(dtype: DTypeLike) -> bool:
    """True for uint8 and uint16, the dtypes of PNG height-map pixels."""
    return np.dtype(dtype) in _FULL_SCALE


def pixel_dtype(bit_depth: int) -> np.dtype:
    """The integer dtype of a bit depth (8 -> uint8, 16 -> uint16).

    Raises:
        ValueError: ``bit_depth`` is not 8 or 16.
    """
    if bit_depth not in _DTYPE_OF_DEPTH:
        raise ValueError(f"bit_depth must be one of {BIT_DEPTHS}, got {bit_depth}")
    return _DTYPE_OF_DEPTH[bit_depth]


def bit_depth_of(dtype: DTypeLike) -> int:
    """8 for uint8, 16 for uint16.

    Raises:
        TypeError: any other dtype.
    """
    dt = np.dtype(dtype)
    if dt not in _FULL_SCALE:
        raise TypeError(f"expected uint8 or uint16 pixels, got {dt}")
    return 8 * dt.itemsize


def full_scale(dtype: DTypeLike) -> float:
    """The value that stands for height 1.0: 255.0 (uint8), 65535.0 (uint16), 1.0 (float)."""
    return float(_FULL_SCALE.get(np.dtype(dtype), 1))


def to_unit(pixels: np.ndarray, dtype: DTypeLike = np.float32) -> np.ndarray:
    """Pixels to heights in [0, 1] as a new float array, divided by their dtype's full scale.

    Args:
        pixels: uint8 or uint16 array (a float array is only cast: it is already heights).
        dtype: Float dtype of the result (float32 or float64).

    Returns:
        New array of ``dtype``; the input is never modified.
    """
    out = np.dtype(dtype)
    scale = _FULL_SCALE.get(pixels.dtype)
    if scale is None:
        if pixels.dtype.kind != "f":
            raise TypeError(f"expected uint8, uint16 or float pixels, got {pixels.dtype}")
        return pixels.astype(out)
    return pixels.astype(out) / out.type(scale)


def from_unit(values: np.ndarray, dtype: DTypeLike) -> np.ndarray:
    """Heights to ``dtype``: clipped to [0, 1], then rounded to nearest for integer dtypes.

    Args:
        values: Float heights (values outside [0, 1] are clipped).
        dtype: uint8, uint16 or a float dtype.

    Returns:
        New array of ``dtype``.
    """
    dt = np.dtype(dtype)
    v = np.clip(values, 0.0, 1.0)
    if dt in _FULL_SCALE:
        return np.rint(v * float(_FULL_SCALE[dt])).astype(dt)
    if dt.kind != "f":
        raise TypeError(f"expected uint8, uint16 or float output, got {dt}")
    return v.astype(dt)


def from_unit_depth(values: np.ndarray, bit_depth: int) -> np.ndarray:
    """:func:`from_unit` to the integer dtype of ``bit_depth`` (8 or 16)."""
    return from_unit(values, pixel_dtype(bit_depth))
