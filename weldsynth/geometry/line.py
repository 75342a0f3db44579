"""Centreline of a line-shaped bead: main axis, rough centreline, exact edges on cross-sections.

Used by :func:`weldsynth.geometry.locate` on the rough crest it found. The centreline follows
the measured centres of the cross-sections through a robust smoothing spline, so a bead that
bends sideways (robot drift, ``bead_deviation``) is followed while lone bad sections are not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solveh_banded
from scipy.ndimage import median_filter

from weldsynth.geometry.path import BeadPath
from weldsynth.geometry.profile import find_edges, sample_sections

BIN = 3.0
"""Length of one bin of crest pixels along the axis, in pixels."""
SECTION = 2.0
"""Spacing of the cross-sections along the centreline, in pixels."""
STEP = 4.0
"""Spacing of the centreline vertices along the axis, in pixels."""
STIFFNESS = 10.0
"""Weight of the second differences (per section) in the smoothing spline of the centres:
it follows a bend of the bead over 30 px within a few tenths of a pixel and averages the
noise of a section's centre over about five neighbours."""
CAP_WIDTH = 0.75
"""Sections narrower than this fraction of the median width (the rounded end caps) give no
centre: there the centreline goes on along its neighbours."""
REFIT = 0.2
"""When the centreline found leaves the rough one by more than this fraction of the width
and REFIT_MIN px (a bend), the sections are taken again centred on the centreline found."""
REFIT_MIN = 3.0
"""See REFIT (px)."""
OUTLIER_RUN = 9
"""Window (sections) of the running median that tells wrong sections from a bend."""
OUTLIER_MIN = 1.5
"""A section's centre this far (px) from the running median may be an outlier."""


@dataclass(frozen=True)
class LineFit:
    """A line bead.

    Attributes:
        path: The centreline with widths, in the direction of travel of the conventions.
        direction: Unit (dx, dy) of the main axis, pointing in the direction of travel.
        straightness: Fraction of the measured centre points within a quarter width (+1 px)
            of the fitted smooth centreline.
        support: Fraction of the cross-sections between the ends whose both edges were found.
        axis: Unit (dx, dy) of the main axis of the centreline, in the direction of travel:
            the straight line through the section centres (least squares, refitted without
            outliers), parallel to the chord of a gently curved bead; a bead that bent away
            at one end tilts it by about the offset over the length.
    """

    path: BeadPath
    direction: np.ndarray
    straightness: float
    support: float
    axis: np.ndarray


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
    xs: np.ndarray,
    ys: np.ndarray,
    weights: np.ndarray,
    image: np.ndarray,
    valid: np.ndarray,
    reach: int,
    pixel_area: float = 1.0,
) -> LineFit | None:
    """Fit the centreline of a line bead.

    A rough centreline comes from the crest pixels (main axis, then a low-order polynomial
    of the crest's centres along it); the edges found on cross-sections along it
    (:mod:`weldsynth.geometry.profile`) then give the exact centres, widths and ends, and
    the centreline follows the centres (:class:`_Centre`, a robust smoothing spline).

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
    cov = (
        np.array(
            [[np.sum(w * cx * cx), np.sum(w * cx * cy)], [np.sum(w * cx * cy), np.sum(w * cy * cy)]]
        )
        / w.sum()
    )
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
    frame = _Frame(
        mx, my, direction, image, valid, reach, int(np.ceil(max(12.0, 0.8 * w_rough) / SECTION))
    )
    cut = frame.cut(rough, u0, u0 + nb * BIN, ext)
    if cut is None:
        return None
    centre = _Centre.fit(cut.u, cut.v, cut.weight)
    off = np.abs(centre(cut.u) - rough(np.clip(cut.u, u0, u0 + nb * BIN)))
    if off.max() > max(REFIT_MIN, REFIT * cut.median_width):
        # the bead left the rough line (a bend): the sections may have missed its ends;
        # cut it again centred on the centreline found (still square to the rough line,
        # like the first sections, so their centres stay comparable)
        again = frame.cut(
            centre, float(cut.u[0]), float(cut.u[-1]), ext, across=(rough, u0, u0 + nb * BIN)
        )
        if again is not None:
            cut, centre = again, _Centre.fit(again.u, again.v, again.weight)
    ua, ue = cut.ends
    n_vert = max(2, int(np.ceil((ue - ua) / STEP)) + 1)
    uv = np.linspace(ua, ue, n_vert)
    vv = centre(uv)
    # a section crossing the bead obliquely measures its width over cos(angle)
    tilt = np.arctan(centre.slope(cut.u)) - cut.tilt
    widths = _smooth_widths(cut.u[cut.use], (cut.width * np.cos(tilt))[cut.use], uv)
    vert = np.stack([mx + uv * dx + vv * dy, my + uv * dy - vv * dx], axis=1)
    resid = np.abs(cut.v - centre(cut.u))[cut.use]
    straightness = float(np.mean(resid <= 0.25 * cut.median_width + 1.0))
    slope = _robust_slope(cut.u[cut.use], cut.v[cut.use])
    axis = travel_direction(np.array([dx + slope * dy, dy - slope * dx]))
    return LineFit(BeadPath(vert, widths), direction, straightness, cut.support, axis)


@dataclass(frozen=True)
class _Cut:
    """Centres and widths found on the cross-sections between the bead's ends, by ``u``.

    Attributes:
        u: Position along the axis of each section's centre (sorted).
        v: Offset of each section's centre from the axis.
        use: True where both edges were found.
        weight: Weight of each centre in the fit (0 where unused or in an end cap).
        width: Width measured along the section.
        tilt: Angle (rad) of the curve the sections were taken across, from the axis.
        ends: (u of the first, u of the last section) widened by half a section.
        support: Fraction of the sections between the ends with both edges found.
    """

    u: np.ndarray
    v: np.ndarray
    use: np.ndarray
    weight: np.ndarray
    width: np.ndarray
    tilt: np.ndarray
    ends: tuple[float, float]
    support: float

    @property
    def median_width(self) -> float:
        return float(np.median(self.width[self.use]))


@dataclass(frozen=True)
class _Frame:
    """The axis frame of one bead and what :meth:`cut` needs to take cross-sections."""

    mx: float
    my: float
    direction: np.ndarray
    image: np.ndarray
    valid: np.ndarray
    reach: int
    max_gap: int

    def cut(
        self,
        curve: _Poly | _Centre,
        u_lo: float,
        u_hi: float,
        ext: float,
        across: tuple[_Poly, float, float] | None = None,
    ) -> _Cut | None:
        """Cross-sections every SECTION px along ``curve`` (fitted over ``[u_lo, u_hi]``,
        straight beyond) from ``ext`` px before ``u_lo`` to ``ext`` px after ``u_hi``,
        square to it or to ``across`` (another curve and its fitted range); the bead runs
        over the longest run of sections that cross it (gaps of ``max_gap`` bridged).
        None when fewer than 4 sections there have both edges."""
        us = np.arange(u_lo - ext, u_hi + ext + 1e-9, SECTION)
        pts, nrm = _curve(us, curve, self.mx, self.my, self.direction, u_lo, u_hi)
        if across is not None:
            curve, u_lo, u_hi = across
            nrm = _curve(us, curve, self.mx, self.my, self.direction, u_lo, u_hi)[1]
        prof, has, in_img = sample_sections(
            self.image, self.valid, pts, nrm, self.reach, self.reach
        )
        sec = find_edges(prof, has, in_img, self.reach)
        run = _main_run(sec.core, max_gap=self.max_gap)
        if run is None:
            return None
        lo, hi = run
        span = slice(lo, hi + 1)
        use = sec.trusted[span]
        if use.sum() < 4:
            return None
        u, v = _axis_coords(
            pts[span] + sec.shift[span, None] * nrm[span], self.mx, self.my, self.direction
        )
        u = np.where(use, u, us[span])  # sections without both edges: placed, no weight
        order = np.argsort(u, kind="stable")
        u, v, use, width = u[order], v[order], use[order], sec.width[span][order]
        tilt = np.arctan(curve.slope(np.clip(us[span], u_lo, u_hi)))[order]
        weight = (use & (width >= CAP_WIDTH * np.median(width[use]))).astype(np.float64)
        return _Cut(
            u,
            v,
            use,
            weight,
            width,
            tilt,
            (float(us[lo] - 0.5 * SECTION), float(us[hi] + 0.5 * SECTION)),
            float(use.sum()) / (hi - lo + 1),
        )


def _axis_coords(
    p: np.ndarray, mx: float, my: float, direction: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) of image points: along the axis from (mx, my), and to its left."""
    dx, dy = direction
    return ((p[:, 0] - mx) * dx + (p[:, 1] - my) * dy, (p[:, 0] - mx) * dy - (p[:, 1] - my) * dx)


