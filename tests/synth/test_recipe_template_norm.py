"""``recipe init --norm --scan``: mm ranges straddling each limit, cut to what the scan's
pixel_mm can draw, limits near the resolution said, an unrepresentable one refused."""

from __future__ import annotations

import pytest
import yaml

from weldsynth.synth.defects import get_defect, list_defects
from weldsynth.synth.norm import NormError, NormSettings
from weldsynth.synth.recipe import recipe_from_dict
from weldsynth.synth.recipe_template import STRADDLE, norm_recipe_sizes

PRESET, T_MM = "iso5817-2014-C", 3.0


def _limits() -> dict[str, object]:
    """Defect -> resolved limit of its usual imperfection (only px-sized plugins)."""
    settings = NormSettings.from_mapping({"preset": PRESET, "t_mm": T_MM})
    out = {}
    for name in list_defects():
        plugin = get_defect(name)
        if plugin.norm_size is None or not plugin.imperfections:
            continue
        rule_id = plugin.imperfections[0]
        if settings.level.rule(rule_id) is not None:
            limit = settings.resolve(rule_id, {"t": T_MM, "s": T_MM, "a": None, "b": None})
            if limit.value is not None:
                out[name] = limit
    return out


@pytest.mark.parametrize("pixel_mm", [0.05, 0.1, 0.25])
def test_every_sized_defect_straddles_its_limit_and_can_be_drawn(pixel_mm: float) -> None:
    sized = norm_recipe_sizes(3, PRESET, T_MM, {"pixel_mm": pixel_mm, "height_mm": 0.001})
    data = yaml.safe_load(sized.text)
    recipe_from_dict(data, source="test")  # valid as written, at this resolution
    limits = _limits()
    assert limits, "no plugin with a size in px judged by a finite limit"
    for name, limit in limits.items():
        field, per = get_defect(name).norm_size
        lo, hi = data["defects"][name]["params"][f"{field}_mm"]
        assert lo * per <= limit.accept_max and hi * per >= limit.reject_min, (name, lo, hi)
        spec = next(s for s in get_defect(name).Config.describe() if s["name"] == field)
        assert lo / pixel_mm >= spec["bounds"][0] - 1e-9, (name, lo)  # drawable
        assert lo == pytest.approx(
            max(STRADDLE[0] * limit.value / per, spec["bounds"][0] * pixel_mm), abs=1e-3
        )


def test_a_limit_near_the_resolution_is_said_in_a_comment_and_a_warning() -> None:
    sized = norm_recipe_sizes(3, PRESET, T_MM, {"pixel_mm": 0.25})
    pore = [w for w in sized.warnings if w.startswith("hole: surface pore")]
    assert pore and "limit 0.6 mm is 2.4 px at 0.25 mm/px" in pore[0], sized.warnings
    assert "# hole: surface pore diameter limit 0.6 mm is 2.4 px" in sized.text
    # an elongated pore of one pixel radius is already too big to be acceptable here: the
    # probe finds no acceptable pore fits, so none is asked for
    assert yaml.safe_load(sized.text)["defects"]["hole"]["params"]["p_acceptable"] == 0
    fine = norm_recipe_sizes(3, PRESET, T_MM, {"pixel_mm": 0.05})
    assert not any(w.startswith("hole") for w in fine.warnings), fine.warnings
    assert "p_acceptable" not in yaml.safe_load(fine.text)["defects"]["hole"]["params"]


def test_a_norm_no_drawable_size_represents_is_refused() -> None:
    with pytest.raises(NormError) as err:
        norm_recipe_sizes(3, PRESET, T_MM, {"pixel_mm": 0.3})
    text = str(err.value)
    assert text.startswith("hole: surface pore diameter limit 0.6 mm is 2 px at 0.3 mm/px")
    assert "cannot be represented at this resolution" in text and "at most 0.255 mm/px" in text


def test_without_a_scan_the_ranges_are_the_plain_straddle() -> None:
    sized = norm_recipe_sizes(3, PRESET, T_MM)
    assert sized.warnings == []
    params = yaml.safe_load(sized.text)["defects"]["hole"]["params"]
    assert params == {"radius_mm": [0.12, 0.75]}  # 0.4 and 2.5 x the 0.6 mm limit, halved
