"""Which way the bead runs in a levelled height grid, and the rotation that puts it along x.

The direction comes from the **structure tensor** of the heights: the bead's flanks slope
across the bead, so the height gradients, summed as outer products over the measured
cells, have their largest axis across the bead and their smallest along it. Unlike the
principal axis of the bead's points, this does not depend on how long the scanned section is
compared with the bead's width (a short section of a wide cap still runs along its
flanks). Each gradient is weighted by the height above the plate (full from
``HEIGHT_WEIGHT`` of the bead's height up), so plate steps and edges at or below the plate
do not count. Heights are smoothed over measured cells only (normalised convolution) and
gradients next to no-data are left out, so shadows and the border add no edges.

The tensor's anisotropy ``(l1 - l2) / (l1 + l2)`` says how clear the direction is; below
``MIN_ANISOTROPY`` (a square weld, a blob, a flat plate) the frame is kept (0 degrees).
Once roughly aligned, :func:`crest_correction` fine-tunes the angle with a straight line
through the bead's crest (the tensor alone can be off by a degree or two where shadows or
plate steps add slopes of their own).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

MIN_ANISOTROPY = 0.2
"""Below this the bead has no dominant direction and the frame is kept."""
SMOOTH_PX = 1.5
"""Gaussian sigma of the smoothing before the gradients, cells."""
HEIGHT_WEIGHT = 0.25
"""Gradients count in full from this fraction of the bead's height (99th percentile) up,
less below, nothing at or below the plate."""
CREST_MIN_COLUMNS = 16
CREST_PROMINENCE = 0.8
CREST_MIN_INLIERS = 0.6
CREST_MAX_DEG = 6.0


def bead_angle(grid: np.ndarray, valid: np.ndarray) -> tuple[float, float]:
    """Direction of the bead in a height grid whose rows run towards -y.

    Args:
        grid: 2-D heights above the plate (any unit); row 0 is the largest y.
        valid: Measured cells.

    Returns:
        (angle in degrees in (-90, 90], counter-clockwise from +x with y up; anisotropy in
        [0, 1]). The angle is 0 when the anisotropy is below ``MIN_ANISOTROPY``.
    """
    num = ndimage.gaussian_filter(np.where(valid, grid, 0.0).astype(np.float64), SMOOTH_PX)
    den = ndimage.gaussian_filter(valid.astype(np.float64), SMOOTH_PX)
    smooth = np.where(den > 1e-6, num / np.maximum(den, 1e-6), 0.0)
    gy, gx = np.gradient(smooth)
    gy = -gy  # rows run towards -y
    inner = ndimage.binary_erosion(valid, iterations=math.ceil(2 * SMOOTH_PX))
    if np.count_nonzero(inner) < 16:
        return 0.0, 0.0
    top = float(np.quantile(smooth[inner], 0.99))
    if top <= 0.0:
        return 0.0, 0.0
    weight = np.clip(smooth[inner] / (HEIGHT_WEIGHT * top), 0.0, 1.0)
    gx, gy = gx[inner], gy[inner]
    jxx = float(np.sum(weight * gx**2))
    jyy = float(np.sum(weight * gy**2))
    jxy = float(np.sum(weight * gx * gy))
    trace = jxx + jyy
    if trace <= 0.0:
        return 0.0, 0.0
    spread = math.hypot(jxx - jyy, 2.0 * jxy)
    anisotropy = spread / trace
    if anisotropy < MIN_ANISOTROPY:
        return 0.0, anisotropy
    across = 0.5 * math.degrees(math.atan2(2.0 * jxy, jxx - jyy))
    return normalise_angle(across + 90.0), anisotropy


def normalise_angle(angle: float) -> float:
    """An axis angle in degrees, folded into (-90, 90]."""
    a = math.fmod(angle, 180.0)
    if a <= -90.0:
        a += 180.0
    elif a > 90.0:
        a -= 180.0
    return a


def rotate_xy(xy: np.ndarray, angle_deg: float) -> np.ndarray:
    """(N, 2) points rotated counter-clockwise by ``angle_deg`` about the origin."""
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    return np.column_stack([c * xy[:, 0] - s * xy[:, 1], s * xy[:, 0] + c * xy[:, 1]])


def crest_correction(grid: np.ndarray, valid: np.ndarray) -> float | None:
    """Residual angle of a roughly x-aligned bead, from a straight line through its crest.

    The structure tensor averages every slope, so shadows, plate steps and the bead's ends
    bias it by a degree or two. Here each column's highest smoothed cell (the crest, where the
    column stands out by at least ``CREST_PROMINENCE`` of the 90th percentile of the
    columns' prominences: the full-height part, not the tapering ends), refined to a
    fraction of a cell by a parabola through it and its neighbours, gets a line fitted, trimmed
    at 3 robust sigmas, twice. Rows run towards -y.

    Returns:
        The angle to add, degrees (counter-clockwise, y up), or None when the crest is not
        one straight line (fewer than ``CREST_MIN_COLUMNS`` columns, under
        ``CREST_MIN_INLIERS`` of them on the line, or a correction over ``CREST_MAX_DEG``).
    """
    num = ndimage.gaussian_filter(np.where(valid, grid, 0.0).astype(np.float64), SMOOTH_PX)
    den = ndimage.gaussian_filter(valid.astype(np.float64), SMOOTH_PX)
    smooth = np.where(valid & (den > 0.2), num / np.maximum(den, 1e-6), -np.inf)
    measured = np.isfinite(smooth).sum(axis=0) >= max(8, smooth.shape[0] // 4)
    cols = np.nonzero(measured)[0]
    if len(cols) < CREST_MIN_COLUMNS:
        return None
    column = smooth[:, cols]
    rows = np.argmax(column, axis=0)
    top = column[rows, np.arange(len(cols))]
    base = np.array([np.median(c[np.isfinite(c)]) for c in column.T])
    prominence = top - base
    keep = prominence >= CREST_PROMINENCE * np.quantile(prominence, 0.9)
    keep &= (rows > 0) & (rows < column.shape[0] - 1)
    x, y = cols[keep].astype(float), _subpixel(column[:, keep], rows[keep])
    if len(x) < CREST_MIN_COLUMNS:
        return None
    inliers = np.ones(len(x), bool)
    for _ in range(3):
        slope, intercept = np.polyfit(x[inliers], y[inliers], 1)
        residual = np.abs(y - (slope * x + intercept))
        scale = max(1.4826 * float(np.median(residual[inliers])), 0.5)
        inliers = residual <= 3.0 * scale
        if inliers.sum() < CREST_MIN_COLUMNS:
            return None
    correction = -math.degrees(math.atan(slope))
    if inliers.mean() < CREST_MIN_INLIERS or abs(correction) > CREST_MAX_DEG:
        return None
    return correction


def _subpixel(column: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Crest rows refined by the vertex of the parabola through each maximum and its two
    neighbours (the row itself where a neighbour is not measured)."""
    idx = np.arange(len(rows))
    a, b, c = column[rows - 1, idx], column[rows, idx], column[rows + 1, idx]
    with np.errstate(invalid="ignore", divide="ignore"):
        shift = 0.5 * (a - c) / (a - 2.0 * b + c)
    shift = np.where(np.isfinite(shift), np.clip(shift, -0.5, 0.5), 0.0)
    return rows.astype(float) + shift