@dataclass(frozen=True)
class _Centre:
    """Centreline ``v(u)``: values at knots ``u``, linear in between, constant beyond."""

    knots: np.ndarray
    values: np.ndarray

    @classmethod
    def fit(cls, u: np.ndarray, v: np.ndarray, weight: np.ndarray) -> _Centre:
        """Fit the centres ``(u, v)`` (sorted by ``u``) with their weights.

        A robust smoothing spline (:func:`_robust_smooth`): it follows a bead that leaves
        its line over a few tens of pixels, bridges the sections without weight and
        ignores those that disagree with their neighbours.
        """
        if np.count_nonzero(weight) < 4:
            weight = np.ones(len(u))
        return cls(u, _robust_smooth(v, weight, STIFFNESS))

    def __call__(self, u: np.ndarray) -> np.ndarray:
        return np.interp(u, self.knots, self.values)

    def slope(self, u: np.ndarray) -> np.ndarray:
        """dv/du of the segment between knots that holds ``u`` (end segments beyond)."""
        if len(self.knots) < 2:
            return np.zeros_like(u)
        du = np.maximum(np.diff(self.knots), 1e-6)
        dv = np.diff(self.values) / du
        return dv[np.clip(np.searchsorted(self.knots, u) - 1, 0, len(dv) - 1)]


def _robust_smooth(y: np.ndarray, weight: np.ndarray, stiffness: float) -> np.ndarray:
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
    return _whittaker(y, w, stiffness)


def _whittaker(y: np.ndarray, w: np.ndarray, stiffness: float) -> np.ndarray:
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


def _curve(
    us: np.ndarray,
    poly: _Poly,
    mx: float,
    my: float,
    direction: np.ndarray,
    u_lo: float,
    u_hi: float,
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


def _robust_slope(u: np.ndarray, v: np.ndarray) -> float:
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
