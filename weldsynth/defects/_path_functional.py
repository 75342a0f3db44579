"""Pure helpers for defects that reshape the bead along a section of its path.

Shared by ``bead_deviation``, ``excess_material`` and ``missing_plate``: fast path
coordinates of the pixels of a box near a local centreline (:func:`path_field`), smooth
along-the-bead weights, a texture-keeping resampler, and the straight runs of a closed path.
No randomness, no plugin state.

:meth:`weldsynth.path.BeadPath.project` costs O(pixels x segments) (20-60 ms for a whole
bead); :func:`path_field` finds each pixel's nearest vertex of a densified centreline with
one OpenCV distance transform and projects it on the few segments around that vertex only,
so a whole bead takes about a millisecond.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from weldsynth.defects import functional as F
from weldsynth.path import BeadPath

Band = tuple[float, float] | Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""Offsets a caller needs: fixed (lo, hi), or (lo, hi) arrays as a function of arc length."""

STEP = 2.0
"""Largest spacing of the densified centreline vertices, px."""
TEXTURE_SIGMA = 1.0
"""Gaussian sigma (px) separating the smooth surface from its fine texture when resampling."""


@dataclass(frozen=True)
class PathField:
    """Path coordinates of the pixels of a box near a local centreline.

    Every array has one entry per such pixel (``iy``, ``ix`` are its row and column in the
    box), so the maths runs on the band around the bead only.

    Attributes:
        iy: Row of the pixel in the box.
        ix: Column of the pixel in the box.
        x: Image x of the pixel.
        y: Image y of the pixel.
        s: Arc length of the nearest centreline point (from the first local point).
        d: Signed distance to the centreline (+ left of travel); past an open end, the
            offset across the end normal.
        e: Signed offset along the (smoothly interpolated) normal; equals ``d`` except in
            the fan outside a sharp corner and past open ends.
        fx: Image x of the nearest centreline point (the foot).
        fy: Image y of the foot.
        beyond: Distance past an open end along its tangent (0 elsewhere).
        nx: x of the unit normal at ``s`` (interpolated between vertices).
        ny: y of the unit normal.
        width: Bead width at ``s``.
    """

    iy: np.ndarray
    ix: np.ndarray
    x: np.ndarray
    y: np.ndarray
    s: np.ndarray
    d: np.ndarray
    e: np.ndarray
    fx: np.ndarray
    fy: np.ndarray
    beyond: np.ndarray
    nx: np.ndarray
    ny: np.ndarray
    width: np.ndarray


