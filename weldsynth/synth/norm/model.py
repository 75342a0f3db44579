"""A welding norm as data: a YAML file of rules, one per imperfection, with limits per level.

File form (see the shipped ``weldsynth/data/norms/*.yaml``)::

    name: iso5817-2014
    title: ISO 5817             # how messages name the norm ("ISO 5817 level C")
    levels: [B, C, D]           # one preset per level: iso5817-2014-B, ...
    guard: 0.15                 # default guard band, fraction of each limit
    rules:
      - id: surface_pore        # what plugins declare they model
        imperfection: surface pore
        reference: ISO 5817:2014 1.3 / ISO 6520-1 2017 surface pore
        source: where the values were checked
        quantity: diameter      # measured as diameter_mm (diameter_px uncalibrated)
        unit: mm                # mm (default) or px
        limits:
          D: {limit: 0.3 * s, max: 3}
          C: {limit: 0.2 * s, max: 2, unverified: true}
          B: not permitted
        without_calibration: error   # error (default), skip, or plugin

``limit`` is an expression of ``t``, ``s``, ``a``, ``b`` (:mod:`.expr`), ``max`` a cap in
the rule's unit; ``all`` sets every level at once. ``without_calibration`` says what a mm
rule does on an uncalibrated map: ``error`` (one-line error), ``skip`` (the rule does not
apply: every draw is bad, as before norms) or ``plugin`` (the plugin's own pixel rule, the
seed's cut thresholds). ``acceptable_prefix`` (plant norm: ``acceptable_``) keeps the old
manifest name of acceptable variants.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from weldsynth.core.errors import WeldsynthError
from weldsynth.synth.norm.expr import Expression, ExpressionError, parse_expression

UNITS = ("mm", "px")
FALLBACKS = ("error", "skip", "plugin")
NOT_PERMITTED = "not permitted"
ALL_LEVELS = "all"
GUARD_RANGE = (0.0, 0.5)
"""A guard band g must satisfy 0 <= g < 0.5 (accept below L(1-g), reject from L(1+g))."""
_FILE_KEYS = {"name", "title", "levels", "guard", "acceptable_prefix", "rules", "notes"}
_RULE_KEYS = {
    "id",
    "imperfection",
    "reference",
    "source",
    "quantity",
    "unit",
    "limits",
    "without_calibration",
    "unverified",
    "notes",
}


class NormError(WeldsynthError, ValueError):
    """A norm file or preset is unusable; the message names file, field, value and what is
    allowed."""


@dataclass(frozen=True)
class LevelLimit:
    """A rule's limit at one quality level.

    Attributes:
        permitted: False: the imperfection is not permitted at this level.
        limit: The limit expression (None when not permitted).
        cap: Upper cap of the limit (``max``), or None.
        unverified: True when the value could not be confirmed against a source.
    """

    permitted: bool
    limit: Expression | None = None
    cap: float | None = None
    unverified: bool = False

    def describe(self) -> str:
        """``0.2 * s, max 2`` or ``not permitted``."""
        if not self.permitted:
            return NOT_PERMITTED
        assert self.limit is not None
        return self.limit.text + ("" if self.cap is None else f", max {self.cap:g}")


@dataclass(frozen=True)
class Rule:
    """One imperfection's rule (see the module docstring for the fields)."""

    id: str
    imperfection: str
    reference: str
    source: str
    quantity: str
    unit: str
    limits: dict[str, LevelLimit]
    without_calibration: str = "error"

    @property
    def key(self) -> str:
        """Name of the measure the rule reads, e.g. ``diameter_mm``."""
        return f"{self.quantity}_{self.unit}"


@dataclass(frozen=True)
class NormFile:
    """A parsed norm file."""

    name: str
    title: str
    levels: tuple[str, ...]
    guard: float
    acceptable_prefix: str
    rules: dict[str, Rule]
    path: str

    def presets(self) -> list[str]:
        """Preset names: ``<name>-<level>`` per level, or the name of a one-level norm."""
        if len(self.levels) == 1:
            return [self.name]
        return [f"{self.name}-{level}" for level in self.levels]


