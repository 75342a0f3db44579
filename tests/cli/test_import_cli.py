"""``weldsynth import``: folders mirror into the output, bad files are rejected rows, the
sidecars carry the calibration, and a run where nothing imports is a one-line error."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.io.calibration import read_sidecar
from weldsynth.io.heightmap import read_heightmap
from weldsynth.io.scan.writers import write_tiff
from weldsynth.synth.scanner import ScannerSettings, simulate_scan, write_scan


@pytest.fixture(scope="module")
def scans(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("scans")
    scan = simulate_scan(4, seed=1, settings=ScannerSettings(noise_mm=0.02))
    write_scan(scan, root / "4" / "a.pcd")
    write_scan(scan, root / "4" / "b.ply", binary=False)
    write_scan(scan, root / "5" / "c.csv")
    (root / "5" / "broken.ply").write_text("ply\nformat nonsense\n")
    (root / "5" / "two.txt").write_text("1 2\n3 4\n5 6\n")
    (root / "5" / "notes.md").write_text("scanner settings\n")
    (root / ".hidden.pcd").write_text("x")
    return root


def _rows(out: Path) -> dict[str, str]:
    with (out / "rejected.csv").open(newline="") as fh:
        return {Path(r["source"]).name: r["reason"] for r in csv.DictReader(fh)}


def test_a_folder_mirrors_and_bad_files_are_rejected_rows(tmp_path: Path, scans: Path) -> None:
    out = tmp_path / "maps"
    result = CliRunner().invoke(cli, ["import", str(scans), "--out", str(out), "--pixel-mm", "0.2"])
    assert result.exit_code == 0, result.output
    assert "imported 3 scan(s)" in result.output
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert written == ["4/a.png", "4/b.png", "5/c.png"]
    rows = _rows(out)
    assert set(rows) == {"broken.ply", "two.txt", "notes.md"}
    assert "x y z needs 3" in rows["two.txt"] and "unsupported format" in rows["notes.md"]
    cal = read_sidecar(out / "4" / "a.png")
    assert cal is not None and cal.pixel_mm == 0.2 and cal.height_mm > 0
    info = json.loads((out / "4" / "a.json").read_text())["import"]
    assert info["source"].endswith("a.pcd") and info["format"] == "pcd"
    assert read_heightmap(out / "5" / "c.png").bit_depth == 16


def test_options_reach_the_maps(tmp_path: Path, scans: Path) -> None:
    out = tmp_path / "maps"
    args = ["import", str(scans / "4" / "a.pcd"), "--out", str(out), "--pixel-mm", "0.25"]
    args += ["--align", "none", "--plate-plane", "keep", "--fill-gaps", "0"]
    args += ["--height-range", "390", "440", "--bit-depth", "8", "-q"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    info = json.loads((out / "a.json").read_text())["import"]
    assert info["rotation_deg"] == 0.0 and info["plate_plane"] == "keep"
    assert info["height_range_mm"] == [390.0, 440.0] and info["fill_gaps_mm"] == 0.0
    assert read_heightmap(out / "a.png").bit_depth == 8
    assert _rows(out) == {}


def test_nothing_imported_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "two.csv").write_text("1,2\n")
    result = CliRunner().invoke(cli, ["import", str(tmp_path / "in"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith("error: no scan could be imported")
    assert "two.csv" in _rows(tmp_path / "o")


def test_a_huge_grid_request_is_a_rejected_row(tmp_path: Path) -> None:
    src = tmp_path / "big.xyz"
    src.write_text("0 0 0\n4000 0 0\n0 4000 1\n4000 4000 0\n2000 2000 5\n")
    out = tmp_path / "o"
    result = CliRunner().invoke(cli, ["import", str(src), "--out", str(out), "--pixel-mm", "0.1"])
    assert result.exit_code == 2
    assert "would not fit in memory" in _rows(out)["big.xyz"]


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(cli, ["import", "--help"])
    assert result.exit_code == 0
    assert "weldsynth import scans/ --out maps/ --pixel-mm 0.1" in result.output


def test_profile_csv_and_tagged_tiff_import_from_the_command_line(tmp_path: Path) -> None:
    scan = simulate_scan(9, seed=2, settings=ScannerSettings(noise_mm=0.02))
    src = tmp_path / "scans"
    src.mkdir()
    np.savetxt(src / "lines.csv", scan.image, delimiter=",", fmt="%.4f")  # one line per row
    write_tiff(src / "tagged.tif", scan.image, pixel_mm=(0.1, 0.3))
    out = tmp_path / "maps"
    result = CliRunner().invoke(cli, ["import", str(src), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    # without a pitch the profile grid is a rejected row; the TIFF's tags give its pitch
    assert "needs --pixel-mm" in _rows(out)["lines.csv"]
    info = json.loads((out / "tagged.json").read_text())["import"]
    assert info["source_pitch_from"] == "tiff tags" and info["pixel_mm"] == 0.1
    result = CliRunner().invoke(
        cli, ["import", str(src / "lines.csv"), "--out", str(out), "--pixel-mm", "0.1", "-q"]
    )
    assert result.exit_code == 0, result.output
    info = json.loads((out / "lines.json").read_text())["import"]
    assert info["format"] == "profiles" and info["source_pitch_mm"] == [0.1, 0.1]
