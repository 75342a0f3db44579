"""Centreline of a closed (square) bead: the ring's midline, its corners and widths.

Used by :func:`weldsynth.geometry.locate` on a bead mask that encloses a hole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from weldsynth.geometry.path import BeadPath
from weldsynth.geometry.profile import find_edges, sample_sections

STEP = 4.0
"""Spacing of the centreline vertices, in pixels."""
SECTION = 2.0
"""Spacing of the cross-sections along the rough midline, in pixels."""
PASSES = 2
"""Rounds of cross-sections (each along the centreline the previous one found)."""


@dataclass(frozen=True)
class ClosedFit:
    """A closed bead found in a ring mask.

    Attributes:
        path: Closed, clockwise centreline with widths.
        corners: Arc lengths of the corners along ``path``.
        inside: bool (H, W), pixels enclosed by the centreline.
        support: Fraction of the cross-sections (last pass) that crossed the bead, both
            edges found.
        open_px: Longest run along the path (px) of sections that did not.
    """

    path: BeadPath
    corners: tuple[float, ...]
    inside: np.ndarray
    support: float = 1.0
    open_px: float = 0.0


def ring_hole(mask: np.ndarray, min_area: float) -> np.ndarray | None:
    """The largest hole of ``mask`` (bool (H, W)) when it has at least ``min_area`` pixels."""
    contours, hierarchy = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE
    )
    if hierarchy is None:
        return None
    best, best_area = None, float(min_area)
    for i, h in enumerate(hierarchy[0]):
        if h[3] < 0:
            continue  # an outer boundary, not a hole
        area = cv2.contourArea(contours[i])
        if area >= best_area:
            best, best_area = contours[i], area
    if best is None:
        return None
    hole = np.zeros(mask.shape, np.uint8)
    cv2.drawContours(hole, [best], -1, 1, thickness=cv2.FILLED)
    return (hole > 0) & ~mask


def fit_closed(
    ring: np.ndarray,
    hole: np.ndarray,
    to_full: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    scale: tuple[float, float],
    image: np.ndarray,
    valid: np.ndarray,
) -> ClosedFit | None:
    """Fit the centreline of a ring-shaped bead.

    The rough midline is the boundary between the ring pixels nearer the hole and those
    nearer the outside; edges found on cross-sections along it give the exact centre and
    width (:mod:`weldsynth.geometry.profile`); corners are where the heading has turned
    half-way between two sides.

    Args:
        ring: bool rough bead pixels (the ring, small gaps filled), possibly reduced.
        hole: bool the enclosed hole, same resolution as ``ring``.
        to_full: Maps (x, y) of ``ring`` pixels to full-resolution coordinates.
        scale: (sx, sy) full-resolution pixels per ``ring`` pixel.
        image: float32 (H, W) full-resolution heights, 0 where there is no data.
        valid: float32 (H, W) 1 where there is data.

    Returns:
        The :class:`ClosedFit`, or None when no usable midline is found.
    """
    filled = (ring | hole).astype(np.uint8)
    outer = np.pad(filled, 1)  # the image border counts as outside
    a = exact_distance(outer)[1:-1, 1:-1]
    b = exact_distance((~hole).astype(np.uint8))
    # pixels nearer the hole than the outside, plus the hole: its boundary is the midline
    inner = (hole | ((filled > 0) & (b <= a))).astype(np.uint8)
    contours, _ = cv2.findContours(inner, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    c = max(contours, key=cv2.contourArea).reshape(-1, 2)
    if len(c) < 12:
        return None
    px = float(np.mean(scale))
    rough_w = px * float(np.median(a[c[:, 1], c[:, 0]] + b[c[:, 1], c[:, 0]]))
    hole_in = px * float(cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3).max())
    c = _smooth_closed_pts(_clockwise(c.astype(np.float64)), 3)
    fx, fy = to_full(c[:, 0], c[:, 1])
    pts = _resample_closed(np.stack([fx, fy], axis=1), SECTION)
    if len(pts) < 8:
        return None
    reach_out = int(np.ceil(0.5 * rough_w + 12.0))
    reach_in = int(np.clip(0.5 * rough_w + 0.9 * hole_in, 3, reach_out))
    for _ in range(PASSES):  # the second pass starts from the first one's centreline
        nrm = _normals(pts)
        prof, has, in_img = sample_sections(image, valid, pts, nrm, reach_out, reach_in)
        sec = find_edges(prof, has, in_img, reach_in)
        good = sec.trusted
        if good.sum() < 0.3 * len(pts):
            return None
        shift = _circular_fill(np.where(good, sec.shift, np.nan))
        width = _circular_fill(np.where(good, sec.width, np.nan))
        shift = _circular_mean(_circular_median(shift, 5), 3)
        width = _circular_median(width, 7)
        pts = _resample_closed(pts + shift[:, None] * nrm, SECTION)
        width = np.interp(
            np.linspace(0, 1, len(pts), endpoint=False),
            np.linspace(0, 1, len(width), endpoint=False),
            width,
        )
    pts, width, corners = _corners_and_start(pts, width)
    keep = np.arange(0, len(pts), max(1, round(STEP / SECTION)))
    path = BeadPath(pts[keep], width[keep], closed=True)
    knots = np.append(keep, len(pts))
    corners = tuple(float(np.interp(c, knots, path.arc)) for c in corners)
    inside = np.zeros(image.shape, np.uint8)
    cv2.fillPoly(inside, [np.rint(path.points * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    return ClosedFit(path, corners, inside > 0, float(good.mean()), SECTION * _longest_gap(good))


def _longest_gap(good: np.ndarray) -> int:
    """Longest circular run of False in ``good``."""
    if good.all():
        return 0
    if not good.any():
        return len(good)
    bad = np.roll(~good, -int(np.argmax(good)))  # start on a True: no run wraps around
    edges = np.flatnonzero(np.diff(np.concatenate([[0], bad.astype(np.int8), [0]])))
    return int(np.max(edges[1::2] - edges[::2]))


def exact_distance(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance of every non-zero pixel of ``mask`` to the nearest zero pixel.

    OpenCV's exact transform can be off by an ulp depending on the process (memory
    layout), which flips ties such as ``b <= a`` and so changes the located path between
    processes; the squared distance is an integer, so rounding it gives the same float
    everywhere (generate's output is then the same from any worker or engine).
    """
    d = cv2.distanceTransform(mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE).astype(np.float64)
    return np.sqrt(np.rint(d * d)).astype(np.float32)


