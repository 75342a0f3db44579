"""Property tests run on every registered defect plugin (a new plugin is covered on import).

Fast suite: every plugin on four welds (straight 16-bit, +30° 8-bit, curved -30° float32,
closed square 16-bit). The slow sweep runs every plugin on every topology of
:mod:`weldsynth.samples` in three dtypes.
"""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from defects_support import FAST_CASES, Case, make_case, near_bead, to_dtype

from weldsynth.defects import DefectRejectedError, get_defect, list_defects
from weldsynth.defects.base import DefectResult

PLUGINS = list_defects()


@pytest.fixture(scope="module", params=FAST_CASES, ids=lambda c: f"{c[0]}{c[2]:+.0f}-{c[1]}")
def case(request: pytest.FixtureRequest) -> Case:
    return make_case(request.param[0], request.param[1], request.param[2])


def _run(name: str, case: Case, seed: int = 0) -> DefectResult:
    plugin = get_defect(name)()
    return plugin(case.height, np.random.default_rng(seed), case.geometry)


def check_properties(name: str, case: Case, seed: int) -> None:
    """Every contract property of one plugin on one weld for one seed."""
    plugin = get_defect(name)()
    before = case.height.copy()
    result = plugin(case.height, np.random.default_rng(seed), case.geometry)
    np.testing.assert_array_equal(case.height, before, err_msg="input mutated")
    assert result.ok, f"{name} on {case.name}: rejected ({result.reason})"
    out, mask = result.height, result.mask
    assert out.dtype == before.dtype and out.shape == before.shape
    assert mask.dtype == bool and mask.shape == before.shape
    np.testing.assert_array_equal(mask, out != before, err_msg="mask != changed pixels")
    if out.dtype.kind == "f":
        assert np.all((out >= 0) & (out <= 1)), "float output left [0, 1]"
    assert result.label in ("good", "bad")
    assert result.label == plugin.label_for(result.params)
    # same seed -> identical; apply is deterministic and needs nothing but the params
    again = plugin(case.height, np.random.default_rng(seed), case.geometry)
    assert again.params == result.params
    np.testing.assert_array_equal(again.height, out)
    # JSON round trip of the params reproduces the same image
    text = json.dumps(result.params.to_dict())
    params = plugin.params_from_dict(json.loads(text))
    assert params == result.params
    replay, replay_mask = get_defect(name)().apply(case.height, params)
    np.testing.assert_array_equal(replay, out)
    np.testing.assert_array_equal(replay_mask, mask)
    # picklable: plugin, params, result
    clone = pickle.loads(pickle.dumps(plugin))
    assert clone == plugin
    assert pickle.loads(pickle.dumps(result.params)) == result.params
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(result)).height, out)
    if plugin.bead_defect:
        share = (mask & near_bead(case.geometry)).sum() / mask.sum()
        assert share >= 0.8, f"{name} on {case.name}: only {share:.0%} of the mask near the bead"


def test_registry_has_the_reference_plugin() -> None:
    assert "hole" in PLUGINS


@pytest.mark.parametrize("name", PLUGINS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_contract(name: str, case: Case, seed: int) -> None:
    check_properties(name, case, seed)


@pytest.mark.parametrize("name", PLUGINS)
def test_different_seeds_draw_different_params(name: str, case: Case) -> None:
    drawn = {_run(name, case, seed).params for seed in range(4)}
    assert len(drawn) > 1


@pytest.mark.parametrize("name", PLUGINS)
def test_no_data_everywhere_is_rejected_not_written(name: str) -> None:
    case = make_case("line")
    empty = np.zeros_like(case.height)
    plugin = get_defect(name)(max_tries=3)
    result = plugin(empty, np.random.default_rng(0), case.geometry)
    assert result.rejected and result.label is None and result.params is None
    assert result.tries == 3 and "3 draw(s)" in result.reason
    with pytest.raises(DefectRejectedError, match="rejected"):
        _ = result.height
    with pytest.raises(DefectRejectedError):
        _ = result.mask


@pytest.mark.parametrize("name", PLUGINS)
def test_geometry_without_bead_is_rejected(name: str) -> None:
    case = make_case("line")
    lost = case.geometry.__class__(**{**case.geometry.__dict__, "found": False,
                                      "path": None, "reason": "no ridge"})
    result = get_defect(name)()(case.height, np.random.default_rng(0), lost)
    assert result.rejected and "no ridge" in result.reason and result.tries == 0


@pytest.mark.parametrize("name", PLUGINS)
def test_apply_keeps_float64_and_never_mutates(name: str) -> None:
    case = make_case("line", "float32")
    plugin = get_defect(name)()
    params = plugin(case.height, np.random.default_rng(5), case.geometry).params
    src = case.height.astype(np.float64)
    src.setflags(write=False)  # any in-place write would raise
    out, mask = plugin.apply(src, params)
    assert out.dtype == np.float64 and mask.any()


# ---------------------------------------------------------------------- slow sweep
def _sample_cases() -> list[tuple[int, str]]:
    samples = pytest.importorskip("weldsynth.samples")
    topologies = getattr(samples, "TOPOLOGIES", (2, 3, 4, 5, 7, 8, 9, 10, 11))
    return [(t, dt) for t in topologies for dt in ("uint8", "uint16", "float32")]


@pytest.mark.slow
@pytest.mark.parametrize("name", PLUGINS)
def test_contract_on_every_topology(name: str) -> None:
    samples = pytest.importorskip("weldsynth.samples")
    for topology, dtype in _sample_cases():
        for index in range(3):
            rng = np.random.default_rng(samples.sample_seed(0, topology, index))
            weld = samples.generate_weld(topology, rng)
            height = to_dtype(_as_float(weld.height), dtype)
            case = Case(f"t{topology}-{index}-{dtype}", height, samples.truth_geometry(weld))
            check_properties(name, case, seed=index)


def _as_float(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype.kind == "f":
        return pixels.astype(np.float64)
    return pixels.astype(np.float64) / np.iinfo(pixels.dtype).max
