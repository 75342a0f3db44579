"""inspect in millimetres: the same weld at 0.05, 0.1 and 0.25 mm/px (and with rectangular
pixels) has the same bead width in mm within one pixel; pixels without a calibration; a bad
calibration is a one-line exit 2 with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import mm_scenes
import pytest
from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.io.heightmap import write_png


def _inspect(*args: str) -> dict:
    res = CliRunner().invoke(cli, ["inspect", *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def _weld(folder: Path, name: str, px: float, py: float, sidecar: bool = True) -> Path:
    png = folder / f"{name}.png"
    write_png(png, mm_scenes.render(px, py))
    if sidecar:
        pitch = px if px == py else [px, py]
        cal = {"pixel_mm": pitch, "height_mm": 0.0001}
        png.with_suffix(".json").write_text(json.dumps({"calibration": cal}))
    return png


def test_same_weld_same_width_in_mm_at_every_pitch(tmp_path: Path) -> None:
    pitches = {"fine": (0.05, 0.05), "mid": (0.1, 0.1), "coarse": (0.25, 0.25), "line": (0.1, 0.25)}
    found = {}
    for name, (px, py) in pitches.items():
        data = _inspect(str(_weld(tmp_path, name, px, py)))
        assert data["calibration"]["source"] == "sidecar"
        found[name] = (data["dimensions"], min(px, py), max(px, py))
    for a, (dims_a, _fine_a, coarse_a) in found.items():
        for b, (dims_b, _fine_b, coarse_b) in found.items():
            one_pixel = max(coarse_a, coarse_b)  # the coarser of the two maps' pixels
            assert abs(dims_a["width_mm"] - dims_b["width_mm"]) <= one_pixel, (a, b)
            assert abs(dims_a["length_mm"] - dims_b["length_mm"]) <= 2 * one_pixel, (a, b)
            # crown height in mm does not depend on the pixel pitch
            assert dims_a["height_mm"] == pytest.approx(dims_b["height_mm"], rel=0.02)
    assert abs(found["fine"][0]["width_mm"] - mm_scenes.BEAD_WIDTH_MM) < 0.25
    crown_mm = mm_scenes.CROWN * 65535 * 0.0001
    assert found["mid"][0]["height_mm"] == pytest.approx(crown_mm, rel=0.05)
    line = _inspect(str(tmp_path / "line.png"))
    assert line["shape"] == [round(mm_scenes.FIELD_MM[1] / 0.25) * 5 // 2, 320]  # resampled


def test_scan_option_and_pixels_without_calibration(tmp_path: Path) -> None:
    png = _weld(tmp_path, "bare", 0.1, 0.1, sidecar=False)
    bare = _inspect(str(png))
    assert bare["calibration"] is None
    assert set(bare["dimensions"]) == {"width_px", "height_levels", "length_px"}
    assert bare["dimensions"]["width_px"] == pytest.approx(bare["mean_width"], abs=1e-3)
    scan = tmp_path / "line_scanner.yaml"
    scan.write_text("pixel_mm: 0.1\n")
    with_scan = _inspect(str(png), "--scan", str(scan))
    assert with_scan["calibration"]["source"] == f"--scan:{scan}"
    assert with_scan["dimensions"]["width_mm"] == pytest.approx(bare["mean_width"] * 0.1, abs=1e-3)
    assert "height_levels" in with_scan["dimensions"]  # no height_mm: heights in grey levels
    table = CliRunner().invoke(cli, ["inspect", str(png), "--scan", str(scan)]).output
    assert "mm (" in table and "0.1 mm/px" in table
    (tmp_path / "scan.yaml").write_text("pixel_mm: 0.2\n")  # one beside the map wins
    assert _inspect(str(png), "--scan", str(scan))["calibration"]["pixel_mm"] == 0.2


@pytest.mark.parametrize(
    ("calibration", "field"),
    [({"pixel_mm": 0}, "pixel_mm_x"), ({"pixel_mm": 0.1, "height_mm": -2}, "height_mm")],
)
def test_bad_calibration_exit_2_one_line_nothing_written(
    tmp_path: Path, calibration: dict, field: str
) -> None:
    png = _weld(tmp_path, "w", 0.1, 0.1, sidecar=False)
    png.with_suffix(".json").write_text(json.dumps({"calibration": calibration}))
    overlay = tmp_path / "o.png"
    res = CliRunner().invoke(cli, ["inspect", str(png), "--overlay", str(overlay)])
    assert res.exit_code == 2
    line = res.output.strip()
    assert "\n" not in line and field in line and "(0, 10]" in line and "w.json" in line
    assert not overlay.exists()
