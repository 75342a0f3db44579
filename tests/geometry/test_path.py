"""BeadPath: path coordinates (arc length, signed offset) and their conventions."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from weldsynth.geometry.path import BeadPath, angle_difference, axis_angle


def _line() -> BeadPath:
    return BeadPath(points=[[10, 50], [110, 50]], widths=[20, 20])


def _square() -> BeadPath:
    # clockwise on screen: right along the top, down the right side, ...
    return BeadPath(points=[[10, 10], [90, 10], [90, 60], [10, 60]], widths=[8] * 4, closed=True)


def test_offsets_are_positive_north_of_a_left_to_right_bead() -> None:
    s, d = _line().project(np.array([60.0, 60.0]), np.array([40.0, 62.0]))
    np.testing.assert_allclose(s, [50.0, 50.0])
    np.testing.assert_allclose(d, [10.0, -12.0])


def test_closed_path_positive_offset_is_outside() -> None:
    sq = _square()
    assert sq.length == pytest.approx(2 * 80 + 2 * 50)
    s, d = sq.project(np.array([50.0, 50.0, 95.0]), np.array([4.0, 16.0, 35.0]))
    np.testing.assert_allclose(s, [40.0, 40.0, 80.0 + 25.0])
    np.testing.assert_allclose(d, [6.0, -6.0, 5.0])


def test_to_image_inverts_project() -> None:
    path = BeadPath(points=[[0, 0], [30, 10], [60, 5], [100, 30]], widths=[5, 6, 7, 8])
    rng = np.random.default_rng(0)
    s = rng.uniform(5, path.length - 5, 50)
    d = rng.uniform(-2, 2, 50)
    xy = path.to_image(s, d)
    s2, d2 = path.project(xy[:, 0], xy[:, 1])
    np.testing.assert_allclose(s2, s, atol=1e-6)
    np.testing.assert_allclose(d2, d, atol=1e-6)


def test_closed_arc_length_wraps() -> None:
    sq = _square()
    np.testing.assert_allclose(sq.point_at(sq.length + 5.0), sq.point_at(5.0))
    np.testing.assert_allclose(sq.point_at(-5.0), sq.point_at(sq.length - 5.0))
    np.testing.assert_allclose(_line().point_at(1000.0), [110.0, 50.0])


def test_widths_interpolate_and_mean_is_length_weighted() -> None:
    path = BeadPath(points=[[0, 0], [10, 0], [40, 0]], widths=[2, 4, 4])
    assert path.width_at(5.0) == pytest.approx(3.0)
    assert path.mean_width == pytest.approx((3 * 10 + 4 * 30) / 40)


def test_bead_mask_matches_width_and_stops_at_the_ends() -> None:
    mask = _line().bead_mask((100, 130))
    assert mask.sum() == 101 * 21
    assert not mask[50, 5] and not mask[50, 115]
    assert mask[40, 60] and not mask[39, 60]


def test_coordinate_maps_box_equals_slice_of_full() -> None:
    path = BeadPath(points=[[5, 5], [60, 40], [120, 20]], widths=[6, 6, 6])
    s_full, d_full = path.coordinate_maps((64, 128))
    s_box, d_box = path.coordinate_maps((64, 128), box=(30, 10, 70, 50))
    np.testing.assert_allclose(s_box, s_full[10:50, 30:70])
    np.testing.assert_allclose(d_box, d_full[10:50, 30:70])


def test_dict_round_trip_and_pickle() -> None:
    sq = _square()
    again = BeadPath.from_dict(sq.to_dict())
    np.testing.assert_allclose(again.points, sq.points)
    assert again.closed
    assert pickle.loads(pickle.dumps(sq)).length == sq.length


def test_points_are_read_only_copies() -> None:
    pts = np.array([[0.0, 0.0], [10.0, 0.0]])
    path = BeadPath(points=pts, widths=[1.0, 1.0])
    pts[0, 0] = 99.0
    assert path.points[0, 0] == 0.0
    with pytest.raises(ValueError):
        path.points[0, 0] = 5.0


@pytest.mark.parametrize(
    "points,widths,words",
    [
        ([[0, 0]], [1], "at least 2"),
        ([[0, 0], [1, 1]], [1], "one value per point"),
        ([[0, 0], [np.nan, 1]], [1, 1], "finite"),
    ],
)
def test_invalid_paths_raise(points, widths, words) -> None:
    with pytest.raises(ValueError, match=words):
        BeadPath(points=points, widths=widths)


@pytest.mark.parametrize(
    "direction,expected",
    [((1, 0), 0.0), ((0, 1), 90.0), ((1, -1), 45.0), ((1, 1), -45.0), ((-1, 0), 0.0)],
)
def test_axis_angle_convention(direction, expected) -> None:
    assert axis_angle(np.array(direction, float)) == pytest.approx(expected)


def test_angle_difference_is_undirected() -> None:
    assert angle_difference(89.0, -89.0) == pytest.approx(2.0)
    assert angle_difference(10.0, 10.0) == 0.0


def test_offset_past_a_sharp_corner_is_the_distance_to_the_corner() -> None:
    sq = _square()
    # diagonally outside the top-right corner (90, 10): 3 px right, 4 px up
    s, d = sq.project(np.array([93.0]), np.array([6.0]))
    assert s[0] == pytest.approx(80.0)
    assert d[0] == pytest.approx(5.0)
    mask = sq.bead_mask((80, 110))
    assert not mask[6, 93]  # no stub of bead beyond the corner
    assert mask[10, 93] and mask[6, 90]


# ---------------------------------------------------------------- fast pixel coordinates
def _procedural(topology: int) -> tuple[BeadPath, tuple[int, int]]:
    from weldsynth.synth.samples import generate_weld, sample_seed

    weld = generate_weld(topology, sample_seed(3, topology, 1))
    return weld.path, weld.height.shape


def _exact(path: BeadPath, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]]
    return path.project(xs.astype(np.float64), ys.astype(np.float64))


@pytest.mark.parametrize("case", ["line", "square", "sharp square", "bent"])
def test_field_is_project_on_every_pixel(case: str) -> None:
    """The fast maps give project's values on every pixel: the nearest segment is found
    exactly, also inside corners and across a ring, ties going to the first segment."""
    if case == "line":
        path, shape = _procedural(4)
    elif case == "square":
        path, shape = _procedural(7)
    elif case == "sharp square":
        path, shape = _square(), (80, 110)
    else:  # a bead that bends sideways and back (a bead_deviation as locate finds it)
        x = np.arange(20.0, 330.0, 4.0)
        y = 60.0 + 14.0 * np.exp(-(((x - 170.0) / 25.0) ** 2))
        path, shape = BeadPath(np.stack([x, y], 1), np.full(len(x), 24.0)), (128, 352)
    s, d, near = path.field(shape)
    s_exact, d_exact = _exact(path, shape)
    assert near.all()
    np.testing.assert_allclose(d, d_exact, atol=1e-9)
    np.testing.assert_allclose(s, s_exact, atol=1e-6)


def test_pixels_within_reach_have_feet_normals_and_ends() -> None:
    path = BeadPath(points=[[40, 30], [100, 50], [160, 40]], widths=[10, 12, 10])
    shape = (90, 200)
    px = path.pixels((0, 0, 200, 90), reach=12.0)
    s_exact, d_exact = _exact(path, shape)
    within = np.abs(d_exact) <= 12.0
    got = np.zeros(shape, bool)
    got[px.iy, px.ix] = True
    assert got[within].all(), "a pixel within reach is missing"
    assert np.all(np.abs(px.d) <= 1.02 * 12.0 + 2.5)
    np.testing.assert_allclose(px.d, d_exact[px.iy, px.ix], atol=1e-9)
    np.testing.assert_allclose(px.s, s_exact[px.iy, px.ix], atol=1e-6)
    # the foot is on the centreline at arc length s, |d| away from the pixel
    np.testing.assert_allclose(np.stack([px.fx, px.fy], 1), path.point_at(px.s), atol=1e-9)
    np.testing.assert_allclose(np.hypot(px.x - px.fx, px.y - px.fy), np.abs(px.d), atol=1e-9)
    np.testing.assert_allclose(np.hypot(px.nx, px.ny), 1.0)
    # e is the offset along the normal: d on the straight parts, across the end past an end
    mid = (px.beyond == 0) & (np.abs(px.s - 30.0) < 20.0)
    np.testing.assert_allclose(px.e[mid], px.d[mid], atol=1e-9)
    past = px.x < 40.0 - 20.0 / 63.25 * (px.y - 30.0) - 1.0  # clearly before the start
    assert past.any() and np.all(px.beyond[past] > 0)
    np.testing.assert_allclose(np.hypot(px.e[past], px.beyond[past]), np.abs(px.d[past]))


def test_band_keeps_every_pixel_whose_offset_is_in_it() -> None:
    path, shape = _procedural(2)
    box = (0, 0, shape[1], shape[0])
    every = path.pixels(box, 20.0)
    left = path.pixels(box, 20.0, band=(2.0, 8.0))
    assert len(left.s) < 0.6 * len(every.s)
    wanted = set(
        zip(
            every.iy[(every.e >= 2) & (every.e <= 8)].tolist(),
            every.ix[(every.e >= 2) & (every.e <= 8)].tolist(),
            strict=True,
        )
    )
    assert wanted <= set(zip(left.iy.tolist(), left.ix.tolist(), strict=True))
    varying = path.pixels(box, 20.0, band=lambda s: (np.zeros_like(s), s / 20.0))
    inside = (every.e >= 0) & (every.e <= every.s / 20.0)
    wanted = set(zip(every.iy[inside].tolist(), every.ix[inside].tolist(), strict=True))
    assert wanted <= set(zip(varying.iy.tolist(), varying.ix.tolist(), strict=True))
