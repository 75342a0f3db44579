"""Fast path coordinates of pixels: the engine of :meth:`weldsynth.geometry.path.BeadPath.pixels`.

:meth:`BeadPath.project <weldsynth.geometry.path.BeadPath.project>` finds the nearest
centreline point of any point by trying every segment (O(points x segments), tens of ms
for a whole map).
Pixels lie on a grid, so here one OpenCV distance transform (with labels) gives each pixel
its nearest vertex of the centreline densified to vertices every ``DENSE_STEP`` px, and the
pixel is projected on the segments next to that vertex only:

* the bisector at a vertex divides the points nearer the segment before it from those
  nearer the one after it, so the pixel takes the segment on its side of the bisector at
  its vertex and moves on along the path while it lies beyond the bisector at the far end
  of its segment (the transform's vertex may be a few vertices off);
* farther out than the bisectors of neighbouring vertices cross (inside a tight bend or a
  corner, across a ring) a pixel may have two nearest parts of the path: where a
  neighbouring pixel found its foot on a distant segment, every segment in between is
  tried.

The result is :meth:`project`'s (the same foot, arc length and signed distance; an exact tie
goes to the first segment) for every pixel within reach, also on square welds; with a reach,
on paths whose turns are all slight, the arc length may differ by a few hundredths of a
pixel. Farther than ~50 px from a path that zigzags back on itself, where two parts are
within ~1 % as far, the slightly farther one may be taken. No dependency on
:mod:`weldsynth.geometry.path` (the path is used through ``vertices``, ``arc`` and ``closed``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import cv2
import numpy as np

Box = tuple[int, int, int, int]
"""Half-open pixel box (x0, y0, x1, y1)."""
Band = tuple[float, float] | Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""Offsets a caller needs: fixed (lo, hi), or (lo, hi) arrays as a function of arc length."""

DENSE_STEP = 2.0
"""Largest spacing (px) of the densified centreline searched by :meth:`BeadPath.pixels`."""
SLIGHT = 0.02
"""Where every turn of the path leans its bisector by less than this (px) within the reach
asked for, :meth:`BeadPath.pixels` skips the bisector test of feet inside a segment: the
arc length may then be off by a few hundredths of a pixel, the distance by 1e-6 px."""
_SEAM_GAP = 2
"""A pixel with a neighbour whose nearest segment is more than this many dense segments from
its own may lie on a seam between two parts of the path (inside a corner or a tight bend,
across a ring): every segment between the two is tried."""


