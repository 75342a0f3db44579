"""A norm applied to one map: limits resolved for its calibration and bead, verdicts.

:class:`NormSettings` is what a recipe's ``norm`` section selects (preset, guard band,
thicknesses, per-topology limit overrides). A :class:`Judge` binds it to one map's
calibration; for an imperfection and a located bead it gives the :class:`Limit`: the
limit ``L`` (mm, or px for pixel rules), the guard band ``[L(1-g), L(1+g)]`` in which no
draw is made, and the interval of sizes that gives each verdict (what plugins draw from,
verdict first).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from weldsynth.geometry import WeldGeometry
from weldsynth.io.calibration import Calibration
from weldsynth.synth.defects.rule import ACCEPT, NORM, PLUGIN, REJECT, SKIP, Thresholds
from weldsynth.synth.norm.expr import Expression, ExpressionError, parse_expression
from weldsynth.synth.norm.model import (
    NormError,
    NormLevel,
    Rule,
    check_guard,
    load_preset,
)

__all__ = ["NORM", "PLUGIN", "SKIP", "Judge", "Limit", "NeedsCalibrationError", "NormSettings"]
SETTINGS_KEYS = ("preset", "t_mm", "s_mm", "a_mm", "guard", "limits")
"""Keys of a recipe's ``norm`` section read here (the others belong to plugins)."""
THICKNESS_MAX_MM = 500.0


class NeedsCalibrationError(NormError):
    """A norm rule in millimetres met a map without a calibration."""


@dataclass(frozen=True)
class NormSettings:
    """A recipe's norm: the level, guard band, nominal thicknesses and limit overrides."""

    level: NormLevel
    guard: float
    t_mm: float | None = None
    s_mm: float | None = None
    a_mm: float | None = None
    overrides: dict[str, Expression] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, norm: Mapping[str, Any], where: str = "norm") -> NormSettings | None:
        """The settings of a recipe's ``norm`` section; None without ``preset``.

        Raises:
            NormError: Unknown preset, a value out of range, an override of an unknown rule
                or with a bad expression (each naming the field and what is allowed).
        """
        if norm.get("preset") is None:
            return None
        level = load_preset(str(norm["preset"]))
        guard = norm.get("guard", level.norm.guard)
        check_guard(guard, f"{where}.guard")
        sizes = {k: _thickness(norm.get(k), f"{where}.{k}") for k in ("t_mm", "s_mm", "a_mm")}
        overrides = {}
        given = norm.get("limits") or {}
        if not isinstance(given, Mapping):
            raise NormError(f"{where}.limits: a mapping of rule id -> limit expression (mm)")
        for rule_id, text in given.items():
            if level.rule(str(rule_id)) is None:
                raise NormError(
                    f"{where}.limits.{rule_id}: no such rule in {level.title}; allowed: "
                    f"{', '.join(level.norm.rules)}"
                )
            try:
                overrides[str(rule_id)] = parse_expression(text, f"{where}.limits.{rule_id}")
            except ExpressionError as exc:
                raise NormError(str(exc)) from None
        return cls(level, float(guard), overrides=overrides, **sizes)

    def resolve(
        self,
        rule_id: str,
        symbols: Mapping[str, float | None],
        unit: str = "mm",
        pixel_mm: float | None = None,
    ) -> Limit:
        """A rule's limit for given symbol values (mm), in ``unit``, with the guard band.

        Raises:
            ExpressionError: The limit needs a symbol that has no value.
        """
        rule = self.level.rule(rule_id)
        assert rule is not None, rule_id
        level = self.level.limit_of(rule)
        override = self.overrides.get(rule_id)
        if not level.permitted and override is None:
            return Limit(rule, None, -math.inf, 0.0, unit)
        expr = override or level.limit
        assert expr is not None
        value = expr(symbols, f"norm: {self.level.title} rule {rule_id}")
        if override is None and level.cap is not None:
            value = min(value, level.cap)
        if rule.unit != unit:  # a pixel rule on a calibrated map
            value *= pixel_mm or 1.0
        g = self.guard
        return Limit(rule, value, value * (1 - g), value * (1 + g), unit)


def _thickness(value: Any, where: str) -> float | None:
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not 0 < value <= THICKNESS_MAX_MM:
        raise NormError(f"{where}={value!r} must be a number in (0, {THICKNESS_MAX_MM:g}] mm")
    return float(value)


