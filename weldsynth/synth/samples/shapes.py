"""Knob drawing, bead paths and the full render of one procedural weld (for synth.samples).

``draw_knobs`` draws every generator knob of a topology in a fixed order; ``render_weld``
turns knobs into the float height map, the truth path and the plates. Separate from
:mod:`weldsynth.synth.samples` (the public API) to keep modules short.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from weldsynth.geometry.path import BeadPath
from weldsynth.synth.samples.render import (
    bead_mask_from_coordinates,
    bead_surface,
    left_side,
    shadow_mask,
    smooth_field,
    wave_1d,
)

if TYPE_CHECKING:
    from weldsynth.synth.samples import TopologySpec

MATERIAL_MIN = 0.04
"""Lowest height of a pixel with data (stays > 0 after 8-bit quantisation)."""
MATERIAL_MAX = 0.97
"""Highest height: nothing saturates at 1."""
_MARGIN = 2.0


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


def draw_knobs(spec: TopologySpec, rng: np.random.Generator, shape: tuple[int, int]) -> dict:
    """Draw every knob of one weld from the topology's defaults, always in the same order."""
    h, w = shape
    scale = min(h, w) / 128.0
    k: dict[str, Any] = {"scale": scale}
    wide_turn, turn_u, turn_n = rng.random(), rng.uniform(-1, 1), rng.normal()
    if wide_turn < 0.12:
        rot = turn_u * spec.rotation_max
    else:
        rot = float(np.clip(turn_n * spec.rotation_sigma, -spec.rotation_max, spec.rotation_max))
    k["rotation"] = round(rot, 3)
    curved, bow = rng.random() < spec.curved_prob, rng.uniform(-1, 1)
    k["sagitta"] = bow * spec.sagitta_max * scale if curved else 0.0
    k["curvature"] = None
    k["curvature_given"] = False
    k["bead_width"] = rng.uniform(*spec.width_range) * scale
    k["length_fraction"] = rng.uniform(*spec.length_range)
    k["rect_height_fraction"] = rng.uniform(0.62, 0.82)
    # "sharp" corners keep a small radius: a polyline corner would make path.project's
    # perpendicular offset (and so BeadPath.bead_mask) grow stubs beyond the corner
    corner_u, corner_sharp = rng.uniform(0, 1), rng.random() < 0.4
    k["corner_style"] = "sharp" if corner_sharp else "rounded"
    k["corner_radius"] = (0.2 + 0.15 * corner_u if corner_sharp else 0.5 + 0.8 * corner_u) * (
        k["bead_width"]
    )
    k["top"] = rng.uniform(*spec.top_range)
    for side, vis, rng_h in (
        ("left", spec.left_visible, spec.left_height),
        ("right", spec.right_visible, spec.right_height),
    ):
        k[f"{side}_height"] = rng.uniform(*rng_h)
        k[f"{side}_visible"] = bool(rng.random() < vis)
        k[f"{side}_oblique"] = bool(rng.random() < spec.oblique_prob)
        k[f"{side}_tilt_direction"] = rng.uniform(0, 360)
        k[f"{side}_tilt"] = rng.uniform(*spec.tilt_range)  # change across the long side
    k["cap_p"] = rng.uniform(1.8, 2.8)
    k["cap_q"] = rng.uniform(0.55, 0.85)
    k["crown_offset"] = rng.uniform(-0.15, 0.15)
    k["ripple_period"] = rng.uniform(4.5, 9.0) * scale
    k["ripple_amplitude"] = rng.uniform(0.008, 0.02)
    k["ripple_bend"] = rng.uniform(0.6, 1.4)
    k["width_wobble"] = rng.uniform(0.03, 0.08)
    k["height_wobble"] = rng.uniform(0.02, 0.05)
    k["taper"] = rng.uniform(0.7, 1.3)
    k["end_width"] = rng.uniform(0.3, 0.5)
    k["crater_depth"] = rng.uniform(0.2, 0.45)
    k["crater_position"] = rng.uniform(0.35, 0.6)
    k["noise"] = rng.uniform(0.002, 0.006)
    k["profile_noise"] = rng.uniform(0.0005, 0.002)
    k["texture"] = rng.uniform(0.002, 0.006)
    k["shadows"] = bool(rng.random() < spec.shadow_prob)
    k["shadow_coverage"] = rng.uniform(*spec.shadow_coverage)
    side_u = rng.random()
    if k["left_visible"] != k["right_visible"]:  # shadows fall on the visible plate
        k["shadow_side"] = "left" if k["left_visible"] else "right"
    else:
        k["shadow_side"] = "left" if side_u < 0.5 else "right"
    k["shift"] = [rng.uniform(-1, 1), rng.uniform(-1, 1)]
    k["field_seed"] = int(rng.integers(0, 2**62))
    return k


