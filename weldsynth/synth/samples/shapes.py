"""The full render of one procedural weld from its drawn knobs (for synth.samples).

:func:`render_weld` turns the knobs of :func:`weldsynth.synth.samples.knobs.draw_knobs` into
the float height map, the truth path and the plates: centreline
(:mod:`~weldsynth.synth.samples.paths`), plates, bead surface, scanner noise, shadows, each
drawing from the weld's field generator in that order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from weldsynth.geometry.bead_mask import bead_mask_from_field
from weldsynth.geometry.path import BeadPath
from weldsynth.synth.samples.knobs import TopologySpec
from weldsynth.synth.samples.paths import closed_path, line_path, taper
from weldsynth.synth.samples.render import (
    bead_surface,
    left_side,
    shadow_mask,
    smooth_field,
    wave_1d,
)

MATERIAL_MIN = 0.04
"""Lowest height of a pixel with data (stays > 0 after 8-bit quantisation)."""
MATERIAL_MAX = 0.97
"""Highest height: nothing saturates at 1."""


@dataclass
class Rendered:
    """What :func:`render_weld` returns (float heights, before quantisation)."""

    height: np.ndarray
    path: BeadPath
    corners: list[float]
    plates: list[dict[str, Any]]
    generator: dict[str, Any]
    bead_mask: np.ndarray
    left_side: np.ndarray


def render_weld(spec: TopologySpec, k: dict, shape: tuple[int, int], step: float) -> Rendered:
    """Render one weld from its knobs: float height map, truth path, plates, masks.

    Args:
        spec: The topology and its generator knobs.
        k: The drawn knobs (``draw_knobs``, with any overrides).
        shape: (H, W).
        step: Largest spacing of the truth path vertices in pixels.
    """
    frng = np.random.default_rng(k["field_seed"])
    path, corners, gen = _centreline(spec, k, shape, step, frng)
    reach = 0.5 * float(np.max(path.widths)) + 12.0 * k["scale"]
    s_map, d_map, near = path.field(shape, reach)
    bead = bead_mask_from_field(path, s_map, d_map, near)
    left = left_side(path, shape)
    plate_maps, plates_truth = _plates(k, shape, frng)

    height = np.zeros(shape)
    off = ~bead
    if k["left_visible"]:
        sel = left & off
        height[sel] = plate_maps["left"][sel]
    if k["right_visible"]:
        sel = ~left & off
        height[sel] = plate_maps["right"][sel]
    base = (plate_maps["left"][bead], plate_maps["right"][bead])
    surface = _bead_heights(k, path, s_map[bead], d_map[bead], base, frng)
    height[bead] = np.maximum(surface, MATERIAL_MIN)

    material = height > 0
    height = _add_noise(k, height, material, path, shape, frng)
    gen["shadow_fraction"] = 0.0
    if k["shadows"]:
        zero = _shadows(spec, k, path, (s_map, d_map, near), material, bead, frng)
        height[zero] = 0.0
        gen["shadow_fraction"] = float(zero.sum() / max(material.sum(), 1))
    return Rendered(
        height=height,
        path=path,
        corners=corners,
        plates=plates_truth,
        generator=gen,
        bead_mask=bead,
        left_side=left,
    )


def _centreline(
    spec: TopologySpec, k: dict, shape: tuple[int, int], step: float, frng: np.random.Generator
) -> tuple[BeadPath, list[float], dict[str, Any]]:
    """The truth path (as its sidecar reads back), corner arc lengths and the generator dict."""
    if spec.shape_kind == "closed":
        path, corners = closed_path(k, shape, step, frng)
    else:
        path, kappa = line_path(k, shape, step, frng)
        corners = []
    gen: dict[str, Any] = {
        key: v for key, v in k.items() if key not in ("scale", "field_seed", "curvature_given")
    }
    if path.closed:
        gen["curvature"] = None
        gen["sagitta"] = None
    else:
        gen["curvature"] = kappa
        gen["sagitta"] = kappa * path.length**2 / 8.0
    path = BeadPath.from_dict(path.to_dict())  # exactly what the sidecar holds
    gen["bead_length"] = path.length
    gen["bead_width_mean"] = path.mean_width
    return path, corners, gen


def _plates(
    k: dict, shape: tuple[int, int], frng: np.random.Generator
) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """Height maps of both plates (visible or not) and the truth of the visible ones."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    plates_truth: list[dict[str, Any]] = []
    plate_maps = {}
    for side in ("left", "right"):
        hc = k[f"{side}_height"]
        if k[f"{side}_oblique"]:
            ang = math.radians(k[f"{side}_tilt_direction"])
            g = k[f"{side}_tilt"] / max(h, w)
            gx, gy = g * math.cos(ang), g * math.sin(ang)
        else:
            gx = gy = 0.0
        texture = k["texture"] * smooth_field(frng, shape, 24.0 * k["scale"], (0.0, 0.0))
        plate_maps[side] = hc + gx * (xs - cx) + gy * (ys - cy) + texture
        if k[f"{side}_visible"]:
            plates_truth.append(
                {
                    "side": side,
                    "kind": "oblique" if k[f"{side}_oblique"] else "flat",
                    "height": round(hc, 6),
                    "plane": [round(gx, 8), round(gy, 8), round(hc - gx * cx - gy * cy, 6)],
                }
            )
    return plate_maps, plates_truth