@dataclass(frozen=True)
class Limit:
    """A rule resolved for one map: its limit and the guard band around it.

    Attributes:
        rule: The norm rule.
        value: The limit (None: not permitted at this level).
        accept_max: Sizes up to this are accepted (``-inf`` when not permitted).
        reject_min: Sizes from this are rejected.
        unit: Unit of the three numbers ("mm" or "px").
    """

    rule: Rule
    value: float | None
    accept_max: float
    reject_min: float
    unit: str

    @property
    def key(self) -> str:
        """The measure the limit reads, e.g. ``diameter_mm``."""
        return f"{self.rule.quantity}_{self.unit}"

    def thresholds(self) -> Thresholds:
        """The limit as a :class:`~weldsynth.synth.defects.rule.Thresholds` rule."""
        return Thresholds(self.key, self.accept_max, self.reject_min)

    def verdict(self, measures: Mapping[str, float]) -> str:
        """ACCEPT, REJECT or GUARD of measured sizes."""
        return self.thresholds().verdict(measures)

    def window(self, verdict: str) -> tuple[float, float]:
        """Sizes that give ``verdict`` (ACCEPT: [0, accept_max]; REJECT: [reject_min, inf))."""
        if verdict == ACCEPT:
            return 0.0, self.accept_max
        assert verdict == REJECT
        return self.reject_min, math.inf

    def describe(self) -> str:
        """``diameter <= 0.51 mm good, >= 0.69 mm bad (limit 0.6 mm)``."""
        if self.value is None:
            return f"{self.rule.imperfection}: not permitted"
        u = self.unit
        return (
            f"{self.rule.quantity} <= {self.accept_max:.4g} {u} good, >= "
            f"{self.reject_min:.4g} {u} bad (limit {self.value:.4g} {u})"
        )


@dataclass(frozen=True)
class Judge:
    """A norm bound to one map's calibration (None: uncalibrated, sizes in pixels)."""

    settings: NormSettings
    calibration: Calibration | None = None

    @property
    def title(self) -> str:
        """``ISO 5817 level C``."""
        return self.settings.level.title

    def mode(self, rule_id: str) -> str:
        """How a rule judges here: :data:`NORM`, :data:`PLUGIN` or :data:`SKIP`.

        Raises:
            NeedsCalibrationError: A mm rule, no calibration, and the rule says ``error``.
        """
        rule = self.settings.level.rule(rule_id)
        if rule is None:
            return SKIP
        if rule.unit == "mm" and self.calibration is None:
            if rule.without_calibration == "error":
                raise NeedsCalibrationError(
                    f"norm: {self.title} needs a calibration (pixel_mm); "
                    "see weldsynth import --help"
                )
            return rule.without_calibration
        return NORM

    @property
    def unit(self) -> str:
        """Unit of the plugins' measures on this map: mm when calibrated, else px."""
        return "px" if self.calibration is None else "mm"

    def symbols(self, geometry: WeldGeometry | None) -> dict[str, float | None]:
        """t, s, a (recipe first, then calibration; s defaults to t) and b (bead width)."""
        s, cal = self.settings, self.calibration
        t = s.t_mm if s.t_mm is not None else (cal.t_mm if cal else None)
        weld = s.s_mm if s.s_mm is not None else (cal.s_mm if cal else None)
        throat = s.a_mm if s.a_mm is not None else (cal.a_mm if cal else None)
        b = None
        if geometry is not None and geometry.path is not None:
            b = geometry.path.mean_width * (cal.pixel_mm if cal else 1.0)
        return {"t": t, "s": weld if weld is not None else t, "a": throat, "b": b}

    def limit(self, rule_id: str, geometry: WeldGeometry | None) -> Limit:
        """The rule of ``rule_id`` resolved for this map and bead, in :attr:`unit`.

        Raises:
            ExpressionError: The limit needs a symbol that has no value (e.g. t).
        """
        pixel_mm = None if self.calibration is None else self.calibration.pixel_mm
        return self.settings.resolve(rule_id, self.symbols(geometry), self.unit, pixel_mm)

    def px_per_unit(self) -> float:
        """mm per pixel when calibrated (measures in mm), 1 otherwise (measures in px)."""
        return 1.0 if self.calibration is None else self.calibration.pixel_mm

    def height_mm_per_unit(self, bit_depth: int, rule_id: str) -> float:
        """mm of a height difference of 1.0 ([0, 1] units).

        Raises:
            NeedsCalibrationError: The calibration has no ``height_mm``.
        """
        per = None if self.calibration is None else self.calibration.mm_per_unit(bit_depth)
        if per is None:
            raise NeedsCalibrationError(
                f"norm: {self.title} rule {rule_id} needs a height calibration (height_mm); "
                "see weldsynth import --help"
            )
        return per