@dataclass(frozen=True)
class NormLevel:
    """One norm at one quality level: what a recipe's ``norm.preset`` selects."""

    norm: NormFile
    level: str
    preset: str

    @property
    def title(self) -> str:
        """How messages name it: ``ISO 5817 level C`` (``plant`` for one-level norms)."""
        if len(self.norm.levels) == 1:
            return self.norm.title
        return f"{self.norm.title} level {self.level}"

    def rule(self, rule_id: str) -> Rule | None:
        """The rule of an imperfection, or None when the norm has none."""
        return self.norm.rules.get(rule_id)

    def limit_of(self, rule: Rule) -> LevelLimit:
        """The rule's limit at this level."""
        return rule.limits[self.level]


def norms_folder() -> Path:
    """The shipped norm files (``weldsynth/data/norms``)."""
    from weldsynth.data import norms_dir

    return norms_dir()


def preset_names() -> list[str]:
    """Every shipped preset, sorted."""
    names: list[str] = []
    for file in sorted(norms_folder().glob("*.yaml")):
        names += load_norm_file(file).presets()
    return sorted(names)


def load_preset(name: str) -> NormLevel:
    """A shipped preset by name, or a norm file by path (``FILE`` or ``FILE:LEVEL``).

    Raises:
        NormError: Unknown preset (the message lists the shipped ones) or a bad file.
    """
    text = str(name)
    if text.endswith((".yaml", ".yml")) or ".yaml:" in text or ".yml:" in text:
        path, _, level = text.partition(".yaml:") if ".yaml:" in text else (text, "", "")
        path = path + ".yaml" if level else path
        norm = load_norm_file(Path(path))
        return _at_level(norm, level or None, text)
    for file in sorted(norms_folder().glob("*.yaml")):
        norm = load_norm_file(file)
        for preset, level in zip(norm.presets(), norm.levels, strict=True):
            if preset == text:
                return NormLevel(norm, level, preset)
    raise NormError(
        f"norm.preset: unknown preset {text!r}; allowed: {', '.join(preset_names())} "
        "or a norm YAML file"
    )


def _at_level(norm: NormFile, level: str | None, given: str) -> NormLevel:
    if level is None and len(norm.levels) == 1:
        level = norm.levels[0]
    if level not in norm.levels:
        raise NormError(
            f"{norm.path}: level {level!r} (from {given!r}); allowed: "
            f"{', '.join(norm.levels)} (write FILE.yaml:LEVEL)"
        )
    return NormLevel(norm, level, given)


def load_norm_file(path: Path) -> NormFile:
    """Read and validate a norm file (``yaml.safe_load``); cached while the file is unchanged.

    Raises:
        NormError: Unreadable, or any field invalid (named with its value and what is
            allowed).
    """
    try:
        stamp = Path(path).stat().st_mtime_ns
    except OSError:
        stamp = -1
    return _load_cached(str(path), stamp)


@functools.lru_cache(maxsize=64)
def _load_cached(path: str, stamp: int) -> NormFile:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise NormError(
            f"{path}: not a readable YAML file ({' '.join(str(exc).split())})"
        ) from None
    return norm_from_dict(data, str(path))


def norm_from_dict(data: Any, where: str) -> NormFile:
    """Validate a norm given as a dict (what :func:`load_norm_file` reads)."""
    if not isinstance(data, dict):
        raise NormError(f"{where}: a norm file is a mapping (name, title, levels, rules)")
    unknown = sorted(set(data) - _FILE_KEYS)
    if unknown:
        raise NormError(
            f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(_FILE_KEYS))}"
        )
    name = _text(data, "name", where)
    levels = data.get("levels")
    if (
        not isinstance(levels, list)
        or not levels
        or not all(isinstance(v, str) and v and v != ALL_LEVELS for v in levels)
        or len(set(levels)) != len(levels)
    ):
        raise NormError(f"{where}: levels={levels!r} must be a list of distinct level names")
    guard = data.get("guard", 0.15)
    check_guard(guard, f"{where}: guard")
    rules_data = data.get("rules")
    if not isinstance(rules_data, list) or not rules_data:
        raise NormError(f"{where}: rules must be a non-empty list of rules")
    rules: dict[str, Rule] = {}
    for i, item in enumerate(rules_data):
        rule = _rule(item, f"{where}: rules[{i}]", tuple(levels))
        if rule.id in rules:
            raise NormError(f"{where}: rules[{i}].id={rule.id!r} appears twice")
        rules[rule.id] = rule
    return NormFile(
        name=name,
        title=str(data.get("title") or name),
        levels=tuple(levels),
        guard=float(guard),
        acceptable_prefix=str(data.get("acceptable_prefix") or ""),
        rules=rules,
        path=where,
    )


