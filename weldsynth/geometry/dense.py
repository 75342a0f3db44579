"""A bead centreline densified for the pixel search of :mod:`weldsynth.geometry.path_pixels`.

:class:`Dense` holds a path's vertices every <= ``DENSE_STEP`` px as flat per-vertex and
per-segment arrays (positions, arc lengths, segment vectors, bisector normals and how far
each bisector leans), built from plain arrays (vertices, arc lengths, closed), so it
depends on no path type; plus the queries the search makes on it: a pixel's projection on a
segment (:func:`project_on`), its side of a vertex's bisector (:func:`beyond_bisector`) and
per-vertex bounds widened over the neighbours (:func:`spread`).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

DENSE_STEP = 2.0
"""Largest spacing (px) of the densified centreline searched by :meth:`BeadPath.pixels`."""


class Dense:
    """A path's vertices every <= DENSE_STEP px as flat per-vertex / per-segment arrays.

    Subdividing segments keeps the geometry (same nearest points, arc lengths and widths);
    the vertex normals are the bisectors of their two segments.
    """

    def __init__(self, vertices: np.ndarray, arc: np.ndarray, closed: bool) -> None:
        """Densify a centreline.

        Args:
            vertices: float (M+1, 2) vertices (x, y); a closed path repeats the first at the end.
            arc: float (M+1,) cumulative arc length at each vertex.
            closed: Whether the path runs around.
        """
        # plain slicing and preallocation: numpy's diff/append/vstack cost more than the
        # maths on paths of a few hundred vertices
        verts = vertices
        seg = verts[1:] - verts[:-1]
        seg_len = arc[1:] - arc[:-1]
        n_sub = np.ceil(seg_len * (1.0 / DENSE_STEP)).astype(np.intp)
        n_sub[n_sub < 1] = 1
        corner = np.zeros(len(seg) + 1, dtype=np.intp)  # dense index of each vertex
        np.cumsum(n_sub, out=corner[1:])
        owner = np.repeat(np.arange(len(seg)), n_sub)
        frac = (np.arange(len(owner)) - corner[owner]) / n_sub[owner]
        self.closed = closed
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


def project_on(
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


def beyond_bisector(px: np.ndarray, py: np.ndarray, k: np.ndarray, g: Dense) -> np.ndarray:
    """True where a pixel lies on the side of vertex ``k``'s bisector nearer the segment
    after it (on the bisector: the segment before, the first one, except at the seam of a
    closed path where segment 0 comes first)."""
    dot = (px - np.take(g.vx, k)) * np.take(g.tx, k) + (py - np.take(g.vy, k)) * np.take(g.ty, k)
    if g.closed:
        return (dot > 0) | ((dot == 0) & ((k == 0) | (k == g.n)))
    return dot > 0


def spread(v: np.ndarray, pick: np.ufunc, closed: bool) -> np.ndarray:
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