def render_weld(spec: TopologySpec, k: dict, shape: tuple[int, int], step: float) -> Rendered:
    """Render one weld from its knobs: float height map, truth path, plates, masks."""
    h, w = shape
    scale = k["scale"]
    frng = np.random.default_rng(k["field_seed"])
    w0 = k["bead_width"]
    if spec.shape_kind == "closed":
        path, corners = _closed_path(k, shape, step, frng)
    else:
        path, kappa = _line_path(k, shape, step, frng)
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

    reach = 0.5 * float(np.max(path.widths)) + 12.0 * scale
    s_map, d_map, near = path.field(shape, reach)
    bead = bead_mask_from_coordinates(path, s_map, d_map, near)
    left = left_side(path, shape)

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
        texture = k["texture"] * smooth_field(frng, shape, 24.0 * scale, (0.0, 0.0))
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

    height = np.zeros(shape)
    off = ~bead
    if k["left_visible"]:
        sel = left & off
        height[sel] = plate_maps["left"][sel]
    if k["right_visible"]:
        sel = ~left & off
        height[sel] = plate_maps["right"][sel]

    s, d = s_map[bead], d_map[bead]
    width = path.width_at(s)
    base_left, base_right = plate_maps["left"][bead], plate_maps["right"][bead]
    amp0 = k["top"] - 0.5 * (k["left_height"] + k["right_height"])
    amp0 = max(amp0, 0.6 * abs(k["left_height"] - k["right_height"]) + 0.12)
    amp = amp0 * (1.0 + k["height_wobble"] * wave_1d(frng, s, 0.4 * path.length))
    if not path.closed:
        amp *= 0.45 + 0.55 * _taper(s, path.length, k["taper"] * 0.5 * w0, 0.0)
    jitter = 0.8 * wave_1d(frng, s, 6.0 * k["ripple_period"])
    ripple_amp = k["ripple_amplitude"] * (0.7 + 0.3 * wave_1d(frng, s, 0.25 * path.length))
    surface = bead_surface(
        s,
        d,
        width,
        base_left,
        base_right,
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
    height[bead] = np.maximum(surface, MATERIAL_MIN)

    material = height > 0
    tx, ty = path.tangent_at(0.5 * path.length)
    n_prof = w if abs(tx) >= abs(ty) else h
    profile = k["profile_noise"] * frng.standard_normal(n_prof)
    prof_map = profile[None, :] if abs(tx) >= abs(ty) else profile[:, None]
    noise = k["noise"] * frng.standard_normal(shape) + prof_map
    height = np.where(material, np.clip(height + noise, MATERIAL_MIN, MATERIAL_MAX), 0.0)

    shadow_fraction = 0.0
    if k["shadows"]:
        sign = 1.0 if k["shadow_side"] == "left" else -1.0
        half = np.zeros(shape)
        half[near] = 0.5 * path.width_at(s_map[near])
        off_d = sign * d_map
        strip = near & (off_d > half - 3.0 * scale) & (off_d < half + 10.0 * scale)
        heavy = spec.shadow_prob >= 1.0
        zero = shadow_mask(
            frng,
            shape,
            material,
            bead,
            strip.astype(np.float64),
            coverage=k["shadow_coverage"],
            max_bead_fraction=0.06 if heavy else 0.015,
            scale=scale,
        )
        height[zero] = 0.0
        shadow_fraction = float(zero.sum() / max(material.sum(), 1))
    gen["shadow_fraction"] = shadow_fraction
    return Rendered(
        height=height,
        path=path,
        corners=corners,
        plates=plates_truth,
        generator=gen,
        bead_mask=bead,
        left_side=left,
    )


def _taper(s: np.ndarray, length: float, ramp: float, floor: float) -> np.ndarray:
    """Rounded end profile: ``floor`` at the ends rising like a circle to 1 over ``ramp`` px."""
    e = np.minimum(s, length - s)
    x = np.clip(e / max(ramp, 1e-6), 0.0, 1.0)
    return floor + (1.0 - floor) * np.sqrt(np.maximum(1.0 - (1.0 - x) ** 2, 0.0))


def _direction(rotation: float) -> np.ndarray:
    """Unit direction of travel for an axis angle (path.py conventions)."""
    th = math.radians(rotation)
    t = np.array([math.cos(th), -math.sin(th)])
    if abs(t[0]) >= abs(t[1]):
        return t if t[0] > 0 else -t
    return t if t[1] > 0 else -t


def _line_path(
    k: dict, shape: tuple[int, int], step: float, frng: np.random.Generator
) -> tuple[BeadPath, float]:
    """A line bead: gentle circular arc (or straight), tapered rounded ends, centred-ish."""
    h, w = shape
    w0 = k["bead_width"]
    t = _direction(k["rotation"])
    n = np.array([t[1], -t[0]])
    chord = min(
        (w - 1) / abs(t[0]) if abs(t[0]) > 1e-9 else math.inf,
        (h - 1) / abs(t[1]) if abs(t[1]) > 1e-9 else math.inf,
    )
    length = k["length_fraction"] * chord
    wobble_u = frng.uniform(0.4, 0.7)
    wob_rng_state = frng.integers(0, 2**62)
    for _ in range(80):
        if k["curvature_given"]:
            kappa = float(k["curvature"])
        else:
            kappa = 8.0 * k["sagitta"] / max(length, 1.0) ** 2
        kappa = float(np.clip(kappa, -1.0 / w0, 1.0 / w0))
        if abs(kappa) * length > math.pi:
            kappa = math.copysign(math.pi / length, kappa)
        count = max(2, math.ceil(length / step) + 1)
        s = np.linspace(0.0, length, count)
        phi = kappa * (s - 0.5 * length)
        if abs(kappa) > 1e-12:
            u = (np.sin(phi) - math.sin(-0.5 * kappa * length)) / kappa
            v = -(np.cos(phi) - math.cos(-0.5 * kappa * length)) / kappa
        else:
            u, v = s.copy(), np.zeros_like(s)
        u -= 0.5 * u[-1]
        v -= 0.5 * (v.max() + v.min())
        pts = u[:, None] * t[None, :] + v[:, None] * n[None, :]
        wave = wave_1d(np.random.default_rng(wob_rng_state), s, wobble_u * max(length, 1.0))
        widths = w0 * (1.0 + k["width_wobble"] * wave)
        widths *= _taper(s, length, k["taper"] * 0.5 * w0, k["end_width"])
        half = 0.5 * float(widths.max()) + _MARGIN
        ext_x = np.ptp(pts[:, 0]) + 2 * half
        ext_y = np.ptp(pts[:, 1]) + 2 * half
        if ext_x <= w - 1 and ext_y <= h - 1:
            break
        length *= 0.95
    slack_x = max(w - 1 - ext_x, 0.0)
    slack_y = max(h - 1 - ext_y, 0.0)
    mid = 0.5 * (pts.max(axis=0) + pts.min(axis=0))
    centre = np.array(
        [
            (w - 1) / 2.0 + 0.4 * k["shift"][0] * slack_x,
            (h - 1) / 2.0 + 0.4 * k["shift"][1] * slack_y,
        ]
    )
    pts = pts - mid + centre
    return BeadPath(points=pts, widths=widths, closed=False), kappa


def _closed_path(
    k: dict, shape: tuple[int, int], step: float, frng: np.random.Generator
) -> tuple[BeadPath, list[float]]:
    """A square weld: a (rounded) rectangle run clockwise on screen from the top middle."""
    h, w = shape
    w0 = k["bead_width"]
    half_free_x = (w - 1) / 2.0 - 0.5 * w0 * 1.1 - _MARGIN
    half_free_y = (h - 1) / 2.0 - 0.5 * w0 * 1.1 - _MARGIN
    bx = k["length_fraction"] * (w - 1) / 2.0
    by = k["rect_height_fraction"] * half_free_y
    bx = min(bx, half_free_x)
    th = math.radians(k["rotation"])
    c, sn = math.cos(th), math.sin(th)
    for _ in range(80):  # shrink until the rotated rectangle fits
        ex = abs(bx * c) + abs(by * sn)
        ey = abs(bx * sn) + abs(by * c)
        if ex <= half_free_x and ey <= half_free_y:
            break
        bx *= 0.97
        by *= 0.97
    r = min(k["corner_radius"], 0.8 * min(bx, by))
    local, corner_idx = _rounded_rectangle(bx, by, r, step)
    rot = np.array([[c, sn], [-sn, c]])  # counter-clockwise on screen (y down)
    centre = np.array(
        [
            (w - 1) / 2.0 + 0.4 * k["shift"][0] * max(half_free_x - ex, 0.0),
            (h - 1) / 2.0 + 0.4 * k["shift"][1] * max(half_free_y - ey, 0.0),
        ]
    )
    pts = local @ rot.T + centre
    tmp = BeadPath(points=pts, widths=np.full(len(pts), w0), closed=True)
    s = tmp.arc[:-1]
    wave = wave_1d(frng, s, 0.3 * tmp.length)
    widths = w0 * (1.0 + k["width_wobble"] * wave)
    path = BeadPath(points=pts, widths=widths, closed=True)
    k["rect_width"] = 2 * bx
    k["rect_height"] = 2 * by
    k["corner_radius"] = r
    return path, [float(path.arc[i]) for i in corner_idx]


def _rounded_rectangle(bx: float, by: float, r: float, step: float) -> tuple[np.ndarray, list]:
    """Vertices of a rounded rectangle (half extents bx, by, corner radius r), clockwise on
    screen from (0, -by), the first vertex not repeated; plus the corner vertex indices."""
    pts: list[np.ndarray] = []
    corners: list[int] = []

    def line(a: tuple[float, float], b: tuple[float, float]) -> None:
        a_, b_ = np.asarray(a), np.asarray(b)
        count = max(1, math.ceil(np.hypot(*(b_ - a_)) / step))
        for i in range(count):
            pts.append(a_ + (b_ - a_) * i / count)

    def corner(cx: float, cy: float, a0: float) -> None:
        if r <= 1e-9:
            corners.append(len(pts))
            return
        count = max(4, 2 * math.ceil(0.5 * math.pi * r / 2 / min(step, 2.0)))
        for i in range(count):
            if i == count // 2:
                corners.append(len(pts))
            a = math.radians(a0 + 90.0 * i / count)
            pts.append(np.array([cx + r * math.cos(a), cy + r * math.sin(a)]))

    line((0.0, -by), (bx - r, -by))
    corner(bx - r, -by + r, -90.0)
    line((bx, -by + r), (bx, by - r))
    corner(bx - r, by - r, 0.0)
    line((bx - r, by), (-bx + r, by))
    corner(-bx + r, by - r, 90.0)
    line((-bx, by - r), (-bx, -by + r))
    corner(-bx + r, -by + r, 180.0)
    line((-bx + r, -by), (0.0, -by))
    return np.array(pts), corners
