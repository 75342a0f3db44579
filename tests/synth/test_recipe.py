"""Recipes: shipped ones valid; every kind of mistake named by file and field path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.core.topology import topology_ids
from weldsynth.synth.defects import get_defect, list_defects
from weldsynth.synth.recipe import RECIPES_DIR, RecipeError, load_recipe, resolved

GOOD = {"topology": 7, "defects": {"hole": {"weight": 1, "params": {"radius": [2, 4]}}}}


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def test_one_shipped_recipe_per_topology_and_all_valid() -> None:
    files = sorted(RECIPES_DIR.glob("*.yaml"))
    assert sorted(int(f.stem) for f in files) == list(topology_ids())
    for file in files:
        recipe = load_recipe(file)
        assert recipe.topology == int(file.stem)
        assert recipe.acceptable >= 1 and "cut" in recipe.defects  # acceptable cuts in good
        assert recipe.norm.cut_accept_max < recipe.norm.cut_reject_min


def test_resolved_fills_plugin_defaults_and_norm(tmp_path: Path) -> None:
    data = {
        "topology": 3,
        "norm": {"cut_accept_max": 3, "cut_reject_min": 9},
        "defects": {"cut": {"weight": 1}, "hole": {"params": {"radius": [2, 3]}}},
    }
    out = resolved(load_recipe(_write(tmp_path, data)))
    assert out["defects"]["cut"]["params"]["accept_max"] == 3.0
    assert out["defects"]["cut"]["params"]["reject_min"] == 9.0
    assert out["defects"]["hole"]["params"]["radius"] == [2.0, 3.0]
    assert out["variants"] == 6 and out["seed"] == 0


@pytest.mark.parametrize(
    "change,words",
    [
        (lambda d: d.update(colour="red"), "colour: unknown key"),
        (lambda d: d.update(variants="many"), "variants: Input should be a valid integer"),
        (lambda d: d.update(variants=-1), "variants: Input should be greater than or equal"),
        (lambda d: d.update(topology=6), "topology: unknown topology 6; allowed: 2, 3, 4"),
        (lambda d: d["defects"].update(crack={"weight": 1}), "unknown defect 'crack'"),
        (lambda d: d["defects"]["hole"].update(wieght=2), "defects.hole.wieght: unknown key"),
        (
            lambda d: d["defects"]["hole"]["params"].update(radius=[5, 2]),
            "defects.hole.params: hole: radius=(5, 2) has min > max",
        ),
        (
            lambda d: d["defects"]["hole"]["params"].update(radius=[2, 500]),
            "outside the allowed range",
        ),
        (lambda d: d["defects"]["hole"]["params"].update(size=3), "unknown parameter 'size'"),
        (lambda d: d.update(norm={"cut_accept_max": 8, "cut_reject_min": 8}), "guard band"),
        (lambda d: d.pop("topology"), "topology: required key is missing"),
    ],
)
def test_errors_name_file_and_field(tmp_path: Path, change, words: str) -> None:
    import copy

    data = copy.deepcopy(GOOD)
    change(data)
    path = _write(tmp_path, data)
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(path) in str(info.value)
    assert words in str(info.value)


@pytest.mark.parametrize(
    "text,words",
    [("topology: [7\n", "not valid YAML"), ("- 7\n- 8\n", "a recipe is a mapping")],
)
def test_unreadable_yaml(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(RecipeError, match=words):
        load_recipe(_write(tmp_path, text))


def test_cli_check_and_show(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["recipe", "check", str(_write(tmp_path, GOOD))])
    assert ok.exit_code == 0 and "ok (topology 7; hole)" in ok.output
    bad = runner.invoke(cli, ["recipe", "check", str(tmp_path / "missing.yaml")])
    assert bad.exit_code == 1 and "recipe file not found" in bad.output  # a failed check
    shown = runner.invoke(cli, ["recipe", "show", "7"])
    assert shown.exit_code == 0
    assert yaml.safe_load(shown.output)["topology"] == 7


@pytest.mark.parametrize("topology", topology_ids())
def test_recipe_init_writes_the_shipped_recipe_documented(tmp_path: Path, topology: int) -> None:
    out = tmp_path / "mine" / "my.yaml"
    res = CliRunner().invoke(
        cli, ["recipe", "init", "--topology", str(topology), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    checked = CliRunner().invoke(cli, ["recipe", "check", str(out)])
    assert checked.exit_code == 0 and "ok (topology" in checked.output
    shipped = load_recipe(RECIPES_DIR / f"{topology}.yaml")
    assert load_recipe(out).model_dump() == shipped.model_dump()
    lines = out.read_text(encoding="utf-8").splitlines()
    keys = [i for i, line in enumerate(lines) if line and line[0].isalpha()]
    assert [lines[i].split(":")[0] for i in keys][:2] == ["topology", "seed"]
    for i in keys:  # every top-level key has its own comment right above it
        assert lines[i - 1].startswith("# "), lines[i]
    comments = "\n".join(line for line in lines if line.startswith("#"))
    assert f"topology {topology}" in comments
    for name in list_defects():  # every defect parameter is documented
        for param in get_defect(name).Config.describe():
            assert f"#     {param['name']}: " in comments, (name, param["name"])
    assert list(out.parent.iterdir()) == [out]  # atomic: no temporary file left behind


def test_recipe_init_keeps_an_existing_file_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "my.yaml"
    out.write_text("mine\n")
    args = ["recipe", "init", "--topology", "7", "--out", str(out)]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 2 and "--force" in refused.output
    assert out.read_text() == "mine\n"
    forced = CliRunner().invoke(cli, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert load_recipe(out).topology == 7
    unknown = CliRunner().invoke(cli, ["recipe", "init", "--topology", "6", "--out", str(out)])
    assert unknown.exit_code == 2 and "--topology" in unknown.output
    assert load_recipe(out).topology == 7


def test_recipe_init_help_has_an_example() -> None:
    res = CliRunner().invoke(cli, ["recipe", "init", "--help"])
    assert res.exit_code == 0 and "weldsynth recipe init --topology 7 --out my.yaml" in res.output


def test_hole_only_recipe_has_no_acceptable_variants(tmp_path: Path) -> None:
    recipe = load_recipe(_write(tmp_path, GOOD))  # no acceptable key, no plugin drawing them
    assert recipe.acceptable == 0
    again = load_recipe(_write(tmp_path, resolved(recipe)))  # the resolved recipe reloads
    assert again.acceptable == 0 and resolved(again) == resolved(recipe)
    checked = CliRunner().invoke(cli, ["recipe", "check", str(_write(tmp_path, GOOD))])
    assert checked.exit_code == 0, checked.output


def test_explicit_acceptable_without_a_plugin_that_draws_them_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, {**GOOD, "acceptable": 2})
    res = CliRunner().invoke(cli, ["recipe", "check", str(path)])
    assert res.exit_code == 1
    assert "acceptable: 2 acceptable variants per good weld" in res.output
    assert "no defect under defects draws them (those that do: cut)" in res.output
    assert load_recipe(_write(tmp_path, {**GOOD, "acceptable": 0})).acceptable == 0


@pytest.mark.parametrize(
    "cut,words",
    [
        (  # fine for the recipe's own mix, but the acceptable variants draw only short cuts
            {"params": {"p_acceptable": 0, "length": [6, 30]}},
            "draws no acceptable cut (min > accept_max=4); lower it or set p_acceptable=0 "
            "(building the acceptable variants); accept_max from norm.cut_accept_max",
        ),
        (  # and the bad variants only long ones
            {"params": {"p_acceptable": 1, "length": [1, 8]}},
            "draws no rejectable cut (max < reject_min=10); raise it or set p_acceptable=1 "
            "(building the bad variants)",
        ),
    ],
)
def test_check_builds_the_plugins_generate_builds(tmp_path: Path, cut: dict, words: str) -> None:
    data = {"topology": 7, "acceptable": 1, "defects": {"hole": {}, "cut": cut}}
    with pytest.raises(RecipeError) as info:
        load_recipe(_write(tmp_path, data))
    assert "defects.cut.params: cut: length=" in str(info.value) and words in str(info.value)


def test_norm_keys_come_from_the_plugins(tmp_path: Path) -> None:
    recipe = load_recipe(_write(tmp_path, {**GOOD, "norm": {"cut_reject_min": 12}}))
    assert recipe.norm.model_dump() == {"cut_accept_max": 4.0, "cut_reject_min": 12.0}
    for norm, words in [
        ({"hole_depth_max": 1}, "norm: unknown key 'hole_depth_max'; known: cut_accept_max"),
        ({"cut_accept_max": 0}, "norm: cut_accept_max=0 must be a number > 0 and <= 1000"),
        ({"cut_accept_max": "4"}, "norm: cut_accept_max='4' must be a number"),
    ]:
        with pytest.raises(RecipeError, match=re.escape(words)):
            load_recipe(_write(tmp_path, {**GOOD, "norm": norm}))


@pytest.mark.parametrize("topology", topology_ids())
def test_shown_recipe_loads_back_and_choice_words_are_checked(
    tmp_path: Path, topology: int
) -> None:
    shown = CliRunner().invoke(cli, ["recipe", "show", str(topology)])
    assert shown.exit_code == 0, shown.output
    path = _write(tmp_path, shown.output)  # what generate writes beside its outputs
    loaded = load_recipe(path).model_dump()
    assert loaded["topology"] == topology
    assert loaded["defects"]["bead_deviation"]["params"]["position"] == "any"
    data = yaml.safe_load(shown.output)
    data["defects"]["bead_deviation"]["params"]["position"] = "sideways"
    with pytest.raises(RecipeError, match="position"):
        load_recipe(_write(tmp_path, data))
