"""Bead centrelines of procedural welds: line beads (straight or a gentle arc) and square welds.

Pure functions of the drawn knobs (:func:`weldsynth.synth.samples.knobs.draw_knobs`) and the
``numpy.random.Generator`` passed in; used by :mod:`weldsynth.synth.samples.shapes`.
"""

from __future__ import annotations

import math

import numpy as np

from weldsynth.geometry.path import BeadPath
from weldsynth.synth.samples.render import wave_1d

_MARGIN = 2.0
"""Pixels kept free between the bead and the image border."""


def taper(s: np.ndarray, length: float, ramp: float, floor: float) -> np.ndarray:
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


def line_path(
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
        widths *= taper(s, length, k["taper"] * 0.5 * w0, k["end_width"])
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


def closed_path(
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
