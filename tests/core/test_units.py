"""core.units: exact 8/16-bit round trips, clipping, rounding, refusals."""

from __future__ import annotations

import numpy as np
import pytest

from weldsynth.core.units import (
    bit_depth_of,
    from_unit,
    from_unit_depth,
    full_scale,
    pixel_dtype,
    to_unit,
)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("float_dtype", [np.float32, np.float64])
def test_every_pixel_value_round_trips_exactly(dtype: type, float_dtype: type) -> None:
    pixels = np.arange(np.iinfo(dtype).max + 1, dtype=np.int64).astype(dtype)
    heights = to_unit(pixels, float_dtype)
    assert heights.dtype == float_dtype
    assert heights[0] == 0.0 and heights[-1] == 1.0
    np.testing.assert_array_equal(from_unit(heights, dtype), pixels)


def test_to_unit_is_a_division_by_full_scale_and_copies() -> None:
    pixels = np.array([[0, 1, 128, 255]], np.uint8)
    out = to_unit(pixels)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, pixels.astype(np.float32) / np.float32(255))
    out[0, 0] = 0.5
    assert pixels[0, 0] == 0, "the input is never modified"
    wide = to_unit(np.array([65535, 32768], np.uint16), np.float64)
    np.testing.assert_array_equal(wide, [1.0, 32768 / 65535])


def test_from_unit_clips_and_rounds_to_nearest() -> None:
    values = np.array([-0.5, 0.0, 0.4 / 255, 0.6 / 255, 1.0, 7.0])
    np.testing.assert_array_equal(from_unit(values, np.uint8), [0, 0, 0, 1, 255, 255])
    np.testing.assert_array_equal(from_unit_depth(values, 16)[[0, 4, 5]], [0, 65535, 65535])
    np.testing.assert_array_equal(
        from_unit(values, np.float32), np.clip(values, 0, 1).astype(np.float32)
    )


def test_depths_scales_and_refusals() -> None:
    assert full_scale(np.uint8) == 255.0 and full_scale(np.uint16) == 65535.0
    assert full_scale(np.float64) == 1.0
    assert pixel_dtype(8) == np.uint8 and pixel_dtype(16) == np.uint16
    assert bit_depth_of(np.uint16) == 16 and bit_depth_of(np.uint8) == 8
    with pytest.raises(ValueError, match="bit_depth"):
        pixel_dtype(12)
    with pytest.raises(TypeError):
        bit_depth_of(np.int32)
    with pytest.raises(TypeError):
        to_unit(np.zeros(3, np.int32))
    with pytest.raises(TypeError):
        from_unit(np.zeros(3), np.int32)
