"""geometry.locate on procedural welds with known truth, conventions, and not-found cases."""

from __future__ import annotations

import numpy as np
import pytest

from weldsynth.core.topology import list_topologies, topology_ids
from weldsynth.geometry import PLATE_LEFT, PLATE_NONE, PLATE_RIGHT, locate
from weldsynth.geometry.path import BeadPath, angle_difference
from weldsynth.io.heightmap import to_float, to_uint
from weldsynth.synth.samples import generate_weld, sample_seed, truth_geometry

LINE_TOPOLOGIES = [t.id for t in list_topologies() if t.shape_kind == "line"]
SEED = 11


def _distance_to_polyline(pts: np.ndarray, path: BeadPath) -> np.ndarray:
    verts = path.vertices
    a, seg = verts[:-1], np.diff(verts, axis=0)
    len2 = np.maximum(np.einsum("ij,ij->i", seg, seg), 1e-12)
    rel = pts[:, None, :] - a[None, :, :]
    t = np.clip(np.einsum("pij,ij->pi", rel, seg) / len2, 0.0, 1.0)
    diff = rel - t[..., None] * seg[None, :, :]
    return np.sqrt(np.min(np.einsum("pij,pij->pi", diff, diff), axis=1))


def _errors(weld, geo) -> tuple[float, float, float]:
    """(angle error deg, centreline median error px, relative width error)."""
    truth = weld.path
    assert geo.found, geo.reason
    assert geo.path.closed == truth.closed
    angle = 0.0
    if not truth.closed:
        angle = angle_difference(weld.truth["axis_angle"], geo.axis_angle)
    centre = float(np.median(_distance_to_polyline(truth.resample(1.0), geo.path)))
    width = abs(geo.path.mean_width - truth.mean_width) / truth.mean_width
    return angle, centre, width


def _assert_accurate(weld, geo, label: str) -> None:
    angle, centre, width = _errors(weld, geo)
    assert angle <= 3.0, f"{label}: axis off by {angle:.2f} deg"
    assert centre <= 2.0, f"{label}: centreline off by {centre:.2f} px"
    assert width <= 0.15, f"{label}: mean width off by {100 * width:.1f}%"


@pytest.mark.parametrize("topology", topology_ids())
def test_accuracy_default_variation(topology):
    for index in range(5):
        weld = generate_weld(topology, sample_seed(SEED, topology, index))
        _assert_accurate(weld, locate(weld.height), f"topology {topology} #{index}")


@pytest.mark.parametrize(
    ("topology", "rotation"), [(3, 30.0), (4, -30.0), (2, 22.0), (11, -12.0), (8, 28.0)]
)
def test_rotated_beads(topology, rotation):
    for index in range(2):
        weld = generate_weld(topology, sample_seed(SEED, topology, index), rotation=rotation)
        geo = locate(weld.height)
        _assert_accurate(weld, geo, f"topology {topology} rotated {rotation}")
        assert angle_difference(geo.axis_angle, rotation) <= 3.0


@pytest.mark.parametrize(("topology", "curvature"), [(2, 1 / 300), (11, -1 / 300), (4, 1 / 500)])
def test_curved_beads(topology, curvature):
    weld = generate_weld(topology, sample_seed(SEED, topology, 3), curvature=curvature)
    assert abs(weld.truth["generator"]["sagitta"]) > 3.0  # really bent
    _assert_accurate(weld, locate(weld.height), f"topology {topology} curved")


@pytest.mark.parametrize("topology", [3, 4, 8])
def test_vertical_beads_run_top_to_bottom(topology):
    weld = generate_weld(topology, sample_seed(SEED, topology, 0), shape=(352, 128), rotation=90.0)
    geo = locate(weld.height)
    _assert_accurate(weld, geo, f"topology {topology} vertical")
    assert geo.path.end[1] > geo.path.start[1] + 100  # travel is +y
    assert abs(geo.axis_angle) > 85.0


@pytest.mark.parametrize("shape", [(160, 480), (96, 200), (200, 96)])
@pytest.mark.parametrize("topology", [3, 2, 7])
def test_other_sizes(topology, shape):
    rotation = 90.0 if shape[0] > shape[1] and topology != 7 else None
    weld = generate_weld(topology, sample_seed(SEED, topology, 1), shape=shape, rotation=rotation)
    geo = locate(weld.height)
    assert geo.shape == shape
    assert geo.bead_mask.shape == shape and geo.plate_labels.shape == shape
    _assert_accurate(weld, geo, f"topology {topology} at {shape}")


def test_heavy_shadows():
    for index in range(6):
        weld = generate_weld(5, sample_seed(SEED, 5, index), shadows=True)
        assert weld.truth["generator"]["shadow_fraction"] > 0.15
        geo = locate(weld.height)
        _assert_accurate(weld, geo, f"topology 5 #{index}")
        assert np.array_equal(geo.nodata_mask, weld.height == 0)


