"""``recipe init --norm --scan`` for defects whose size is relative to each map.

A plugin that declares ``norm_relative`` (a config field and its basis, e.g. an amplitude
in bead widths) measures its draws as that field times :meth:`relative_unit_mm` of the map
drawn on (the bead width, the bead or plate height in mm). The limit in the plugin's own
unit therefore depends on the map: this module takes the typical map of the shipped
samples of the topology at the scan's calibration (the median over the probe's samples of
the bead width ``b`` and of the plugin's unit) and writes the field's range from
``STRADDLE`` times the limit there, cut to the field's allowed range. Nothing here names a
plugin.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from weldsynth.io.calibration import Calibration


@dataclass(frozen=True)
class Typical:
    """The typical shipped sample a relative size is written for.

    Attributes:
        b_mm: Median bead width, mm (the norm's ``b``).
        unit_mm: Median mm of the measure per unit of the plugin's relative field.
        maps: Samples the medians are over.
    """

    b_mm: float
    unit_mm: float
    maps: int


@dataclass
class RelativeRange:
    """The field's range for the typical map, its comment lines and warnings."""

    params: str
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def square(calibration: Calibration) -> Calibration:
    """The calibration on generate's square grid (the finer pitch)."""
    pitch = min(calibration.pixel_mm_x, calibration.pixel_mm_y)
    return replace(calibration, pixel_mm_x=pitch, pixel_mm_y=pitch)


def typical(plugin: Any, topology: int, calibration: Calibration) -> Typical | None:
    """Median bead width and unit of ``plugin``'s relative field over the shipped samples
    of ``topology`` (None: no sample says, e.g. none has a plate, or no height_mm)."""
    from weldsynth.synth.recipe_probe import sample_maps

    cal = square(calibration)
    widths, units = [], []
    for pixels, geometry in sample_maps(topology):
        unit = plugin.relative_unit_mm(pixels, geometry, cal)
        if unit is not None and unit > 0 and geometry.path is not None:
            widths.append(cal.px_to_mm(geometry.path.mean_width))
            units.append(unit)
    if not units:
        return None
    return Typical(float(np.median(widths)), float(np.median(units)), len(units))


def relative_range(
    name: str, plugin: Any, limit: Any, found: Typical, topology: int, straddle: tuple
) -> RelativeRange:
    """``{field: [lo, hi]}`` straddling ``limit`` (resolved with ``b`` = ``found.b_mm``)
    on the typical map, in the field's unit, cut to its allowed range.

    Args:
        name: The defect.
        plugin: Its plugin class (declares ``norm_relative``).
        limit: The resolved limit (:class:`weldsynth.synth.norm.judge.Limit`), mm.
        found: The typical map (:func:`typical`).
        topology: The topology of the shipped samples.
        straddle: (low, high) multiples of the limit.
    """
    key = plugin.norm_relative[0]
    spec = next(s for s in plugin.Config.describe() if s["name"] == key)
    at = limit.value / found.unit_mm
    lo = max(straddle[0] * at, spec["bounds"][0])
    hi = min(straddle[1] * at, spec["bounds"][1])
    lo = math.ceil(round(lo * 1000, 6)) / 1000
    hi = max(math.floor(round(hi * 1000, 6)) / 1000, lo)
    rule = limit.rule
    said = (
        f"{name}: {rule.imperfection} ({rule.reference}): {rule.quantity} limit "
        f"{limit.value:.3g} mm on the typical shipped topology-{topology} weld at this scan "
        f"(b = {found.b_mm:.3g} mm, {key} unit = {found.unit_mm:.3g} mm), i.e. {key} "
        f"{at:.3g}; {key} is relative to each map, so the range straddles the limit for maps "
        "like these and each draw is judged on its own map"
    )
    out = RelativeRange(f"{{{key}: [{lo:g}, {hi:g}]}}", textwrap.wrap(said, width=88))
    if lo * found.unit_mm > limit.accept_max or hi * found.unit_mm < limit.reject_min:
        cut = (
            f"{name}: {key} allowed {spec['bounds'][0]:g} to {spec['bounds'][1]:g} cannot "
            f"straddle the {rule.quantity} limit {limit.value:.3g} mm on the typical map"
        )
        out.notes.append(cut)
        out.warnings.append(cut)
    return out