@dataclass(frozen=True)
class PathPixels:
    """Path coordinates of pixels of a box near a centreline (:meth:`BeadPath.pixels`).

    One entry per pixel, so callers work on the band around the bead only.

    Attributes:
        iy: Row of the pixel in the box.
        ix: Column of the pixel in the box.
        x: Image x of the pixel.
        y: Image y of the pixel.
        s: Arc length of the nearest centreline point (as :meth:`BeadPath.project`).
        d: Signed Euclidean distance to it, + left of travel (as :meth:`BeadPath.project`).
        e: Signed offset along the smooth normal (the normals of the densified vertices
            interpolated along each segment): equals ``d`` except in the fan outside a
            sharp corner and past open ends, where it is the offset across the normal.
        fx: Image x of the nearest centreline point (the foot).
        fy: Image y of the foot.
        nx: x of the smooth unit normal at the foot.
        ny: y of the smooth unit normal.
        beyond: Distance past an open end along its tangent (0 elsewhere).
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
    nx: np.ndarray
    ny: np.ndarray
    beyond: np.ndarray


class Dense:
    """A path's vertices every <= DENSE_STEP px as flat per-vertex / per-segment arrays.

    Subdividing segments keeps the geometry (same nearest points, arc lengths and widths);
    the vertex normals are the bisectors of their two segments.
    """

    def __init__(self, path: Any) -> None:
        # plain slicing and preallocation: numpy's diff/append/vstack cost more than the
        # maths on paths of a few hundred vertices
        verts, arc = path.vertices, path.arc
        seg = verts[1:] - verts[:-1]
        seg_len = arc[1:] - arc[:-1]
        n_sub = np.ceil(seg_len * (1.0 / DENSE_STEP)).astype(np.intp)
        n_sub[n_sub < 1] = 1
        corner = np.zeros(len(seg) + 1, dtype=np.intp)  # dense index of each vertex
        np.cumsum(n_sub, out=corner[1:])
        owner = np.repeat(np.arange(len(seg)), n_sub)
        frac = (np.arange(len(owner)) - corner[owner]) / n_sub[owner]
        self.closed = path.closed
        self.n = n = len(owner)
        vx = np.empty(n + 1)
        vy = np.empty(n + 1)
        vx[:n] = verts[owner, 0] + frac * seg[owner, 0]
        vy[:n] = verts[owner, 1] + frac * seg[owner, 1]
        vx[n], vy[n] = verts[-1]
        self.arc = np.empty(n + 1)
        self.arc[:n] = arc[owner] + frac * seg_len[owner]
        self.arc[n] = arc[-1]
        self.vx, self.vy = vx, vy
        self.sx, self.sy = vx[1:] - vx[:-1], vy[1:] - vy[:-1]
        self.length = np.hypot(self.sx, self.sy)
        self.length[self.length < 1e-12] = 1e-12
        self.inv_len2 = 1.0 / (self.length * self.length)
        # a vertex's normal is the bisector of its two segments; between the subdivisions
        # of one segment, that segment's normal (left normals: (dy, -dx))
        seg_len = seg_len.copy()
        seg_len[seg_len < 1e-12] = 1e-12
        ux, uy = seg[:, 0] / seg_len, seg[:, 1] / seg_len
        if self.closed:  # vertex 0 (and n) joins the last segment to the first
            bx, by, ax, ay, at = np.roll(ux, 1), np.roll(uy, 1), ux, uy, corner[:-1]
        else:
            bx, by, ax, ay, at = ux[:-1], uy[:-1], ux[1:], uy[1:], corner[1:-1]
        nx = np.empty(n + 1)
        ny = np.empty(n + 1)
        nx[:n] = np.repeat(uy, n_sub)
        ny[:n] = -np.repeat(ux, n_sub)
        nx[n], ny[n] = uy[-1], -ux[-1]
        mx, my = by + ay, -(bx + ax)
        norm = np.hypot(mx, my)
        norm[norm < 1e-12] = 1e-12
        nx[at], ny[at] = mx / norm, my / norm
        if self.closed:
            nx[n], ny[n] = nx[0], ny[0]
        self.nx, self.ny = nx, ny
        self.dnx, self.dny = nx[1:] - nx[:-1], ny[1:] - ny[:-1]
        self.tx, self.ty = -ny, nx  # direction of travel at each vertex
        # tan of half the turn at each vertex (+ turning right on screen): how far its
        # bisector leans over the segments beside it
        cos_t = 1.0 + bx * ax + by * ay
        cos_t[cos_t < 1e-12] = 1e-12
        self.lean = np.zeros(n + 1)
        self.lean[at] = (bx * ay - by * ax) / cos_t
        if self.closed:
            self.lean[n] = self.lean[0]
        self.lean2 = self.lean * self.lean
        if not self.closed:  # no segment beyond an open end to move on to
            self.lean2[0] = self.lean2[n] = -1.0
        self.sharpest = float(np.abs(self.lean).max())

    def clear(self, reach: float) -> bool:
        """Whether, within ``reach`` of the path, the bisectors alone tell every pixel's
        nearest segment: the bisectors at the two ends of each segment cross farther away
        (on the side where they cross)."""
        if 2.0 * self.sharpest * reach < float(self.length.min()):
            return True
        return reach < min(self.clear_left, self.clear_right)

    @cached_property
    def _crossings(self) -> np.ndarray:
        total = self.lean[:-1] + self.lean[1:]
        ok = np.abs(total) > 1e-12
        return self.length[ok] / total[ok]  # + on the right of the path, - on its left

    @property
    def clear_right(self) -> float:
        """Nearest crossing of neighbouring bisectors on the right of the path (px)."""
        c = self._crossings
        return float(np.min(c[c > 0], initial=np.inf))

    @property
    def clear_left(self) -> float:
        """Nearest crossing of neighbouring bisectors on the left of the path (px)."""
        c = self._crossings
        return float(np.min(-c[c < 0], initial=np.inf))

    def wrap(self, c: np.ndarray) -> np.ndarray:
        """Segment indices within one turn of the range wrapped (closed) or clipped (open)
        into it (no integer division: it is slow)."""
        if not self.closed:
            return np.clip(c, 0, self.n - 1)
        return c + self.n * ((c < 0).astype(c.dtype) - (c >= self.n))

    def apart(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """How many vertices apart two vertex indices are (around a closed path)."""
        gap = np.abs(a - b)
        if self.closed:
            np.minimum(gap, self.n - gap, out=gap)
        return gap


def path_pixels(path: Any, box: Box, reach: float | None, band: Band | None) -> PathPixels:
    """Path coordinates of the pixels of ``box`` near ``path`` (a
    :class:`weldsynth.geometry.path.BeadPath`); see
    :meth:`weldsynth.geometry.path.BeadPath.pixels`."""
    g = path.dense
    x0, y0, x1, y1 = (int(v) for v in box)
    n_seed = g.n if g.closed else g.n + 1
    # working canvas: the box plus every vertex (vertices may lie outside the image)
    cx0 = min(x0, int(np.floor(g.vx.min())) - 2)
    cy0 = min(y0, int(np.floor(g.vy.min())) - 2)
    cx1 = max(x1, int(np.ceil(g.vx.max())) + 3)
    cy1 = max(y1, int(np.ceil(g.vy.max())) + 3)
    canvas = np.ones((cy1 - cy0, cx1 - cx0), np.uint8)
    sx = np.rint(g.vx[:n_seed]).astype(np.intp) - cx0
    sy = np.rint(g.vy[:n_seed]).astype(np.intp) - cy0
    canvas[sy, sx] = 0
    dist, labels = cv2.distanceTransformWithLabels(
        canvas, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    vertex_of = np.zeros(n_seed + 1, dtype=np.intp)  # one label per seed pixel, from 1
    vertex_of[labels[sy, sx]] = np.arange(n_seed)
    oy, ox = y0 - cy0, x0 - cx0
    win = (slice(oy, oy + y1 - y0), slice(ox, ox + x1 - x0))
    if reach is None:
        iy, ix = np.divmod(np.arange((y1 - y0) * (x1 - x0)), x1 - x0)
        grown = np.inf
    else:
        # a pixel within reach of the path is within sqrt(reach^2 + (step/2)^2) of a vertex,
        # 0.71 px more of its rounded seed, and the transform's metric errs by under 2 %
        grown = 1.02 * (np.hypot(reach, 0.5 * DENSE_STEP) + 0.75)
        iy, ix = np.nonzero(dist[win] <= grown)
    k = vertex_of[labels[win][iy, ix]]
    px = (ix + x0).astype(np.float64)
    py = (iy + y0).astype(np.float64)
    if band is not None:  # cheap pre-selection on the offset from the nearest vertex
        # the offset from a vertex up to ~3 vertices off differs from e by the turn of the
        # path over them (times the arc and the distance); never allow more than 3.5 px
        turn = min(np.pi, 6.0 * np.arctan(g.sharpest))
        bound = grown if np.isfinite(grown) else max(x1 - x0, y1 - y0)
        tol = min(DENSE_STEP + 1.5, 0.5 + 4.0 * DENSE_STEP * turn + bound * turn * turn)
        keep = _in_band(g, band, px, py, k, tol)
        iy, ix, k, px, py = iy[keep], ix[keep], k[keep], px[keep], py[keep]
    j, t, traw, d2 = _nearest_segment(px, py, k, g, grown + 2.5)
    out = _coordinates(g, iy, ix, px, py, j, t, traw, d2)
    if g.clear(grown):
        return out
    # seams between parts of the path (inside a bend or corner, across a ring): a pixel
    # farther out than the bisectors on its side stay apart, whose neighbour found its foot
    # on a distant segment, tries every segment in between
    far_out = np.flatnonzero(np.where(out.d > 0, out.d >= g.clear_left, -out.d >= g.clear_right))
    if not len(far_out):
        return out
    bh, bw = y1 - y0, x1 - x0
    found = np.full((bh + 2, bw + 2), -1, dtype=np.int32)  # int32: much faster than int64
    found[iy + 1, ix + 1] = j
    flat = (iy[far_out] + 1) * (bw + 2) + ix[far_out] + 1
    offsets = np.array([-bw - 3, -bw - 2, -bw - 1, -1, 1, bw + 1, bw + 2, bw + 3])
    other = found.ravel()[flat[:, None] + offsets[None, :]]
    gap = np.where(other >= 0, g.apart(other, j[far_out, None].astype(np.int32)), -1)
    pick = gap.max(axis=1) > _SEAM_GAP
    seam = far_out[pick]
    if not len(seam):
        return out
    # every segment between the feet of the pixel and of its neighbours (and 2 beyond)
    own = j[seam].astype(np.int32)[:, None]
    rel = np.where(other[pick] >= 0, other[pick] - own, 0)
    if g.closed:  # the shorter way round
        rel = np.where(rel > g.n // 2, rel - g.n, np.where(rel < -(g.n // 2), rel + g.n, rel))
    lo = own[:, 0] + np.minimum(rel.min(axis=1), 0) - 2
    hi = own[:, 0] + np.maximum(rel.max(axis=1), 0) + 2
    if not g.closed:
        lo, hi = np.maximum(lo, 0), np.minimum(hi, g.n - 1)
    sx, sy = px[seam], py[seam]
    bj, bt, br, bd = j[seam], t[seam], traw[seam], d2[seam]
    for o in range(int((hi - lo).max()) + 1):
        live = np.flatnonzero(lo + o <= hi)
        seg = g.wrap(lo[live] + o)
        t2, r2, e2 = _project_on(sx[live], sy[live], seg, g)
        _keep_nearer(live, seg, t2, r2, e2, bj, bt, br, bd)
    fix = _coordinates(g, iy[seam], ix[seam], sx, sy, bj, bt, br, bd)
    for name in ("s", "d", "e", "fx", "fy", "nx", "ny", "beyond"):
        getattr(out, name)[seam] = getattr(fix, name)
    return out


def _keep_nearer(
    idx: np.ndarray,
    j2: np.ndarray,
    t2: np.ndarray,
    r2: np.ndarray,
    e2: np.ndarray,
    bj: np.ndarray,
    bt: np.ndarray,
    br: np.ndarray,
    bd: np.ndarray,
) -> None:
    """Replace the results at ``idx`` by the candidates that are nearer (equal up to
    rounding, as on the bisector inside a corner: the first segment wins)."""
    cur = bd[idx]
    tie = np.abs(e2 - cur) <= 1e-9 * np.maximum(cur, 1.0)
    better = np.where(tie, j2 < bj[idx], e2 < cur)
    idx = idx[better]
    bj[idx], bt[idx], br[idx], bd[idx] = j2[better], t2[better], r2[better], e2[better]


def _in_band(
    g: Dense, band: Band, px: np.ndarray, py: np.ndarray, k: np.ndarray, tol: float
) -> np.ndarray:
    """Pixels whose offset from their nearest vertex may lie in ``band`` (generously)."""
    e_k = (px - g.vx[k]) * g.nx[k] + (py - g.vy[k]) * g.ny[k]
    if callable(band):  # per vertex, widened over the neighbours (k may be off by 2)
        lo_v, hi_v = (np.asarray(v, dtype=np.float64) for v in band(g.arc))
        if lo_v.shape != g.arc.shape:
            lo_v = np.full(g.arc.shape, lo_v)
        if hi_v.shape != g.arc.shape:
            hi_v = np.full(g.arc.shape, hi_v)
        lo = _spread(lo_v, np.minimum, g.closed)[k]
        hi = _spread(hi_v, np.maximum, g.closed)[k]
    else:
        lo, hi = band
    return (e_k >= lo - tol) & (e_k <= hi + tol)


def _spread(v: np.ndarray, pick: np.ufunc, closed: bool) -> np.ndarray:
    """``pick`` (minimum or maximum) of each value and its two neighbours on either side
    (around a closed path, whose last vertex repeats its first; else the ends repeated)."""
    if closed:
        ext = np.concatenate([v[-3:-1], v, v[1:3]])
    else:
        ext = np.concatenate([v[:1], v[:1], v, v[-1:], v[-1:]])
    n = len(v)
    out = pick(ext[:n], ext[1 : n + 1])
    for i in (2, 3, 4):
        pick(out, ext[i : n + i], out=out)
    return out


def _nearest_segment(
    px: np.ndarray, py: np.ndarray, k: np.ndarray, g: Dense, reach: float = np.inf
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Nearest segment of each pixel, searched from vertex ``k``.

    The bisector at a vertex (the line across the path along its normal) divides the
    points nearer the segment before it from those nearer the one after it. The pixel
    takes the segment on its side of the bisector at ``k``, then moves on along the path
    while it lies beyond the bisector at the far end of its segment (the distance
    transform's vertex may be a few vertices off). Only a pixel whose foot lies within
    the lean of that bisector of the end (tan of half the turn there times its distance)
    needs the test; where that is under SLIGHT px for every pixel within ``reach``, only
    a pixel whose foot is clipped at the end. Exact nearer the path than its bisectors cross
    (:meth:`Dense.clear`); an exact tie goes to the first segment, as in
    :meth:`BeadPath.project`. Returns (segment index, clipped t, raw t, squared distance).
    """
    ahead = _beyond_bisector(px, py, k, g)
    j = np.where(ahead, g.wrap(k), g.wrap(k - 1))
    t, traw, d2 = _project_on(px, py, j, g)
    slight = reach * g.sharpest < SLIGHT
    step = None
    active = None  # first round: every pixel, without copies
    for _ in range(g.n):
        if active is None:
            jj, up, ta, ra = j, ahead, t, traw
        else:
            jj, up, ta, ra = j[active], ahead[active], t[active], traw[active]
        if slight:  # turns too slight to matter: a foot clipped at the far end moves on
            fwd = up & (ra > 1.0)
            back = (ra < 0.0) & ~up
            if not g.closed:
                fwd &= jj < g.n - 1
                back &= jj > 0
            move = fwd | back
        else:  # within the lean of the far end's bisector: on its far side?
            left = np.where(up, 1.0 - ta, ta) * g.length[jj]
            da = d2 if active is None else d2[active]
            move = left * left <= da * g.lean2[jj + up] + 1e-12
            near = np.flatnonzero(move)
            move[near] = (
                _beyond_bisector(
                    px[near] if active is None else px[active[near]],
                    py[near] if active is None else py[active[near]],
                    jj[near] + up[near],
                    g,
                )
                == up[near]
            )
        active = np.flatnonzero(move) if active is None else active[move]
        if not len(active):
            break
        if step is None:
            step = np.where(ahead, 1, -1)
        j[active] = g.wrap(j[active] + step[active])
        t[active], traw[active], d2[active] = _project_on(px[active], py[active], j[active], g)
    return j, t, traw, d2


