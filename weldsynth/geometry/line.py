"""Centreline of a line-shaped bead: main axis, rough centreline, exact edges on cross-sections.

Used by :func:`weldsynth.geometry.locate` on the rough crest it found. The centreline follows
the measured centres of the cross-sections through a robust smoothing spline, so a bead that
bends sideways (robot drift, ``bead_deviation``) is followed while lone bad sections are not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from weldsynth.geometry.path import BeadPath
from weldsynth.geometry.profile import find_edges, sample_sections
from weldsynth.geometry.smoothing import (
    Centre,
    Poly,
    robust_poly,
    robust_slope,
    smooth_widths,
)

BIN = 3.0
"""Length of one bin of crest pixels along the axis, in pixels."""
SECTION = 2.0
"""Spacing of the cross-sections along the centreline, in pixels."""
STEP = 4.0
"""Spacing of the centreline vertices along the axis, in pixels."""
CAP_WIDTH = 0.75
"""Sections narrower than this fraction of the median width (the rounded end caps) give no
centre: there the centreline goes on along its neighbours."""
REFIT = 0.2
"""When the centreline found leaves the rough one by more than this fraction of the width
and REFIT_MIN px (a bend), the sections are taken again centred on the centreline found."""
REFIT_MIN = 3.0
"""See REFIT (px)."""


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
    along: int | None = None,
) -> LineFit | None:
    """Fit the centreline of a line bead.

    A rough centreline comes from the crest pixels (main axis, then a low-order polynomial
    of the crest's centres along it); the edges found on cross-sections along it
    (:mod:`weldsynth.geometry.profile`) then give the exact centres, widths and ends, and
    the centreline follows the centres (:class:`Centre`, a robust smoothing spline).

    Args:
        xs: x of the crest pixels (full-resolution coordinates).
        ys: y of the crest pixels.
        weights: Ridge height of each crest pixel (weights the main axis).
        image: float32 (H, W) heights, 0 where there is no data.
        valid: float32 (H, W) 1 where there is data.
        reach: Length of the cross-sections on each side of the centre, in pixels.
        pixel_area: Full-resolution area of one crest pixel (4 for a half-resolution crest).
        along: 0 (1) when the bead crosses the map along x (y): the main axis is then the
            one closer to that axis, whatever the crest's shape (a bead wider than the map
            is long has a crest wider than long).

    Returns:
        The :class:`LineFit`, or None when the pixels do not form a usable line.
    """
    if len(xs) < 10:
        return None
    mx, my, direction = _main_axis(xs, ys, weights)
    if along is not None and abs(direction[along]) < abs(direction[1 - along]):
        direction = np.array([1.0, 0.0]) if along == 0 else np.array([0.0, 1.0])
    dx, dy = direction
    cx, cy = xs - mx, ys - my
    rough = _rough_centre(cx * dx + cy * dy, cx * dy - cy * dx)
    if rough is None:
        return None
    poly, u0, u1, bin_count = rough
    # cross-sections every SECTION px along the rough centreline, a little beyond its ends
    w_rough = bin_count * pixel_area / BIN
    ext = 0.5 * w_rough + 0.15 * reach + 4.0
    frame = _Frame(
        mx, my, direction, image, valid, reach, int(np.ceil(max(12.0, 0.8 * w_rough) / SECTION))
    )
    cut = frame.cut(poly, u0, u1, ext)
    if cut is None:
        return None
    centre = Centre.fit(cut.u, cut.v, cut.weight)
    off = np.abs(centre(cut.u) - poly(np.clip(cut.u, u0, u1)))
    if off.max() > max(REFIT_MIN, REFIT * cut.median_width):
        # the bead left the rough line (a bend): the sections may have missed its ends;
        # cut it again centred on the centreline found (still square to the rough line,
        # like the first sections, so their centres stay comparable)
        again = frame.cut(centre, float(cut.u[0]), float(cut.u[-1]), ext, across=(poly, u0, u1))
        if again is not None:
            cut, centre = again, Centre.fit(again.u, again.v, again.weight)
    return _line_fit(frame, cut, centre)


def _main_axis(
    xs: np.ndarray, ys: np.ndarray, weights: np.ndarray
) -> tuple[float, float, np.ndarray]:
    """Weighted centroid (mx, my) of the crest pixels and their main axis (unit, in the
    direction of travel): the principal eigenvector of their weighted covariance."""
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
    return mx, my, travel_direction(evecs[:, 1])


def _rough_centre(u: np.ndarray, v: np.ndarray) -> tuple[Poly, float, float, float] | None:
    """Rough centreline of the crest pixels at axis coordinates (u, v): a robust polynomial
    of the mean ``v`` of each BIN px along ``u``.

    Returns:
        (polynomial, first u, last u of its bins, median pixels per bin), or None when the
        crest spans fewer than 4 bins.
    """
    u0 = float(u.min())
    nb = int((u.max() - u0) // BIN) + 1
    if nb < 4:
        return None
    idx = ((u - u0) // BIN).astype(np.intp)
    count = np.bincount(idx, minlength=nb).astype(np.float64)
    vsum = np.bincount(idx, weights=v, minlength=nb)
    ok = count > 0
    ub = u0 + (np.arange(nb) + 0.5) * BIN
    poly = robust_poly(ub[ok], vsum[ok] / count[ok], count[ok])
    return poly, u0, u0 + nb * BIN, float(np.median(count[ok]))


def _line_fit(frame: _Frame, cut: _Cut, centre: Centre) -> LineFit:
    """The :class:`LineFit` of the centreline ``centre`` fitted to the sections ``cut``."""
    mx, my = frame.mx, frame.my
    dx, dy = frame.direction
    ua, ue = cut.ends
    n_vert = max(2, int(np.ceil((ue - ua) / STEP)) + 1)
    uv = np.linspace(ua, ue, n_vert)
    vv = centre(uv)
    # a section crossing the bead obliquely measures its width over cos(angle)
    tilt = np.arctan(centre.slope(cut.u)) - cut.tilt
    widths = smooth_widths(cut.u[cut.use], (cut.width * np.cos(tilt))[cut.use], uv)
    vert = np.stack([mx + uv * dx + vv * dy, my + uv * dy - vv * dx], axis=1)
    resid = np.abs(cut.v - centre(cut.u))[cut.use]
    straightness = float(np.mean(resid <= 0.25 * cut.median_width + 1.0))
    slope = robust_slope(cut.u[cut.use], cut.v[cut.use])
    axis = travel_direction(np.array([dx + slope * dy, dy - slope * dx]))
    return LineFit(BeadPath(vert, widths), frame.direction, straightness, cut.support, axis)


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
        curve: Poly | Centre,
        u_lo: float,
        u_hi: float,
        ext: float,
        across: tuple[Poly, float, float] | None = None,
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


def _curve(
    us: np.ndarray,
    poly: Poly,
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
