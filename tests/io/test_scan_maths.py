"""Scan maths: robust plate plane, bead direction, max-per-cell grid, spikes, gap filling,
and the memory check that refuses a grid before allocating it."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from weldsynth.io.scan import ScanError
from weldsynth.io.scan.align import bead_angle, normalise_angle
from weldsynth.io.scan.plane import check_points, fit_plane, plane_frame
from weldsynth.io.scan.raster import (
    fill_gaps,
    grid_spec,
    point_spacing,
    rasterise_max,
    reference_surface,
    spike_points,
)


def _rotation(rx: float, ry: float) -> np.ndarray:
    cx, sx, cy, sy = math.cos(rx), math.sin(rx), math.cos(ry), math.sin(ry)
    return np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]]) @ np.array(
        [[1, 0, 0], [0, cx, -sx], [0, sx, cx]]
    )


def weld_cloud(
    angle_deg: float = 0.0, noise: float = 0.03, tilt=(0.0, 0.0), n: int = 40_000, seed: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A plate with a 6 mm wide, 2 mm high bead along ``angle_deg`` through the middle of a
    60 x 40 mm patch, 1 % spikes, then tilted and offset.

    Returns:
        (points, true normal, plate mask: the points off the bead that are not spikes).
    """
    rng = np.random.default_rng(seed)
    xy = rng.uniform([-30, -20], [30, 20], (n, 2))
    a = math.radians(angle_deg)
    across = -xy[:, 0] * math.sin(a) + xy[:, 1] * math.cos(a)
    z = np.where(np.abs(across) < 3, 2.0 * (1 - (across / 3) ** 2), 0.0)
    z = z + rng.normal(0, noise, n)
    spikes = rng.random(n) < 0.01
    z[spikes] += rng.choice([-4.0, 6.0], spikes.sum())
    rot = _rotation(math.radians(tilt[0]), math.radians(tilt[1]))
    pts = np.column_stack([xy, z]) @ rot.T + [100.0, -50.0, 400.0]
    return pts, rot[:, 2], (np.abs(across) >= 3) & ~spikes


@pytest.mark.parametrize("tilt", [(0.0, 0.0), (12.0, -7.0), (-25.0, 30.0)])
def test_plate_plane_is_not_tilted_by_bead_or_spikes(tilt) -> None:
    pts, normal, plate = weld_cloud(tilt=tilt)
    plane = fit_plane(pts)
    error = math.degrees(math.acos(min(1.0, abs(float(plane.normal @ normal)))))
    assert error < 0.1
    assert plane.normal @ normal > 0  # points to the bead side
    assert plane.sigma_mm == pytest.approx(0.03, rel=0.25)
    local = plane_frame(plane, pts).to_local(pts)
    assert abs(float(np.median(local[plate, 2]))) < 0.01
    assert float(np.std(local[plate, 2])) == pytest.approx(0.03, rel=0.2)
    assert float(local[:, 2].max()) > 5.0  # a spike stays above, the bead stands 2 mm


def test_normal_points_to_the_bead_when_z_points_down() -> None:
    pts, _, _ = weld_cloud()
    pts[:, 2] = -pts[:, 2]
    plane = fit_plane(pts)
    assert plane.normal[2] < -0.99
    crest = np.argsort(plane.distance(pts))[-2000:-500]  # the bead, below the spikes
    assert np.all(plane.distance(pts[crest]) > 1.0)


def test_same_seed_same_plane() -> None:
    pts, _, _ = weld_cloud(tilt=(5.0, 5.0))
    a, b = fit_plane(pts, seed=3), fit_plane(pts, seed=3)
    assert np.array_equal(a.normal, b.normal) and a.offset == b.offset


@pytest.mark.parametrize(
    ("points", "match"),
    [
        (np.empty((0, 3)), "empty cloud"),
        (np.ones((2, 3)), "only 2 point"),
        (np.outer(np.arange(50.0), [1.0, 2.0, 3.0]), "on one line"),
        (np.ones((50, 3)), "on one line"),
        (np.array([[0, 0, 0], [1, 0, 0], [0, np.nan, 1.0]]), "NaN"),
    ],
)
def test_degenerate_clouds_are_refused(points: np.ndarray, match: str) -> None:
    with pytest.raises(ScanError, match=match):
        check_points(points)


def _grid_of(pts: np.ndarray, pixel: float) -> tuple[np.ndarray, np.ndarray]:
    plane = fit_plane(pts)
    local = plane_frame(plane, pts).to_local(pts)
    spec = grid_spec(local[:, :2], pixel)
    grid, valid = rasterise_max(local[:, :2], local[:, 2], spec)
    return reference_surface(grid, valid), valid


@pytest.mark.parametrize("angle", [0.0, 17.0, -38.0, 61.0, 90.0])
def test_bead_direction_within_one_degree(angle: float) -> None:
    pts, _, _ = weld_cloud(angle_deg=angle, n=60_000)
    grid, valid = _grid_of(pts, 0.4)
    found, anisotropy = bead_angle(grid, valid)
    assert abs(normalise_angle(found - angle)) < 1.0 and anisotropy > 0.5


