"""Robust fits of a line bead's centre and widths, used by :mod:`weldsynth.geometry.line`.

The rough centreline is a low-order polynomial of the crest (:func:`robust_poly`); the
exact one follows the section centres through a robust smoothing spline (:class:`Centre`,
:func:`robust_smooth`, a Whittaker smoother without the values that disagree with their
neighbours); the axis is a straight line through the centres (:func:`robust_slope`); widths
are a running median (:func:`smooth_widths`). Each refit drops outliers by a robust sigma.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solveh_banded
from scipy.ndimage import median_filter

STIFFNESS = 10.0
"""Weight of the second differences (per section) in the smoothing spline of the centres:
it follows a bend of the bead over 30 px within a few tenths of a pixel and averages the
noise of a section's centre over about five neighbours."""


OUTLIER_RUN = 9
"""Window (sections) of the running median that tells wrong sections from a bend."""
OUTLIER_MIN = 1.5
"""A section's centre this far (px) from the running median may be an outlier."""


@dataclass(frozen=True)
class Poly:
    """Polynomial in a normalised variable ``t = (u - mu) / scale``."""

    coef: np.ndarray
    mu: float
    scale: float

    def __call__(self, u: np.ndarray) -> np.ndarray:
        """Value at ``u``."""
        return np.polyval(self.coef, (u - self.mu) / self.scale)

    def slope(self, u: np.ndarray) -> np.ndarray:
        """dv/du at ``u``."""
        if len(self.coef) < 2:
            return np.zeros_like(u)
        return np.polyval(np.polyder(self.coef), (u - self.mu) / self.scale) / self.scale


@dataclass(frozen=True)
class Centre:
    """Centreline ``v(u)``: values at knots ``u``, linear in between, constant beyond."""

    knots: np.ndarray
    values: np.ndarray

    @classmethod
    def fit(cls, u: np.ndarray, v: np.ndarray, weight: np.ndarray) -> Centre:
        """Fit the centres ``(u, v)`` (sorted by ``u``) with their weights.

        A robust smoothing spline (:func:`robust_smooth`): it follows a bead that leaves
        its line over a few tens of pixels, bridges the sections without weight and
        ignores those that disagree with their neighbours.
        """
        if np.count_nonzero(weight) < 4:
            weight = np.ones(len(u))
        return cls(u, robust_smooth(v, weight, STIFFNESS))

    def __call__(self, u: np.ndarray) -> np.ndarray:
        """Value at ``u`` (linear between knots, constant beyond)."""
        return np.interp(u, self.knots, self.values)

    def slope(self, u: np.ndarray) -> np.ndarray:
        """dv/du of the segment between knots that holds ``u`` (end segments beyond)."""
        if len(self.knots) < 2:
            return np.zeros_like(u)
        du = np.maximum(np.diff(self.knots), 1e-6)
        dv = np.diff(self.values) / du
        return dv[np.clip(np.searchsorted(self.knots, u) - 1, 0, len(dv) - 1)]


def robust_smooth(y: np.ndarray, weight: np.ndarray, stiffness: float) -> np.ndarray:
    """Smoothing spline of ``y`` over its index without the values that do not fit.

    A value off the running median of its weighted neighbours (window ``OUTLIER_RUN``) by
    more than 4 robust sigmas and ``OUTLIER_MIN`` px loses its weight: a bend of the bead
    passes a running median unchanged, a few wrong sections do not. Values with weight 0
    never count (the curve bridges them).
    """
    w = np.asarray(weight, dtype=np.float64).copy()
    used = np.flatnonzero(w > 0)
    if len(used) > OUTLIER_RUN:
        r = np.abs(y[used] - median_filter(y[used], OUTLIER_RUN, mode="nearest"))
        cut = max(OUTLIER_MIN, 4.0 * 1.4826 * float(np.median(r)))
        w[used[r > cut]] = 0.0
    return whittaker(y, w, stiffness)


def whittaker(y: np.ndarray, w: np.ndarray, stiffness: float) -> np.ndarray:
    """Whittaker smoother: argmin of sum w (y - z)^2 + stiffness * sum (second diff z)^2.

    A banded (pentadiagonal) solve; with fewer than 5 values, or fewer than 2 weighted
    ones, the weighted mean.
    """
    n = len(y)
    if n < 5 or np.count_nonzero(w) < 2:
        return np.full(n, float(np.average(y, weights=w)) if w.sum() > 0 else 0.0)
    # D'D for second differences, upper banded form for solveh_banded
    ab = np.zeros((3, n))
    ab[0, 2:] = stiffness
    ab[1, 1:] = -4.0 * stiffness
    ab[1, [1, n - 1]] = -2.0 * stiffness
    ab[2] = 6.0 * stiffness
    ab[2, [0, n - 1]] = stiffness
    ab[2, [1, n - 2]] = 5.0 * stiffness
    ab[2] += w
    return solveh_banded(ab, w * y, check_finite=False)


def robust_slope(u: np.ndarray, v: np.ndarray) -> float:
    """Slope of the straight line v(u) through the points, refitted without outliers twice
    (points off by more than 3 robust sigmas and 1.5 px)."""
    keep = np.ones(len(u), dtype=bool)
    slope = 0.0
    for _ in range(3):
        uk, vk = u[keep], v[keep]
        du = uk - uk.mean()
        slope = float(np.dot(du, vk - vk.mean()) / max(float(np.dot(du, du)), 1e-12))
        r = np.abs(v - vk.mean() - slope * (u - uk.mean()))
        new = r <= max(1.5, 3.0 * 1.4826 * float(np.median(r[keep])))
        if new.sum() < 3 or np.array_equal(new, keep):
            break
        keep = new
    return slope


def robust_poly(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> Poly:
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
    return Poly(coef, mu, scale)


def smooth_widths(u: np.ndarray, wb: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Widths at ``uv`` from measured widths at ``u``: running median, then interpolation."""
    k = 5
    if len(wb) >= k:
        pad = np.pad(wb, k // 2, mode="edge")
        wb = np.median(np.lib.stride_tricks.sliding_window_view(pad, k), axis=1)
    return np.interp(uv, u, wb)
