"""Config and params of the defect plugins: what a recipe may set, and what one draw holds.

* :func:`param` declares a config field with its default, bounds or choices, unit and help.
* :class:`DefectConfig` validates user values against those declarations; every message
  names plugin, field, value and what is allowed.
* :class:`DefectParams` holds the concrete values of one draw as plain, frozen data with a
  JSON round trip.

See :mod:`weldsynth.synth.defects.base` for how a plugin uses them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np

from weldsynth.core.errors import WeldsynthError


class DefectConfigError(WeldsynthError, ValueError):
    """A defect config value is invalid; the message names plugin, field, value and range."""


def _fmt(value: Any) -> str:
    """Short human form of a config value: 2 not 2.0, (2, 5) for ranges."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    return repr(value) if isinstance(value, str) else str(value)


def param(
    default: Any,
    *,
    bounds: tuple[float, float] | None = None,
    choices: tuple[Any, ...] | None = None,
    unit: str = "",
    help: str = "",
) -> Any:
    """Declare a config field with its allowed values.

    Args:
        default: Default value; a ``(lo, hi)`` tuple declares a range field.
        bounds: Inclusive (min, max) every number of the field must lie in.
        choices: Allowed values for a categorical field.
        unit: Unit shown in messages and listings ("px", "× width", "of full scale").
        help: One-line description.
    """
    meta = {
        "bounds": bounds,
        "choices": choices,
        "unit": unit,
        "help": help,
        "range": isinstance(default, tuple),
    }
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class DefectConfig:
    """Base of plugin configs. Subclasses are frozen dataclasses whose fields use :func:`param`.

    Values are normalised and validated by :meth:`validated`; ranges become float tuples.
    """

    plugin: ClassVar[str] = "defect"

    @classmethod
    def field_specs(cls) -> list[dataclasses.Field[Any]]:
        """The declared fields, in order."""
        return list(dataclasses.fields(cls))

    @classmethod
    def validated(cls, plugin: str, values: dict[str, Any]) -> DefectConfig:
        """Build a config from user values, raising :class:`DefectConfigError` on bad input.

        Args:
            plugin: Plugin name used in error messages.
            values: Field values (missing fields take their defaults).
        """
        known = {f.name for f in cls.field_specs()}
        unknown = sorted(set(values) - known)
        if unknown:
            raise DefectConfigError(
                f"{plugin}: unknown parameter {unknown[0]!r}; known: {', '.join(sorted(known))}"
            )
        clean: dict[str, Any] = {}
        for f in cls.field_specs():
            value = values.get(f.name, f.default)
            clean[f.name] = _normalise(plugin, f, value)
        config = cls(**clean)
        object.__setattr__(config, "_plugin", plugin)
        config.check()
        return config

    def check(self) -> None:
        """Cross-field rules; override and call :meth:`fail` on violation."""

    def fail(self, field: str, message: str) -> None:
        """Raise a :class:`DefectConfigError` about ``field``."""
        plugin = getattr(self, "_plugin", self.plugin)
        raise DefectConfigError(f"{plugin}: {field}={_fmt(getattr(self, field))} {message}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (ranges as lists)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in self.field_specs()}

    @classmethod
    def describe(cls) -> list[dict[str, Any]]:
        """One dict per field: name, default, bounds, choices, unit, help (for listings)."""
        return [
            {
                "name": f.name,
                "default": f.default,
                **{k: f.metadata.get(k) for k in ("bounds", "choices", "unit", "help", "range")},
            }
            for f in cls.field_specs()
        ]


def _normalise(plugin: str, f: dataclasses.Field[Any], value: Any) -> Any:
    meta = f.metadata
    unit = f" {meta['unit']}" if meta.get("unit") else ""
    where = f"{plugin}: {f.name}={_fmt(value)}"
    if meta.get("choices") is not None:
        if value not in meta["choices"]:
            raise DefectConfigError(
                f"{where} is not one of {', '.join(_fmt(c) for c in meta['choices'])}"
            )
        return value
    if meta.get("range"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = (value, value)
        if (
            not isinstance(value, (tuple, list))
            or len(value) != 2
            or not all(_is_number(v) for v in value)
        ):
            raise DefectConfigError(f"{where} must be a number or a (min, max) pair of numbers")
        lo, hi = float(value[0]), float(value[1])
        numbers = (lo, hi)
    elif isinstance(f.default, bool):
        if not isinstance(value, bool):
            raise DefectConfigError(f"{where} must be true or false")
        return value
    else:
        if not _is_number(value):
            raise DefectConfigError(f"{where} must be a number")
        numbers = (float(value),)
    if not all(math.isfinite(v) for v in numbers):
        raise DefectConfigError(f"{where} must be finite")
    bounds = meta.get("bounds")
    if bounds is not None and not all(bounds[0] <= v <= bounds[1] for v in numbers):
        raise DefectConfigError(
            f"{where} is outside the allowed range [{_fmt(float(bounds[0]))}, "
            f"{_fmt(float(bounds[1]))}]{unit}"
        )
    if meta.get("range"):
        if numbers[0] > numbers[1]:
            raise DefectConfigError(f"{where} has min > max")
        return numbers
    if isinstance(f.default, int):
        if not float(numbers[0]).is_integer():
            raise DefectConfigError(f"{where} must be a whole number")
        return int(numbers[0])
    return numbers[0]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (tuple, list, np.ndarray)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def _plain(v: Any) -> Any:
    """Params value to immutable plain data: arrays/lists -> nested tuples, numpy -> python."""
    if isinstance(v, (tuple, list, np.ndarray)):
        return tuple(_plain(x) for x in v)
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


@dataclasses.dataclass(frozen=True)
class DefectParams:
    """Base of drawn params: frozen, plain data, JSON round-trip, picklable.

    Subclasses declare their fields as ordinary dataclass fields. Arrays and lists given to
    the constructor are stored as (nested) tuples and numpy scalars as Python numbers, so
    equality, hashing and ``from_dict(to_dict())`` behave.
    """

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _plain(getattr(self, f.name)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists). A field whose default is None is left out
        while it is None (norm references added later keep old draws' JSON unchanged)."""
        return {
            f.name: _jsonable(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if not (f.default is None and getattr(self, f.name) is None)
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DefectParams:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(data) - names)
        if extra:
            raise ValueError(f"{cls.__name__}: unknown field(s) {', '.join(extra)}")
        return cls(**data)
