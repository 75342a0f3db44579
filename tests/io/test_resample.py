"""Rectangular pixels to square ones: no-data kept, never blended in, bead geometry kept."""

from __future__ import annotations

import mm_scenes
import numpy as np
import pytest

from weldsynth.geometry import locate
from weldsynth.io.calibration import Calibration
from weldsynth.io.resample import resample_calibrated, resample_square, square_shape


def _centreline_error_mm(pixels: np.ndarray, pitch: float) -> float:
    """Largest distance (mm) of the located centreline from the scene's, away from the ends."""
    geo = locate(pixels)
    assert geo.found, geo.reason
    pts = geo.path.points
    x, y = (pts[:, 0] + 0.5) * pitch, (pts[:, 1] + 0.5) * pitch
    inner = (x > 2.0) & (x < mm_scenes.FIELD_MM[0] - 2.0)
    return float(np.abs(y - mm_scenes.centre_y_mm(x))[inner].max())


def test_square_input_is_returned_as_it_is() -> None:
    pixels = mm_scenes.render(0.1, 0.1)
    out, pitch = resample_square(pixels, 0.1, 0.1)
    assert out is pixels and pitch == 0.1
    cal = Calibration(0.2, 0.2, source="sidecar")
    assert resample_calibrated(pixels, cal) == (pixels, cal)


@pytest.mark.parametrize(("px", "py"), [(0.1, 0.3), (0.3, 0.1), (0.05, 0.125)])
def test_finer_pitch_kept_and_extent_kept(px: float, py: float) -> None:
    pixels = mm_scenes.render(px, py)
    out, pitch = resample_square(pixels, px, py)
    assert pitch == min(px, py) and out.dtype == pixels.dtype
    assert out.shape == square_shape(pixels.shape, px, py)
    rows, cols = pixels.shape
    assert out.shape[0] * pitch == pytest.approx(rows * py, abs=pitch)
    assert out.shape[1] * pitch == pytest.approx(cols * px, abs=pitch)


def test_linear_between_valid_pixels_and_no_data_never_blended() -> None:
    column = np.array([[10, 20, 0, 40, 50, 60]], np.uint16).T
    out, pitch = resample_square(column, 0.1, 0.3)
    assert pitch == 0.1
    # 18 samples at source coordinates (j + 0.5) / 3 - 0.5, clamped to [0, 5]
    assert out.ravel().tolist() == [
        10,
        10,
        13,
        17,
        20,
        0,
        0,
        0,
        0,
        0,
        40,
        43,
        47,
        50,
        53,
        57,
        60,
        60,
    ]


def test_no_data_stays_no_data_and_valid_needs_a_valid_neighbourhood() -> None:
    rng = np.random.default_rng(5)
    pixels = rng.integers(1, 65535, size=(40, 30), dtype=np.uint16)
    pixels[rng.random(pixels.shape) < 0.2] = 0  # scattered no-data
    pixels[10:14, :] = 0  # a band of no-data
    out, _ = resample_square(pixels, 0.1, 0.25)  # rows are coarse: 40 -> 100
    src_valid = pixels != 0
    u = np.clip((np.arange(out.shape[0]) + 0.5) * 0.4 - 0.5, 0, pixels.shape[0] - 1)
    lo, hi = np.floor(u + 1e-9).astype(int), np.ceil(u - 1e-9).astype(int)
    nearest = np.rint(u).astype(int)
    expect_valid = src_valid[lo] & src_valid[hi]
    assert np.array_equal(out != 0, expect_valid)  # valid only where both sources are
    assert not (out != 0)[~src_valid[nearest]].any()  # no-data never shrinks
    blend = np.minimum(pixels[lo], pixels[hi]), np.maximum(pixels[lo], pixels[hi])
    valid = out != 0
    assert np.all(out[valid] >= blend[0][valid]) and np.all(out[valid] <= blend[1][valid])


def test_an_all_valid_map_stays_all_valid() -> None:
    pixels = np.full((20, 20), 7, np.uint8)
    out, _ = resample_square(pixels, 0.3, 0.1)
    assert out.shape == (20, 60) and np.all(out == 7)


@pytest.mark.parametrize(("px", "py"), [(0.1, 0.3), (0.3, 0.1), (0.05, 0.1)])
def test_bead_width_in_mm_and_centreline_kept(px: float, py: float) -> None:
    square = mm_scenes.render(min(px, py), min(px, py))
    ref = locate(square)
    out, pitch = resample_square(mm_scenes.render(px, py), px, py)
    geo = locate(out)
    assert geo.found and ref.found
    # the same weld sampled finely in one direction only: width within one output pixel
    assert geo.path.mean_width * pitch == pytest.approx(ref.path.mean_width * pitch, abs=pitch)
    assert abs(geo.path.mean_width * pitch - mm_scenes.BEAD_WIDTH_MM) < 0.25
    assert _centreline_error_mm(out, pitch) < pitch
    # the ends are only known to the coarse pitch
    coarse = max(px, py)
    assert geo.path.length * pitch == pytest.approx(ref.path.length * pitch, abs=coarse)


def test_calibration_becomes_square_and_keeps_its_source() -> None:
    cal = Calibration(0.1, 0.3, height_mm=0.001, t_mm=3, source="scan.yaml:in/scan.yaml")
    out, square = resample_calibrated(mm_scenes.render(0.1, 0.3), cal)
    assert square.is_square and square.pixel_mm == 0.1
    assert (square.height_mm, square.t_mm, square.source) == (0.001, 3, cal.source)
    assert out.shape == (47 * 3, 320)  # 47 rows of 0.3 mm -> 141 of 0.1 mm