@pytest.mark.parametrize("noise", [0.0, 0.012])
def test_noise_levels(noise):
    for topology in (3, 8):
        weld = generate_weld(topology, sample_seed(SEED, topology, 2), noise=noise)
        _assert_accurate(weld, locate(weld.height), f"topology {topology} noise {noise}")


def test_eight_bit_maps():
    for topology in (2, 5, 7, 10):
        weld = generate_weld(topology, sample_seed(SEED, topology, 4), bit_depth=8)
        pixels = to_uint(weld.height, 8)
        _assert_accurate(weld, locate(pixels), f"topology {topology} 8-bit")


def test_square_weld_is_closed_clockwise_with_four_corners():
    for index in range(4):
        weld = generate_weld(7, sample_seed(SEED, 7, index))
        geo = locate(weld.height)
        _assert_accurate(weld, geo, f"square #{index}")
        assert geo.kind == "closed" and geo.axis_angle is None
        pts = geo.path.points
        area = 0.5 * np.sum(pts[:, 0] * np.roll(pts[:, 1], -1) - np.roll(pts[:, 0], -1) * pts[:, 1])
        assert area > 0, "closed paths run clockwise on screen"
        assert len(geo.corners) == 4
        assert len(geo.segments()) == 4
        truth = weld.path
        # same start (top middle) and arc lengths as the truth, within a few pixels
        assert np.hypot(*(geo.path.start - truth.start)) < 4.0
        assert abs(geo.path.length - truth.length) < 0.02 * truth.length
        assert np.allclose(sorted(geo.corners), weld.truth["corners"], atol=8.0)
        # the corners are where the bead turns: each near a corner of the truth path
        corner_pts = geo.path.point_at(np.array(geo.corners))
        truth_pts = truth.point_at(np.array(weld.truth["corners"]))
        assert np.max(np.hypot(*(corner_pts - truth_pts).T)) < 5.0


def _cut_across(weld, at: float, gap: float) -> np.ndarray:
    """The weld's map with a zero band ``gap`` px long across the bead at arc ``at``."""
    path = weld.path
    p, t = path.point_at(at * path.length), path.tangent_at(at * path.length)
    ys, xs = np.mgrid[0 : weld.height.shape[0], 0 : weld.height.shape[1]]
    along = (xs - p[0]) * t[0] + (ys - p[1]) * t[1]
    across = (ys - p[1]) * t[0] - (xs - p[0]) * t[1]
    cut = weld.height.copy()
    cut[(np.abs(along) < gap / 2) & (np.abs(across) < path.mean_width)] = 0.0
    return cut


def test_square_weld_with_a_cut_stays_closed():
    weld = generate_weld(7, sample_seed(SEED, 7, 2))
    geo = locate(_cut_across(weld, 0.3, 12.0))
    _assert_accurate(weld, geo, "square with a 12 px cut")
    assert geo.kind == "closed" and len(geo.corners) == 4


def test_square_weld_with_a_wide_gap_is_not_taken_for_a_line():
    weld = generate_weld(7, sample_seed(SEED, 7, 2))
    geo = locate(_cut_across(weld, 0.3, 40.0))
    assert geo.kind in ("closed", "none")
    if not geo.found:
        assert geo.reason


def test_square_weld_outside_is_left_plate():
    weld = generate_weld(7, sample_seed(SEED, 7, 0))
    geo = locate(weld.height)
    top_left = geo.plate_labels[:4, :4]
    assert np.all(top_left[weld.height[:4, :4] > 0] == PLATE_LEFT)
    centre = geo.path.points.mean(axis=0).round().astype(int)
    inside = geo.plate_labels[centre[1], centre[0]]
    assert inside in (PLATE_RIGHT, PLATE_NONE)


def test_direction_conventions_on_a_horizontal_bead():
    weld = generate_weld(2, sample_seed(SEED, 2, 0), rotation=0.0, curvature=0.0)
    geo = locate(weld.height)
    path = geo.path
    assert path.start[0] < path.end[0]  # arc length grows left to right
    s = np.linspace(0, path.length, 20)
    assert np.all(np.diff(path.point_at(s)[:, 0]) > 0)
    assert np.all(path.normal_at(s)[:, 1] < -0.95)  # positive offset = north (up)
    # path coordinates agree with the truth's: same start, same length, same side
    truth = weld.path
    assert np.hypot(*(path.start - truth.start)) < 3.0
    assert abs(path.length - truth.length) < 4.0
    probe = path.to_image(np.array([0.5 * path.length]), np.array([path.mean_width]))
    s_t, d_t = truth.project(probe[:, 0], probe[:, 1])
    assert d_t[0] > 0.5 * truth.mean_width
    assert abs(s_t[0] - 0.5 * path.length) < 3.0


