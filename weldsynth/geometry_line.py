"""Centreline of a line-shaped bead: main axis, rough centreline, exact edges on cross-sections.

Used by :func:`weldsynth.geometry.locate` on the rough crest it found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from weldsynth.geometry_profile import find_edges, sample_sections
from weldsynth.path import BeadPath

BIN = 3.0
"""Length of one bin of crest pixels along the axis, in pixels."""
SECTION = 2.0
"""Spacing of the cross-sections along the centreline, in pixels."""
STEP = 4.0
"""Spacing of the centreline vertices along the axis, in pixels."""


@dataclass(frozen=True)
class LineFit:
    """A line bead.

    Attributes:
        path: The centreline with widths, in the direction of travel of the conventions.
        direction: Unit (dx, dy) of the main axis, pointing in the direction of travel.
        straightness: Fraction of the measured centre points within a quarter width (+1 px)
            of the fitted smooth centreline.
        support: Fraction of the cross-sections between the ends whose both edges were found.
    """

    path: BeadPath
    direction: np.ndarray
    straightness: float
    support: float


@dataclass(frozen=True)
class _Poly:
    """Polynomial in a normalised variable ``t = (u - mu) / scale``."""

    coef: np.ndarray
    mu: float
    scale: float

    def __call__(self, u: np.ndarray) -> np.ndarray:
        return np.polyval(self.coef, (u - self.mu) / self.scale)

    def slope(self, u: np.ndarray) -> np.ndarray:
        if len(self.coef) < 2:
            return np.zeros_like(u)
        return np.polyval(np.polyder(self.coef), (u - self.mu) / self.scale) / self.scale


def travel_direction(vec: np.ndarray) -> np.ndarray:
    """Unit axis direction turned to the travel convention (+x when closer to horizontal)."""
    d = np.asarray(vec, dtype=np.float64)
    d = d / max(float(np.hypot(d[0], d[1])), 1e-12)
    key = d[0] if abs(d[0]) >= abs(d[1]) else d[1]
    return -d if key < 0 else d


def fit_line(
    xs: np.ndarray, ys: np.ndarray, weights: np.ndarray, image: np.ndarray, valid: np.ndarray,
    reach: int, pixel_area: float = 1.0,
) -> LineFit | None:
    """Fit the centreline of a line bead.

    A rough centreline comes from the crest pixels (main axis, then a low-order polynomial
    of the crest's centres along it); the edges found on cross-sections along it
    (:mod:`weldsynth.geometry_profile`) then give the exact centre, width and ends.

    Args:
        xs: x of the crest pixels (full-resolution coordinates).
        ys: y of the crest pixels.
        weights: Ridge height of each crest pixel (weights the main axis).
        image: float32 (H, W) heights, 0 where there is no data.
        valid: float32 (H, W) 1 where there is data.
        reach: Length of the cross-sections on each side of the centre, in pixels.
        pixel_area: Full-resolution area of one crest pixel (4 for a half-resolution crest).

    Returns:
        The :class:`LineFit`, or None when the pixels do not form a usable line.
    """
    if len(xs) < 10:
        return None
    w = np.maximum(weights, 1e-6)
    mx = float(np.average(xs, weights=w))
    my = float(np.average(ys, weights=w))
    cx, cy = xs - mx, ys - my
    cov = np.array([[np.sum(w * cx * cx), np.sum(w * cx * cy)],
                    [np.sum(w * cx * cy), np.sum(w * cy * cy)]]) / w.sum()
    _, evecs = np.linalg.eigh(cov)
    direction = travel_direction(evecs[:, 1])
    dx, dy = direction
    u = cx * dx + cy * dy
    v = cx * dy - cy * dx
    u0 = float(u.min())
    nb = int((u.max() - u0) // BIN) + 1
    if nb < 4:
        return None
    idx = ((u - u0) // BIN).astype(np.intp)
    count = np.bincount(idx, minlength=nb).astype(np.float64)
    vsum = np.bincount(idx, weights=v, minlength=nb)
    ok = count > 0
    ub = u0 + (np.arange(nb) + 0.5) * BIN
    rough = _robust_poly(ub[ok], vsum[ok] / count[ok], count[ok])
    # cross-sections every SECTION px along the rough centreline, a little beyond its ends
    w_rough = float(np.median(count[ok])) * pixel_area / BIN
    ext = 0.5 * w_rough + 0.15 * reach + 4.0
    us = np.arange(u0 - ext, u0 + nb * BIN + ext + 1e-9, SECTION)
    pts, nrm = _curve(us, rough, mx, my, direction, u0, u0 + nb * BIN)
    prof, has, in_img = sample_sections(image, valid, pts, nrm, reach, reach)
    sec = find_edges(prof, has, in_img, reach)
    run = _main_run(sec.core, max_gap=int(np.ceil(max(12.0, 0.8 * w_rough) / SECTION)))
    if run is None:
        return None
    lo, hi = run
    good = np.zeros(len(us), bool)
    good[lo : hi + 1] = sec.trusted[lo : hi + 1]
    if good.sum() < 4:
        return None
    refined = pts[good] + sec.shift[good, None] * nrm[good]
    ru = (refined[:, 0] - mx) * dx + (refined[:, 1] - my) * dy
    rv = (refined[:, 0] - mx) * dy - (refined[:, 1] - my) * dx
    fine = _robust_poly(ru, rv, np.ones(len(ru)))
    ua, ue = float(us[lo] - 0.5 * SECTION), float(us[hi] + 0.5 * SECTION)
    n_vert = max(2, int(np.ceil((ue - ua) / STEP)) + 1)
    uv = np.linspace(ua, ue, n_vert)
    vv = fine(uv)
    widths = _smooth_widths(ru, sec.width[good], uv)
    vert = np.stack([mx + uv * dx + vv * dy, my + uv * dy - vv * dx], axis=1)
    resid = np.abs(rv - fine(ru))
    straightness = float(np.mean(resid <= 0.25 * np.median(sec.width[good]) + 1.0))
    return LineFit(BeadPath(vert, widths), direction, straightness,
                   float(good.sum()) / (hi - lo + 1))


def _curve(
    us: np.ndarray, poly: _Poly, mx: float, my: float, direction: np.ndarray,
    u_lo: float, u_hi: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Points and unit left normals of the curve ``v = poly(u)`` in image coordinates.

    Beyond ``[u_lo, u_hi]`` (where the polynomial was fitted) the curve goes on straight
    along its end tangent instead of following the polynomial's extrapolation.
    """
    dx, dy = direction
    uc = np.clip(us, u_lo, u_hi)
    slope = poly.slope(uc)
    vs = poly(uc) + slope * (us - uc)
    pts = np.stack([mx + us * dx + vs * dy, my + us * dy - vs * dx], axis=1)
    tx, ty = dx + slope * dy, dy - slope * dx
    norm = np.hypot(tx, ty)
    return pts, np.stack([ty / norm, -tx / norm], axis=1)


def _main_run(flags: np.ndarray, max_gap: int, min_run: int = 3) -> tuple[int, int] | None:
    """(first, last) index of the longest run of True, bridging gaps up to ``max_gap``.

    Runs shorter than ``min_run`` are dropped first (specks beside the bead's ends).
    """
    f = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(f))
    starts, stops = edges[::2], edges[1::2]  # run i covers [starts[i], stops[i])
    if len(starts) == 0:
        return None
    keep = stops - starts >= min_run
    if not keep.any():
        keep = stops - starts == (stops - starts).max()
    starts, stops = starts[keep], stops[keep] - 1
    breaks = np.flatnonzero(starts[1:] - stops[:-1] > max_gap + 1)
    first = np.concatenate([[0], breaks + 1])
    last = np.concatenate([breaks, [len(starts) - 1]])
    best = int(np.argmax(stops[last] - starts[first]))
    return int(starts[first[best]]), int(stops[last[best]])


