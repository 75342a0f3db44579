"""Clutter on a rendered good weld: what a plant's good welds carry besides the clean bead.

:func:`apply_clutter` adds, in this order, a tilted and warped part, stronger scale marks
on the bead, spatter droplets (on the plate near the bead, or on the bead's toe where no
plate is measured), extra scanner noise with outliers, a shadow band along one bead edge
and dropout specks (0 = no data). None of it is a defect: droplets stay well under the
smallest ball a recipe draws as bad, specks under the shortest acceptable cut.

Every draw comes from the generator passed in (``weld.py`` seeds it from the weld's own
field seed and the word "clutter", a stream apart from the weld's), always in the same
order, so a weld's clutter is fixed by ``(seed, topology, index)`` and the clean weld
underneath is unchanged. Arrays in, arrays out: float heights before quantisation.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from weldsynth.geometry.path import BeadPath
from weldsynth.synth.samples.knobs import ClutterKnobs, clutter_knobs
from weldsynth.synth.samples.render import smooth_field
from weldsynth.synth.samples.shapes import MATERIAL_MAX, MATERIAL_MIN


def apply_clutter(
    height: np.ndarray,
    path: BeadPath,
    bead: np.ndarray,
    generator: dict[str, Any],
    plates: list[dict[str, Any]],
    knobs: ClutterKnobs,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Clutter one rendered weld.

    Args:
        height: float (H, W) heights, 0 where there is no data (not changed).
        path: The truth bead path.
        bead: bool (H, W) bead pixels.
        generator: The weld's drawn knobs (``ripple_period``, ``bead_width``...).
        plates: The truth plates; a tilt is added to their planes in place.
        knobs: The clutter knobs of the weld's topology and level.
        rng: The clutter's own random source.

    Returns:
        (new heights, the clutter's truth: what was drawn, with every droplet).
    """
    shape = height.shape
    scale = min(shape) / 128.0
    out = height.astype(np.float64, copy=True)
    material = out > 0
    truth: dict[str, Any] = {}
    tilt = _tilt_and_warp(out, material, knobs, rng, truth)
    for plate in plates:
        plate["plane"] = [
            round(plate["plane"][0] + tilt[0], 8),
            round(plate["plane"][1] + tilt[1], 8),
            round(plate["plane"][2] + tilt[2], 6),
        ]
    reach = 0.5 * float(np.max(path.widths)) + 2.0
    s_map, d_map, near = path.field(shape, reach)
    on_bead = bead & near
    _ripples(out, on_bead, path, s_map, d_map, generator, knobs, rng, truth)
    truth["spatter"] = _spatter(out, material, bead, path, generator, knobs, rng, scale)
    extra = rng.uniform(*knobs.noise)
    noise = extra * rng.standard_normal(shape)
    spikes = rng.random(shape) < knobs.spikes
    noise[spikes] += rng.uniform(-30.0, 30.0, int(spikes.sum())) * extra
    out = np.where(material, np.clip(out + noise, MATERIAL_MIN, MATERIAL_MAX), 0.0)
    truth["noise"] = round(float(extra), 6)
    zero = _shadow_band(path, s_map, d_map, near, bead, knobs, rng, scale)
    zero |= _dropouts(material, knobs, rng, scale)
    zero &= material
    out[zero] = 0.0
    truth["zeroed_fraction"] = round(float(zero.sum() / max(int(material.sum()), 1)), 6)
    return out, truth


