"""``recipe init --norm --scan``: every plugin judged by a finite limit gets a range that
straddles it, including those whose size is relative to each map (declared by the plugin's
``norm_relative``), and the probe on the shipped samples draws both verdicts."""

from __future__ import annotations

import pytest
import yaml

from weldsynth.io.calibration import calibration_from_mapping
from weldsynth.synth.defects import get_defect, list_defects
from weldsynth.synth.defects.norm_hooks import RELATIVE_BASES
from weldsynth.synth.norm import NormSettings
from weldsynth.synth.recipe_probe import acceptable_rates
from weldsynth.synth.recipe_relative import typical
from weldsynth.synth.recipe_template import norm_recipe_sizes

PRESET, T_MM = "iso5817-2014-C", 3.0
SCAN = {"pixel_mm": 0.1, "height_range_mm": [0, 8]}
TOPOLOGY = 2
"""Shipped samples with a plate beside the bead (an undercut needs one to be fused with)."""


def _finite() -> list[str]:
    """Registered plugins whose usual imperfection has a finite limit under the preset."""
    settings = NormSettings.from_mapping({"preset": PRESET, "t_mm": T_MM})
    out = []
    for name in list_defects():
        plugin = get_defect(name)
        rule = settings.level.rule(plugin.imperfections[0]) if plugin.imperfections else None
        if rule is not None and settings.level.limit_of(rule).permitted:
            out.append(name)
    return out


@pytest.fixture(scope="module")
def written() -> tuple[dict, dict, dict]:
    """The recipe written for ``TOPOLOGY`` and the probe's accept / reject rates."""
    calibration = calibration_from_mapping(SCAN, "test")
    text = norm_recipe_sizes(TOPOLOGY, PRESET, T_MM, SCAN).text
    accept = acceptable_rates(text, TOPOLOGY, calibration)
    reject = acceptable_rates(text, TOPOLOGY, calibration, verdict="reject")
    return yaml.safe_load(text), accept, reject


def test_the_registry_has_relative_plugins_judged_by_a_finite_limit() -> None:
    relative = [n for n in _finite() if get_defect(n).norm_relative]
    assert {"bead_deviation", "excess_material", "missing_plate"} <= set(relative)
    for name in list_defects():
        declared = get_defect(name).norm_relative
        if declared is not None:
            assert declared[1] in RELATIVE_BASES, (name, declared)
            spec = [s for s in get_defect(name).Config.describe() if s["name"] == declared[0]]
            assert spec and spec[0]["bounds"], (name, declared)  # a bounded config range


def test_an_unknown_basis_is_refused_naming_the_plugin() -> None:
    class Odd(get_defect("bead_deviation")):  # type: ignore[misc,valid-type]
        norm_relative = ("amplitude", "bead_colour")

    with pytest.raises(ValueError, match="Odd: norm_relative basis 'bead_colour'"):
        Odd.relative_unit_mm(None, None, None)


@pytest.mark.parametrize("name", _finite())
def test_the_written_range_straddles_the_limit_and_both_verdicts_are_drawn(
    name: str, written: tuple[dict, dict, dict]
) -> None:
    data, accept, reject = written
    plugin = get_defect(name)
    calibration = calibration_from_mapping(SCAN, "test")
    found = typical(plugin, TOPOLOGY, calibration) if plugin.norm_relative else None
    settings = NormSettings.from_mapping({"preset": PRESET, "t_mm": T_MM})
    b_mm = None if found is None else found.b_mm
    limit = settings.resolve(plugin.imperfections[0], {"t": T_MM, "s": T_MM, "a": None, "b": b_mm})
    params = data["defects"][name]["params"]
    if plugin.norm_relative:
        assert found is not None, name
        lo, hi = params[plugin.norm_relative[0]]
        per = found.unit_mm
    else:
        key, per = plugin.norm_size
        lo, hi = params[f"{key}_mm"]
    assert lo * per <= limit.accept_max and hi * per >= limit.reject_min, (name, lo, hi)
    assert accept[name][0] > 0, (name, accept[name])
    assert reject[name][0] > 0, (name, reject[name])


def test_bead_deviation_is_written_in_widths_with_the_limit_in_mm() -> None:
    text = norm_recipe_sizes(3, PRESET, T_MM, SCAN).text
    amplitude = yaml.safe_load(text)["defects"]["bead_deviation"]["params"]["amplitude"]
    assert amplitude[0] < 0.25 * 0.85 and amplitude[1] > 0.25 * 1.15  # limit 0.25 b, ±guard
    assert "# bead_deviation: lateral bead deviation" in text
    said = " ".join(line.strip("# ") for line in text.splitlines() if line.startswith("  # "))
    assert "offset limit 0.735 mm on the typical shipped topology-3 weld" in said
    assert "(b = 2.94 mm, amplitude unit = 2.94 mm), i.e. amplitude 0.25" in said


def test_a_map_without_what_the_size_is_relative_to_gives_no_typical_unit() -> None:
    # the shipped topology-3 samples have no plate: no undercut depth can be said there
    calibration = calibration_from_mapping(SCAN, "test")
    assert typical(get_defect("missing_plate"), 3, calibration) is None
    assert typical(get_defect("missing_plate"), TOPOLOGY, calibration) is not None
