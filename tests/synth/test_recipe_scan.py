"""The recipe's ``scan:`` section: validated like any calibration, absent from a resolved
recipe that has none (so pixel recipes resolve exactly as before)."""

from __future__ import annotations

from pathlib import Path

import pytest

from weldsynth.synth.recipe import RecipeError, load_recipe, resolved

BASE = "topology: 7\nseed: 1\nacceptable: 0\ndefects:\n  hole: {weight: 1}\n"


def _load(tmp_path: Path, extra: str = ""):
    file = tmp_path / "r.yaml"
    file.write_text(BASE + extra)
    return load_recipe(file)


def test_scan_section_is_kept_and_resolved(tmp_path: Path) -> None:
    recipe = _load(tmp_path, "scan: {pixel_mm: [0.1, 0.3], height_mm: 0.001, t_mm: 3}\n")
    assert recipe.scan == {"pixel_mm": [0.1, 0.3], "height_mm": 0.001, "t_mm": 3}
    assert resolved(recipe)["scan"] == recipe.scan


def test_no_scan_section_resolves_without_the_key(tmp_path: Path) -> None:
    recipe = _load(tmp_path)
    assert recipe.scan is None and "scan" not in resolved(recipe)


@pytest.mark.parametrize(
    ("scan", "expect"),
    [
        ("{pixel_mm: 0}", "scan: pixel_mm_x must be a number in (0, 10] mm (got 0)"),
        ("{pixel_mm: 10.5}", "scan: pixel_mm_x must be a number in (0, 10] mm (got 10.5)"),
        ("{pixel_mm: 0.1, height_mm: -1}", "scan: height_mm must be a number in (0, 10] mm"),
        ("{pixel_mm: 0.1, dpi: 3}", "scan: unknown calibration key(s) ['dpi']"),
        ("{height_mm: 0.1}", "scan: pixel_mm is required"),
    ],
)
def test_bad_scan_is_one_line_naming_file_field_value(
    tmp_path: Path, scan: str, expect: str
) -> None:
    with pytest.raises(RecipeError) as info:
        _load(tmp_path, f"scan: {scan}\n")
    msg = str(info.value)
    assert expect in msg and str(tmp_path / "r.yaml") in msg and "\n" not in msg
