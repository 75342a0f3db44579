"""No warnings from the project's own numerics: every defect plugin, on a weld of every
topology and on hand-made welds, over many seeds, with warnings turned into errors.

A warning such as ``RuntimeWarning: overflow encountered in expm1`` (excess_material
evaluated its soft ceiling where the value was then thrown away) lands in every user's log.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from defects_support import FAST_CASES, make_case, sample_case

from weldsynth.core.topology import topology_ids
from weldsynth.synth.defects import get_defect, list_defects
from weldsynth.synth.recipe import build_defect, recipe_for_topology

DTYPES = ("uint8", "uint16", "float32")
FAST_SEEDS = range(12)
SLOW_SEEDS = range(12, 80)


def full_scale(pixels: np.ndarray) -> np.ndarray:
    """The weld stretched so its highest point is the top code (a scanner that normalises
    each scan to its full range): heights at the ceiling, where soft limits take logs and
    exponentials of tiny margins."""
    top = 1.0 if pixels.dtype.kind == "f" else float(np.iinfo(pixels.dtype).max)
    h = pixels.astype(np.float64) / top
    valid = h > 0
    h[valid] = np.clip(1.0 + 0.9 * (h[valid] - h[valid].max()), 1.0 / top, 1.0)
    out = h if pixels.dtype.kind == "f" else np.round(h * top)
    return np.where(valid, out, 0).astype(pixels.dtype)


def _draws(name: str, topology: int, seeds: range) -> None:
    """Draw ``name`` on topology ``topology``, as scanned and at full scale, with the
    plugin's defaults and the shipped recipe's settings."""
    case = sample_case(topology, DTYPES[topology % len(DTYPES)], None)
    recipe = recipe_for_topology(topology)
    plugins = [get_defect(name)()]
    if name in recipe.defects:
        plugins.append(build_defect(recipe, name))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for pixels in (case.height, full_scale(case.height)):
            for plugin in plugins:
                for seed in seeds:
                    plugin(pixels, np.random.default_rng(seed), case.geometry)


@pytest.mark.parametrize("topology", topology_ids())
@pytest.mark.parametrize("name", list_defects())
def test_no_warning_on_any_topology(name: str, topology: int) -> None:
    _draws(name, topology, FAST_SEEDS)


@pytest.mark.parametrize("spec", FAST_CASES, ids=lambda s: f"{s[0]}{s[2]:+.0f}-{s[1]}")
@pytest.mark.parametrize("name", list_defects())
def test_no_warning_on_hand_made_welds(name: str, spec: tuple) -> None:
    case = make_case(*spec)
    plugin = get_defect(name)()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for pixels in (case.height, full_scale(case.height)):
            for seed in FAST_SEEDS:
                plugin(pixels, np.random.default_rng(seed), case.geometry)


@pytest.mark.slow
@pytest.mark.parametrize("topology", topology_ids())
@pytest.mark.parametrize("name", list_defects())
def test_no_warning_over_many_seeds(name: str, topology: int) -> None:
    _draws(name, topology, SLOW_SEEDS)
