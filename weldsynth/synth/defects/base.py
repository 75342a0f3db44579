"""Base classes of the defect plugins: config, drawn params, result, and the plugin itself.

How to write a defect plugin
============================

One module per defect (``weldsynth/synth/defects/<name>.py``, or any module of a third-party
package exposed through the ``weldsynth.synth.defects`` entry-point group). It holds:

1. Pure array maths (in :mod:`weldsynth.synth.defects.functional` or module-level functions):
   no randomness, no plugin state.
2. A **config** dataclass, subclass of :class:`DefectConfig`: what a recipe may set. Declare
   every field with :func:`param`, giving its default, its allowed bounds and a one-line
   help text. A tuple default ``(lo, hi)`` makes a *range* (a recipe may also give a single
   number, meaning ``(v, v)``). Validation is automatic and names plugin, field, value and
   bounds; add cross-field rules in ``check()`` and raise with ``self.fail(field, msg)``.
3. A **params** dataclass, subclass of :class:`DefectParams`, frozen: the concrete values of
   one draw. Plain data only (floats, ints, strings, bools, tuples of those): it must carry
   everything ``apply`` needs (e.g. the centre in image coordinates, or the local piece of
   the centreline as a tuple of (x, y) points), because ``apply`` sees no geometry.
   ``to_dict``/``from_dict`` (JSON) and pickling come for free.
4. The plugin class, subclass of :class:`Defect`, decorated with
   :func:`weldsynth.synth.defects.registry.register_defect`::

       @register_defect
       class Hole(Defect):
           name = "hole"                       # registry key, lower_snake_case
           description = "a pore: ..."         # one line, shown by `weldsynth defects list`
           Config = HoleConfig
           Params = HoleParams
           # optional class attributes: label ("bad"), bead_defect (True),
           # min_changed_pixels (6), min_delta (0.01), max_tries (10)

           def sample(self, rng, geometry) -> HoleParams: ...
           def apply(self, height, params) -> tuple[np.ndarray, np.ndarray]: ...

What each method must do:

* ``sample(rng, geometry)`` draws concrete params from ``self.config`` ranges and the weld's
  :class:`~weldsynth.geometry.WeldGeometry`. Every random number comes from ``rng`` (a
  ``numpy.random.Generator``); never use global random state. Place things in **path
  coordinates** with ``geometry.path`` (``point_at``, ``to_image``, ``normal_at``,
  ``width_at``; arc length ``s`` along the bead, signed offset ``d`` across it) so rotated,
  curved and closed (topology 7) beads work. ``geometry.found`` is True here (the base class
  rejects geometries without a bead before calling you). ``geometry.nodata_mask`` tells
  where the map is 0 if you want to avoid drawing on shadow.
* ``apply(height, params)`` is pure and deterministic: returns ``(new_height, mask)`` where
  ``new_height`` has the dtype (uint8, uint16 or float in [0, 1]) and shape of ``height``,
  values in the valid range, the input untouched, and ``mask`` is the bool array of the
  pixels whose value changed (exactly). Work on a small box around the defect
  (:func:`weldsynth.synth.defects.functional.edit_box` does the dtype/box/mask bookkeeping) so it
  takes well under 2 ms on a 352x128 map. Where material is added, keep the texture of the
  surface underneath (add to it, do not paint a flat value).
* Optionally ``label_for(params)`` when the label depends on the draw (``cut``: "good" for
  cuts the norm accepts) and ``labels()`` listing the labels it can produce.

The base class provides ``__call__(height, rng, geometry) -> DefectResult``: it draws,
applies, and checks the change is not a no-op (fewer than ``min_changed_pixels`` pixels
changed by at least ``min_delta`` of full scale, e.g. a hole drawn on a shadow that was
already 0); it redraws up to ``max_tries`` times, then returns a *rejected* result whose
reason says why. A rejected result has no height, mask or label: it cannot be written as bad.

Tests: ``tests/test_defects_properties.py`` runs every registered plugin through the
property tests automatically (contract, determinism, JSON/pickle round trips, mask near the
bead, no-op rejection) on the welds of ``tests/defects_support.py``. Add one realism test
per plugin, a function named ``test_realism_<name>`` in any ``tests/test_defects_*.py``
file, checking something that could fail (e.g. a hole lowers the bead inside its radius
only); ``test_every_plugin_has_a_realism_test`` fails until you do.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from weldsynth.core.errors import WeldsynthError
from weldsynth.geometry import WeldGeometry

LABELS = ("good", "bad")


class DefectConfigError(WeldsynthError, ValueError):
    """A defect config value is invalid; the message names plugin, field, value and range."""


class DefectRejectedError(WeldsynthError):
    """A rejected defect result was used as if it had produced an image."""


class UnknownDefectError(WeldsynthError, KeyError):
    """No defect plugin is registered under the requested name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


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
        """JSON-ready dict (tuples become lists)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DefectParams:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(data) - names)
        if extra:
            raise ValueError(f"{cls.__name__}: unknown field(s) {', '.join(extra)}")
        return cls(**data)


@dataclasses.dataclass(frozen=True)
class DefectResult:
    """What one call of a plugin produced.

    Attributes:
        defect: Plugin name.
        rejected: True when every draw was a no-op (or there was no bead).
        reason: Why it was rejected (None otherwise).
        params: The accepted draw (None when rejected).
        label: "bad" or "good" (None when rejected).
        tries: Number of draws made.
        height: New height map; reading it on a rejected result raises
            :class:`DefectRejectedError`.
        mask: Bool mask of changed pixels; same rule.
    """

    defect: str
    rejected: bool
    reason: str | None
    params: DefectParams | None
    label: str | None
    tries: int
    _height: np.ndarray | None = dataclasses.field(default=None, repr=False)
    _mask: np.ndarray | None = dataclasses.field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True when the result carries a usable defect."""
        return not self.rejected

    @property
    def height(self) -> np.ndarray:
        """The defective height map (raises on a rejected result)."""
        self._require()
        return self._height  # type: ignore[return-value]

    @property
    def mask(self) -> np.ndarray:
        """Bool mask of the changed pixels (raises on a rejected result)."""
        self._require()
        return self._mask  # type: ignore[return-value]

    def _require(self) -> None:
        if self.rejected:
            raise DefectRejectedError(
                f"{self.defect}: rejected after {self.tries} draw(s) ({self.reason}); "
                "there is no defective image to use"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no arrays)."""
        return {
            "defect": self.defect,
            "rejected": self.rejected,
            "reason": self.reason,
            "label": self.label,
            "tries": self.tries,
            "params": None if self.params is None else self.params.to_dict(),
            "changed_pixels": None if self._mask is None else int(self._mask.sum()),
        }


class Defect(ABC):
    """A defect plugin. See the module docstring for what a subclass implements.

    Args:
        max_tries: Draws attempted before a no-op result is rejected (default
            :attr:`max_tries`).
        **config: Values of the plugin's :attr:`Config` fields (ranges as (min, max)).

    Raises:
        DefectConfigError: A value is unknown, malformed or outside its allowed range.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    label: ClassVar[str] = "bad"
    bead_defect: ClassVar[bool] = True
    """True when the change lies on or next to the bead (checked by the property tests)."""
    min_changed_pixels: ClassVar[int] = 6
    min_delta: ClassVar[float] = 0.01
    """A pixel counts as changed for the no-op check when it moved by this fraction of
    full scale (0.01 = 2.6 levels of an 8-bit map)."""
    max_tries: int = 10
    Config: ClassVar[type[DefectConfig]] = DefectConfig
    Params: ClassVar[type[DefectParams]] = DefectParams

    def __init__(self, max_tries: int | None = None, **config: Any) -> None:
        if max_tries is not None:
            if not isinstance(max_tries, int) or isinstance(max_tries, bool) or max_tries < 1:
                raise DefectConfigError(f"{self.name}: max_tries={max_tries!r} must be an int >= 1")
            self.max_tries = max_tries
        self.config = self.Config.validated(self.name, config)

    # ------------------------------------------------------------------ plugin API
    @abstractmethod
    def sample(self, rng: np.random.Generator, geometry: WeldGeometry) -> DefectParams:
        """Draw concrete params from the config ranges and the weld geometry."""

    @abstractmethod
    def apply(self, height: np.ndarray, params: DefectParams) -> tuple[np.ndarray, np.ndarray]:
        """Pure: return (new height, bool mask of changed pixels); input untouched."""

    def label_for(self, params: DefectParams) -> str:
        """Label of a draw: ``self.label`` unless the plugin decides per draw."""
        return self.label

    @classmethod
    def labels(cls) -> tuple[str, ...]:
        """Labels this plugin can produce (for listings)."""
        return (cls.label,)

    # ------------------------------------------------------------------ driver
    def noop_reason(self, before: np.ndarray, after: np.ndarray, mask: np.ndarray) -> str | None:
        """Why a change is too small to count as a defect (None when it is big enough)."""
        if not mask.any():
            return "no pixel changed (drawn on no-data or outside the map)"
        scale = 1.0 if before.dtype.kind == "f" else float(np.iinfo(before.dtype).max)
        delta = np.abs(after[mask].astype(np.float64) - before[mask].astype(np.float64)) / scale
        strong = int(np.count_nonzero(delta >= self.min_delta))
        if strong < self.min_changed_pixels:
            return (
                f"only {strong} pixel(s) changed by >= {self.min_delta:g} of full scale "
                f"(need {self.min_changed_pixels})"
            )
        return None

    def __call__(
        self, height: np.ndarray, rng: np.random.Generator, geometry: WeldGeometry
    ) -> DefectResult:
        """Draw, apply and check; redraw no-ops up to ``max_tries`` times.

        Args:
            height: 2-D uint8/uint16/float map (not modified).
            rng: The only source of randomness.
            geometry: Where the bead is (from ``geometry.locate`` or sample truth).

        Returns:
            A :class:`DefectResult`; ``rejected`` with a reason when nothing usable came out.
        """
        if not geometry.found or geometry.path is None:
            return DefectResult(
                self.name, True, f"no bead located ({geometry.reason})", None, None, 0
            )
        if tuple(geometry.shape) != tuple(height.shape):
            raise ValueError(
                f"{self.name}: geometry is for shape {tuple(geometry.shape)}, "
                f"height has shape {height.shape}"
            )
        reason = "no draw made"
        for attempt in range(1, self.max_tries + 1):
            params = self.sample(rng, geometry)
            new, mask = self.apply(height, params)
            reason = self.noop_reason(height, new, mask)
            if reason is None:
                return DefectResult(
                    self.name, False, None, params, self.label_for(params), attempt, new, mask
                )
        return DefectResult(
            self.name, True, f"{reason}; {self.max_tries} draw(s) tried", None, None, self.max_tries
        )

    # ------------------------------------------------------------------ helpers
    def params_from_dict(self, data: dict[str, Any]) -> DefectParams:
        """Rebuild this plugin's params from :meth:`DefectParams.to_dict` output."""
        return self.Params.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """Name and config, enough to rebuild the plugin with ``create_defect``."""
        return {"name": self.name, "config": self.config.to_dict(), "max_tries": self.max_tries}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={_fmt(v)}" for k, v in self.config.to_dict().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and other.config == self.config  # type: ignore[attr-defined]
            and other.max_tries == self.max_tries
        )  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self.config, self.max_tries))
