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
within ~1 % as far, the slightly farther one may be taken. Works on the densified centreline
(:class:`weldsynth.geometry.dense.Dense`, plain arrays); :mod:`weldsynth.geometry.path`
imports this module, never the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from weldsynth.geometry.dense import DENSE_STEP, Dense, beyond_bisector, project_on, spread

Box = tuple[int, int, int, int]
"""Half-open pixel box (x0, y0, x1, y1)."""
Band = tuple[float, float] | Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""Offsets a caller needs: fixed (lo, hi), or (lo, hi) arrays as a function of arc length."""

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


def path_pixels(g: Dense, box: Box, reach: float | None, band: Band | None) -> PathPixels:
    """Path coordinates of the pixels of ``box`` near a densified centreline.

    Args:
        g: The centreline (:attr:`weldsynth.geometry.path.BeadPath.dense`).
        box: Half-open pixel box (x0, y0, x1, y1).
        reach: Only pixels within about this distance (None: every pixel of the box).
        band: Only pixels whose offset may lie in it (see
            :meth:`weldsynth.geometry.path.BeadPath.pixels`).
    """
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
    if not g.clear(grown):
        _fix_seams(g, out, (y1 - y0, x1 - x0), (j, t, traw, d2))
    return out


def _fix_seams(
    g: Dense,
    out: PathPixels,
    box_shape: tuple[int, int],
    found: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Seams between parts of the path (inside a bend or corner, across a ring): a pixel
    farther out than the bisectors on its side stay apart, whose neighbour found its foot
    on a distant segment, tries every segment in between. Updates ``out`` in place.

    Args:
        g: The centreline.
        out: The coordinates found from the nearest segments ``found``.
        box_shape: (height, width) of the box the pixels ``out.iy, out.ix`` lie in.
        found: (segment, clipped t, raw t, squared distance) of each pixel.
    """
    j, t, traw, d2 = found
    iy, ix, px, py = out.iy, out.ix, out.x, out.y
    far_out = np.flatnonzero(np.where(out.d > 0, out.d >= g.clear_left, -out.d >= g.clear_right))
    if not len(far_out):
        return
    bh, bw = box_shape
    feet = np.full((bh + 2, bw + 2), -1, dtype=np.int32)  # int32: much faster than int64
    feet[iy + 1, ix + 1] = j
    flat = (iy[far_out] + 1) * (bw + 2) + ix[far_out] + 1
    offsets = np.array([-bw - 3, -bw - 2, -bw - 1, -1, 1, bw + 1, bw + 2, bw + 3])
    other = feet.ravel()[flat[:, None] + offsets[None, :]]
    gap = np.where(other >= 0, g.apart(other, j[far_out, None].astype(np.int32)), -1)
    pick = gap.max(axis=1) > _SEAM_GAP
    seam = far_out[pick]
    if not len(seam):
        return
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
        t2, r2, e2 = project_on(sx[live], sy[live], seg, g)
        _keep_nearer(live, seg, t2, r2, e2, bj, bt, br, bd)
    fix = _coordinates(g, iy[seam], ix[seam], sx, sy, bj, bt, br, bd)
    for name in ("s", "d", "e", "fx", "fy", "nx", "ny", "beyond"):
        getattr(out, name)[seam] = getattr(fix, name)


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
        lo = spread(lo_v, np.minimum, g.closed)[k]
        hi = spread(hi_v, np.maximum, g.closed)[k]
    else:
        lo, hi = band
    return (e_k >= lo - tol) & (e_k <= hi + tol)


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
    ahead = beyond_bisector(px, py, k, g)
    j = np.where(ahead, g.wrap(k), g.wrap(k - 1))
    t, traw, d2 = project_on(px, py, j, g)
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
                beyond_bisector(
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
        t[active], traw[active], d2[active] = project_on(px[active], py[active], j[active], g)
    return j, t, traw, d2


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
        tp, rp, dp = project_on(px[tie], py[tie], jp, g)
        first = (tp == 1.0) & (jp < j[tie])
        tie = tie[first]
        j[tie], t[tie], traw[tie], d2[tie] = jp[first], tp[first], rp[first], dp[first]
    if g.closed:  # the same at the seam of a closed path: segment 0 comes first
        tie = at[(t[at] == 1.0) & (j[at] == g.n - 1)]
        if len(tie):
            j0 = np.zeros(len(tie), dtype=j.dtype)
            t0, r0, d0 = project_on(px[tie], py[tie], j0, g)
            first = t0 == 0.0
            tie = tie[first]
            j[tie], t[tie], traw[tie], d2[tie] = 0, 0.0, r0[first], d0[first]
