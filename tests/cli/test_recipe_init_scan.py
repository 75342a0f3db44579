"""``weldsynth recipe init --scan --norm``: the recipe for a coarse scan is written with its
warnings, generate draws from it without failing acceptable pores, and a scan too coarse
for the norm is a one-line error with nothing written."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.data import samples_dir


def _init(tmp_path: Path, pixel_mm: float) -> tuple[object, Path]:
    scan = tmp_path / "scan.yaml"
    scan.write_text(f"pixel_mm: {pixel_mm}\nheight_range_mm: [0, 8]\n")
    out = tmp_path / "iso.yaml"
    args = ["recipe", "init", "--topology", "3", "--scan", str(scan), "--norm",
            "iso5817-2014-C", "--t", "3", "--out", str(out)]  # fmt: skip
    return CliRunner().invoke(cli, args), out


def test_init_on_a_coarse_scan_warns_and_generate_draws_what_it_asks(tmp_path: Path) -> None:
    res, recipe = _init(tmp_path, 0.25)
    assert res.exit_code == 0, res.output
    warned = [line for line in res.output.splitlines() if line.startswith("warning: hole:")]
    assert warned and "0.6 mm is 2.4 px at 0.25 mm/px" in warned[0], res.output
    assert CliRunner().invoke(cli, ["recipe", "check", str(recipe)]).exit_code == 0
    good = tmp_path / "in" / "3"
    good.mkdir(parents=True)
    for png in sorted((samples_dir() / "3").glob("*.png"))[:2]:
        shutil.copy(png, good / png.name)
    shutil.copy(tmp_path / "scan.yaml", good / "scan.yaml")
    text = recipe.read_text().replace("acceptable: 1", "acceptable: 4")
    recipe.write_text(text)
    out = tmp_path / "data"
    res = CliRunner().invoke(cli, ["generate", str(good), "--recipe", str(recipe), "--out",
                                   str(out), "-q"])  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((out / "manifest.csv").open()))
    assert any(r["verdict"] == "accept" for r in rows)
    rejected = (out / "rejected.csv").read_text() if (out / "rejected.csv").exists() else ""
    assert "hole: no size" not in rejected  # no acceptable pore asked for that cannot fit


def test_init_on_a_scan_too_coarse_for_the_norm_writes_nothing(tmp_path: Path) -> None:
    res, recipe = _init(tmp_path, 0.3)
    assert res.exit_code == 2
    (line,) = [x for x in res.output.splitlines() if x.strip()]
    assert line.startswith("error: hole: surface pore diameter limit 0.6 mm is 2 px at 0.3 mm/px")
    assert "at most 0.255 mm/px" in line
    assert not recipe.exists()