@pytest.mark.parametrize(("topology", "side"), [(2, PLATE_LEFT), (8, PLATE_LEFT), (4, PLATE_RIGHT)])
def test_plate_found_on_its_side(topology, side):
    weld = generate_weld(topology, sample_seed(SEED, topology, 0), shadows=False)
    truth_plates = weld.truth["plates"]
    assert [p["side"] for p in truth_plates] == ["left" if side == PLATE_LEFT else "right"]
    geo = locate(weld.height)
    assert [p.side for p in geo.plates] == [side]
    plate = geo.plates[0]
    # a plane through the truth plate: same height at the image centre
    h, w = weld.height.shape
    a, b, c = plate.plane
    ta, tb, tc = truth_plates[0]["plane"]
    cx, cy = (w - 1) / 2, (h - 1) / 2
    assert abs((a * cx + b * cy + c) - (ta * cx + tb * cy + tc)) < 0.02
    # labels agree with the generator's plate pixels
    ref = truth_geometry(weld)
    agree = np.mean((geo.plate_labels == side) == (ref.plate_labels == side))
    assert agree > 0.95
    assert not np.any(geo.plate_labels[weld.height == 0])


def test_isolated_bead_has_no_plate():
    weld = generate_weld(3, sample_seed(SEED, 3, 0), shadows=False)
    geo = locate(weld.height)
    assert geo.found and geo.plates == ()
    assert not geo.plate_labels.any()


def test_bead_mask_matches_truth():
    for topology in (3, 5, 7, 9):
        weld = generate_weld(topology, sample_seed(SEED, topology, 5))
        geo = locate(weld.height)
        truth = weld.bead_mask & (weld.height > 0)
        iou = np.sum(geo.bead_mask & truth) / np.sum(geo.bead_mask | truth)
        assert iou > 0.85, f"topology {topology}: bead mask IoU {iou:.2f}"


def _plate(shape=(128, 352), tilt=(0.0006, 0.0003), level=0.35, noise=0.004, seed=0):
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]]
    plane = level + tilt[0] * (xs - shape[1] / 2) + tilt[1] * (ys - shape[0] / 2)
    return np.clip(plane + rng.normal(0, noise, shape), 0.01, 1).astype(np.float32)


def _not_found_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    plate_shadows = _plate(seed=1)
    plate_shadows[rng.random(plate_shadows.shape) < 0.3] = 0.0
    two_plates = _plate(seed=2)
    two_plates[:60] += 0.25  # a step between two plates, no bead
    empty = np.zeros((128, 352), np.float32)
    empty[rng.random(empty.shape) < 0.01] = 0.6
    ys, xs = np.mgrid[0:128, 0:352]
    lump = 0.2 + 0.5 * np.exp(-((xs - 170.0) ** 2 + (ys - 60.0) ** 2) / 200.0)
    return {
        "flat": np.full((128, 352), 0.4, np.float32),
        "tilted plate": _plate(),
        "plate with shadows": plate_shadows,
        "two plates": two_plates,
        "noise": rng.random((128, 352)).astype(np.float32),
        "nearly empty": empty,
        "round lump": lump.astype(np.float32),
    }


@pytest.mark.parametrize("name", list(_not_found_cases()))
def test_not_found_has_a_reason(name):
    height = _not_found_cases()[name]
    geo = locate(height)
    assert not geo.found, f"{name}: found a bead that is not there"
    assert isinstance(geo.reason, str) and geo.reason
    assert geo.path is None and geo.axis_angle is None and geo.kind == "none"
    assert not geo.bead_mask.any() and not geo.plate_labels.any()
    assert np.array_equal(geo.nodata_mask, height == 0)
    assert geo.to_dict()["found"] is False


def test_pixels_and_float_give_the_same_geometry():
    weld = generate_weld(4, sample_seed(SEED, 4, 6), bit_depth=16)
    pixels16 = to_uint(weld.height, 16)
    as_float = to_float(pixels16)
    g16, gf = locate(pixels16), locate(as_float)
    g64 = locate(as_float.astype(np.float64))
    assert np.array_equal(g16.path.points, gf.path.points)
    assert np.array_equal(g16.path.widths, gf.path.widths)
    assert np.allclose(g64.path.points, gf.path.points, atol=1e-3)
    pixels8 = to_uint(weld.height, 8)
    g8, g8f = locate(pixels8), locate(to_float(pixels8))
    assert np.array_equal(g8.path.points, g8f.path.points)
    assert np.array_equal(g8.bead_mask, g8f.bead_mask)
    assert np.array_equal(g8.plate_labels, g8f.plate_labels)


def test_input_is_not_modified():
    weld = generate_weld(5, sample_seed(SEED, 5, 1))
    for height in (weld.height, to_uint(weld.height, 8), to_uint(weld.height, 16)):
        before = height.copy()
        height.setflags(write=False)
        locate(height)
        assert np.array_equal(height, before)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="2-D"):
        locate(np.zeros((4, 32, 32), np.float32))
    with pytest.raises(TypeError, match="int32"):
        locate(np.zeros((32, 32), np.int32))
