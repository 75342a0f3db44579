"""Points to a square height grid: spacing, the memory check, max per cell, spikes, gaps.

* **Grid** (:func:`grid_spec`): cell centres at ``x0 + col * p`` and ``y_top - row * p``
  (row 0 at the top, the largest y), covering the points' bounding box. A grid whose working
  memory would not fit (``BYTES_PER_CELL`` per cell, at most half the free memory and
  ``MAX_CELLS`` cells) is refused *before* anything is allocated.
* **One value per cell** (:func:`rasterise_max`): the highest point that falls in it (the
  surface the scanner saw from above; a lower point in the same cell is a flank seen from
  the side). Cells without a point are no data.
* **Spikes** (:func:`spike_points`): on a coarse grid (a pitch at which every cell holds
  points), the 5 x 5 median of the highest points is the reference surface
  (:func:`reference_surface`); a point further than ``max(SPIKE_SIGMAS * sigma,
  SPIKE_PIXELS * coarse pitch)`` from it (bilinear) is dropped, sigma being 1.4826 x the
  median absolute distance of all points. Isolated spikes and pits of up to a few cells go;
  the steepest real flank does not.
* **Gaps** (:func:`fill_gaps`): a no-data cell is filled when, along a row, a column or a
  diagonal, measured cells bound it on both sides with at most ``max_gap_mm`` of no data
  between them; its value is the linear interpolation between those two cells along the
  shortest such run. A gap wider than ``max_gap_mm`` in every direction is never bridged,
  and no-data at the border (nothing beyond it) is never filled.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from weldsynth.core.seeding import rng_for
from weldsynth.io.scan.errors import ScanError

BYTES_PER_CELL = 160
"""Working memory per grid cell, bytes (measured: gap filling peaks at about 132)."""
MAX_CELLS = 100_000_000
"""Largest grid in cells (also the height-map reader's default image limit)."""
SPIKE_SIGMAS = 6.0
SPIKE_PIXELS = 2.0
SPACING_SAMPLE = 4000
"""Points whose neighbours are looked at to measure the spacing."""


@dataclass(frozen=True)
class GridSpec:
    """Where the cells of a square grid lie.

    Attributes:
        x0: x of the centre of column 0, mm.
        y_top: y of the centre of row 0, mm (rows go towards -y).
        pixel_mm: Cell pitch, mm.
        rows: Number of rows.
        cols: Number of columns.
    """

    x0: float
    y_top: float
    pixel_mm: float
    rows: int
    cols: int


def grid_spec(xy: np.ndarray, pixel_mm: float, name: str = "cloud") -> GridSpec:
    """The grid covering ``xy`` at ``pixel_mm``, refused before allocating if it is too large.

    Raises:
        ScanError: the pitch is not positive, or the grid would not fit in memory.
    """
    if not (math.isfinite(pixel_mm) and pixel_mm > 0):
        raise ScanError(f"{name}: pixel size must be a positive number of mm, got {pixel_mm}")
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    cols = int(np.rint((hi[0] - lo[0]) / pixel_mm)) + 1
    rows = int(np.rint((hi[1] - lo[1]) / pixel_mm)) + 1
    cells = float(rows) * float(cols)
    budget = memory_budget()
    if cells > MAX_CELLS or cells * BYTES_PER_CELL > budget:
        raise ScanError(
            f"{name}: a {cols} x {rows} px grid at {pixel_mm:g} mm/px ({cells:.3g} cells, "
            f"~{cells * BYTES_PER_CELL / 2**30:.1f} GiB to process) would not fit in memory "
            f"(limit {MAX_CELLS:.0e} cells, {budget / 2**30:.1f} GiB); use a larger --pixel-mm"
        )
    return GridSpec(float(lo[0]), float(hi[1]), float(pixel_mm), rows, cols)


def memory_budget() -> float:
    """Bytes a grid may use: half the free physical memory (8 GiB when unknown)."""
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        free = 16 * 2**30
    return 0.5 * float(free)


def cell_of(xy: np.ndarray, spec: GridSpec) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of the cell each point falls in (clipped to the grid)."""
    col = np.rint((xy[:, 0] - spec.x0) / spec.pixel_mm).astype(np.int64)
    row = np.rint((spec.y_top - xy[:, 1]) / spec.pixel_mm).astype(np.int64)
    return np.clip(row, 0, spec.rows - 1), np.clip(col, 0, spec.cols - 1)


def rasterise_max(xy: np.ndarray, z: np.ndarray, spec: GridSpec) -> tuple[np.ndarray, np.ndarray]:
    """Highest ``z`` per cell: (float32 grid with 0 where empty, bool measured mask)."""
    row, col = cell_of(xy, spec)
    flat = row * spec.cols + col
    order = np.lexsort((z, flat))
    flat_sorted = flat[order]
    last = np.ones(len(order), bool)
    last[:-1] = flat_sorted[1:] != flat_sorted[:-1]
    grid = np.zeros(spec.rows * spec.cols, np.float32)
    valid = np.zeros(spec.rows * spec.cols, bool)
    grid[flat_sorted[last]] = z[order][last]
    valid[flat_sorted[last]] = True
    return grid.reshape(spec.rows, spec.cols), valid.reshape(spec.rows, spec.cols)


def point_spacing(xy: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """Median point spacing and the spacing across it (a line scanner's line pitch), mm.

    For a sample of points: the distance to the nearest other point (the spacing), and to
    the nearest one more than 60 degrees away from that direction (the pitch: the next laser
    line). Both are medians over the sample; for an isotropic cloud they are about equal.
    """
    tree = cKDTree(xy)
    rng = rng_for(seed, "point-spacing")
    take = xy if len(xy) <= SPACING_SAMPLE else xy[rng.choice(len(xy), SPACING_SAMPLE, False)]
    k = min(len(xy), 24)
    dist, idx = tree.query(take, k=k)
    near, across = [], []
    for i in range(len(take)):
        d, j = dist[i, 1:], idx[i, 1:]
        keep = d > 1e-9
        if not keep.any():
            continue
        d, j = d[keep], j[keep]
        first = (xy[j[0]] - take[i]) / d[0]
        cos = np.abs((xy[j] - take[i]) @ first) / d
        near.append(d[0])
        side = np.nonzero(cos < 0.5)[0]
        across.append(d[side[0]] if len(side) else d[-1])
    if not near:
        raise ScanError("all points share one x, y position; no surface to rasterise")
    return float(np.median(near)), float(np.median(across))


def reference_surface(grid: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The spike-free reference of a (coarse) grid: the 5 x 5 median of its nearest-filled
    heights."""
    return ndimage.median_filter(nearest_fill(grid, valid), size=5, mode="nearest")


def spike_points(
    xy: np.ndarray, z: np.ndarray, spec: GridSpec, reference: np.ndarray
) -> np.ndarray:
    """Points that are isolated spikes or pits (see the module docstring).

    Args:
        xy: (N, 2) positions.
        z: (N,) heights.
        spec: The grid of ``reference``.
        reference: :func:`reference_surface` of the points' grid at ``spec``.

    Returns:
        bool (N,), True for a spike.
    """
    cols = (xy[:, 0] - spec.x0) / spec.pixel_mm
    rows = (spec.y_top - xy[:, 1]) / spec.pixel_mm
    expected = ndimage.map_coordinates(reference, [rows, cols], order=1, mode="nearest")
    residual = np.abs(z - expected)
    sigma = 1.4826 * float(np.median(residual))
    return residual > max(SPIKE_SIGMAS * sigma, SPIKE_PIXELS * spec.pixel_mm)


def covered_cells(valid: np.ndarray, cells: int = 2) -> np.ndarray:
    """Cells inside the measured area: ``valid`` closed by ``cells`` (holes up to about twice
    that wide between measured cells are covered; the border is not grown)."""
    return valid | ndimage.binary_closing(valid, structure=np.ones((3, 3)), iterations=cells)


def nearest_fill(grid: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``grid`` with every no-data cell set to its nearest measured cell's value."""
    if valid.all():
        return grid
    index = ndimage.distance_transform_edt(~valid, return_distances=False, return_indices=True)
    return grid[index[0], index[1]]


def fill_gaps(
    grid: np.ndarray, valid: np.ndarray, max_gap_mm: float, pixel_mm: float
) -> tuple[np.ndarray, np.ndarray]:
    """Fill no-data cells in gaps no wider than ``max_gap_mm`` (see the module docstring).

    Returns:
        (grid, valid) as new arrays; filled cells are valid.
    """
    grid = np.where(valid, grid, 0.0).astype(np.float32)
    if max_gap_mm <= 0 or valid.all() or not valid.any():
        return grid, valid.copy()
    best_gap = np.full(grid.shape, np.inf, np.float32)
    best_value = np.zeros(grid.shape, np.float32)
    for step, (gap, value) in (
        (1.0, _row_runs(grid, valid)),
        (1.0, tuple(a.T for a in _row_runs(grid.T, valid.T))),
        (math.sqrt(2.0), _diagonal_runs(grid, valid, flip=False)),
        (math.sqrt(2.0), _diagonal_runs(grid, valid, flip=True)),
    ):
        width = gap * np.float32(step * pixel_mm)
        better = width < best_gap
        best_gap = np.where(better, width, best_gap)
        best_value = np.where(better, value, best_value)
    fill = ~valid & (best_gap <= max_gap_mm * (1 + 1e-6))
    return np.where(fill, best_value, grid), valid | fill


def _row_runs(grid: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per cell, along rows: empty cells of its bounded gap (inf if unbounded) and the
    linear interpolation between the measured cells that bound it."""
    _, w = grid.shape
    idx = np.arange(w, dtype=np.int32)[None, :]
    prev = np.maximum.accumulate(np.where(valid, idx, -1), axis=1)
    nxt = np.minimum.accumulate(np.where(valid, idx, w)[:, ::-1], axis=1)[:, ::-1]
    bounded = ~valid & (prev >= 0) & (nxt < w)
    p, n = np.clip(prev, 0, w - 1), np.clip(nxt, 0, w - 1)
    vp = np.take_along_axis(grid, p, axis=1)
    vn = np.take_along_axis(grid, n, axis=1)
    t = (idx - p) / np.maximum(n - p, 1).astype(np.float32)
    gap = np.where(bounded, (n - p - 1).astype(np.float32), np.inf).astype(np.float32)
    return gap, (vp + t * (vn - vp)).astype(np.float32)


def _diagonal_runs(
    grid: np.ndarray, valid: np.ndarray, flip: bool
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_row_runs` along the diagonals (anti-diagonals when ``flip``), by shearing:
    cell (r, c) goes to row ``c - r + h - 1``, column ``r`` of an (h + w - 1, h) array."""
    if grid.shape[0] > grid.shape[1]:  # shear the short way: (h + w - 1) x min(h, w)
        gap, value = _diagonal_runs(grid.T, valid.T, flip)
        return gap.T, value.T
    if flip:
        grid, valid = grid[:, ::-1], valid[:, ::-1]
    h, w = grid.shape
    rows, cols = np.indices((h, w))
    sr, sc = cols - rows + h - 1, rows
    sheared = np.zeros((h + w - 1, h), np.float32)
    svalid = np.zeros((h + w - 1, h), bool)
    sheared[sr, sc] = grid
    svalid[sr, sc] = valid
    gap, value = _row_runs(sheared, svalid)
    gap, value = gap[sr, sc], value[sr, sc]
    if flip:
        gap, value = gap[:, ::-1], value[:, ::-1]
    return gap, value
