"""``weldsynth norm`` and ``recipe init --norm``; generate under an ISO preset writes a
verdict and a rule on every variant row, and refuses uncalibrated maps before writing."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import yaml
from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.data import samples_dir


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_norm_list_and_show_resolve_limits_in_mm() -> None:
    listed = _run("norm", "list")
    assert listed.exit_code == 0
    assert all(p in listed.output for p in ("iso5817-2014-B", "iso5817-2014-D", "plant"))
    shown = CliRunner().invoke(
        cli, ["norm", "show", "iso5817-2014-C", "--t", "3", "--b", "6"], terminal_width=250
    )
    assert shown.exit_code == 0, shown.output
    pore = next(line for line in shown.output.splitlines() if "surface_pore" in line)
    assert "0.6" in pore and "0.51" in pore and "0.69" in pore  # limit, good up to, bad from
    weld = next(line for line in shown.output.splitlines() if "excess_weld_metal" in line)
    assert "1.9" in weld


def test_norm_check_exits_1_on_an_invalid_file(tmp_path: Path) -> None:
    good = tmp_path / "n.yaml"
    good.write_text(
        "name: mine\nlevels: [X]\nrules:\n  - {id: pore, reference: r, quantity: diameter,"
        " limits: {X: {limit: 0.1 * t, max: 1}}}\n"
    )
    assert _run("norm", "check", str(good)).exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("0.1 * t", "0.1 * q"))
    res = _run("norm", "check", str(bad))
    assert res.exit_code == 1 and "the symbol 'q'" in res.output
    no_ref = tmp_path / "noref.yaml"
    no_ref.write_text(good.read_text().replace("reference: r, ", ""))
    res = _run("norm", "check", str(no_ref))
    assert res.exit_code == 1 and "reference: required" in res.output


def _inputs(tmp_path: Path, scan: bool) -> Path:
    folder = tmp_path / "in" / "3"
    folder.mkdir(parents=True)
    for png in sorted((samples_dir() / "3").glob("*.png"))[:2]:
        shutil.copy(png, folder / png.name)
    if scan:
        (folder / "scan.yaml").write_text("pixel_mm: 0.1\nheight_range_mm: [0, 8]\n")
    return folder


def test_recipe_init_norm_and_generate_write_verdicts(tmp_path: Path) -> None:
    recipe = tmp_path / "iso.yaml"
    res = _run(
        "recipe",
        "init",
        "--topology",
        "3",
        "--norm",
        "iso5817-2014-C",
        "--t",
        "3",
        "--out",
        str(recipe),
    )
    assert res.exit_code == 0, res.output
    data = yaml.safe_load(recipe.read_text())
    assert data["norm"]["preset"] == "iso5817-2014-C" and data["norm"]["t_mm"] == 3
    sized = {n: e["params"] for n, e in data["defects"].items() if "params" in e}
    assert any(k.endswith("_mm") for p in sized.values() for k in p), sized
    assert _run("recipe", "check", str(recipe)).exit_code == 0
    data["acceptable"] = 3
    recipe.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    res = _run(
        "generate",
        str(_inputs(tmp_path, True)),
        "--recipe",
        str(recipe),
        "--out",
        str(out),
        "--quiet",
    )
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((out / "manifest.csv").open()))
    variants = [r for r in rows if r["defect"]]
    assert variants and all(r["verdict"] in ("accept", "reject") and r["rule"] for r in variants)
    assert all((r["verdict"] == "accept") == (r["label"] == "good") for r in variants)
    accepted = [r for r in variants if r["verdict"] == "accept"]
    assert accepted and not any(r["defect"].startswith("acceptable_") for r in accepted)


def test_generate_refuses_uncalibrated_maps_under_an_iso_preset(tmp_path: Path) -> None:
    recipe = tmp_path / "iso.yaml"
    recipe.write_text("topology: 3\nnorm: {preset: iso5817-2014-D, t_mm: 4}\ndefects: {hole: {}}\n")
    out = tmp_path / "out"
    res = _run(
        "generate", str(_inputs(tmp_path, False)), "--recipe", str(recipe), "--out", str(out)
    )
    assert res.exit_code == 2
    assert "norm: ISO 5817 level D needs a calibration (pixel_mm); see weldsynth import --help" in (
        res.output
    )
    assert not out.exists()


def test_generate_norm_option_labels_every_variant_by_the_preset(tmp_path: Path) -> None:
    good = _inputs(tmp_path, scan=True).parent  # in/ with in/3/
    out = tmp_path / "data"
    res = _run("generate", str(good), "--all", "--out", str(out), "--norm", "iso5817-2014-C",
               "--t", "3", "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    with (out / "manifest.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    variants = [r for r in rows if r["defect"]]
    assert variants and all(r["verdict"] in ("accept", "reject") and r["rule"] for r in variants)
    assert all((r["label"] == "good") == (r["verdict"] == "accept") for r in variants)
    resolved = yaml.safe_load(next((out / "recipes").glob("*.yaml")).read_text())
    assert resolved["norm"]["preset"] == "iso5817-2014-C" and resolved["norm"]["t_mm"] == 3


def test_generate_norm_option_refuses_an_unknown_preset_and_a_lone_t(tmp_path: Path) -> None:
    good = _inputs(tmp_path, scan=True).parent  # in/ with in/3/
    res = _run("generate", str(good), "--all", "--out", str(tmp_path / "d"), "--norm", "iso9")
    assert res.exit_code == 2 and "unknown preset 'iso9'" in res.output
    assert not (tmp_path / "d" / "manifest.csv").exists()
    res = _run("generate", str(good), "--all", "--out", str(tmp_path / "d"), "--t", "3")
    assert res.exit_code == 2 and "--t sets the plate thickness" in res.output
