"""Rendering primitives for procedural weld height maps (used by :mod:`weldsynth.synth.samples`).

Pure functions of their arguments: every random draw comes from the ``numpy.random.Generator``
passed in. Heights are float64 here; :mod:`weldsynth.synth.samples` quantises the result.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from weldsynth.geometry.path import BeadPath


def left_side(path: BeadPath, shape: tuple[int, int]) -> np.ndarray:
    """Bool mask of the pixels on the positive-offset side of the bead.

    For a closed path that is the outside; for a line path the half of the image left of
    travel, the centreline being extended straight beyond its ends.
    """
    h, w = shape
    pts = path.points
    if path.closed:
        poly = pts
        fill = np.zeros(shape, np.uint8)
        cv2.fillPoly(fill, [np.round(poly * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
        return fill == 0
    far = 4.0 * (h + w)
    t0 = path.tangent_at(0.0)
    t1 = path.tangent_at(path.length)
    n0 = path.normal_at(0.0)
    n1 = path.normal_at(path.length)
    start = pts[0] - far * t0
    end = pts[-1] + far * t1
    poly = np.vstack([start, pts, end, end + far * n1, start + far * n0])
    fill = np.zeros(shape, np.uint8)
    cv2.fillPoly(fill, [np.round(poly * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    return fill == 1


def smooth_field(
    rng: np.random.Generator, shape: tuple[int, int], cell: float, sigma_xy: tuple[float, float]
) -> np.ndarray:
    """Zero-mean, unit-std random field with features of about ``cell`` pixels.

    Args:
        rng: Random source.
        shape: (H, W).
        cell: Size of the coarse grid cell in pixels.
        sigma_xy: Extra Gaussian blur (x, y) in pixels; a larger x makes horizontal streaks.
    """
    h, w = shape
    gh = max(2, math.ceil(h / cell) + 2)
    gw = max(2, math.ceil(w / cell) + 2)
    coarse = rng.standard_normal((gh, gw)).astype(np.float32)
    field = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    if sigma_xy[0] > 0 or sigma_xy[1] > 0:
        field = cv2.GaussianBlur(
            field, (0, 0), sigmaX=max(sigma_xy[0], 0.1), sigmaY=max(sigma_xy[1], 0.1)
        )
    field = field.astype(np.float64)
    std = field.std()
    return (field - field.mean()) / (std if std > 0 else 1.0)


def wave_1d(rng: np.random.Generator, s: np.ndarray, scale: float, n: int = 3) -> np.ndarray:
    """Smooth random function of ``s`` in about [-1, 1]: a few sinusoids of period ~``scale``."""
    out = np.zeros_like(s, dtype=np.float64)
    for k in range(n):
        period = scale * rng.uniform(0.6, 1.6) / (1 + k)
        weight = rng.uniform(0.5, 1.0) / (1 + k)
        out += weight * np.sin(2 * np.pi * s / period + rng.uniform(0, 2 * np.pi))
    peak = sum(1.0 / (1 + k) for k in range(n))
    return out / peak


def bead_surface(
    s: np.ndarray,
    d: np.ndarray,
    width: np.ndarray,
    base_left: np.ndarray,
    base_right: np.ndarray,
    amp: np.ndarray,
    *,
    cap_p: float,
    cap_q: float,
    crown: float,
    ripple_period: float,
    ripple_amp: float | np.ndarray,
    ripple_bend: float,
    ripple_jitter: np.ndarray,
) -> np.ndarray:
    """Height of bead pixels: a convex cap over a base ramp between the two plates, with ripples.

    Args:
        s, d: Path coordinates of the bead pixels.
        width: Local full bead width at each pixel.
        base_left, base_right: Height the plate on each side has at the pixel (the cap meets
            the left plate at ``d = +width/2`` and the right one at ``d = -width/2``).
        amp: Cap height above the base ramp at each pixel.
        cap_p, cap_q: Cap shape ``(1 - |r|^p)^q`` with ``r = 2d/width``.
        crown: Where the crown sits across the bead (``r`` in (-1, 1); 0 = centreline).
        ripple_period: Scale-mark spacing along the bead in pixels.
        ripple_amp: Scale-mark amplitude (height units).
        ripple_bend: How far the marks lag at the edges (fraction of the half width), which
            makes them arcs pointing in the direction of travel.
        ripple_jitter: Phase jitter (radians) at each pixel, slowly varying along ``s``;
            ``ripple_amp`` may also be an array (amplitude varying along the bead).
    """
    r = np.clip(2.0 * d / np.maximum(width, 1e-6), -1.0, 1.0)
    r2 = r * r
    rc = np.where(r >= crown, (r - crown) / (1.0 - crown), (r - crown) / (1.0 + crown))
    cap = np.power(np.maximum(1.0 - np.power(np.abs(rc), cap_p), 0.0), cap_q)
    base = base_right + (base_left - base_right) * 0.5 * (r + 1.0)
    phase = 2.0 * np.pi * (s + ripple_bend * 0.5 * width * r2) / ripple_period + ripple_jitter
    # scale marks: a steep front and a slow back (a skewed wave), strongest on the crown
    wave = np.sin(phase) + 0.35 * np.sin(2.0 * phase)
    ripple = ripple_amp * (1.0 - r2) * wave / 1.2
    return base + amp * cap + ripple


def shadow_mask(
    rng: np.random.Generator,
    shape: tuple[int, int],
    material: np.ndarray,
    bead: np.ndarray,
    edge_strip: np.ndarray,
    *,
    coverage: float,
    max_bead_fraction: float,
    scale: float,
) -> np.ndarray:
    """Irregular zero zones (scanner shadows): blobs and streaks, mostly off the bead.

    Args:
        rng: Random source.
        shape: (H, W).
        material: Pixels that have data before the shadows.
        bead: Bead pixels.
        edge_strip: Pixels along the shadowed bead edge, where shadows gather.
        coverage: Target fraction of the non-bead material to blank.
        max_bead_fraction: At most this fraction of the bead is blanked.
        scale: Image scale (short side / 128).

    Returns:
        Bool mask of the pixels that become 0.
    """
    blobs = smooth_field(rng, shape, 14.0 * scale, (2.0 * scale, 2.0 * scale))
    streaks = smooth_field(rng, shape, 6.0 * scale, (9.0 * scale, 0.8 * scale))
    grain = smooth_field(rng, shape, 2.5 * scale, (0.0, 0.0))
    score = 0.7 * blobs + 0.55 * streaks + 0.2 * grain
    score = score + 1.4 * edge_strip - 1.2 * bead
    off_bead = material & ~bead
    shadow = np.zeros(shape, dtype=bool)
    if off_bead.any() and coverage > 0:
        thr = np.quantile(score[off_bead], 1.0 - coverage)
        shadow = off_bead & (score > thr)
    if bead.any() and max_bead_fraction > 0:
        bead_scores = score[bead]
        thr_b = max(np.quantile(bead_scores, 1.0 - max_bead_fraction), 1.6)
        shadow |= bead & (score > thr_b)
    shadow &= material
    # open tiny specks into the grainy look of real dropouts, then drop 1-pixel islands
    kernel = np.ones((2, 2), np.uint8)
    cleaned = cv2.morphologyEx(shadow.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    return cleaned.astype(bool)
