"""The defect plugin base class and its result; config and params live in ``config``.

How to write a defect plugin
============================

One module per defect (``weldsynth/synth/defects/<name>.py``, or any module of a third-party
package exposed through the ``weldsynth.defects`` entry-point group). It holds:

1. Pure array maths (in :mod:`weldsynth.synth.defects.functional` or module-level functions):
   no randomness, no plugin state.
2. A **config** dataclass, subclass of :class:`DefectConfig`
   (:mod:`weldsynth.synth.defects.config`): what a recipe may set. Declare
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
* Optionally, when some draws are defects the norm accepts (label good, written as
  *acceptable* variants): set ``acceptable_variant = True`` and implement
  ``measure(params)`` (named sizes of the draw), ``rule()`` (a
  :class:`~weldsynth.synth.defects.rule.Thresholds` on one of them, from the config) and
  ``for_verdict(verdict)`` (a copy drawing only ACCEPT or only REJECT draws; the recipe's
  counts decide the mix). ``label_for`` and ``labels`` follow from those. Recipe ``norm``
  keys reach the config through ``norm_keys`` (norm key -> config field) and their
  cross-key rules go in ``check_norm``. Nothing outside the plugin's module names it.
* Under a welding norm (recipe ``norm.preset``): declare ``imperfections`` (the norm rule
  ids the plugin models), implement ``measure(params, calibration, geometry)`` (mm when
  calibrated, px otherwise) and draw the judged size with ``self.draw_size(...)`` when
  ``self.judged(rule_id)``; see :mod:`weldsynth.synth.defects.norm_hooks`.

The base class provides ``__call__(height, rng, geometry) -> DefectResult``: it draws,
applies, and checks the change is not a no-op (fewer than ``min_changed_pixels`` pixels
changed by at least ``min_delta`` of full scale, e.g. a hole drawn on a shadow that was
already 0); it redraws up to ``max_tries`` times, then returns a *rejected* result whose
reason says why. A rejected result has no height, mask or label: it cannot be written as bad.

Tests: ``tests/synth/test_defects_properties.py`` runs every registered plugin through the
property tests automatically (contract, determinism, JSON/pickle round trips, mask near the
bead, no-op rejection) on the welds of ``tests/defects_support.py``. Add one realism test
per plugin, a function named ``test_realism_<name>`` in any ``tests/synth/test_defects_*.py``
file, checking something that could fail (e.g. a hole lowers the bead inside its radius
only); ``test_every_plugin_has_a_realism_test`` fails until you do.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from weldsynth.core.errors import WeldsynthError
from weldsynth.core.units import full_scale
from weldsynth.geometry import WeldGeometry
from weldsynth.synth.defects.config import (
    DefectConfig,
    DefectConfigError,
    DefectParams,
    _fmt,
    param,
)
from weldsynth.synth.defects.norm_hooks import NormHooks
from weldsynth.synth.defects.result import DefectRejectedError, DefectResult, NoSizeError
from weldsynth.synth.defects.rule import (
    ACCEPT,
    DRAWN_VERDICTS,
    GUARD,
    NORM,
    REJECT,
    Thresholds,
)

__all__ = [
    "LABELS",
    "Defect",
    "DefectConfig",
    "DefectConfigError",
    "DefectParams",
    "DefectRejectedError",
    "DefectResult",
    "NoSizeError",
    "UnknownDefectError",
    "param",
]

LABELS = ("good", "bad")


class UnknownDefectError(WeldsynthError, KeyError):
    """No defect plugin is registered under the requested name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class Defect(NormHooks, ABC):
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
    acceptable_variant: ClassVar[bool] = False
    """True when the plugin also draws defects the norm accepts (label good, e.g. short
    cuts); it then implements :meth:`measure`, :meth:`rule` and :meth:`for_verdict`."""
    norm_keys: ClassVar[dict[str, str]] = {}
    """Keys of a recipe's ``norm`` section this plugin reads -> the config field each sets."""
    imperfections: ClassVar[tuple[str, ...]] = ()
    """Norm rule ids (imperfections) this plugin models, the usual one first; see
    :meth:`imperfection_of` and :mod:`weldsynth.synth.defects.norm_hooks`."""
    judge: Any = None
    """The norm bound to the current map (a :class:`weldsynth.synth.norm.Judge`, set by
    :meth:`with_norm`); None: the pixel behaviour of recipes without ``norm.preset``."""
    wanted: str | None = None
    """Under a norm, the only verdict drawn (set by :meth:`for_verdict`); None: mixed."""
    share_acceptable: float | None = None
    """A recipe's ``p_acceptable`` for plugins whose config has no such field."""
    norm_size: ClassVar[tuple[str, float] | None] = None
    """(pixel config field, measure per unit of it) when the measure is that size times a
    constant (hole: ("radius", 2.0), the diameter); lets ``recipe init --norm`` write mm
    ranges that straddle the limit."""
    measures_height: ClassVar[bool] = False
    """True when the plugin's norm measure is a height (needs the calibration's height_mm)."""
    norm_relative: ClassVar[tuple[str, str] | None] = None
    """(config field, basis) when the measure is that field times one unit of the basis on
    each map (bead_deviation: ("amplitude", "bead_width")); bases in
    :data:`~.norm_hooks.RELATIVE_BASES`, measured by :meth:`relative_unit_mm`. Lets
    ``recipe init --norm`` write a range straddling the limit for the typical map."""

    def __init__(self, max_tries: int | None = None, **config: Any) -> None:
        if max_tries is not None:
            if not isinstance(max_tries, int) or isinstance(max_tries, bool) or max_tries < 1:
                raise DefectConfigError(f"{self.name}: max_tries={max_tries!r} must be an int >= 1")
            self.max_tries = max_tries
        self.config = self.Config.validated(self.name, config)
        self._map: np.ndarray | None = None

    # ------------------------------------------------------------------ plugin API
    @abstractmethod
    def sample(self, rng: np.random.Generator, geometry: WeldGeometry) -> DefectParams:
        """Draw concrete params from the config ranges and the weld geometry."""

    @abstractmethod
    def apply(self, height: np.ndarray, params: DefectParams) -> tuple[np.ndarray, np.ndarray]:
        """Pure: return (new height, bool mask of changed pixels); input untouched."""

    # ------------------------------------------------------------------ label rule
    def measure(
        self,
        params: DefectParams,
        calibration: Any = None,
        geometry: WeldGeometry | None = None,
    ) -> dict[str, float]:
        """Named sizes of a draw (``{"diameter_mm": 1.3}``): mm with a calibration (an
        :class:`weldsynth.io.calibration.Calibration`), px without; none by default. Pure."""
        return {}

    def imperfection_of(self, params: DefectParams) -> str:
        """The norm rule id a draw is judged by (the first of :attr:`imperfections`)."""
        return self.imperfections[0] if self.imperfections else ""

    def rule(self) -> Thresholds | None:
        """The rule judging this plugin's draws; None (the default): every draw is bad."""
        return None

    def verdict(self, params: DefectParams) -> str:
        """ACCEPT, REJECT or GUARD for a draw (see :mod:`weldsynth.synth.defects.rule`)."""
        rule = self.rule()
        return REJECT if rule is None else rule.verdict(self.measure(params))

    def label_for(self, params: DefectParams) -> str:
        """Label of a draw: "good" when the rule accepts it, :attr:`label` when it rejects it.

        Raises:
            ValueError: The draw lies in the guard band (plugins never draw there).
        """
        verdict = self.verdict(params)
        if verdict == GUARD:
            sizes = ", ".join(f"{k} {v:g}" for k, v in self.measure(params).items())
            raise ValueError(
                f"{self.name}: {sizes} lies in the guard band "
                f"({self.rule().describe()}) and has no label"  # type: ignore[union-attr]
            )
        return "good" if verdict == ACCEPT else self.label

    @classmethod
    def labels(cls) -> tuple[str, ...]:
        """Labels this plugin can produce (for listings)."""
        return (cls.label, "good") if cls.acceptable_variant else (cls.label,)

    def for_verdict(self, verdict: str) -> Defect:
        """This plugin drawing only ``verdict`` draws: ACCEPT or REJECT.

        The recipe's counts decide the mix of bad and acceptable variants, so the generator
        asks for one verdict at a time. Under a norm that judges the plugin, a copy that
        draws its size inside the verdict's interval; otherwise the default serves plugins
        without acceptable draws: REJECT gives the plugin itself.

        Raises:
            ValueError: Unknown verdict, or ACCEPT from a plugin without acceptable draws.
        """
        if verdict not in DRAWN_VERDICTS:
            raise ValueError(f"{self.name}: verdict {verdict!r}; allowed: {DRAWN_VERDICTS}")
        if self.norm_mode() == NORM:
            only = self._copy()
            only.wanted = verdict
            return only
        if self.acceptable_variant:
            raise NotImplementedError(f"{self.name}: a plugin with acceptable draws overrides it")
        if verdict == ACCEPT:
            raise ValueError(f"{self.name}: draws no acceptable defects")
        return self

    @classmethod
    def norm_config(cls, norm: Mapping[str, Any]) -> dict[str, Any]:
        """Config values this plugin takes from a recipe's ``norm`` (see :attr:`norm_keys`)."""
        return {field: norm[key] for key, field in cls.norm_keys.items() if key in norm}

    @classmethod
    def judged_config(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Config values for a plugin a norm preset judges in mm: its own pixel rule
        (if any) must not constrain them; the default changes nothing."""
        return values

    @classmethod
    def check_norm(cls, norm: Mapping[str, float]) -> None:
        """Rules across this plugin's norm values; raise ValueError naming the norm keys.

        The default has none; each value is already a number in the recipe's bounds.
        """
        return None

    # ------------------------------------------------------------------ driver
    def noop_reason(self, before: np.ndarray, after: np.ndarray, mask: np.ndarray) -> str | None:
        """Why a change is too small to count as a defect (None when it is big enough)."""
        if not mask.any():
            return "no pixel changed (drawn on no-data or outside the map)"
        scale = full_scale(before.dtype)
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
        self._map = height  # read by judged plugins while they draw (levels, bit depth)
        for attempt in range(1, self.max_tries + 1):
            try:
                params = self.sample(rng, geometry)
            except NoSizeError as exc:
                reason = str(exc)
                continue
            new, mask = self.apply(height, params)
            reason = self.noop_reason(height, new, mask)
            if reason is None and self.judge is None:
                return DefectResult(
                    self.name, False, None, params, self.label_for(params), attempt, new, mask
                )
            if reason is None:
                verdict, rule, measures = self.judgement(params, geometry)
                reason = self.verdict_problem(verdict, measures)
                if reason is None:
                    label = "good" if verdict == ACCEPT else self.label
                    return DefectResult(
                        self.name, False, None, params, label, attempt, new, mask,
                        verdict, rule, measures,
                    )  # fmt: skip
        self._map = None
        return DefectResult(
            self.name, True, f"{reason}; {self.max_tries} draw(s) tried", None, None, self.max_tries
        )

    # ------------------------------------------------------------------ helpers
    def replace(self, **changes: Any) -> Defect:
        """A copy of this plugin with some config values changed (validated)."""
        values = {**self.config.to_dict(), **changes}
        out = type(self)(max_tries=self.max_tries, **values)
        out.judge, out.wanted, out.share_acceptable = self.judge, self.wanted, self.share_acceptable
        return out

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
