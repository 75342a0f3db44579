"""Scan calibration: values in range, sources in order, the mapping forms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from weldsynth.io.calibration import (
    Calibration,
    CalibrationError,
    calibration_from_mapping,
    find_calibration,
    read_sidecar,
)


def test_square_and_anisotropic_pitch() -> None:
    square = calibration_from_mapping({"pixel_mm": 0.1}, "x")
    assert square.is_square and square.pixel_mm == 0.1 and square.px_to_mm(20) == pytest.approx(2.0)
    line = calibration_from_mapping({"pixel_mm": [0.1, 0.3]}, "x")
    assert not line.is_square
    with pytest.raises(CalibrationError, match="not square"):
        _ = line.pixel_mm


def test_height_range_maps_levels_one_to_max() -> None:
    cal = calibration_from_mapping({"pixel_mm": 0.1, "height_range_mm": [1.0, 9.0]}, "x", 8)
    # level 1 -> 1.0 mm, level 255 -> 9.0 mm
    assert cal.height_offset_mm + 1 * cal.height_mm == pytest.approx(1.0)
    assert cal.height_offset_mm + 255 * cal.height_mm == pytest.approx(9.0)
    assert cal.mm_per_unit(8) == pytest.approx(255 * cal.height_mm)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"pixel_mm": 0}, "pixel_mm_x"),
        ({"pixel_mm": -0.1}, "pixel_mm_x"),
        ({"pixel_mm": 11}, "pixel_mm_x"),
        ({"pixel_mm": [0.1, float("nan")]}, "pixel_mm_y"),
        ({"pixel_mm": 0.1, "height_mm": 0}, "height_mm"),
        ({"pixel_mm": 0.1, "t_mm": -3}, "t_mm"),
        ({"pixel_mm": 0.1, "height_range_mm": [5, 1]}, "height_range_mm"),
        ({"pixel_mm": 0.1, "pitch": 1}, "unknown calibration key"),
        ({"height_mm": 0.01}, "pixel_mm is required"),
        ({"pixel_mm": True}, "pixel_mm_x"),
    ],
)
def test_bad_values_are_one_line_errors_naming_the_field(data: dict, field: str) -> None:
    with pytest.raises(CalibrationError, match=field) as info:
        calibration_from_mapping(data, "scan.yaml")
    assert "scan.yaml" in str(info.value) and "\n" not in str(info.value)


def test_sources_first_found_wins(tmp_path: Path) -> None:
    root = tmp_path / "in"
    png = root / "7" / "a.png"
    png.parent.mkdir(parents=True)
    png.write_bytes(b"")
    cli = tmp_path / "cli.yaml"
    cli.write_text("pixel_mm: 0.4\n")
    recipe = {"pixel_mm": 0.5}
    assert find_calibration(png, root) is None
    assert find_calibration(png, root, recipe_scan=recipe).pixel_mm == 0.5
    assert find_calibration(png, root, cli, recipe).source.startswith("--scan:")
    (root / "scan.yaml").write_text("pixel_mm: 0.3\n")  # a parent up to the root
    found = find_calibration(png, root, cli, recipe)
    assert found.pixel_mm == 0.3 and found.source.startswith("scan.yaml:")
    png.with_suffix(".json").write_text(json.dumps({"calibration": {"pixel_mm": 0.2}}))
    assert find_calibration(png, root, cli, recipe) == Calibration(0.2, 0.2, source="sidecar")


def test_scan_yaml_above_the_root_is_not_used(tmp_path: Path) -> None:
    (tmp_path / "scan.yaml").write_text("pixel_mm: 0.3\n")
    png = tmp_path / "in" / "a.png"
    png.parent.mkdir()
    assert find_calibration(png, tmp_path / "in") is None


def test_a_truth_sidecar_without_calibration_is_not_one(tmp_path: Path) -> None:
    png = tmp_path / "a.png"
    png.with_suffix(".json").write_text(json.dumps({"sample": {"seed": 7}, "path": []}))
    assert read_sidecar(png) is None


def test_round_trip_through_the_mapping_form() -> None:
    cal = Calibration(0.1, 0.3, height_mm=0.002, height_offset_mm=-1.0, t_mm=3.0)
    assert calibration_from_mapping(cal.to_dict(), "x", 16) == cal.with_source("x")