def clutter_located(
    height: np.ndarray,
    path: BeadPath,
    bead: np.ndarray,
    topology: int,
    level: str,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Clutter any height map whose bead was located (a recipe's ``clutter:`` level in
    ``generate``): the topology's knobs at ``level``, scale marks at the usual spacing.

    Returns:
        (float32 heights, what was drawn with the level), the map unchanged for "none".
    """
    knobs = clutter_knobs(topology, level)
    if knobs is None:
        return height, {}
    generator = {"ripple_period": 6.75 * min(height.shape) / 128.0, "bead_width": path.mean_width}
    out, drawn = apply_clutter(height, path, bead, generator, [], knobs, rng)
    return out.astype(np.float32), {"level": level, **drawn}


def _tilt_and_warp(
    out: np.ndarray,
    material: np.ndarray,
    knobs: ClutterKnobs,
    rng: np.random.Generator,
    truth: dict[str, Any],
) -> tuple[float, float, float]:
    """Tilt the part (a plane through the image centre) and bend it (a smooth field), in
    place on the measured pixels; returns the plane ``(a, b, c)`` added."""
    h, w = out.shape
    change, direction = rng.uniform(0.0, knobs.tilt), rng.uniform(0.0, 2.0 * math.pi)
    warp_amp = rng.uniform(0.0, knobs.warp)
    warp = smooth_field(rng, out.shape, 0.6 * max(h, w), (0.0, 0.0))
    g = change / max(h, w)
    gx, gy = g * math.cos(direction), g * math.sin(direction)
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    delta = gx * (xs - cx) + gy * (ys - cy) + warp_amp * warp
    out[material] = np.clip(out[material] + delta[material], MATERIAL_MIN, MATERIAL_MAX)
    truth["tilt"] = [round(gx, 8), round(gy, 8)]
    truth["warp"] = round(float(warp_amp), 6)
    return gx, gy, -gx * cx - gy * cy


def _ripples(
    out: np.ndarray,
    on_bead: np.ndarray,
    path: BeadPath,
    s_map: np.ndarray,
    d_map: np.ndarray,
    generator: dict[str, Any],
    knobs: ClutterKnobs,
    rng: np.random.Generator,
    truth: dict[str, Any],
) -> None:
    """Stronger, irregular scale marks on the bead (arcs, strongest on the crown), in place."""
    amp = rng.uniform(*knobs.ripple)
    period = float(generator["ripple_period"]) * rng.uniform(0.8, 1.2)
    phase0, wobble = rng.uniform(0.0, 2.0 * math.pi), rng.uniform(0.5, 1.5)
    truth["ripple"] = round(float(amp), 6)
    if not on_bead.any():
        return
    s, d = s_map[on_bead], d_map[on_bead]
    width = path.width_at(s)
    r2 = np.clip(2.0 * d / np.maximum(width, 1e-6), -1.0, 1.0) ** 2
    phase = 2.0 * math.pi * (s + wobble * 0.5 * width * r2) / period + phase0
    wave = (np.sin(phase) + 0.35 * np.sin(2.0 * phase)) / 1.2
    new = out[on_bead] + amp * (1.0 - r2) * wave
    out[on_bead] = np.where(out[on_bead] > 0, np.clip(new, MATERIAL_MIN, MATERIAL_MAX), 0.0)


def _spatter(
    out: np.ndarray,
    material: np.ndarray,
    bead: np.ndarray,
    path: BeadPath,
    generator: dict[str, Any],
    knobs: ClutterKnobs,
    rng: np.random.Generator,
    scale: float,
) -> list[dict[str, Any]]:
    """Drop spatter droplets (spherical caps) in place; returns each droplet's truth."""
    n = int(rng.integers(knobs.spatter[0], knobs.spatter[1] + 1))
    width = float(generator.get("bead_width", np.mean(path.widths)))
    dist = cv2.distanceTransform((~bead).astype(np.uint8), cv2.DIST_L2, 3)
    plate = material & ~bead & (dist <= knobs.spatter_reach * width)
    toe = _toe(bead, width)
    on_plate = int(plate.sum()) >= 20 * max(n, 1)
    where = plate if on_plate else toe & material
    ys, xs = np.nonzero(where)
    picks = rng.integers(0, max(len(ys), 1), n)
    radii = rng.uniform(*knobs.spatter_radius, n) * scale
    tops = rng.uniform(*knobs.spatter_height, n)
    drops: list[dict[str, Any]] = []
    if not len(ys):
        return drops
    for k in range(n):
        y, x, radius = int(ys[picks[k]]), int(xs[picks[k]]), float(radii[k])
        reach = math.ceil(radius) + 1
        y0, y1 = max(0, y - reach), min(out.shape[0], y + reach + 1)
        x0, x1 = max(0, x - reach), min(out.shape[1], x + reach + 1)
        gy, gx = np.mgrid[y0:y1, x0:x1]
        r = np.hypot(gx - x, gy - y) / radius
        cap = np.where(r < 1.0, float(tops[k]) * np.sqrt(np.clip(1.0 - r * r, 0.0, 1.0)), 0.0)
        box = out[y0:y1, x0:x1]
        out[y0:y1, x0:x1] = np.where(box > 0, np.clip(box + cap, MATERIAL_MIN, MATERIAL_MAX), 0)
        drops.append(
            {
                "x": x,
                "y": y,
                "radius": round(radius, 4),
                "height": round(float(tops[k]), 6),
                "on": "plate" if on_plate else "toe",
            }
        )
    return drops


def _toe(bead: np.ndarray, width: float) -> np.ndarray:
    """Bead pixels within about a fifth of the bead width from its edge."""
    inside = cv2.distanceTransform(bead.astype(np.uint8), cv2.DIST_L2, 3)
    return bead & (inside <= max(1.5, 0.2 * width))


def _shadow_band(
    path: BeadPath,
    s_map: np.ndarray,
    d_map: np.ndarray,
    near: np.ndarray,
    bead: np.ndarray,
    knobs: ClutterKnobs,
    rng: np.random.Generator,
    scale: float,
) -> np.ndarray:
    """A band of no data along one bead edge over part of its length (the scanner's line
    of sight hidden by the bead), a little into the bead's flank."""
    on = rng.random() < knobs.shadow_prob
    sign = 1.0 if rng.random() < 0.5 else -1.0
    band = rng.uniform(*knobs.shadow_width) * scale
    start, span = rng.uniform(0.0, 1.0), rng.uniform(0.2, 0.6)
    if not on:
        return np.zeros(bead.shape, bool)
    s0 = start * (1.0 - span) * path.length
    s1 = s0 + span * path.length
    half = np.zeros(bead.shape)
    half[near] = 0.5 * path.width_at(s_map[near])
    off = sign * d_map
    inside = near & (s_map >= s0) & (s_map <= s1)
    return inside & (off > 0.9 * half) & (off < half + band)


def _dropouts(
    material: np.ndarray, knobs: ClutterKnobs, rng: np.random.Generator, scale: float
) -> np.ndarray:
    """Specks of no data: single pixels and 2 x 2 clusters spread over the measured area."""
    fraction = rng.uniform(*knobs.dropouts)
    seeds = (rng.random(material.shape) < fraction / 2.0) & material
    grow = rng.random(material.shape) < 0.5
    specks = seeds.copy()
    if scale >= 1.0:  # a 2 x 2 speck where the draw says so
        big = (seeds & grow).astype(np.uint8)
        specks |= cv2.dilate(big, np.ones((2, 2), np.uint8), anchor=(0, 0)).astype(bool)
    return specks
