"""The label rule of the defect plugins: a plugin measures its draw, a rule decides.

A plugin's :meth:`~weldsynth.synth.defects.base.Defect.measure` gives the named sizes of one
draw (``{"length": 7.2}``; pixels for now). A rule turns them into a *verdict*:

* :data:`ACCEPT`: the norm accepts the defect; the image is labelled **good** (an
  *acceptable* variant, e.g. a short cut);
* :data:`REJECT`: the norm rejects it; labelled **bad**;
* :data:`GUARD`: between the two; no label. Plugins never draw there, so that acceptable
  and rejectable defects stay apart.

The only rule today is :class:`Thresholds` on one measured size, its limits taken from the
plugin's config (which a recipe fills from its ``norm`` section). A norm stated in
millimetres can later supply its own rule without touching the plugins' drawing code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

ACCEPT = "accept"
REJECT = "reject"
GUARD = "guard"
VERDICTS = (ACCEPT, REJECT, GUARD)
DRAWN_VERDICTS = (ACCEPT, REJECT)
"""Verdicts a plugin can be asked to draw only of (``Defect.for_verdict``)."""
NORM = "norm"
"""Mode of a norm rule judged by its limit (:class:`weldsynth.synth.norm.Judge`)."""
PLUGIN = "plugin"
"""Mode of a norm rule judged by the plugin's own pixel rule (plant norm, uncalibrated)."""
SKIP = "skip"
"""Mode of a norm rule that does not apply here: every draw is bad, as before norms."""
ACCEPTABLE_PREFIX = "acceptable_"
"""The manifest's ``defect`` column of an acceptable variant is this plus the plugin name."""


def acceptable_name(defect: str) -> str:
    """Manifest ``defect`` value of an acceptable (good-labelled) variant of ``defect``."""
    return f"{ACCEPTABLE_PREFIX}{defect}"


@dataclass(frozen=True)
class Thresholds:
    """Accept a measured size up to ``accept_max``, reject it from ``reject_min``.

    Attributes:
        measure: Key of the plugin's :meth:`measure` output the rule reads (e.g. "length").
        accept_max: Sizes at most this are acceptable.
        reject_min: Sizes at least this are rejectable; in between is the guard band.
    """

    measure: str
    accept_max: float
    reject_min: float

    def verdict(self, measures: Mapping[str, float]) -> str:
        """ACCEPT, REJECT or GUARD for the measured sizes of one draw."""
        value = measures[self.measure]
        if value >= self.reject_min:
            return REJECT
        if value <= self.accept_max:
            return ACCEPT
        return GUARD

    def describe(self) -> str:
        """Human form, used in messages: ``length <= 4 good, >= 10 bad``."""
        return f"{self.measure} <= {self.accept_max:g} good, >= {self.reject_min:g} bad"
