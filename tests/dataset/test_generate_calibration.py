"""generate on calibrated inputs: each source's calibration found (sidecar, scan.yaml,
--scan, recipe, first found wins), recorded in the manifest, written beside every image;
rectangular pixels resampled; bad values refused before anything is written; an
uncalibrated run has neither the column nor the sidecars."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.io.calibration import read_sidecar
from weldsynth.io.heightmap import read_heightmap
from weldsynth.io.manifest import COLUMNS, read_manifest
from weldsynth.synth.samples import write_samples

RECIPE = """\
topology: 7
seed: 4
variants: 2
acceptable: 0
defects:
  hole: {weight: 1}
"""


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cal_samples")
    write_samples(root, [7], n=2, seed=8)  # with truth sidecars that hold no calibration
    return root / "7"


@pytest.fixture()
def good(tmp_path: Path, samples: Path) -> Path:
    """A fresh input root ``in/7/`` with the two samples (and their truth sidecars)."""
    root = tmp_path / "in"
    shutil.copytree(samples, root / "7")
    return root


def _recipe(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "recipes" / "7.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(RECIPE + extra)
    return path


def _generate(*args: str, code: int = 0) -> str:
    res = CliRunner().invoke(cli, ["generate", *args, "--quiet"])
    assert res.exit_code == code, res.output
    return res.output


def _images(out: Path) -> list[Path]:
    return sorted(p for p in out.glob("7/*/*.png") if p.parent.name != "_masks")


def test_uncalibrated_run_has_no_calibration_column_nor_sidecars(
    tmp_path: Path, good: Path
) -> None:
    out = tmp_path / "out"
    _generate(str(good), "--all", "--recipes", str(_recipe(tmp_path).parent), "--out", str(out))
    header = (out / "manifest.csv").read_text().splitlines()[0]
    assert header.split(",") == list(COLUMNS)  # the truth sidecars do not count
    assert _images(out) and not list(out.glob("7/**/*.json"))
    done = json.loads(next((out / ".weldsynth" / "done").rglob("*.json")).read_text())
    assert "calibration" not in done["records"][0]


def test_sources_first_found_wins_and_every_image_gets_a_sidecar(
    tmp_path: Path, good: Path
) -> None:
    first, second = sorted(good.glob("7/*.png"))
    first.with_suffix(".json").write_text(json.dumps({"calibration": {"pixel_mm": 0.2}}))
    (good / "scan.yaml").write_text("pixel_mm: 0.1\nheight_mm: 0.0002\n")
    cli_scan = tmp_path / "cli_scan.yaml"
    cli_scan.write_text("pixel_mm: 0.05\n")
    out = tmp_path / "out"
    recipes = str(_recipe(tmp_path).parent)  # scan.yaml in the input root, above 7/
    _generate(str(good), "--all", "--recipes", recipes, "--out", str(out), "--scan", str(cli_scan))
    rows = read_manifest(out)
    by_source = {r.source: r.calibration for r in rows}
    assert by_source[f"7/good/{first.name}"] == "sidecar"
    assert by_source[f"7/good/{second.name}"] == f"scan.yaml:{good / 'scan.yaml'}"
    assert all(r.calibration == by_source[r.source] for r in rows)
    for rec in rows:  # every image, good and bad, is itself calibrated input
        cal = read_sidecar(out / rec.path)
        assert cal is not None and cal.source == "sidecar"
        assert cal.pixel_mm == (0.2 if rec.source.endswith(first.name) else 0.1)
    assert not list((out / "7" / "_masks").glob("*.json"))


def test_scan_option_then_recipe(tmp_path: Path, good: Path) -> None:
    recipe = _recipe(tmp_path, "scan: {pixel_mm: 0.25}\n")
    out = tmp_path / "recipe_only"
    _generate(str(good / "7"), "--recipe", str(recipe), "--out", str(out))
    rows = read_manifest(out)
    assert {r.calibration for r in rows} == {"recipe"}
    assert read_sidecar(out / rows[0].path).pixel_mm == 0.25
    cli_scan = tmp_path / "cli_scan.yaml"
    cli_scan.write_text("pixel_mm: 0.05\n")
    out = tmp_path / "with_scan"
    _generate(str(good / "7"), "--recipe", str(recipe), "--out", str(out), "--scan", str(cli_scan))
    assert {r.calibration for r in read_manifest(out)} == {f"--scan:{cli_scan}"}
    # a rerun into the same folder with another --scan would mix calibrations: refused
    cli_scan.write_text("pixel_mm: 0.06\n")
    msg = _generate(str(good / "7"), "--recipe", str(recipe), "--out", str(out),
                    "--scan", str(cli_scan), code=2)  # fmt: skip
    assert "other recipes or options" in msg


def test_rectangular_pixels_are_resampled_with_their_calibration(
    tmp_path: Path, good: Path
) -> None:
    (good / "7" / "scan.yaml").write_text("pixel_mm: [0.1, 0.2]\n")
    out = tmp_path / "out"
    _generate(str(good / "7"), "--recipe", str(_recipe(tmp_path)), "--out", str(out))
    rows = read_manifest(out)
    src_shape = read_heightmap(next(good.glob("7/*.png"))).shape
    for rec in rows:
        assert read_heightmap(out / rec.path).shape == (2 * src_shape[0], src_shape[1])
        cal = read_sidecar(out / rec.path)
        assert cal.is_square and cal.pixel_mm == 0.1
    assert any(r.label == "bad" for r in rows)  # the bead was still found and drawn on


@pytest.mark.parametrize(
    ("where", "text", "expect"),
    [
        ("sidecar", '{"calibration": {"pixel_mm": 0}}', "pixel_mm_x must be a number in (0, 10]"),
        ("scan.yaml", "pixel_mm: 12\n", "pixel_mm_x must be a number in (0, 10] mm (got 12)"),
        ("--scan", "pixel_mm: 0.1\nheight_mm: -1\n", "height_mm must be a number in (0, 10]"),
        ("recipe", "scan: {pixel_mm: -0.5}\n", "scan: pixel_mm_x must be a number in (0, 10]"),
    ],
)
def test_bad_calibration_is_one_line_exit_2_nothing_written(
    tmp_path: Path, good: Path, where: str, text: str, expect: str
) -> None:
    args = [str(good / "7"), "--out", str(tmp_path / "out")]
    recipe = _recipe(tmp_path, text if where == "recipe" else "")
    if where == "sidecar":
        bad = next(good.glob("7/*.png")).with_suffix(".json")
        bad.write_text(text)
    elif where == "scan.yaml":
        bad = good / "7" / "scan.yaml"
        bad.write_text(text)
    elif where == "--scan":
        bad = tmp_path / "s.yaml"
        bad.write_text(text)
        args += ["--scan", str(bad)]
    else:
        bad = recipe
    msg = _generate(*args, "--recipe", str(recipe), code=2)
    line = msg.strip()
    assert "\n" not in line and expect in line and str(bad) in line
    assert not (tmp_path / "out").exists()
