"""Welding norms: safe limit expressions, the shipped presets, verdict-first draws of every
plugin under every preset, and the pixel behaviour of recipes without a preset."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from defects_support import make_case

from weldsynth.geometry import PLATE_LEFT, PLATE_RIGHT, Plate
from weldsynth.io.calibration import Calibration
from weldsynth.synth.defects import create_defect, get_defect, list_defects
from weldsynth.synth.defects.rule import ACCEPT, GUARD, NORM, REJECT
from weldsynth.synth.norm import (
    ExpressionError,
    Judge,
    NormError,
    NormSettings,
    load_preset,
    parse_expression,
    preset_names,
)
from weldsynth.synth.recipe import RecipeError, recipe_from_dict, variant_defect

CAL = Calibration(0.05, 0.05, height_mm=8.0 / 65535, t_mm=3.0)


@pytest.mark.parametrize(
    "text,value",
    [("min(0.2 * s, 2)", 0.6), ("1 + 0.15 * b", 1.9), ("-t + 4", 1.0), ("max(t, s, 7) / 2", 3.5)],
)
def test_expressions_are_arithmetic_of_the_symbols(text: str, value: float) -> None:
    assert parse_expression(text, "f")({"t": 3, "s": 3, "b": 6, "a": None}) == pytest.approx(value)


@pytest.mark.parametrize(
    "text,words",
    [
        ("x * 2", "the symbol 'x'"),
        ("__import__('os').system('true')", "this call"),
        ("t ** 2", "the operator Pow"),
        ("t.real", "Attribute"),
        ("'a'", "the constant 'a'"),
        ("min(t, key=2)", "this call"),
        ("(lambda: 1)()", "this call"),
        ("[t][0]", "Subscript"),
        ("t if s else a", "IfExp"),
    ],
)
def test_expressions_refuse_everything_but_arithmetic(text: str, words: str) -> None:
    with pytest.raises(ExpressionError, match=words):
        parse_expression(text, "rules[0].limits.C.limit")


def test_a_missing_symbol_is_named() -> None:
    with pytest.raises(ExpressionError, match="needs t"):
        parse_expression("0.1 * t", "w")({"t": None})


# the issue's table (ISO 5817:2014, t > 3 mm): level -> rule -> limit(t, s, b); None = not permitted
TABLE = {
    "D": {
        "surface_pore": lambda t, s, b: min(0.3 * s, 3),
        "undercut": lambda t, s, b: min(0.2 * t, 1),
        "excess_weld_metal": lambda t, s, b: min(1 + 0.25 * b, 10),
        "excessive_convexity": lambda t, s, b: min(1 + 0.25 * b, 5),
        "end_crater_pipe": lambda t, s, b: min(0.2 * t, 2),
    },
    "C": {
        "surface_pore": lambda t, s, b: min(0.2 * s, 2),
        "undercut": lambda t, s, b: min(0.1 * t, 0.5),
        "excess_weld_metal": lambda t, s, b: min(1 + 0.15 * b, 7),
        "excessive_convexity": lambda t, s, b: min(1 + 0.15 * b, 4),
        "end_crater_pipe": lambda t, s, b: min(0.1 * t, 1),
    },
    "B": {
        "surface_pore": None,
        "undercut": lambda t, s, b: min(0.05 * t, 0.5),
        "excess_weld_metal": lambda t, s, b: min(1 + 0.1 * b, 5),
        "excessive_convexity": lambda t, s, b: min(1 + 0.1 * b, 3),
        "end_crater_pipe": None,
    },
}


@pytest.mark.parametrize("level", ["B", "C", "D"])
@pytest.mark.parametrize("t,b", [(3.0, 6.0), (8.0, 14.0), (40.0, 60.0)])
def test_iso_presets_match_the_table(level: str, t: float, b: float) -> None:
    settings = NormSettings.from_mapping({"preset": f"iso5817-2014-{level}", "t_mm": t})
    symbols = {"t": t, "s": t, "a": None, "b": b}
    for rule_id, expected in {
        **TABLE[level],
        "lack_of_fusion": None,
        "burn_through": None,
    }.items():
        limit = settings.resolve(rule_id, symbols)
        want = None if expected is None else expected(t, t, b)
        assert limit.value == (None if want is None else pytest.approx(want)), rule_id
        assert limit.rule.reference.startswith("ISO 5817:2014"), rule_id


def test_presets_are_listed_and_unknown_ones_refused() -> None:
    assert preset_names() == ["iso5817-2014-B", "iso5817-2014-C", "iso5817-2014-D", "plant"]
    assert load_preset("iso5817-2014-C").title == "ISO 5817 level C"
    with pytest.raises(NormError, match=r"unknown preset 'iso-9'.*iso5817-2014-B"):
        load_preset("iso-9")


def _geometry(case):  # the test weld's plate (d > 0: left of travel) as the finder sees it
    plate = Plate(PLATE_LEFT, 5000, 0.3, (0.0, 0.0, 0.3))
    return dataclasses.replace(case.geometry, plates=(plate,))


def _wide(name: str) -> dict:
    """Every range of the plugin at its allowed bounds, so each verdict can be reached."""
    return {
        s["name"]: tuple(s["bounds"])
        for s in get_defect(name).Config.describe()
        if s["range"] and s["bounds"]
    }


JUDGED = [n for n in list_defects() if get_defect(n).imperfections]


@pytest.mark.parametrize("preset", preset_names())
@pytest.mark.parametrize("name", JUDGED)
def test_every_plugin_draws_each_verdict_outside_the_guard_band(name: str, preset: str) -> None:
    case = make_case("line", "uint16")
    geometry = _geometry(case)
    settings = NormSettings.from_mapping({"preset": preset, "t_mm": 3})
    plugin = create_defect(name, **_wide(name)).with_norm(Judge(settings, CAL))
    drawn = {ACCEPT: 0, REJECT: 0}
    for verdict in (ACCEPT, REJECT) if plugin.draws_acceptable() else (REJECT,):
        only = plugin.for_verdict(verdict)
        for seed in range(6):
            result = only(case.height, np.random.default_rng(seed), geometry)
            if not result.ok:
                continue
            rule_id = only.imperfection_of(result.params)
            if only.norm_mode(rule_id) != NORM:  # no rule for it in this norm: bad, as before
                assert (result.verdict, result.rule, result.label) == (REJECT, "", plugin.label)
                drawn[verdict] += 1
                continue
            limit = only.judge.limit(rule_id, geometry)
            value = result.measures[limit.key]
            assert not limit.accept_max < value < limit.reject_min, "drawn in the guard band"
            assert result.verdict == verdict == limit.verdict(result.measures)
            assert result.label == ("good" if verdict == ACCEPT else plugin.label)
            assert result.rule == limit.rule.reference
            drawn[verdict] += 1
            if limit.value is not None:  # just below / inside / just above the limit
                g, lim = settings.guard, limit.value
                assert limit.verdict({limit.key: lim * (1 - g) * 0.999}) == ACCEPT
                assert limit.verdict({limit.key: lim}) == GUARD
                assert limit.verdict({limit.key: lim * (1 + g) * 1.001}) == REJECT
    assert drawn[REJECT] > 0
    if plugin.draws_acceptable():
        assert drawn[ACCEPT] > 0, f"{name} drew no acceptable variant under {preset}"


def test_undercut_while_fused_lack_of_fusion_without_a_plate() -> None:
    judged = [n for n in JUDGED if len(get_defect(n).imperfections) > 1]
    assert judged, "a plugin modelling two imperfections"
    case = make_case("line", "uint16")
    settings = NormSettings.from_mapping({"preset": "iso5817-2014-C", "t_mm": 3})
    for name in judged:
        plugin = create_defect(name, side="left", depth=(0.02, 0.8)).with_norm(Judge(settings, CAL))
        fused = plugin.for_verdict(ACCEPT)(case.height, np.random.default_rng(0), _geometry(case))
        assert fused.ok and fused.verdict == ACCEPT
        right = Plate(PLATE_RIGHT, 5000, 0.3, (0.0, 0.0, 0.3))
        bare = dataclasses.replace(case.geometry, plates=(right,))
        lone = plugin.for_verdict(REJECT)(case.height, np.random.default_rng(0), bare)
        assert lone.ok and "lack of fusion" in lone.rule
        assert not plugin.for_verdict(ACCEPT)(case.height, np.random.default_rng(0), bare).ok


def _recipe(norm: dict, **defects: dict) -> dict:
    return {"topology": 3, "norm": norm, "defects": defects or {"cut": {}, "hole": {}}}


def test_plant_norm_draws_exactly_as_the_pixel_thresholds() -> None:
    case = make_case("line", "uint8")
    legacy = recipe_from_dict(_recipe({"cut_accept_max": 3, "cut_reject_min": 9}))
    plant = recipe_from_dict(_recipe({"preset": "plant", "cut_accept_max": 3, "cut_reject_min": 9}))
    for name, verdicts in (("cut", (ACCEPT, REJECT)), ("hole", (REJECT,))):
        for verdict in verdicts:
            old = variant_defect(legacy, name, verdict, None)
            new = variant_defect(plant, name, verdict, None)
            for seed in range(40):
                a = old(case.height, np.random.default_rng(seed), case.geometry)
                b = new(case.height, np.random.default_rng(seed), case.geometry)
                assert (a.params, a.label, a.ok) == (b.params, b.label, b.ok)
                assert np.array_equal(a.height, b.height)
                assert a.verdict is None and b.verdict == (verdict if a.ok else None)


@pytest.mark.parametrize(
    "norm,defects,words",
    [
        ({"preset": "iso-9"}, {}, "norm: preset: unknown preset 'iso-9'"),
        ({"preset": "iso5817-2014-C", "guard": 0.7}, {}, "guard=0.7 must be a number >= 0"),
        ({"preset": "plant", "limits": {"crack": 1}}, {}, "limits.crack: no such rule"),
        ({"preset": "plant", "limits": {"spatter": "y + 1"}}, {}, "the symbol 'y'"),
        (
            {"preset": "iso5817-2014-B", "t_mm": 3},
            {"hole": {"params": {"p_acceptable": 0.3}}},
            "defects.hole.params.p_acceptable=0.3: hole models surface pore.*not permitted at "
            "ISO 5817 level B",
        ),
        (
            {"preset": "iso5817-2014-C"},
            {"cut": {"params": {"length": ["1 mm", "30 px"]}}},
            "defects.cut.params.length=.*mixes units",
        ),
        (
            {"preset": "iso5817-2014-C"},
            {"cut": {"params": {"length_mm": [1, 2], "length": [3, 9]}}},
            "length is given twice",
        ),
        (
            {"preset": "iso5817-2014-C"},
            {"cut": {"params": {"length_mm": [0.9, 1.1]}}},
            r"length_mm=\[0.9, 1.1\] lies inside the guard band",
        ),
    ],
)
def test_bad_norm_input_is_one_line_naming_the_field(norm: dict, defects: dict, words: str) -> None:
    with pytest.raises(RecipeError, match=words) as info:
        recipe_from_dict(_recipe(norm, **defects), source="r.yaml")
    assert str(info.value).startswith("r.yaml: ") and "\n" not in str(info.value)


def test_sizes_in_mm_follow_the_calibration() -> None:
    recipe = recipe_from_dict(
        _recipe({"preset": "iso5817-2014-C", "t_mm": 3}, cut={"params": {"length_mm": [0.4, 2.5]}})
    )
    for pixel_mm in (0.05, 0.1, 0.25):
        cal = Calibration(pixel_mm, pixel_mm, t_mm=3.0)
        plugin = variant_defect(recipe, "cut", REJECT, cal)
        assert plugin.config.length == pytest.approx((0.4 / pixel_mm, 2.5 / pixel_mm))
