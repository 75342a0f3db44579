"""Realism checks, one per defect, that fail if the defect stops looking like itself.

Convention: the realism test of plugin ``NAME`` is a function ``test_realism_NAME`` in any
``tests/test_defects_*.py`` file. ``test_every_plugin_has_a_realism_test`` fails for a
registered plugin without one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from defects_support import make_case

from weldsynth.defects import create_defect, list_defects
from weldsynth.defects.functional import ellipse_radius, to_unit
from weldsynth.defects.hole import HoleParams

TESTS = Path(__file__).parent


def _realism_tests() -> set[str]:
    names: set[str] = set()
    for file in TESTS.glob("test_defects_*.py"):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_realism_"):
                names.add(node.name.removeprefix("test_realism_"))
    return names


def test_every_plugin_has_a_realism_test() -> None:
    missing = sorted(set(list_defects()) - _realism_tests())
    assert not missing, f"plugins without a test_realism_<name>: {missing}"


# ---------------------------------------------------------------------- hole
@pytest.mark.parametrize("kind,dtype,angle", [("line", "uint16", 0.0), ("curve", "uint8", 30.0),
                                              ("square", "float32", 0.0)])
def test_realism_hole(kind: str, dtype: str, angle: float) -> None:
    """A hole lowers the bead inside its radius only, deepest near the centre."""
    case = make_case(kind, dtype, angle)
    hole = create_defect("hole", depth=(0.6, 0.9))
    for seed in range(5):
        result = hole(case.height, np.random.default_rng(seed), case.geometry)
        assert result.ok, result.reason
        p: HoleParams = result.params  # type: ignore[assignment]
        before, after = to_unit(case.height), to_unit(result.height)
        ys, xs = np.nonzero(result.mask)
        r = ellipse_radius(xs.astype(float), ys.astype(float), p.center, p.radius, p.aspect,
                           p.angle)
        assert np.all(r < 1.0), "changed a pixel outside the pit"
        assert np.all(after[ys, xs] < before[ys, xs]), "a hole only removes material"
        assert case.geometry.bead_mask[ys, xs].mean() > 0.9, "pit mostly outside the bead"
        drop = (before - after)[ys, xs] / before[ys, xs]
        assert drop.max() == pytest.approx(p.depth, abs=0.1)
        assert r[np.argmax(drop)] < 0.5, "deepest point away from the centre"


def test_hole_on_shadow_is_rejected() -> None:
    """A pit on a bead that was already 0 changes nothing: rejected, never 'bad'."""
    case = make_case("line", "uint16")
    shadowed = np.where(case.geometry.bead_mask, 0, case.height).astype(case.height.dtype)
    result = create_defect("hole", max_tries=4)(shadowed, np.random.default_rng(0),
                                                case.geometry)
    assert result.rejected and result.label is None
    assert "no pixel changed" in result.reason


def test_hole_apply_from_explicit_params() -> None:
    """Depth 1 reaches 0 at the centre; a pixel 2 radii away is untouched."""
    case = make_case("line", "uint16")
    cx, cy = 176.0, 64.0
    params = HoleParams(center=(cx, cy), radius=4.0, aspect=1.0, angle=0.0, depth=1.0)
    out, mask = create_defect("hole").apply(case.height, params)
    assert out[64, 176] == 0 and case.height[64, 176] > 0
    assert not mask[64, 184] and not mask[56, 176]
    assert mask[64, 173] and out[64, 173] < case.height[64, 173]
