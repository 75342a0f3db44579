"""Calibration sidecars written beside output maps read back as the same calibration; a
PNG's bit depth from its header (for height_range_mm)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from weldsynth.core.errors import HeightMapError
from weldsynth.io.calibration import Calibration, read_sidecar, write_sidecar
from weldsynth.io.heightmap import png_bit_depth, write_png


@pytest.mark.parametrize(
    "cal",
    [
        Calibration(0.1, 0.1, height_mm=0.001, t_mm=3.0, source="recipe"),
        Calibration(0.1, 0.3, height_offset_mm=-2.0, a_mm=2.1, source="--scan:s.yaml"),
    ],
)
def test_write_then_read_sidecar(tmp_path: Path, cal: Calibration) -> None:
    png = tmp_path / "w.png"
    written = write_sidecar(png, cal)
    assert written == tmp_path / "w.json"
    assert set(json.loads(written.read_text())) == {"calibration"}
    assert read_sidecar(png) == cal.with_source("sidecar")


def test_truth_sidecar_without_calibration_is_not_a_calibration(tmp_path: Path) -> None:
    (tmp_path / "w.json").write_text(json.dumps({"topology": 7, "shape": [128, 352]}))
    assert read_sidecar(tmp_path / "w.png") is None


def test_png_bit_depth_from_the_header(tmp_path: Path) -> None:
    write_png(tmp_path / "a.png", np.ones((20, 20), np.uint8))
    write_png(tmp_path / "b.png", np.ones((20, 20), np.uint16))
    assert png_bit_depth(tmp_path / "a.png") == 8
    assert png_bit_depth(tmp_path / "b.png") == 16
    (tmp_path / "c.png").write_bytes(b"not a png at all, not at all, no")
    with pytest.raises(HeightMapError):
        png_bit_depth(tmp_path / "c.png")
