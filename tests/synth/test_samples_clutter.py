"""Clutter on procedural good welds: off by default, seeded per weld, and still good."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.io.heightmap import read_heightmap
from weldsynth.io.manifest import read_manifest
from weldsynth.synth.recipe import (
    RecipeError,
    build_defect,
    load_recipe,
    recipe_for_topology,
    resolved,
)
from weldsynth.synth.samples import generate_weld, sample_seed, write_samples
from weldsynth.synth.samples.knobs import CLUTTER_LEVELS, clutter_knobs


@pytest.mark.parametrize("topology", [2, 3, 7])
def test_no_clutter_is_the_clean_weld_byte_for_byte(topology: int) -> None:
    plain = generate_weld(topology, sample_seed(0, topology, 1))
    none = generate_weld(topology, sample_seed(0, topology, 1), clutter="none")
    assert plain.height.tobytes() == none.height.tobytes()
    assert json.dumps(plain.truth, sort_keys=True) == json.dumps(none.truth, sort_keys=True)
    assert "clutter" not in plain.truth


def test_write_samples_without_clutter_writes_the_same_files(tmp_path: Path) -> None:
    a = write_samples(tmp_path / "a", [3], 2, seed=5)
    b = write_samples(tmp_path / "b", [3], 2, seed=5, clutter="none")
    for x, y in zip(a, b, strict=True):
        assert x.read_bytes() == y.read_bytes()
        assert x.with_suffix(".json").read_bytes() == y.with_suffix(".json").read_bytes()
    c = write_samples(tmp_path / "c", [3], 1, seed=5, clutter="realistic")
    assert c[0].read_bytes() != a[0].read_bytes()
    sidecar = json.loads(c[0].with_suffix(".json").read_text())
    assert sidecar["sample"] == {"seed": 5, "index": 0, "clutter": "realistic"}


@pytest.mark.parametrize("level", ["realistic", "heavy"])
def test_clutter_is_fixed_by_seed_and_item(level: str) -> None:
    one = generate_weld(3, sample_seed(4, 3, 2), clutter=level)
    again = generate_weld(3, sample_seed(4, 3, 2), clutter=level)
    other = generate_weld(3, sample_seed(4, 3, 3), clutter=level)
    assert np.array_equal(one.height, again.height) and one.truth == again.truth
    assert one.truth["clutter"]["spatter"] != other.truth["clutter"]["spatter"]
    clean = generate_weld(3, sample_seed(4, 3, 2))
    # the weld underneath is the clean one: same path, same drawn knobs
    assert one.truth["path"] == clean.truth["path"]
    assert one.truth["generator"] == clean.truth["generator"]
    assert not np.array_equal(one.height, clean.height)


def test_heavier_clutter_loses_more_data_and_unknown_levels_fail() -> None:
    lost = {}
    for level in CLUTTER_LEVELS:
        welds = [generate_weld(2, sample_seed(0, 2, i), clutter=level) for i in range(4)]
        lost[level] = np.mean([float((w.height == 0).mean()) for w in welds])
    assert lost["none"] < lost["realistic"] < lost["heavy"]
    with pytest.raises(ValueError, match="clutter must be one of"):
        generate_weld(2, sample_seed(0, 2, 0), clutter="extreme")
    assert clutter_knobs(5, "heavy").shadow_prob == 0.0  # per-topology knob


def test_spatter_droplets_land_on_the_plate_and_stay_under_a_bad_ball() -> None:
    smallest_ball = float(build_defect(recipe_for_topology(2), "ball").config.radius[0])
    drops = 0
    for index in range(3):
        weld = generate_weld(2, sample_seed(0, 2, index), clutter="heavy")
        clean = generate_weld(2, sample_seed(0, 2, index))
        for drop in weld.truth["clutter"]["spatter"]:
            drops += 1
            y, x = drop["y"], drop["x"]
            assert drop["on"] == "plate"
            assert not clean.bead_mask[y, x] and clean.height[y, x] > 0
            assert drop["radius"] <= 0.6 * smallest_ball  # diameter well under the ball's
    assert drops >= 10


def test_a_cluttered_weld_with_spatter_is_labelled_good_by_generate(tmp_path: Path) -> None:
    write_samples(tmp_path / "good", [2], 1, seed=0, clutter="heavy")
    truth = json.loads((tmp_path / "good" / "2" / "2_0000.json").read_text())
    assert [d["on"] for d in truth["clutter"]["spatter"]].count("plate") >= 5
    recipe = tmp_path / "2.yaml"
    recipe.write_text("topology: 2\nvariants: 1\nacceptable: 0\ndefects:\n  hole: {weight: 1}\n")
    res = CliRunner().invoke(
        cli,
        [
            "generate",
            str(tmp_path / "good" / "2"),
            "--recipe",
            str(recipe),
            "--out",
            str(tmp_path / "data"),
            "--workers",
            "1",
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    rows = read_manifest(tmp_path / "data")
    originals = [r for r in rows if r.defect == ""]
    assert len(originals) == 1 and originals[0].label == "good"
    assert originals[0].source == originals[0].path  # how train.plant tells an original
    assert any(r.label == "bad" and r.defect == "hole" for r in rows)


def _generate(good: Path, recipe: Path, out: Path) -> list:
    args = ["--recipe", str(recipe), "--out", str(out), "--workers", "1", "--quiet"]
    res = CliRunner().invoke(cli, ["generate", str(good), *args])
    assert res.exit_code == 0, res.output
    return [r for r in read_manifest(out) if r.defect == ""]


def test_a_recipe_clutter_level_clutters_each_good_weld_in_generate(tmp_path: Path) -> None:
    write_samples(tmp_path / "good", [3], 2, seed=0)
    good = tmp_path / "good" / "3"
    body = "topology: 3\nvariants: 1\nacceptable: 0\ndefects:\n  hole: {weight: 1}\n"
    plain, cluttered = tmp_path / "plain.yaml", tmp_path / "cluttered.yaml"
    plain.write_text(body)
    cluttered.write_text(body + "clutter: realistic\n")
    assert "clutter" not in resolved(load_recipe(plain))
    assert resolved(load_recipe(cluttered))["clutter"] == "realistic"
    clean = _generate(good, plain, tmp_path / "a")
    one = _generate(good, cluttered, tmp_path / "b")
    again = _generate(good, cluttered, tmp_path / "c")
    assert [r.sha256 for r in one] == [r.sha256 for r in again]  # seeded per weld
    for rec, other in zip(clean, one, strict=True):
        source = read_heightmap(good / Path(rec.path).name).height
        assert np.array_equal(read_heightmap(tmp_path / "a" / rec.path).height, source)
        cluttered_map = read_heightmap(tmp_path / "b" / other.path).height
        assert not np.array_equal(cluttered_map, source) and other.label == "good"
    bad = tmp_path / "bad.yaml"
    bad.write_text(body + "clutter: extreme\n")
    with pytest.raises(RecipeError, match="clutter"):
        load_recipe(bad)
