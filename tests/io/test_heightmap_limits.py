"""Height-map reading at the edges: a header claiming more pixels than the limit is refused
before decoding (never a PIL DecompressionBombError), and 16-bit grey+alpha keeps 16 bits."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from weldsynth.core.errors import HeightMapError, TooLargeImageError, WeldsynthError
from weldsynth.io import heightmap
from weldsynth.io.heightmap import read_heightmap


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def raw_png(width: int, height: int, depth: int, colour_type: int, rows: bytes) -> bytes:
    """A PNG built by hand (filter 0 on every row) from raw big-endian sample rows."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )


def test_huge_header_is_refused_before_decoding(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(raw_png(20000, 20000, 8, 0, b"\0"))
    assert bomb.stat().st_size < 100
    with pytest.raises(TooLargeImageError) as info:
        read_heightmap(bomb)
    assert isinstance(info.value, HeightMapError)
    assert "20000x20000" in info.value.reason and "400000000 pixels" in info.value.reason
    assert heightmap.MAX_PIXELS_ENV in info.value.reason


def test_limit_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pixels = np.full((40, 50), 7, np.uint8)
    rows = b"".join(b"\0" + r.tobytes() for r in pixels)
    file = tmp_path / "small.png"
    file.write_bytes(raw_png(50, 40, 8, 0, rows))
    assert read_heightmap(file).shape == (40, 50)
    monkeypatch.setenv(heightmap.MAX_PIXELS_ENV, "1999")
    with pytest.raises(TooLargeImageError, match="2000 pixels"):
        read_heightmap(file)
    monkeypatch.setenv(heightmap.MAX_PIXELS_ENV, "2000")
    assert read_heightmap(file).shape == (40, 50)
    monkeypatch.setenv(heightmap.MAX_PIXELS_ENV, "lots")
    with pytest.raises(WeldsynthError, match=heightmap.MAX_PIXELS_ENV):
        read_heightmap(file)


def test_pil_bomb_limit_never_escapes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # PIL refuses what we allow
    pixels = np.full((40, 50), 9, np.uint8)
    file = tmp_path / "ok.png"
    file.write_bytes(raw_png(50, 40, 8, 0, b"".join(b"\0" + r.tobytes() for r in pixels)))
    assert np.array_equal(read_heightmap(file).to_uint(), pixels)


def test_sixteen_bit_gray_alpha_keeps_sixteen_bits(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    gray = rng.integers(1, 65536, size=(20, 30), dtype=np.int64).astype(">u2")
    alpha = np.full_like(gray, 65535)
    rows = b"".join(
        b"\0" + np.dstack([g, a]).astype(">u2").tobytes() for g, a in zip(gray, alpha, strict=True)
    )
    file = tmp_path / "la16.png"
    file.write_bytes(raw_png(30, 20, 16, 4, rows))
    hm = read_heightmap(file)
    assert hm.bit_depth == 16
    assert np.array_equal(hm.to_uint(), gray.astype(np.uint16))
