"""A documented starting recipe for a user's own data (``weldsynth recipe init``).

The text is the shipped recipe of the topology (``weldsynth.data.recipes_dir()/<id>.yaml``,
whose comments explain each key) under a new header that says what the file is for, with
a comment block appended that lists every parameter each defect takes under ``params``
(default and allowed range, from the plugins). It validates as it is.
"""

from __future__ import annotations

import math
import re
import textwrap
from dataclasses import dataclass, field
from typing import Any

from weldsynth.core.topology import get_topology
from weldsynth.data import recipes_dir
from weldsynth.io.calibration import Calibration, calibration_from_mapping
from weldsynth.synth.norm import NormError
from weldsynth.synth.recipe import RecipeError

_WIDTH = 92
"""Longest comment line written for the defect parameters."""


def starter_recipe(topology: int) -> str:
    """The YAML text of a documented starting recipe for ``topology``.

    Args:
        topology: A registered topology id.

    Raises:
        UnknownTopologyError: ``topology`` is not registered.
        RecipeError: no shipped recipe for it.
    """
    spec = get_topology(topology)
    shipped = recipes_dir() / f"{spec.id}.yaml"
    if not shipped.is_file():
        raise RecipeError(f"{shipped}: no shipped recipe for topology {spec.id}")
    lines = shipped.read_text(encoding="utf-8").splitlines()
    while lines and (lines[0].startswith("#") or not lines[0].strip()):
        lines.pop(0)  # the shipped header; ours replaces it
    header = [
        f"# Starting recipe for your own height maps of topology {spec.id} ({spec.name}):",
        f"# {spec.description}.",
        "# Written by `weldsynth recipe init` from the shipped recipe of this topology. Edit",
        "# the values for your data and your welding norm, then check the file with",
        "# `weldsynth recipe check FILE` and use it with `weldsynth generate GOOD_DIR --recipe",
        "# FILE --out DATA`. Sizes are in pixels of the height map. The comment block at the",
        "# end lists every parameter each defect takes under `params`.",
        "",
        "# The topology of the welds this recipe is for (README: topology table).",
    ]
    return "\n".join([*header, *lines, "", *_defect_parameters()]) + "\n"


def _defect_parameters() -> list[str]:
    """Comment lines: each registered defect's parameters (default; allowed range; meaning)."""
    from weldsynth.synth.defects import get_defect, list_defects

    out = [
        "# Defect parameters, set under `params` to override the plugin default; a range is",
        "# [low, high] and each draw picks a value in it. For example:",
        "#   hole: {weight: 1.0, params: {radius: [2, 4]}}",
        "# name: default; allowed (unit) - what it does",
    ]
    for name in list_defects():
        out.append(f"#   {name}:")
        for param in get_defect(name).Config.describe():
            text = f"{param['name']}: {_value_text(param)} - {param['help']}"
            out += textwrap.wrap(
                text, width=_WIDTH, initial_indent="#     ", subsequent_indent="#         "
            )
    return out


def _value_text(param: dict) -> str:
    """``default; allowed (unit)`` of one parameter, as YAML would write the values."""
    default = param["default"]
    shown = f"[{default[0]:g}, {default[1]:g}]" if isinstance(default, tuple) else _g(default)
    if param["bounds"]:
        allowed = f"{param['bounds'][0]:g} to {param['bounds'][1]:g}"
    elif param["choices"]:
        allowed = "one of " + "/".join(str(c) for c in param["choices"])
    else:
        allowed = "any"
    unit = f" ({param['unit']})" if param["unit"] else ""
    return f"{shown}; {allowed}{unit}"


