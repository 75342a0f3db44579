"""The label rule hook: a plugin measures its draw, a rule decides accept / reject / guard;
generic code asks plugins, never names them."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from defects_support import make_case, registered, shallow_pit_plugin

import weldsynth
from weldsynth.synth.defects import create_defect, get_defect, list_defects
from weldsynth.synth.defects.hole import Hole
from weldsynth.synth.defects.rule import ACCEPT, GUARD, REJECT, Thresholds, acceptable_name


def test_thresholds_are_inclusive_and_leave_a_guard_band() -> None:
    rule = Thresholds("length", 4.0, 10.0)
    assert [rule.verdict({"length": v}) for v in (0.5, 4.0, 4.01, 9.99, 10.0, 30.0)] == [
        ACCEPT,
        ACCEPT,
        GUARD,
        GUARD,
        REJECT,
        REJECT,
    ]


def test_acceptable_variant_of_the_manifest_keeps_its_name() -> None:
    assert acceptable_name("cut") == "acceptable_cut"  # manifest contract


@pytest.mark.parametrize("verdict,label", [(ACCEPT, "good"), (REJECT, "bad")])
def test_cut_for_verdict_draws_only_that_verdict(verdict: str, label: str) -> None:
    case = make_case("line", "uint8")
    cut = create_defect("cut", accept_max=5, reject_min=12, p_acceptable=0.5)
    only = cut.for_verdict(verdict)
    assert only.config.p_acceptable == (1.0 if verdict == ACCEPT else 0.0)
    assert only.config.length == cut.config.length and only.max_tries == cut.max_tries
    for seed in range(25):
        result = only(case.height, np.random.default_rng(seed), case.geometry)
        assert result.ok and only.verdict(result.params) == verdict
        assert result.label == label


def test_plugins_without_acceptable_draws_only_reject() -> None:
    hole = create_defect("hole")
    assert hole.for_verdict(REJECT) is hole
    with pytest.raises(ValueError, match="draws no acceptable defects"):
        hole.for_verdict(ACCEPT)
    with pytest.raises(ValueError, match="verdict 'maybe'"):
        hole.for_verdict("maybe")
    with pytest.raises(ValueError, match="verdict 'guard'"):
        create_defect("cut").for_verdict(GUARD)
    assert Hole.labels() == ("bad",) and get_defect("cut").labels() == ("bad", "good")


def test_acceptable_plugin_must_say_how_it_draws_a_verdict() -> None:
    class Lazy(Hole):
        name = "tmp_lazy"
        acceptable_variant = True

    with pytest.raises(NotImplementedError, match="tmp_lazy"):
        Lazy().for_verdict(REJECT)


def test_norm_values_reach_only_the_plugin_that_declares_them() -> None:
    norm = {"cut_accept_max": 3.0, "cut_reject_min": 9.0}
    assert get_defect("cut").norm_config(norm) == {"accept_max": 3.0, "reject_min": 9.0}
    assert get_defect("hole").norm_config(norm) == {}
    with pytest.raises(ValueError, match="guard band"):
        get_defect("cut").check_norm({"cut_accept_max": 9.0, "cut_reject_min": 9.0})


def test_a_new_plugin_labels_by_its_own_rule() -> None:
    case = make_case("line", "uint16")
    with registered(shallow_pit_plugin()):
        pit = create_defect("tmp_shallow_pit")
        assert pit.labels() == ("bad", "good")
        for verdict, label in ((ACCEPT, "good"), (REJECT, "bad")):
            result = pit.for_verdict(verdict)(case.height, np.random.default_rng(1), case.geometry)
            assert result.ok and result.label == label
        with pytest.raises(ValueError, match=r"depth 0\.45 lies in the guard band"):
            pit.label_for(pit.Params((1.0, 1.0), 2.0, 1.0, 0.0, 0.45))


def _code_strings(file: Path) -> list[str]:
    """String constants of a module, docstrings left out."""
    tree = ast.parse(file.read_text(encoding="utf-8"))
    docs = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            docs.add(id(first.value))
    return [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
    ]


def test_no_code_outside_a_plugin_names_a_plugin_with_a_label_rule() -> None:
    root = Path(weldsynth.__file__).parent
    ruled = [get_defect(n) for n in list_defects()]
    ruled = [p for p in ruled if p.acceptable_variant or p.norm_keys]
    assert ruled, "the built-in cut plugin has a label rule"
    for plugin in ruled:
        own = Path(__import__(plugin.__module__, fromlist=["_"]).__file__)
        words = {plugin.name, *plugin.norm_keys}
        for file in root.rglob("*.py"):
            if file == own:
                continue
            named = [s for s in _code_strings(file) if s in words]
            assert not named, f"{file.relative_to(root)} names {named} of plugin {plugin.name}"