def check_guard(value: Any, where: str) -> float:
    """A guard band fraction in [0, 0.5).

    Raises:
        NormError: Not a number in range.
    """
    lo, hi = GUARD_RANGE
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not (lo <= float(value) < hi):
        raise NormError(f"{where}={value!r} must be a number >= {lo:g} and < {hi:g}")
    return float(value)


def _text(data: dict, key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise NormError(f"{where}.{key}: required text is missing (got {value!r})")
    return value.strip()


def _rule(item: Any, where: str, levels: tuple[str, ...]) -> Rule:
    if not isinstance(item, dict):
        raise NormError(f"{where}: a rule is a mapping (id, reference, quantity, limits)")
    unknown = sorted(set(item) - _RULE_KEYS)
    if unknown:
        raise NormError(
            f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(_RULE_KEYS))}"
        )
    rule_id = _text(item, "id", where)
    if not rule_id.isidentifier():
        raise NormError(f"{where}.id={rule_id!r} must be a lower_snake_case name")
    where = f"{where} ({rule_id})"
    unit = item.get("unit", "mm")
    if unit not in UNITS:
        raise NormError(f"{where}.unit={unit!r}; allowed: {', '.join(UNITS)}")
    fallback = item.get("without_calibration", "error")
    if fallback not in FALLBACKS:
        raise NormError(
            f"{where}.without_calibration={fallback!r}; allowed: {', '.join(FALLBACKS)}"
        )
    unverified = item.get("unverified", False)
    if not isinstance(unverified, bool):
        raise NormError(f"{where}.unverified={unverified!r} must be true or false")
    return Rule(
        id=rule_id,
        imperfection=str(item.get("imperfection") or rule_id.replace("_", " ")),
        reference=_text(item, "reference", where),
        source=str(item.get("source") or ""),
        quantity=_text(item, "quantity", where),
        unit=unit,
        limits=_limits(item.get("limits"), f"{where}.limits", levels, unverified),
        without_calibration=fallback,
    )


def _limits(
    data: Any, where: str, levels: tuple[str, ...], unverified: bool
) -> dict[str, LevelLimit]:
    if not isinstance(data, dict) or not data:
        raise NormError(f"{where}: a mapping of level -> limit (levels {', '.join(levels)} or all)")
    unknown = sorted(set(data) - {*levels, ALL_LEVELS})
    if unknown:
        raise NormError(f"{where}: unknown level {unknown[0]!r}; allowed: {', '.join(levels)}, all")
    out = {}
    for level in levels:
        if level not in data and ALL_LEVELS not in data:
            raise NormError(f"{where}: level {level} has no limit (give it, or all)")
        key = level if level in data else ALL_LEVELS
        out[level] = _level_limit(data[key], f"{where}.{key}", unverified)
    return out


def _level_limit(value: Any, where: str, unverified: bool) -> LevelLimit:
    if value == NOT_PERMITTED:
        return LevelLimit(False, unverified=unverified)
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        value = {"limit": value}
    if not isinstance(value, dict) or "limit" not in value:
        raise NormError(
            f"{where}: {value!r}; allowed: {NOT_PERMITTED!r} or {{limit: EXPR, max: MM}}"
        )
    extra = sorted(set(value) - {"limit", "max", "unverified"})
    if extra:
        raise NormError(f"{where}: unknown key {extra[0]!r}; allowed: limit, max, unverified")
    try:
        limit = parse_expression(value["limit"], f"{where}.limit")
    except ExpressionError as exc:
        raise NormError(str(exc)) from None
    cap = value.get("max")
    if cap is not None and (
        isinstance(cap, bool)
        or not isinstance(cap, (int, float))
        or not math.isfinite(cap)
        or cap <= 0
    ):
        raise NormError(f"{where}.max={cap!r} must be a number > 0")
    flag = value.get("unverified", unverified)
    if not isinstance(flag, bool):
        raise NormError(f"{where}.unverified={flag!r} must be true or false")
    return LevelLimit(True, limit, None if cap is None else float(cap), flag)