def _robust_poly(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> _Poly:
    """Low-order polynomial v(u) (degree by span), refitted without outliers twice."""
    span = float(u.max() - u.min())
    deg = 3 if span > 120 else 2 if span > 40 else 1
    deg = min(deg, max(0, len(u) - 2))
    scale = max(span / 2, 1.0)
    mu = float(u.mean())
    t = (u - mu) / scale
    a = np.vander(t, deg + 1)
    sw = np.sqrt(w)
    keep = np.ones(len(u), dtype=bool)
    coef = np.zeros(deg + 1)
    for _ in range(3):
        coef = np.linalg.lstsq(a[keep] * sw[keep, None], v[keep] * sw[keep], rcond=None)[0]
        r = np.abs(v - a @ coef)
        cut = max(1.5, 3.0 * 1.4826 * float(np.median(r[keep])))
        new = r <= cut
        if new.sum() < deg + 2 or np.array_equal(new, keep):
            break
        keep = new
    return _Poly(coef, mu, scale)


def _smooth_widths(u: np.ndarray, wb: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Widths at ``uv`` from measured widths at ``u``: running median, then interpolation."""
    k = 5
    if len(wb) >= k:
        pad = np.pad(wb, k // 2, mode="edge")
        wb = np.median(np.lib.stride_tricks.sliding_window_view(pad, k), axis=1)
    return np.interp(uv, u, wb)