def test_bead_direction_of_a_section_shorter_than_the_bead_is_wide() -> None:
    """A wide cap seen over a short section: the points above the plate are longer across
    than along, yet the flanks still run along the bead."""
    rng = np.random.default_rng(4)
    xy = rng.uniform([-4, -15], [4, 15], (30_000, 2))  # 8 mm of a bead 20 mm wide
    z = np.where(np.abs(xy[:, 1]) < 10, 2.0 * (1 - (xy[:, 1] / 10) ** 2), 0.0)
    z += rng.normal(0, 0.02, len(z))
    spec = grid_spec(xy, 0.3)
    grid, valid = rasterise_max(xy, z, spec)
    found, _ = bead_angle(grid, valid)
    assert abs(normalise_angle(found)) < 1.0


def test_a_square_weld_keeps_the_frame() -> None:
    yy, xx = np.mgrid[0:200, 0:200] * 0.2
    ring = np.abs(np.maximum(np.abs(xx - 20), np.abs(yy - 20)) - 12) < 2
    angle, anisotropy = bead_angle(ring * 1.5, np.ones(ring.shape, bool))
    assert angle == 0.0 and anisotropy < 0.2


def test_rasterise_keeps_the_highest_point_per_cell() -> None:
    xy = np.array([[0.0, 0.0], [0.04, 0.0], [1.0, 1.0], [1.0, 0.0]])
    z = np.array([1.0, 3.0, -2.0, 5.0])
    spec = grid_spec(xy, 0.5)
    grid, valid = rasterise_max(xy, z, spec)
    assert (spec.rows, spec.cols) == (3, 3)
    assert grid[2, 0] == 3.0 and grid[0, 2] == -2.0 and grid[2, 2] == 5.0
    assert valid.sum() == 3


def test_spikes_are_dropped_steep_flanks_are_not() -> None:
    rng = np.random.default_rng(2)
    xy = rng.uniform(0, 20, (40_000, 2))
    z = np.clip(3.0 - 1.5 * np.abs(xy[:, 0] - 10), 0, None) + rng.normal(0, 0.02, len(xy))
    spiky = rng.choice(len(xy), 200, replace=False)
    z[spiky] += rng.choice([-3.0, 3.0], 200)
    spec = grid_spec(xy, 0.3)
    grid, valid = rasterise_max(xy, z, spec)
    found = spike_points(xy, z, spec, reference_surface(grid, valid))
    assert found[spiky].mean() > 0.97
    assert np.count_nonzero(found) - np.count_nonzero(found[spiky]) < 0.002 * len(xy)


@pytest.mark.parametrize("width", [1, 2, 3, 4, 6])
@pytest.mark.parametrize("orientation", ["rows", "columns", "diagonal"])
def test_gap_filling_never_bridges_a_wider_gap(width: int, orientation: str) -> None:
    pixel, limit_mm = 0.1, 0.3  # fill gaps up to 3 cells
    rows, cols = np.indices((60, 60))
    coord = {"rows": rows, "columns": cols, "diagonal": rows + cols}[orientation]
    gap = (coord >= 40) & (coord < 40 + width)
    across = width * pixel
    if orientation == "diagonal":  # a stripe of diagonals, about `width` cells across
        lines = round(width * math.sqrt(2))
        gap = (coord >= 60) & (coord < 60 + lines)
        across = lines / math.sqrt(2) * pixel
    height = 0.01 * cols + 0.02 * rows
    grid, valid = fill_gaps(np.where(gap, 0, height), ~gap, limit_mm, pixel)
    inner = (slice(4, -4), slice(4, -4))  # a diagonal run leaves the grid at its corners
    if across <= limit_mm + 1e-9:
        assert valid[inner].all()
        np.testing.assert_allclose(grid[gap & valid], height[gap & valid], atol=1e-5)  # linear
    else:
        assert not valid[gap].any() and np.all(grid[gap] == 0)


def test_no_data_at_the_border_is_never_filled() -> None:
    grid = np.ones((30, 30), np.float32)
    valid = np.ones((30, 30), bool)
    valid[:, :2] = False
    valid[10, 15] = False
    out, filled = fill_gaps(grid, valid, 5.0, 0.1)
    assert not filled[:, :2].any() and filled[10, 15] and out[10, 15] == 1.0


def test_spacing_and_line_pitch_of_a_line_scan() -> None:
    a, b = np.meshgrid(np.arange(0, 20, 0.05), np.arange(0, 10, 0.2))
    xy = np.column_stack([a.ravel(), b.ravel()])
    spacing, pitch = point_spacing(xy)
    assert spacing == pytest.approx(0.05, rel=1e-6) and pitch == pytest.approx(0.2, rel=1e-6)


def test_a_huge_grid_is_refused_before_allocating() -> None:
    xy = np.array([[0.0, 0.0], [3999.9, 3999.9], [10.0, 5.0]])
    tracemalloc.start()
    try:
        with pytest.raises(ScanError, match=r"40000 x 40000 px .* would not fit in memory") as info:
            grid_spec(xy, 0.1, "big.pcd")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000 and "\n" not in str(info.value) and "--pixel-mm" in str(info.value)
