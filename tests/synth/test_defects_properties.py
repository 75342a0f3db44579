"""Property tests run on every registered defect plugin (a new plugin is covered on import).

Fast suite: every plugin on four hand-made welds (straight 16-bit, +30° 8-bit, curved -30°
float32, closed square 16-bit) and on one procedural weld of each of the nine topologies
(mixed dtypes, two rotated ±30°). The slow sweep runs every plugin on three welds of every
topology in three dtypes and three rotations.
"""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from defects_support import FAST_CASES, SAMPLE_CASES, Case, make_case, near_bead, sample_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from weldsynth.geometry.path import BeadPath
from weldsynth.synth.defects import DefectRejectedError, get_defect, list_defects
from weldsynth.synth.defects.base import DefectResult

PLUGINS = list_defects()


def _case_id(spec: tuple) -> str:
    if isinstance(spec[0], int):
        rot = "" if spec[2] is None else f"{spec[2]:+.0f}"
        return f"t{spec[0]}{rot}-{spec[1]}"
    return f"{spec[0]}{spec[2]:+.0f}-{spec[1]}"


@pytest.fixture(scope="module", params=FAST_CASES + SAMPLE_CASES, ids=_case_id)
def case(request: pytest.FixtureRequest) -> Case:
    spec = request.param
    if isinstance(spec[0], int):
        return sample_case(spec[0], spec[1], spec[2])
    return make_case(spec[0], spec[1], spec[2])


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
    lost = case.geometry.__class__(
        **{**case.geometry.__dict__, "found": False, "path": None, "reason": "no ridge"}
    )
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


@pytest.mark.parametrize("name", PLUGINS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    dx=st.floats(-200, 200),
    dy=st.floats(-70, 70),
    dtype=st.sampled_from(["uint8", "uint16", "float32"]),
)
def test_any_placement_keeps_the_contract(
    name: str, seed: int, dx: float, dy: float, dtype: str
) -> None:
    """Geometry shifted anywhere (bead half or fully off the map, defects over the border):
    never a crash, and an accepted result keeps dtype/shape with mask == changed pixels."""
    case = make_case("line", dtype)
    path = case.geometry.path
    moved = BeadPath(points=path.points + np.array([dx, dy]), widths=path.widths)
    geometry = case.geometry.__class__(**{**case.geometry.__dict__, "path": moved})
    result = get_defect(name)(max_tries=3)(case.height, np.random.default_rng(seed), geometry)
    if result.rejected:
        assert result.reason and result.label is None
        return
    assert result.height.dtype == case.height.dtype and result.height.shape == case.height.shape
    np.testing.assert_array_equal(result.mask, result.height != case.height)


# ---------------------------------------------------------------------- slow sweep
@pytest.mark.slow
@pytest.mark.parametrize("name", PLUGINS)
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
@pytest.mark.parametrize("rotation", [None, -30.0, 30.0])
def test_contract_on_every_topology(name: str, dtype: str, rotation: float | None) -> None:
    from weldsynth.synth.samples import TOPOLOGIES

    for topology in TOPOLOGIES:
        for index in range(3):
            check_properties(name, sample_case(topology, dtype, rotation, index), seed=index)