def _g(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


STRADDLE = (0.4, 2.5)
"""``recipe init --norm`` writes size ranges from 0.4 to 2.5 times each limit."""
PROBE_FEW = 0.5
"""A defect whose acceptable draws fit less often than this is flagged."""
FINE_PX = 2.0
"""A limit whose size is under this many pixels (or grey levels) at the scan's resolution
is flagged: a comment in the recipe and a warning."""


@dataclass
class NormSizes:
    """What ``recipe init --norm`` wrote: the recipe text and its resolution warnings."""

    text: str
    warnings: list[str] = field(default_factory=list)


def norm_recipe(
    topology: int, preset: str, t_mm: float | None = None, scan: dict | None = None
) -> str:
    """A starting recipe judged by a norm preset, sizes in mm straddling each limit.

    See :func:`norm_recipe_sizes` (this is its text).
    """
    return norm_recipe_sizes(topology, preset, t_mm, scan).text


def norm_recipe_sizes(
    topology: int, preset: str, t_mm: float | None = None, scan: dict | None = None
) -> NormSizes:
    """A starting recipe judged by a norm preset, sizes in mm straddling each limit.

    Every defect the norm judges by a limit gets a comment with the limit (mm, and px or
    grey levels at the scan's resolution); one whose size is a pixel field gets a range in
    mm from 0.4 to 2.5 times the limit (:data:`STRADDLE`), cut to what can be drawn at the
    scan's ``pixel_mm`` (the field's smallest and largest size). A limit under
    :data:`FINE_PX` pixels, or a range that had to be cut, is said in the comment and in
    a warning.

    Args:
        topology: A registered topology id.
        preset: A norm preset (``weldsynth norm list``) or FILE.yaml[:LEVEL].
        t_mm: Plate thickness, mm (limits such as 0.2 s need it).
        scan: The calibration mapping to embed as the recipe's ``scan:`` section (it sets
            the resolution the ranges are checked at).

    Raises:
        NormError: Unknown preset or bad thickness, or a limit that no drawable size can
            represent at the scan's resolution (naming defect, limit in mm and px, and the
            coarsest pixel_mm that would do).
    """
    import yaml

    from weldsynth.synth.norm import NormSettings

    settings = NormSettings.from_mapping({"preset": preset, "t_mm": t_mm})
    assert settings is not None
    calibration = None if not scan else calibration_from_mapping(scan, "--scan")
    text = starter_recipe(topology).replace(
        "Sizes are in pixels of the height map.",
        "Sizes are in px, or in mm where a key ends in _mm.",
    )
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# The welding norm"))
    end = next(i for i, line in enumerate(lines) if line.startswith("norm:"))
    while end + 1 < len(lines) and lines[end + 1].startswith("  "):
        end += 1
    block = [
        f"# The welding norm: {settings.level.title} (weldsynth norm show {preset}"
        + (f" --t {t_mm:g})." if t_mm else ")."),
        "# Every defect is judged in mm by the rule of the imperfection it models: acceptable",
        "# variants (label good) are drawn below each limit, bad ones above it, nothing in the",
        f"# guard band (±{settings.guard:.0%} of the limit). Each map needs a calibration",
        "# (NAME.json sidecar, scan.yaml, --scan FILE, or the scan: section).",
        "norm:",
        f"  preset: {preset}",
        *([f"  t_mm: {t_mm:g}"] if t_mm else []),
        f"  guard: {settings.guard:g}",
    ]
    if scan:
        dumped = yaml.safe_dump({"scan": scan}, default_flow_style=None, sort_keys=False)
        block += ["# The scan calibration: mm per pixel and per grey level.", *dumped.splitlines()]
    out: list[str] = []
    warnings: list[str] = []
    for line in [*lines[:start], *block, *lines[end + 1 :]]:
        match = re.match(r"^  (\w+): \{weight: ([0-9.]+)\}(.*)$", line)
        if match is None:
            out.append(line)
            continue
        thickness = {"t": t_mm, "s": t_mm}
        entry = _norm_entry(*match.groups(), settings, thickness, calibration, topology)
        out += [f"  # {note}" for note in entry.notes]
        out.append(entry.line)
        warnings += entry.warnings
    if calibration is not None:
        _probe(out, warnings, topology, calibration)
    return NormSizes("\n".join(out) + "\n", warnings)


def _probe(lines: list[str], warnings: list[str], topology: int, calibration: Any) -> None:
    """Try the acceptable draws on the shipped samples at the scan's resolution; a defect
    none of whose draws fit gets ``p_acceptable: 0`` (only rejectable ones), one with few
    a note; both a warning (:mod:`weldsynth.synth.recipe_probe`)."""
    from weldsynth.synth.defects import get_defect
    from weldsynth.synth.recipe_probe import acceptable_rates

    pitch = min(calibration.pixel_mm_x, calibration.pixel_mm_y)
    rates = acceptable_rates("\n".join(lines) + "\n", topology, calibration)
    for name, (rate, why) in sorted(rates.items()):
        if rate >= PROBE_FEW:
            continue
        i = next(i for i, line in enumerate(lines) if line.startswith(f"  {name}: {{"))
        said = (
            f"{name}: {rate:.0%} of acceptable draws fit on the shipped samples at "
            f"{pitch:g} mm/px" + (f" (first failure: {why.split('; ')[0]})" if why else "")
        )
        if get_defect(name).norm_size is None:  # relative size: depends on the user's maps
            said += "; it depends on your maps' beads: check rejected.csv after generate"
        elif rate == 0:
            said += "; so p_acceptable: 0, only bad ones are drawn (a finer scan would draw some)"
            line = lines[i]
            if ", params: {" in line:
                lines[i] = line.replace(", params: {", ", params: {p_acceptable: 0, ", 1)
            else:
                lines[i] = re.sub(
                    r"\{weight: ([0-9.]+)\}",
                    r"{weight: \1, params: {p_acceptable: 0}}",
                    line,
                    count=1,
                )
        lines[i:i] = [f"  # {t}" for t in textwrap.wrap(said, width=_WIDTH - 4)]
        warnings.append(said)


@dataclass
class _Entry:
    """One defect line of a norm recipe, the comments above it and its warnings."""

    line: str
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _norm_entry(
    name: str,
    weight: str,
    comment: str,
    settings: Any,
    thickness: dict[str, float | None],
    calibration: Calibration | None,
    topology: int,
) -> _Entry:
    """The recipe line of defect ``name`` under the norm (unchanged when it judges none); a
    plugin declaring ``norm_relative`` gets a range for the typical shipped map
    (:mod:`weldsynth.synth.recipe_relative`)."""
    from weldsynth.synth.defects import get_defect
    from weldsynth.synth.norm import ExpressionError
    from weldsynth.synth.recipe_relative import relative_range, typical

    plain = _Entry(f"  {name}: {{weight: {weight}}}{comment}")
    plugin = get_defect(name)
    rule_id = plugin.imperfections[0] if plugin.imperfections else ""
    rule = settings.level.rule(rule_id) if rule_id else None
    if rule is None:
        return plain
    found = None
    if plugin.norm_relative and calibration is not None:
        found = typical(plugin, topology, calibration)
    try:
        b_mm = None if found is None else found.b_mm
        limit = settings.resolve(rule_id, {**thickness, "a": None, "b": b_mm})
    except ExpressionError:  # depends on the bead (b): known per map only
        expr = settings.level.limit_of(rule).describe()
        said = (
            f"{name}: {rule.imperfection} ({rule.reference}): {rule.quantity} limit {expr} mm "
            "(b = each map's bead width); its size is relative to each map, drawn per map"
        )
        plain.notes += textwrap.wrap(said, width=_WIDTH - 4)
        return plain
    if limit.value is None:
        return _Entry(
            f"  {name}: {{weight: {weight}, params: {{p_acceptable: 0}}}}{comment}"
            f" (not permitted at {settings.level.title})"
        )
    if found is not None:
        got = relative_range(name, plugin, limit, found, topology, STRADDLE)
        line = f"  {name}: {{weight: {weight}, params: {got.params}}}{comment}"
        return _Entry(line, got.notes, got.warnings)
    if plugin.norm_size is None:
        return _relative_entry(plain, name, plugin, limit, calibration)
    return _sized_entry(name, weight, comment, plugin, limit, calibration)


def _sized_entry(
    name: str, weight: str, comment: str, plugin: Any, limit: Any, calibration: Any
) -> _Entry:
    """A pixel-size field in mm straddling the limit, cut to what the scan can draw."""
    field_name, per = plugin.norm_size
    lo, hi = (k * limit.value / per for k in STRADDLE)  # the field, mm
    entry = _Entry("")
    if calibration is not None:
        pitch = min(calibration.pixel_mm_x, calibration.pixel_mm_y)  # generate's square grid
        spec = next(s for s in plugin.Config.describe() if s["name"] == field_name)
        smallest, largest = (b * pitch for b in spec["bounds"])
        q = limit.rule.quantity
        at = (
            f"{name}: {limit.rule.imperfection} {q} limit {limit.value:g} mm is "
            f"{limit.value / pitch:.3g} px at {pitch:g} mm/px ({field_name} "
            f"{limit.value / per / pitch:.3g} px)"
        )
        if smallest * per > limit.accept_max:
            raise NormError(
                f"{at}: the smallest {field_name} that can be drawn, {spec['bounds'][0]:g} px "
                f"({smallest * per:.3g} mm {q}), is above the acceptable maximum "
                f"{limit.accept_max:.3g} mm, so this norm cannot be represented at this "
                f"resolution; use a scan of at most "
                f"{limit.accept_max / (per * spec['bounds'][0]):.3g} mm/px"
            )
        if largest * per < limit.reject_min:
            raise NormError(
                f"{at}: the largest {field_name} that can be drawn, {spec['bounds'][1]:g} px "
                f"({largest * per:.3g} mm {q}), is below the rejectable minimum "
                f"{limit.reject_min:.3g} mm; use a finer scan"
            )
        cut = lo < smallest or hi > largest
        lo, hi = max(lo, smallest), min(hi, largest)
        if cut or limit.value / per / pitch < FINE_PX:
            good = f"[{lo * per:.3g}, {limit.accept_max:.3g}] mm"
            said = (
                f"{at}: near the resolution; {field_name} drawn from {lo:.3g} mm = "
                f"{lo / pitch:.3g} px"
                + (" (the smallest that can be drawn)" if lo == smallest else "")
                + f", acceptable {q}s only in {good}"
            )
            entry.notes += textwrap.wrap(said, width=_WIDTH - 4)
            entry.warnings.append(said)
    lo, hi = _ceil3(lo), max(_floor3(hi), _ceil3(lo))
    entry.line = (
        f"  {name}: {{weight: {weight}, params: {{{field_name}_mm: [{lo:g}, {hi:g}]}}}}"
        f"{comment}; {limit.rule.quantity} limit {limit.value:g} mm"
    )
    return entry


def _relative_entry(
    entry: _Entry, name: str, plugin: Any, limit: Any, calibration: Calibration | None
) -> _Entry:
    """A defect whose size is relative to each map (× width, × height): the limit said in
    mm and at the scan's resolution; the plugin draws the size that gives each verdict."""
    q, value = limit.rule.quantity, limit.value
    said = f"{name}: {limit.rule.imperfection} ({limit.rule.reference}): {q} limit {value:g} mm"
    fine = None
    if calibration is not None and plugin.measures_height:
        if calibration.height_mm:
            fine = value / calibration.height_mm
            said += f" = {fine:.3g} grey levels at height_mm {calibration.height_mm:g}"
        else:
            entry.warnings.append(
                f"{name}: {limit.rule.imperfection} is a height: the scan needs height_mm "
                "(or height_range_mm), else generate refuses its maps"
            )
    elif calibration is not None:
        pitch = min(calibration.pixel_mm_x, calibration.pixel_mm_y)
        fine = value / pitch
        said += f" = {fine:.3g} px at {pitch:g} mm/px"
    said += "; its size is relative to each map, drawn per map"
    entry.notes += textwrap.wrap(said, width=_WIDTH - 4)
    if fine is not None and fine < FINE_PX:
        entry.warnings.append(f"{said.split('; ')[0]}: under {FINE_PX:g}, near the resolution")
        entry.notes[-1] += " (near the resolution)"
    return entry


def _ceil3(value: float) -> float:
    return math.ceil(round(value * 1000, 6)) / 1000


def _floor3(value: float) -> float:
    return math.floor(round(value * 1000, 6)) / 1000