def _densify(points: np.ndarray, widths: np.ndarray, closed: bool
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices every <= STEP px (closed: first repeated at the end), their arc and width."""
    verts = np.vstack([points, points[:1]]) if closed else points
    wv = np.append(widths, widths[0]) if closed else widths
    seg = np.diff(verts, axis=0)
    seg_len = np.hypot(seg[:, 0], seg[:, 1])
    arc = np.concatenate([[0.0], np.cumsum(seg_len)])
    n_sub = np.maximum(1, np.ceil(seg_len / STEP)).astype(int)
    owner = np.repeat(np.arange(len(seg)), n_sub)
    first = np.repeat(np.cumsum(n_sub) - n_sub, n_sub)
    frac = (np.arange(len(owner)) - first) / n_sub[owner]
    dense = np.vstack([verts[owner] + frac[:, None] * seg[owner], verts[-1:]])
    dense_arc = np.append(arc[owner] + frac * seg_len[owner], arc[-1])
    dense_w = np.interp(dense_arc, arc, wv)
    return dense, dense_arc, dense_w


def path_field(points: np.ndarray, widths: np.ndarray, closed: bool, box: F.Box,
               reach: float, band: Band | None = None) -> PathField:
    """Path coordinates of the box pixels within ``reach`` px of a polyline.

    The selection is generous: a few pixels up to ~3.5 px beyond ``reach`` or ``band`` may
    be included (callers apply their exact conditions), none inside is left out.

    Args:
        points: (K, 2) centreline vertices (closed: last not repeated).
        widths: (K,) bead widths at the vertices.
        closed: True when the polyline closes on itself.
        box: Half-open pixel box (x0, y0, x1, y1).
        reach: Largest distance from the centreline of the pixels returned.
        band: Optional (lo, hi), or a function of arc length returning (lo, hi) arrays:
            only pixels whose signed offset ``e`` lies in it (saves the work on the parts
            a defect does not touch).
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    wid = np.asarray(widths, dtype=np.float64).reshape(-1)
    dense, arc, dw = _densify(pts, wid, closed)
    n_seg = len(dense) - 1
    x0, y0, x1, y1 = box
    # working canvas: the box plus every vertex (vertices may lie outside the image)
    cx0 = min(x0, int(np.floor(dense[:, 0].min())) - 1)
    cy0 = min(y0, int(np.floor(dense[:, 1].min())) - 1)
    cx1 = max(x1, int(np.ceil(dense[:, 0].max())) + 2)
    cy1 = max(y1, int(np.ceil(dense[:, 1].max())) + 2)
    canvas = np.ones((cy1 - cy0, cx1 - cx0), np.uint8)
    n_seed = n_seg if closed else n_seg + 1
    sx = np.rint(dense[:n_seed, 0]).astype(int) - cx0
    sy = np.rint(dense[:n_seed, 1]).astype(int) - cy0
    canvas[sy, sx] = 0
    dist, labels = cv2.distanceTransformWithLabels(canvas, cv2.DIST_L2, 5,
                                                   labelType=cv2.DIST_LABEL_PIXEL)
    vertex_of = np.zeros(int(labels.max()) + 1, dtype=np.int64)
    vertex_of[labels[sy, sx]] = np.arange(n_seed)
    win = (slice(y0 - cy0, y1 - cy0), slice(x0 - cx0, x1 - cx0))
    tol = STEP + 1.5
    iy, ix = np.nonzero(dist[win] <= reach + tol)
    k = vertex_of[labels[win][iy, ix]]
    px = (ix + x0).astype(np.float64)
    py = (iy + y0).astype(np.float64)

    g = _Segments(dense, closed)
    if band is not None:  # cheap pre-selection on the offset from the nearest vertex
        e_k = (px - g.vx[k]) * g.nx[k] + (py - g.vy[k]) * g.ny[k]
        if callable(band):  # per vertex, widened over the neighbours (k may be off by 2)
            lo_v, hi_v = (np.broadcast_to(np.asarray(v, dtype=np.float64), arc.shape)
                          for v in band(arc))
            lo_v = np.min([np.roll(lo_v, i) if closed else _shift(lo_v, i)
                           for i in range(-2, 3)], axis=0)
            hi_v = np.max([np.roll(hi_v, i) if closed else _shift(hi_v, i)
                           for i in range(-2, 3)], axis=0)
            lo, hi = np.take(lo_v, k), np.take(hi_v, k)
        else:
            lo, hi = band
        pre = (e_k >= lo - tol) & (e_k <= hi + tol)
        iy, ix, k, px, py = iy[pre], ix[pre], k[pre], px[pre], py[pre]
    j, t, traw = _nearest_segment(px, py, k, g)
    fx = np.take(g.vx, j) + t * np.take(g.sx, j)
    fy = np.take(g.vy, j) + t * np.take(g.sy, j)
    vx, vy = px - fx, py - fy
    dist2 = vx * vx + vy * vy
    # normals: per-vertex bisectors, interpolated along each segment
    nx = np.take(g.nx, j) + t * np.take(g.dnx, j)
    ny = np.take(g.ny, j) + t * np.take(g.dny, j)
    norm = np.sqrt(nx * nx + ny * ny)
    nx /= norm
    ny /= norm
    e = vx * nx + vy * ny
    s = np.take(arc, j) + t * np.take(g.length, j)
    d = np.copysign(np.sqrt(dist2), e)
    beyond = np.zeros(len(px))
    if not closed:
        along = (vx * np.take(g.sx, j) + vy * np.take(g.sy, j)) / np.take(g.length, j)
        out = ((j == 0) & (traw < 0)) | ((j == n_seg - 1) & (traw > 1))
        beyond = np.where(out, np.abs(along), 0.0)
        d = np.where(out, e, d)
    width = np.interp(s, arc, dw)
    return PathField(iy=iy, ix=ix, x=px, y=py, s=s, d=d, e=e, fx=px - vx, fy=py - vy,
                     beyond=beyond, nx=nx, ny=ny, width=width)


def _shift(v: np.ndarray, i: int) -> np.ndarray:
    """``v`` moved by ``i`` places, the end values repeated (no wrap)."""
    if i == 0:
        return v
    if i > 0:
        return np.concatenate([np.repeat(v[:1], i), v[:-i]])
    return np.concatenate([v[-i:], np.repeat(v[-1:], -i)])


class _Segments:
    """Flat per-vertex / per-segment arrays of a densified polyline (fast 1-D gathers)."""

    def __init__(self, dense: np.ndarray, closed: bool) -> None:
        self.closed = closed
        self.n = len(dense) - 1
        self.vx = np.ascontiguousarray(dense[:, 0])
        self.vy = np.ascontiguousarray(dense[:, 1])
        self.sx = np.diff(self.vx)
        self.sy = np.diff(self.vy)
        self.length = np.maximum(np.hypot(self.sx, self.sy), 1e-12)
        self.inv_len2 = 1.0 / (self.length * self.length)
        snx, sny = self.sy / self.length, -self.sx / self.length
        nx = np.empty(self.n + 1)
        ny = np.empty(self.n + 1)
        nx[1:-1], ny[1:-1] = snx[:-1] + snx[1:], sny[:-1] + sny[1:]
        if closed:
            nx[0] = nx[-1] = snx[-1] + snx[0]
            ny[0] = ny[-1] = sny[-1] + sny[0]
        else:
            nx[0], nx[-1], ny[0], ny[-1] = snx[0], snx[-1], sny[0], sny[-1]
        norm = np.maximum(np.hypot(nx, ny), 1e-12)
        self.nx, self.ny = nx / norm, ny / norm
        self.dnx, self.dny = np.diff(self.nx), np.diff(self.ny)
        self.tx, self.ty = -self.ny, self.nx  # travel direction at each vertex

    def wrap(self, c: np.ndarray) -> np.ndarray:
        """Segment indices wrapped (closed) or clipped (open) into range."""
        return np.mod(c, self.n) if self.closed else np.clip(c, 0, self.n - 1)


def _nearest_segment(px: np.ndarray, py: np.ndarray, k: np.ndarray, g: _Segments,
                     depth: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest segment of each pixel, starting at its nearest vertex ``k``.

    The pixel is projected on the segment after ``k`` when it lies ahead of the vertex,
    else on the one before. The distance transform's vertex may be off by one (rounded
    seeds, approximate metric): a foot clipped to the far end of that segment moves to the
    next vertex and the pixel is solved again. Returns (segment index, clipped t, raw t).
    """
    prev = g.wrap(k - 1)
    ahead = (px - np.take(g.vx, k)) * np.take(g.tx, k) + (py - np.take(g.vy, k)) * np.take(
        g.ty, k) >= 0
    j = np.where(ahead, g.wrap(k), prev)
    ax = px - np.take(g.vx, j)
    ay = py - np.take(g.vy, j)
    traw = (ax * np.take(g.sx, j) + ay * np.take(g.sy, j)) * np.take(g.inv_len2, j)
    t = np.clip(traw, 0.0, 1.0)
    back = (j == prev) & (j != k) & (traw < 0.0)
    fwd = (j == k) & (traw > 1.0)
    if not g.closed:
        back &= j > 0
        fwd &= j < g.n - 1
    again = np.nonzero(back | fwd)[0]
    if len(again) and depth < 6:
        k2 = k[again] + np.where(fwd[again], 1, -1)
        if g.closed:
            k2 = np.mod(k2, g.n)
        j2, t2, r2 = _nearest_segment(px[again], py[again], k2, g, depth + 1)
        j[again], t[again], traw[again] = j2, t2, r2
    return j, t, traw


def edit_pixels(
    height: np.ndarray,
    box: F.Box | None,
    compute: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`weldsynth.defects.functional.edit_box`, for edits that touch a few pixels.

    Args:
        height: 2-D uint8/uint16/float map; not modified.
        box: Pixel box the edit reads (None: nothing changes).
        compute: ``compute(unit) -> (iy, ix, values)``: gets the box as float64 heights in
            [0, 1], returns the rows and columns (in the box, each at most once) of the
            pixels it sets and their new heights (clipped to [0, 1] afterwards).

    Returns:
        A new array of the input's dtype and shape, and the bool mask of pixels whose
        stored value differs from the input.
    """
    F.check_height(height)
    out = height.copy()
    mask = np.zeros(height.shape, dtype=bool)
    if box is None:
        return out, mask
    x0, y0, x1, y1 = box
    old_box = height[y0:y1, x0:x1]
    iy, ix, values = compute(F.to_unit(old_box))
    new = F.from_unit(np.asarray(values, dtype=np.float64), height.dtype)
    old = old_box[iy, ix]
    changed = new != old
    if height.dtype.kind == "f":
        changed &= ~(np.isnan(new) & np.isnan(old))
    rows, cols = iy[changed] + y0, ix[changed] + x0
    out[rows, cols] = new[changed]
    mask[rows, cols] = True
    return out, mask


def section_weight(s: np.ndarray, s0: float, s1: float, ramp: float) -> np.ndarray:
    """1 inside [s0 + ramp, s1 - ramp], raised-cosine ramps to 0 at s0 and s1, 0 outside.

    ``ramp = 0`` gives a hard 0/1 section.
    """
    if ramp <= 0:
        return ((s >= s0) & (s <= s1)).astype(np.float64)
    up = np.clip((s - s0) / ramp, 0.0, 1.0)
    down = np.clip((s1 - s) / ramp, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * np.minimum(up, down))


def smoothstep(x: np.ndarray) -> np.ndarray:
    """Cubic 0..1 step over x in [0, 1] (clipped outside)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


class TextureSampler:
    """Sample a height box at fractional positions keeping its fine texture.

    Plain bilinear interpolation at a half-pixel shift halves the pixel noise, so a moved
    bead would look smoother than the rest of the weld. Here the surface is split into a
    smooth part (normalised Gaussian blur of the measured pixels, interpolated bilinearly)
    and the fine texture (the rest, taken from the nearest pixel); no-data (0) is taken from
    the nearest pixel as it is, so shadows move with the surface and stay exactly 0.

    Args:
        unit: Box heights in [0, 1] (0 = no data).
        floor: Smallest value a measured pixel may take (keeps it from rounding to 0).
    """

    def __init__(self, unit: np.ndarray, floor: float) -> None:
        self.unit = unit
        self.valid = unit > 0
        valid = self.valid.astype(np.float64)
        blur = cv2.GaussianBlur(unit, (0, 0), TEXTURE_SIGMA, borderType=cv2.BORDER_REFLECT)
        norm = cv2.GaussianBlur(valid, (0, 0), TEXTURE_SIGMA, borderType=cv2.BORDER_REFLECT)
        self.low = np.where(norm > 1e-3, blur / np.maximum(norm, 1e-3), 0.0)
        self.high = np.where(self.valid, unit - self.low, 0.0)
        self.floor = floor

    def __call__(self, bx: np.ndarray, by: np.ndarray) -> np.ndarray:
        """Values at box coordinates (column ``bx``, row ``by``), clamped to the box."""
        h, w = self.unit.shape
        bx = np.clip(bx, 0.0, w - 1.0)
        by = np.clip(by, 0.0, h - 1.0)
        nx = np.rint(bx).astype(int)
        ny = np.rint(by).astype(int)
        x0 = np.minimum(np.floor(bx).astype(int), w - 2) if w > 1 else np.zeros_like(nx)
        y0 = np.minimum(np.floor(by).astype(int), h - 2) if h > 1 else np.zeros_like(ny)
        fx = np.clip(bx - x0, 0.0, 1.0)
        fy = np.clip(by - y0, 0.0, 1.0)
        x1 = np.minimum(x0 + 1, w - 1)
        y1 = np.minimum(y0 + 1, h - 1)
        low = self.low
        smooth = ((1 - fy) * ((1 - fx) * low[y0, x0] + fx * low[y0, x1])
                  + fy * ((1 - fx) * low[y1, x0] + fx * low[y1, x1]))
        value = np.clip(smooth + self.high[ny, nx], self.floor, 1.0)
        return np.where(self.valid[ny, nx], value, 0.0)


def unit_floor(dtype: np.dtype) -> float:
    """Smallest height a measured pixel of ``dtype`` may be set to without becoming 0."""
    return 1.0 / F.full_scale(dtype) if np.dtype(dtype).kind != "f" else 1.0 / 65535.0


def straight_runs(path: BeadPath, tolerance: float = 4.0) -> list[tuple[float, float]]:
    """Arc-length intervals where the path runs straight (within ``tolerance`` degrees).

    For a closed path the intervals may run past the seam (``end > length``); a path that
    never turns is one run. Used to keep shape-changing defects off the corners of square
    welds.
    """
    verts = path.vertices
    seg = np.diff(verts, axis=0)
    ang = np.degrees(np.arctan2(seg[:, 1], seg[:, 0]))
    arc = path.arc
    m = len(seg)

    def turn(a: float, b: float) -> float:
        return abs((a - b + 180.0) % 360.0 - 180.0)

    start = 0
    if path.closed:
        breaks = [i for i in range(m) if turn(ang[i], ang[i - 1]) > tolerance]
        if not breaks:
            return [(0.0, path.length)]
        start = breaks[0]
    runs: list[tuple[float, float]] = []
    order = [(start + i) % m for i in range(m)]
    run_first, run_angle = order[0], ang[order[0]]
    s_begin = arc[run_first]
    s_pos = s_begin
    for i in order:
        if turn(ang[i], run_angle) > tolerance:
            runs.append((s_begin, s_pos))
            s_begin, run_angle = s_pos, ang[i]
        s_pos = s_pos + (arc[i + 1] - arc[i])
    runs.append((s_begin, s_pos))
    return runs
