"""Can a norm recipe's acceptable variants be drawn at a scan's resolution?

``recipe init --norm --scan`` sizes each defect in mm from the limits alone; whether an
acceptable draw then fits on a weld also depends on what the plugin draws around the size
(a pore's elongation, a lump capped by the bead width) and on the weld. This module tries:
each defect that draws acceptable variants is drawn, acceptable only, a few times on the
shipped samples of the topology under the scan's calibration, and the share that succeeds
is returned. A defect with none is one the norm cannot be drawn for at that resolution.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from weldsynth.core.errors import WeldsynthError
from weldsynth.core.seeding import rng_for
from weldsynth.io.calibration import Calibration

PROBE_TRIES = 12
"""Acceptable draws tried per defect (each one redraws up to the recipe's ``max_tries``)."""
PROBE_MAPS = 2
"""Shipped samples of the topology the draws are spread over."""


def acceptable_rates(
    text: str,
    topology: int,
    calibration: Calibration,
    tries: int = PROBE_TRIES,
    verdict: str = "accept",
) -> dict[str, tuple[float, str]]:
    """Share of acceptable draws that succeed, per defect drawing acceptable variants.

    Args:
        text: The recipe's YAML text (valid).
        topology: Its topology: the shipped samples drawn on.
        calibration: The scan's calibration the recipe is for (square pixels assumed: the
            finer pitch, as generate resamples to).
        tries: Draws per defect.
        verdict: "accept" (the default), or "reject" to try the bad variants of the same
            defects instead.

    Returns:
        Defect name -> (share in [0, 1], why the first failed draw failed or "");
        empty when the topology has no shipped samples.
    """
    import yaml

    from weldsynth.synth.recipe import acceptable_defects, recipe_from_dict, variant_defect

    recipe = recipe_from_dict(yaml.safe_load(text), source=f"recipe for topology {topology}")
    maps = sample_maps(topology)
    if not maps:
        return {}
    pitch = min(calibration.pixel_mm_x, calibration.pixel_mm_y)
    square = replace(calibration, pixel_mm_x=pitch, pixel_mm_y=pitch)
    rates = {}
    for name in acceptable_defects(recipe, square):
        plugin = variant_defect(recipe, name, verdict, square)
        done, why = 0, ""
        try:
            for i in range(tries):
                pixels, geometry = maps[i % len(maps)]
                out = plugin(pixels, rng_for(recipe.seed, "probe", name, i), geometry)
                done += bool(out.ok)
                why = why or ("" if out.ok else out.reason)
        except WeldsynthError:
            continue  # e.g. a height limit without height_mm: generate says so per map
        rates[name] = (done / tries, why)
    return rates


def sample_maps(topology: int) -> list[tuple[Any, Any]]:
    """(pixels, located geometry) of the first shipped samples of ``topology`` with a bead."""
    from weldsynth.data import samples_dir
    from weldsynth.geometry import locate
    from weldsynth.io.heightmap import read_heightmap

    out = []
    for png in sorted((samples_dir() / str(topology)).glob("*.png")):
        hm = read_heightmap(png)
        geometry = locate(hm.height)
        if geometry.found:
            out.append((hm.to_uint(), geometry))
        if len(out) == PROBE_MAPS:
            break
    return out
