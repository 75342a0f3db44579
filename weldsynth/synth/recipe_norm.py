"""A recipe's norm and sizes: ``norm.preset``, sizes in mm or px, acceptable variants.

Recipe keys this module reads (see :mod:`weldsynth.synth.recipe` for the rest)::

    norm:
      preset: iso5817-2014-C   # a shipped preset (weldsynth norm list) or FILE.yaml[:LEVEL]
      t_mm: 3                  # plate thickness (else the calibration's t_mm)
      guard: 0.15              # guard band, fraction of each limit (default: the norm's)
      limits: {interruption: 1.5}   # per-topology overrides of a rule's limit (mm)
    defects:
      hole: {params: {radius_mm: [0.1, 0.6], p_acceptable: 0.3}}

A size of a pixel field may be given in mm or px, the unit explicit in the key
(``radius_mm``, ``radius_px``) or the value (``"0.3 mm"``, ``["0.1 mm", "0.6 mm"]``);
mixing units in one field is an error naming it. Sizes in mm need the map's calibration.
``p_acceptable`` is accepted for every defect: the share of acceptable draws in direct use,
and 0 leaves the defect out of generate's acceptable variants.

Without ``norm.preset`` nothing here changes a recipe: plugins draw and label in pixels as
before (the cut thresholds ``norm.cut_accept_max`` / ``cut_reject_min``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from weldsynth.core.errors import WeldsynthError
from weldsynth.io.calibration import Calibration, calibration_from_mapping
from weldsynth.synth.norm import Judge, NeedsCalibrationError, NormError, NormSettings

UNIT_SUFFIXES = ("_mm", "_px")
SHARE_KEY = "p_acceptable"
_VALUE = re.compile(r"^\s*([-+0-9.eE]+)\s*(mm|px)\s*$")


class SizeUnitError(WeldsynthError, ValueError):
    """A size is given with an unknown or mixed unit, or in mm without a calibration."""


def norm_settings(norm: Mapping[str, Any]) -> NormSettings | None:
    """The recipe's norm settings (None without ``preset``); errors name the field."""
    return NormSettings.from_mapping(norm, "norm")


def recipe_calibration(scan: Mapping[str, Any] | None) -> Calibration | None:
    """The calibration of a recipe's ``scan:`` section (None without one)."""
    if not scan:
        return None
    return calibration_from_mapping(scan, "recipe scan").with_source("recipe")


ASSUMED = Calibration(pixel_mm_x=1.0, pixel_mm_y=1.0, source="assumed")
"""Stand-in calibration for recipe-level decisions (which defects draw acceptable variants,
recipe check) when the maps' own calibrations are only found by generate."""


def recipe_level(
    scan: Mapping[str, Any] | None, settings: NormSettings | None, calibration: Any
) -> tuple[Calibration | None, Calibration | None]:
    """(calibration the norm judges with, calibration sizes in mm are converted with).

    ``calibration`` is the map's (None: uncalibrated) or "recipe": the recipe's ``scan:``
    section, else, when the norm needs millimetres, :data:`ASSUMED` for judging and none
    for converting sizes.
    """
    if calibration != "recipe":
        return calibration, calibration
    found = recipe_calibration(scan)
    if found is not None:
        return found, found
    needs_mm = settings is not None and any(
        r.unit == "mm" and r.without_calibration == "error"
        for r in settings.level.norm.rules.values()
    )
    return (ASSUMED if needs_mm else None), None


def check_recipe_norm(recipe: Any, source: str, build_defect: Any, error: type) -> None:
    """Recipe-level norm checks: acceptable draws of an imperfection that is not permitted,
    size ranges inside a guard band.

    Args:
        recipe: The validated recipe.
        source: File named in errors.
        build_defect: :func:`weldsynth.synth.recipe.build_defect`.
        error: The exception raised (``RecipeError``), naming file and field.
    """
    if norm_settings(recipe.norm.model_dump()) is None:
        return
    for name, entry in recipe.defects.items():
        where = f"defects.{name}.params"
        try:
            plugin = build_defect(recipe, name)
            check_acceptable(plugin, name, plugin.share_acceptable, where)
            check_guard_ranges(plugin, name, entry.params, where)
        except (NormError, SizeUnitError) as exc:
            raise error(f"{source}: {exc}") from None


def require_calibration(recipe: Any, calibration: Calibration | None, where: str) -> None:
    """Refuse, before anything is written, a map whose calibration the recipe's norm needs.

    Raises:
        NeedsCalibrationError: ``<where>: norm: ISO 5817 level C needs a calibration
            (pixel_mm); see weldsynth import --help`` (or the height calibration).
    """
    from weldsynth.synth.defects import get_defect

    settings = norm_settings(recipe.norm.model_dump())
    if settings is None:
        return
    judge = Judge(settings, calibration)
    try:
        for name in recipe.defects:
            plugin = get_defect(name)
            for rule_id in plugin.imperfections:
                if judge.mode(rule_id) == "norm" and plugin.measures_height:
                    judge.height_mm_per_unit(16, rule_id)
    except NeedsCalibrationError as exc:
        raise NeedsCalibrationError(f"{where}: {exc}") from None


def judged_in_mm(
    plugin_cls: Any, settings: NormSettings | None, calibration: Calibration | None
) -> bool:
    """True when the norm judges the plugin's usual imperfection by its limit here (or
    would, once the map's calibration is there)."""
    if settings is None or not plugin_cls.imperfections:
        return False
    try:
        return Judge(settings, calibration).mode(plugin_cls.imperfections[0]) == "norm"
    except NeedsCalibrationError:
        return True