def _bead_heights(
    k: dict,
    path: BeadPath,
    s: np.ndarray,
    d: np.ndarray,
    base: tuple[np.ndarray, np.ndarray],
    frng: np.random.Generator,
) -> np.ndarray:
    """Heights of the bead pixels at path coordinates (s, d): cap, ripples, end crater or
    start/stop lump. ``base`` holds the left and right plate heights at those pixels."""
    w0 = k["bead_width"]
    width = path.width_at(s)
    amp0 = k["top"] - 0.5 * (k["left_height"] + k["right_height"])
    amp0 = max(amp0, 0.6 * abs(k["left_height"] - k["right_height"]) + 0.12)
    amp = amp0 * (1.0 + k["height_wobble"] * wave_1d(frng, s, 0.4 * path.length))
    if not path.closed:
        amp *= 0.45 + 0.55 * taper(s, path.length, k["taper"] * 0.5 * w0, 0.0)
    jitter = 0.8 * wave_1d(frng, s, 6.0 * k["ripple_period"])
    ripple_amp = k["ripple_amplitude"] * (0.7 + 0.3 * wave_1d(frng, s, 0.25 * path.length))
    surface = bead_surface(
        s,
        d,
        width,
        base[0],
        base[1],
        amp,
        cap_p=k["cap_p"],
        cap_q=k["cap_q"],
        crown=k["crown_offset"],
        ripple_period=k["ripple_period"],
        ripple_amp=ripple_amp,
        ripple_bend=k["ripple_bend"],
        ripple_jitter=jitter,
    )
    r2 = np.clip(2.0 * d / np.maximum(width, 1e-6), -1, 1) ** 2
    if path.closed:  # start/stop overlap: a slight lump where the torch came round
        e = np.minimum(s, path.length - s)
        surface += 0.12 * amp0 * np.exp(-(e**2) / (2 * (0.5 * w0) ** 2)) * (1 - r2)
    else:  # end crater
        sc = path.length - k["crater_position"] * w0
        sig = 0.28 * w0
        surface -= k["crater_depth"] * amp0 * np.exp(-((s - sc) ** 2 + d**2) / (2 * sig**2))
    return surface


def _add_noise(
    k: dict,
    height: np.ndarray,
    material: np.ndarray,
    path: BeadPath,
    shape: tuple[int, int],
    frng: np.random.Generator,
) -> np.ndarray:
    """Scanner noise on the pixels with data: per-pixel noise plus a per-profile offset
    (profiles run across the bead), clipped to the material range."""
    h, w = shape
    tx, ty = path.tangent_at(0.5 * path.length)
    n_prof = w if abs(tx) >= abs(ty) else h
    profile = k["profile_noise"] * frng.standard_normal(n_prof)
    prof_map = profile[None, :] if abs(tx) >= abs(ty) else profile[:, None]
    noise = k["noise"] * frng.standard_normal(shape) + prof_map
    return np.where(material, np.clip(height + noise, MATERIAL_MIN, MATERIAL_MAX), 0.0)


def _shadows(
    spec: TopologySpec,
    k: dict,
    path: BeadPath,
    fields: tuple[np.ndarray, np.ndarray, np.ndarray],
    material: np.ndarray,
    bead: np.ndarray,
    frng: np.random.Generator,
) -> np.ndarray:
    """The pixels scanner shadows blank, gathered along the bead edge on the shadow side.
    ``fields`` are the (S, D, near) maps of :meth:`BeadPath.field`."""
    s_map, d_map, near = fields
    scale = k["scale"]
    sign = 1.0 if k["shadow_side"] == "left" else -1.0
    half = np.zeros(material.shape)
    half[near] = 0.5 * path.width_at(s_map[near])
    off_d = sign * d_map
    strip = near & (off_d > half - 3.0 * scale) & (off_d < half + 10.0 * scale)
    heavy = spec.knobs.shadow_prob >= 1.0
    return shadow_mask(
        frng,
        material.shape,
        material,
        bead,
        strip.astype(np.float64),
        coverage=k["shadow_coverage"],
        max_bead_fraction=0.06 if heavy else 0.015,
        scale=scale,
    )
