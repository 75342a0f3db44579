"""Height-map I/O: bit-exact round trips, atomic writes and one clear error per bad input."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from weldsynth.core.errors import (
    ColourImageError,
    CorruptImageError,
    HeightMapError,
    MissingFileError,
    NoDataError,
    NotAnImageError,
    TinyImageError,
)
from weldsynth.io import heightmap
from weldsynth.io.heightmap import read_heightmap, write_heightmap


def _ramp(dtype: type, shape: tuple[int, int] = (40, 70)) -> np.ndarray:
    rng = np.random.default_rng(1)
    top = np.iinfo(dtype).max
    arr = rng.integers(0, top + 1, size=shape, dtype=np.int64).astype(dtype)
    arr[0, 0] = top  # full range present
    arr[0, 1] = 0  # and no-data
    return arr


@pytest.mark.parametrize("dtype,depth", [(np.uint8, 8), (np.uint16, 16)])
def test_round_trip_is_bit_exact(tmp_path: Path, dtype: type, depth: int) -> None:
    pixels = _ramp(dtype)
    src = tmp_path / "src.png"
    cv2.imwrite(str(src), pixels)
    hm = read_heightmap(src)
    assert hm.bit_depth == depth
    assert hm.height.dtype == np.float32
    assert float(hm.height.max()) == 1.0 and float(hm.height.min()) == 0.0
    np.testing.assert_array_equal(hm.valid, pixels != 0)
    out = write_heightmap(tmp_path / "out.png", hm.height, hm.bit_depth)
    back = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, pixels)


def test_sixteen_bit_keeps_precision_below_eight_bits(tmp_path: Path) -> None:
    pixels = np.full((20, 20), 1000, np.uint16)
    pixels[5, 5] = 1001  # a difference 8 bits cannot hold
    cv2.imwrite(str(tmp_path / "a.png"), pixels)
    hm = read_heightmap(tmp_path / "a.png")
    assert hm.height[5, 5] > hm.height[0, 0]
    np.testing.assert_array_equal(hm.to_uint(), pixels)


def test_equal_channel_rgb_is_grayscale(tmp_path: Path) -> None:
    gray = _ramp(np.uint8)
    Image.fromarray(np.dstack([gray] * 3), "RGB").save(tmp_path / "rgb.png")
    hm = read_heightmap(tmp_path / "rgb.png")
    np.testing.assert_array_equal(hm.to_uint(), gray)
    assert hm.bit_depth == 8


def test_sixteen_bit_equal_channel_rgb_stays_sixteen_bit(tmp_path: Path) -> None:
    gray = _ramp(np.uint16)
    cv2.imwrite(str(tmp_path / "rgb16.png"), np.dstack([gray] * 3))
    hm = read_heightmap(tmp_path / "rgb16.png")
    assert hm.bit_depth == 16
    np.testing.assert_array_equal(hm.to_uint(), gray)


def test_gray_alpha_uses_gray(tmp_path: Path) -> None:
    gray = _ramp(np.uint8)
    alpha = np.full_like(gray, 255)
    Image.fromarray(np.dstack([gray, alpha]), "LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(read_heightmap(tmp_path / "la.png").to_uint(), gray)


def _png_bytes(arr: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", arr)
    assert ok
    return buf.tobytes()


@pytest.mark.parametrize(
    "make,error,words",
    [
        (lambda p: None, MissingFileError, "not found"),
        (lambda p: p.write_text("hello, I am text"), NotAnImageError, "not a PNG"),
        (lambda p: p.write_bytes(b""), NotAnImageError, "empty file"),
        (
            lambda p: p.write_bytes(_png_bytes(_ramp(np.uint16))[:300]),
            CorruptImageError,
            "truncated",
        ),
        (
            lambda p: p.write_bytes(_png_bytes(_ramp(np.uint16))[:-12]),
            CorruptImageError,
            "truncated",
        ),
        (
            lambda p: p.write_bytes(_png_bytes(np.full((8, 100), 9, np.uint8))),
            TinyImageError,
            "8 px",
        ),
        (
            lambda p: p.write_bytes(_png_bytes(np.zeros((40, 40), np.uint16))),
            NoDataError,
            "no data",
        ),
        (
            lambda p: Image.fromarray(
                np.dstack([_ramp(np.uint8), _ramp(np.uint8)[::-1], _ramp(np.uint8)]), "RGB"
            ).save(p, format="PNG"),
            ColourImageError,
            "channels differ",
        ),
    ],
    ids=[
        "missing",
        "text",
        "empty",
        "truncated-half",
        "truncated-end",
        "tiny",
        "all-zero",
        "colour",
    ],
)
def test_bad_input_names_file_and_problem(tmp_path: Path, make, error, words) -> None:
    target = tmp_path / "weld_0001.png"
    make(target)
    with pytest.raises(error) as info:
        read_heightmap(target)
    message = str(info.value)
    assert "weld_0001.png" in message
    assert words in message
    assert isinstance(info.value, HeightMapError)


def test_corrupt_data_inside_png(tmp_path: Path) -> None:
    data = bytearray(_png_bytes(_ramp(np.uint16)))
    data[200:260] = b"\x00" * 60  # damage the compressed stream, keep the structure
    (tmp_path / "c.png").write_bytes(bytes(data))
    with pytest.raises(CorruptImageError, match=r"c\.png"):
        read_heightmap(tmp_path / "c.png")


def test_folder_is_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(NotAnImageError, match="folder"):
        read_heightmap(tmp_path / "dir.png")


def test_write_is_atomic_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "out.png"
    write_heightmap(dest, np.full((20, 20), 0.5, np.float32), 16)
    before = dest.read_bytes()

    def boom(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        write_heightmap(dest, np.full((20, 20), 0.9, np.float32), 16)
    assert dest.read_bytes() == before  # old file untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no temp left


def test_float_write_clips_and_rounds(tmp_path: Path) -> None:
    h = np.array([[-0.5, 0.0, 0.5, 1.0, 2.0]] * 20, np.float32)
    h = np.repeat(h, 4, axis=1)
    out = write_heightmap(tmp_path / "f.png", h, 8)
    back = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert back[0].tolist()[::4] == [0, 0, 128, 255, 255]


def test_bad_bit_depth_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bit_depth"):
        write_heightmap(tmp_path / "x.png", np.zeros((20, 20), np.float32), 12)


def test_min_side_constant_is_enforced_at_the_boundary(tmp_path: Path) -> None:
    side = heightmap.MIN_SIDE
    ok = np.full((side, side), 7, np.uint8)
    cv2.imwrite(str(tmp_path / "ok.png"), ok)
    assert read_heightmap(tmp_path / "ok.png").shape == (side, side)
    cv2.imwrite(str(tmp_path / "small.png"), ok[:, : side - 1])
    with pytest.raises(TinyImageError):
        read_heightmap(tmp_path / "small.png")


def test_written_files_get_the_usual_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    out = write_heightmap(tmp_path / "p.png", np.full((20, 20), 0.5, np.float32), 16)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600