def _project_on(
    px: np.ndarray, py: np.ndarray, j: np.ndarray, g: Dense
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(clipped t, raw t, squared distance) of pixels on segments ``j``."""
    ax = px - np.take(g.vx, j)
    ay = py - np.take(g.vy, j)
    sxj, syj = np.take(g.sx, j), np.take(g.sy, j)
    traw = (ax * sxj + ay * syj) * np.take(g.inv_len2, j)
    t = np.clip(traw, 0.0, 1.0)
    dx, dy = ax - t * sxj, ay - t * syj
    return t, traw, dx * dx + dy * dy


def _beyond_bisector(px: np.ndarray, py: np.ndarray, k: np.ndarray, g: Dense) -> np.ndarray:
    """True where a pixel lies on the side of vertex ``k``'s bisector nearer the segment
    after it (on the bisector: the segment before, the first one, except at the seam of a
    closed path where segment 0 comes first)."""
    dot = (px - np.take(g.vx, k)) * np.take(g.tx, k) + (py - np.take(g.vy, k)) * np.take(g.ty, k)
    if g.closed:
        return (dot > 0) | ((dot == 0) & ((k == 0) | (k == g.n)))
    return dot > 0


def _coordinates(
    g: Dense,
    iy: np.ndarray,
    ix: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
    j: np.ndarray,
    t: np.ndarray,
    traw: np.ndarray,
    d2: np.ndarray,
) -> PathPixels:
    """Path coordinates of pixels from their nearest segment and position along it."""
    at = np.flatnonzero((traw <= 0.0) | (traw >= 1.0))  # feet at a vertex
    if len(at):
        _first_segment(g, px, py, j, t, traw, d2, at)
    sxj, syj, lj = np.take(g.sx, j), np.take(g.sy, j), np.take(g.length, j)
    fx = np.take(g.vx, j) + t * sxj
    fy = np.take(g.vy, j) + t * syj
    vx, vy = px - fx, py - fy
    nx = np.take(g.nx, j) + t * np.take(g.dnx, j)
    ny = np.take(g.ny, j) + t * np.take(g.dny, j)
    norm = np.maximum(np.hypot(nx, ny), 1e-12)
    nx /= norm
    ny /= norm
    e = vx * nx + vy * ny
    dist = np.sqrt(d2)
    # the side, as project: + unless the pixel is right of its segment. Where the foot is
    # inside a segment the smooth normal tells the same; at a vertex (outside a corner,
    # past an end, where e may be 0) ask the segment itself
    d = np.copysign(dist, e)
    beyond = np.zeros(len(px))
    if len(at):
        ja, ra = j[at], traw[at]
        right = np.take(g.sx, ja) * vy[at] - np.take(g.sy, ja) * vx[at] > 0.0
        d[at] = np.where(right, -dist[at], dist[at])
        if not g.closed:  # past the start (t < 0 on the first segment) or the end
            past = np.where(ja == 0, -ra, np.where(ja == g.n - 1, ra - 1.0, 0.0))
            beyond[at] = np.maximum(past, 0.0) * lj[at]
    return PathPixels(
        iy=iy,
        ix=ix,
        x=px,
        y=py,
        s=np.take(g.arc, j) + t * lj,
        d=d,
        e=e,
        fx=fx,
        fy=fy,
        nx=nx,
        ny=ny,
        beyond=beyond,
    )


def _first_segment(
    g: Dense,
    px: np.ndarray,
    py: np.ndarray,
    j: np.ndarray,
    t: np.ndarray,
    traw: np.ndarray,
    d2: np.ndarray,
    at: np.ndarray,
) -> None:
    """Pixels whose foot is the vertex two segments share (the fan outside a corner) go to
    the first of them, as in project (past a turn over 90 degrees that decides the side).
    Updates the arrays in place for the pixels ``at``."""
    tie = at[(t[at] == 0.0) & ((j[at] > 0) | g.closed)]
    if len(tie):
        jp = g.wrap(j[tie] - 1)
        tp, rp, dp = _project_on(px[tie], py[tie], jp, g)
        first = (tp == 1.0) & (jp < j[tie])
        tie = tie[first]
        j[tie], t[tie], traw[tie], d2[tie] = jp[first], tp[first], rp[first], dp[first]
    if g.closed:  # the same at the seam of a closed path: segment 0 comes first
        tie = at[(t[at] == 1.0) & (j[at] == g.n - 1)]
        if len(tie):
            j0 = np.zeros(len(tie), dtype=j.dtype)
            t0, r0, d0 = _project_on(px[tie], py[tie], j0, g)
            first = t0 == 0.0
            tie = tie[first]
            j[tie], t[tie], traw[tie], d2[tie] = 0, 0.0, r0[first], d0[first]
