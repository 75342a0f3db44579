"""A documented starting recipe for a user's own data (``weldsynth recipe init``).

The text is the shipped recipe of the topology (``weldsynth.data.recipes_dir()/<id>.yaml``,
whose comments explain each key) under a new header that says what the file is for, with
a comment block appended that lists every parameter each defect takes under ``params``
(default and allowed range, from the plugins). It validates as it is.
"""

from __future__ import annotations

import re
import textwrap

from weldsynth.core.topology import get_topology
from weldsynth.data import recipes_dir
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


def norm_recipe(
    topology: int, preset: str, t_mm: float | None = None, scan: dict | None = None
) -> str:
    """A starting recipe judged by a norm preset, sizes in mm straddling each limit.

    Args:
        topology: A registered topology id.
        preset: A norm preset (``weldsynth norm list``) or FILE.yaml[:LEVEL].
        t_mm: Plate thickness, mm (limits such as 0.2 s need it).
        scan: The calibration mapping to embed as the recipe's ``scan:`` section.

    Raises:
        NormError: Unknown preset or bad thickness.
    """
    import yaml

    from weldsynth.synth.defects import get_defect
    from weldsynth.synth.norm import ExpressionError, NormSettings

    settings = NormSettings.from_mapping({"preset": preset, "t_mm": t_mm})
    assert settings is not None
    symbols = {"t": t_mm, "s": t_mm, "a": None, "b": None}
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
        text = yaml.safe_dump({"scan": scan}, default_flow_style=None, sort_keys=False)
        block += ["# The scan calibration: mm per pixel and per grey level.", *text.splitlines()]
    out = [*lines[:start], *block, *lines[end + 1 :]]
    for i, line in enumerate(out):
        match = re.match(r"^  (\w+): \{weight: ([0-9.]+)\}(.*)$", line)
        if not match:
            continue
        name, weight, comment = match.groups()
        plugin = get_defect(name)
        rule_id = plugin.imperfections[0] if plugin.imperfections else ""
        if not rule_id or settings.level.rule(rule_id) is None or plugin.norm_size is None:
            continue
        try:
            limit = settings.resolve(rule_id, symbols)
        except ExpressionError:
            continue
        if limit.value is None:
            out[i] = f"  {name}: {{weight: {weight}, params: {{p_acceptable: 0}}}}{comment}"
            out[i] += f" (not permitted at {settings.level.title})"
            continue
        field, per = plugin.norm_size
        lo, hi = (round(k * limit.value / per, 3) for k in STRADDLE)
        out[i] = f"  {name}: {{weight: {weight}, params: {{{field}_mm: [{lo:g}, {hi:g}]}}}}"
        out[i] += f"{comment}; {limit.rule.quantity} limit {limit.value:g} mm"
    return "\n".join(out) + "\n"