def _clockwise(poly: np.ndarray) -> np.ndarray:
    """Clockwise on screen = positive shoelace area in image coordinates (y down)."""
    x, y = poly[:, 0], poly[:, 1]
    area = 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)
    return poly if area > 0 else poly[::-1].copy()


def _smooth_closed_pts(pts: np.ndarray, k: int) -> np.ndarray:
    kernel = np.ones(k) / k
    pad = np.concatenate([pts[-(k // 2) :], pts, pts[: k // 2]])
    return np.stack([np.convolve(pad[:, i], kernel, mode="valid") for i in (0, 1)], axis=1)


def _resample_closed(pts: np.ndarray, step: float) -> np.ndarray:
    closed = np.vstack([pts, pts[:1]])
    seg = np.hypot(*np.diff(closed, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(3, round(arc[-1] / step))
    s = np.linspace(0.0, arc[-1], n, endpoint=False)
    return np.stack([np.interp(s, arc, closed[:, 0]), np.interp(s, arc, closed[:, 1])], axis=1)


def _normals(pts: np.ndarray) -> np.ndarray:
    """Unit left normals (outwards for a clockwise path) from central differences."""
    t = np.roll(pts, -2, axis=0) - np.roll(pts, 2, axis=0)
    t /= np.maximum(np.hypot(t[:, 0], t[:, 1]), 1e-9)[:, None]
    return np.stack([t[:, 1], -t[:, 0]], axis=1)


def _circular_fill(values: np.ndarray) -> np.ndarray:
    bad = np.isnan(values)
    if not bad.any():
        return values
    n = len(values)
    idx = np.arange(n)
    good = idx[~bad]
    xp = np.concatenate([good - n, good, good + n])
    fp = np.tile(values[~bad], 3)
    return np.interp(idx, xp, fp)


def _circular_median(values: np.ndarray, k: int) -> np.ndarray:
    if len(values) < k:
        return values
    pad = np.concatenate([values[-(k // 2) :], values, values[: k // 2]])
    return np.median(np.lib.stride_tricks.sliding_window_view(pad, k), axis=1)


def _circular_mean(values: np.ndarray, k: int) -> np.ndarray:
    pad = np.concatenate([values[-(k // 2) :], values, values[: k // 2]])
    return np.convolve(pad, np.ones(k) / k, mode="valid")


def _corners_and_start(
    pts: np.ndarray, width: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Corners (as fractional point indices) and the path rotated to start mid top side.

    Sides share one orientation modulo 90 degrees; a corner is where the smoothed heading
    crosses the half-way direction between two sides (the middle of a rounded corner).
    """
    t = np.roll(pts, -3, axis=0) - np.roll(pts, 3, axis=0)
    heading = np.unwrap(np.arctan2(t[:, 1], t[:, 0]))
    # common side orientation modulo 90 degrees, from the straight parts
    turn = np.abs(np.diff(np.append(heading, heading[0] + 2 * np.pi)))
    straight = turn < np.radians(4.0)
    z = np.exp(4j * heading[straight if straight.sum() > 8 else slice(None)])
    alpha = float(np.angle(z.mean()) / 4.0)
    n = len(pts)
    idx = np.arange(n, dtype=np.float64)
    rel = heading - alpha - np.pi / 4
    corners = []
    k0 = int(np.ceil(rel[0] / (np.pi / 2)))
    k1 = int(np.floor(rel[-1] / (np.pi / 2)))
    for k in range(k0, k1 + 1):
        target = k * np.pi / 2
        j = int(np.argmax(rel >= target))
        if j == 0:
            corners.append(0.0)
            continue
        f = (target - rel[j - 1]) / max(rel[j] - rel[j - 1], 1e-9)
        corners.append(float(j - 1 + np.clip(f, 0.0, 1.0)))
    corners = sorted(c % n for c in corners)
    if len(corners) >= 2:
        # start in the middle of the highest side (the top of the rectangle)
        mids = []
        for i, c in enumerate(corners):
            nxt = corners[(i + 1) % len(corners)] + (n if i + 1 == len(corners) else 0)
            m = 0.5 * (c + nxt)
            mids.append((float(np.interp(m % n, idx, pts[:, 1], period=n)), m % n))
        start = min(mids)[1]
    else:
        start = float(np.argmin(pts[:, 1]))
    shift = round(start) % n
    pts = np.roll(pts, -shift, axis=0)
    width = np.roll(width, -shift)
    corners = sorted((c - shift) % n for c in corners)
    return pts, width, corners
