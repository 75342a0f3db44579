"""How a defect plugin meets a welding norm (mixed into :class:`~.base.Defect`).

A plugin declares the imperfections it models (``imperfections = ("surface_pore",)``;
:meth:`imperfection_of` picks one per draw when it models several) and measures each draw
(``measure(params, calibration, geometry)`` → ``{"diameter_mm": 1.3}``, px uncalibrated).
A recipe with ``norm.preset`` binds a :class:`weldsynth.synth.norm.Judge` to the plugin
(:meth:`with_norm`), and then:

* the verdict comes first: :meth:`draw_size` draws accept or reject (the verdict pinned by
  ``for_verdict``, else ``p_acceptable``), then the size inside the interval that gives
  it, so nothing is drawn in the guard band;
* each accepted draw is judged again from its measures (:meth:`judgement`); a draw whose
  size the plugin had to adjust to fit the weld and that left its interval is redrawn.

Without a judge (recipes without ``norm.preset``) plugins draw and label exactly as before.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np

from weldsynth.core.units import full_scale
from weldsynth.synth.defects.result import NoSizeError
from weldsynth.synth.defects.rule import ACCEPT, GUARD, NORM, PLUGIN, REJECT, SKIP
from weldsynth.synth.defects.sampling import uniform

if TYPE_CHECKING:  # pragma: no cover
    from weldsynth.geometry import WeldGeometry
    from weldsynth.synth.defects.config import DefectParams

RELATIVE_BASES = ("bead_width", "bead_height", "plate_height")
"""What one unit of a plugin's relative size is (its ``norm_relative``): the bead's mean
width (mm), its median height on the map, or the height of the plates beside it (mm)."""


class NormHooks:
    """The norm side of a plugin; see the module docstring."""

    name: str
    judge: Any
    wanted: str | None
    share_acceptable: float | None
    acceptable_variant: bool
    imperfections: tuple[str, ...]
    config: Any
    _map: np.ndarray | None

    # measure, imperfection_of and verdict are the plugin API of Defect

    def _copy(self) -> Any:
        """A shallow copy (config is frozen; judge and wanted are carried over)."""
        return copy.copy(self)

    def with_norm(self, judge: Any) -> Any:
        """A copy of this plugin judged by ``judge`` (a bound norm; None: no norm)."""
        out = self._copy()
        out.judge = judge
        return out

    def norm_mode(self, rule_id: str | None = None) -> str | None:
        """How the norm judges ``rule_id`` (default: the first imperfection): NORM, PLUGIN,
        SKIP, or None without a judge."""
        if self.judge is None:
            return None
        rule_id = rule_id or (self.imperfections[0] if self.imperfections else "")
        return self.judge.mode(rule_id) if rule_id else SKIP

    def draws_acceptable(self) -> bool:
        """True when this plugin draws acceptable (good) variants here: without a norm, its
        :attr:`acceptable_variant`; under one, when a rule it models has a finite limit."""
        if self.judge is None:
            return bool(self.acceptable_variant)
        level = self.judge.settings.level
        for rule_id in self.imperfections:
            mode = self.judge.mode(rule_id)
            if mode == PLUGIN and self.acceptable_variant:
                return True
            rule = level.rule(rule_id)
            if mode == NORM and (
                level.limit_of(rule).permitted or rule_id in self.judge.settings.overrides
            ):
                return True
        return False

    def p_acceptable(self) -> float:
        """Share of acceptable draws when no verdict is pinned (config field or recipe)."""
        value = getattr(self.config, "p_acceptable", None)
        if value is None:
            value = self.share_acceptable
        return float(value or 0.0)

    def judged(self, rule_id: str) -> bool:
        """True when the norm judges ``rule_id`` by its limit here (draw verdict first)."""
        return self.norm_mode(rule_id) == NORM

    def draw_size(
        self,
        rng: np.random.Generator,
        bounds: tuple[float, float],
        geometry: WeldGeometry,
        per_unit: float,
        rule_id: str,
    ) -> float:
        """A size from ``bounds`` (the plugin's own unit) giving the verdict first drawn.

        Args:
            rng: Random source (one number for the verdict, one for the size).
            bounds: The configured range of the size.
            geometry: The located weld (the limit may depend on the bead width).
            per_unit: The measure (mm calibrated, px otherwise) of one unit of the size.
            rule_id: The rule judging it.

        Raises:
            NoSizeError: No size in ``bounds`` gives the verdict on this weld.
        """
        mix = rng.random()
        verdict = self.wanted or (ACCEPT if mix < self.p_acceptable() else REJECT)
        limit = self.judge.limit(rule_id, geometry)
        lo_m, hi_m = limit.window(verdict)
        lo, hi = max(bounds[0], lo_m / per_unit), min(bounds[1], hi_m / per_unit)
        if lo > hi:
            raise NoSizeError(
                f"{self.name}: no size in [{bounds[0]:g}, {bounds[1]:g}] gives {verdict} "
                f"on this weld ({limit.describe()})"
            )
        return uniform(rng, (lo, hi))

    def judgement(
        self, params: DefectParams, geometry: WeldGeometry | None = None
    ) -> tuple[str, str, dict[str, float]]:
        """(verdict, rule reference, measures) of a draw under the bound norm."""
        rule_id = self.imperfection_of(params)
        mode = self.norm_mode(rule_id)
        measures = self.measure(params, self.judge.calibration, geometry)
        rule = self.judge.settings.level.rule(rule_id) if rule_id else None
        if mode == NORM:
            limit = self.judge.limit(rule_id, geometry)
            return limit.verdict(measures), limit.rule.reference, measures
        if mode == PLUGIN:
            return self.verdict(params), rule.reference if rule else "", measures
        return REJECT, "", measures

    def verdict_problem(self, verdict: str, measures: dict[str, float]) -> str | None:
        """Why a judged draw cannot be used (guard band, or not the verdict pinned)."""
        if verdict == GUARD or (self.wanted is not None and verdict != self.wanted):
            sizes = ", ".join(f"{k} {v:.4g}" for k, v in measures.items())
            return f"{sizes} gives {verdict}, not {self.wanted or 'accept/reject'}"
        return None

    @classmethod
    def relative_unit_mm(
        cls, pixels: np.ndarray, geometry: WeldGeometry, calibration: Any
    ) -> float | None:
        """mm of the norm measure per unit of the field :attr:`norm_relative` declares, on
        the map ``pixels`` under ``calibration`` (square pixels): one of
        :data:`RELATIVE_BASES`. None when the plugin declares none or this map cannot say
        (no plate beside the bead, no height_mm). A plugin may override it.

        Raises:
            ValueError: The declared basis is not one of :data:`RELATIVE_BASES`.
        """
        declared = getattr(cls, "norm_relative", None)
        if declared is None:
            return None
        basis = declared[1]
        if basis not in RELATIVE_BASES:
            raise ValueError(
                f"{cls.__name__}: norm_relative basis {basis!r} not in {RELATIVE_BASES}"
            )
        if basis == "bead_width":
            return None if geometry.path is None else calibration.px_to_mm(geometry.path.mean_width)
        per = calibration.mm_per_unit(8 if pixels.dtype == np.uint8 else 16)
        if basis == "bead_height":
            vals = pixels[geometry.bead_mask & (pixels > 0)].astype(np.float64)
            level = float(np.median(vals)) / full_scale(pixels.dtype) if vals.size else None
        else:  # plate_height: the plates' area-weighted mean height
            area = sum(p.area for p in geometry.plates)
            level = sum(p.area * p.mean_height for p in geometry.plates) / area if area else None
        return None if per is None or level is None else level * per

    def map_bits(self) -> int:
        """Bit depth of the map being drawn on (16 for float maps)."""
        dtype = None if self._map is None else self._map.dtype
        return 8 if dtype == np.uint8 else 16

    def bead_level(self, geometry: WeldGeometry) -> float:
        """Median height of the bead on the current map, [0, 1] units (0 when unknown)."""
        if self._map is None:
            return 0.0
        vals = self._map[geometry.bead_mask & (self._map > 0)]
        scale = full_scale(self._map.dtype)
        return float(np.median(vals.astype(np.float64)) / scale) if vals.size else 0.0