def bind(plugin: Any, settings: NormSettings | None, calibration: Calibration | None) -> Any:
    """``plugin`` judged by the norm on a map with ``calibration`` (itself without a norm)."""
    if settings is None:
        return plugin
    return plugin.with_norm(Judge(settings, calibration))


def split_params(
    plugin_cls: Any, params: Mapping[str, Any], calibration: Calibration | None, where: str
) -> tuple[dict[str, Any], float | None]:
    """Config values in the plugin's own units, and the recipe's ``p_acceptable`` for a
    plugin whose config has no such field.

    Args:
        plugin_cls: The plugin class.
        params: The recipe's ``params`` of the defect.
        calibration: The map's calibration (None: sizes in mm cannot be converted and are
            left out, which is what ``recipe check`` does without a ``scan:`` section).
        where: Field path named in errors (``defects.hole.params``).

    Raises:
        SizeUnitError: Mixed or unknown units, or mm on a field that is not a pixel size.
    """
    specs = {s["name"]: s for s in plugin_cls.Config.describe()}
    out: dict[str, Any] = {}
    share = None
    seen: dict[str, str] = {}
    for key, value in params.items():
        if key == SHARE_KEY and key not in specs:
            share = _share(value, f"{where}.{key}")
            continue
        field, unit = _field_unit(key, specs)
        if field in seen:
            raise SizeUnitError(
                f"{where}: {field} is given twice ({seen[field]} and {key}); use one unit"
            )
        seen[field] = key
        if unit is None and (specs.get(field) or {}).get("choices"):
            out[field] = value  # a word ("any", "start"): the plugin's config checks it
            continue
        unit, number = _value_unit(value, unit, f"{where}.{key}")
        if unit is not None and specs[field]["unit"] != "px":
            raise SizeUnitError(
                f"{where}.{key}: {field} is not a size in pixels (unit "
                f"{specs[field]['unit'] or 'none'}); give it without a unit"
            )
        if unit == "mm":
            if calibration is None:
                continue  # checked for form; converted once the map's calibration is known
            number = _scale(number, 1.0 / calibration.pixel_mm)
        out[field] = number
    return out, share


def _share(value: Any, where: str) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not 0.0 <= value <= 1.0:
        raise SizeUnitError(f"{where}={value!r} must be a number in [0, 1]")
    return float(value)


def _field_unit(key: str, specs: Mapping[str, Any]) -> tuple[str, str | None]:
    for suffix in UNIT_SUFFIXES:
        base = key.removesuffix(suffix)
        if base != key and base in specs:
            return base, suffix[1:]
    return key, None  # unknown keys are reported by the plugin's config validation


def _value_unit(value: Any, unit: str | None, where: str) -> tuple[str | None, Any]:
    """(unit, value without units); a unit in the value must agree with the key's."""
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    units, numbers = set(), []
    for item in items:
        if isinstance(item, str):
            match = _VALUE.match(item)
            if not match:
                raise SizeUnitError(f"{where}={value!r}: write a number, '<n> mm' or '<n> px'")
            units.add(match.group(2))
            numbers.append(float(match.group(1)))
        else:
            units.add(unit)
            numbers.append(item)
    if unit is not None:
        units.add(unit)
    if len(units) > 1:
        raise SizeUnitError(f"{where}={value!r} mixes units; give every value in mm or in px")
    found = units.pop() if units else None
    return found, (numbers if isinstance(value, (list, tuple)) else numbers[0])


def _scale(value: Any, factor: float) -> Any:
    if isinstance(value, list):
        return [v * factor if isinstance(v, (int, float)) else v for v in value]
    return value * factor if isinstance(value, (int, float)) else value


def check_acceptable(plugin: Any, name: str, share: float | None, where: str) -> None:
    """A recipe asking for acceptable draws of an imperfection its norm does not permit.

    Raises:
        NormError: naming defect, level and rule.
    """
    if share is None or share <= 0 or plugin.judge is None or plugin.draws_acceptable():
        return
    level = plugin.judge.settings.level
    rules = [level.rule(r) for r in plugin.imperfections if level.rule(r) is not None]
    named = "; ".join(f"{r.imperfection} ({r.reference})" for r in rules) or "no rule"
    raise NormError(
        f"{where}.{SHARE_KEY}={share:g}: {name} models {named}, not permitted at "
        f"{level.title}; allowed: 0"
    )


def check_guard_ranges(plugin: Any, name: str, params: Mapping[str, Any], where: str) -> None:
    """Refuse a size range in mm lying entirely inside a guard band (nothing could be drawn).

    Only sizes whose measure is the field itself times a constant are checked (``length``
    of an interruption); others are caught when drawing (the variant is rejected).
    """
    judge = plugin.judge
    if judge is None or not plugin.imperfections:
        return
    rule_id = plugin.imperfections[0]
    rule = judge.settings.level.rule(rule_id)
    if rule is None or rule.quantity not in {k.removesuffix("_mm") for k in params}:
        return
    value = params.get(f"{rule.quantity}_mm")
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return
    try:
        limit = judge.limit(rule_id, None)
    except (NormError, ValueError):
        return  # depends on the bead (b) or on thicknesses only known per map
    lo, hi = float(value[0]), float(value[1])
    if limit.accept_max < lo and hi < limit.reject_min:
        raise NormError(
            f"{where}.{rule.quantity}_mm=[{lo:g}, {hi:g}] lies inside the guard band of "
            f"{rule.imperfection} ({limit.describe()}); allowed: a range reaching "
            f"<= {limit.accept_max:.4g} or >= {limit.reject_min:.4g} mm"
        )
