"""locate on the bead layouts of real scans: wide crossing beads, T joints, parallel walls,
beads at the border, plate edges; never a closed bead that is not closed."""

from __future__ import annotations

import numpy as np
import pytest
from bead_scenes import (
    Bead,
    bead_and_plate_edge,
    bead_at_edge,
    grooved_cap,
    parallel_beads,
    render,
    square_weld,
    t_joint,
    wide_crossing_bead,
    wide_crossing_bead_horizontal,
)

from weldsynth.geometry import locate
from weldsynth.geometry.path import angle_difference


def _several(geo) -> bool:
    return any(w.startswith("several beads") for w in geo.warnings)


def _offset_from(geo, bead: Bead) -> float:
    """Median distance (px) of the found centreline from the straight bead's axis."""
    p0, p1 = np.asarray(bead.start, float), np.asarray(bead.end, float)
    t = (p1 - p0) / np.hypot(*(p1 - p0))
    pts = geo.path.resample(1.0)
    return float(np.median(np.abs((pts[:, 1] - p0[1]) * t[0] - (pts[:, 0] - p0[0]) * t[1])))


def test_wide_bead_over_the_whole_height_is_a_vertical_line():
    # the real-scan failure: 160 px wide, the map 149 px high
    height, bead = wide_crossing_bead()
    geo = locate(height)
    assert geo.found and geo.kind == "line", geo.reason
    assert angle_difference(geo.axis_angle, 90.0) < 2.0
    assert geo.path.length > 0.95 * height.shape[0]
    assert _offset_from(geo, bead) < 2.0
    assert abs(geo.path.mean_width - bead.width) < 0.15 * bead.width
    assert geo.warnings == ()


def test_wide_bead_over_the_whole_width_is_a_horizontal_line():
    height, bead = wide_crossing_bead_horizontal()
    geo = locate(height)
    assert geo.found and geo.kind == "line", geo.reason
    assert angle_difference(geo.axis_angle, 0.0) < 2.0
    assert _offset_from(geo, bead) < 2.0
    assert abs(geo.path.mean_width - bead.width) < 0.15 * bead.width


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("width", [120.0, 160.0])
def test_grooved_crest_of_a_wide_bead_is_not_a_square_weld(width, seed):
    # a crest groove that stops short of the ends made the old finder claim a square weld
    geo = locate(grooved_cap(width=width, seed=seed))
    assert geo.kind == "line", geo.reason
    assert angle_difference(geo.axis_angle, 90.0) < 2.0
    assert abs(geo.path.mean_width - width) < 0.15 * width


def test_t_joint_is_the_long_bead_with_a_warning():
    height, top, _ = t_joint()
    geo = locate(height)
    assert geo.found and geo.kind == "line", geo.reason
    assert angle_difference(geo.axis_angle, 0.0) < 2.0
    assert _offset_from(geo, top) < 2.0
    assert abs(geo.path.mean_width - top.width) < 0.15 * top.width
    assert _several(geo), geo.warnings


def test_two_equal_parallel_beads_are_not_merged():
    height, _, _ = parallel_beads()
    geo = locate(height)
    assert not geo.found and geo.kind == "none"
    assert geo.reason.startswith("several beads")
    assert not geo.bead_mask.any()


def test_a_dominant_bead_beside_a_small_one_is_found_with_a_warning():
    height, main, _ = parallel_beads(second_width=12.0)
    geo = locate(height)
    assert geo.found and geo.kind == "line", geo.reason
    assert _offset_from(geo, main) < 2.0
    assert _several(geo), geo.warnings


def test_bead_beside_a_plate_edge_is_the_bead_with_a_warning():
    height, bead = bead_and_plate_edge()
    geo = locate(height)
    assert geo.found and geo.kind == "line", geo.reason
    assert _offset_from(geo, bead) < 2.0
    assert abs(geo.path.mean_width - bead.width) < 0.15 * bead.width
    assert _several(geo), geo.warnings


def test_bead_cut_by_the_image_border_is_a_line_with_a_warning():
    height, _ = bead_at_edge()
    geo = locate(height)
    assert geo.found and geo.kind == "line", geo.reason
    assert angle_difference(geo.axis_angle, 0.0) < 2.0
    assert any("border" in w for w in geo.warnings), geo.warnings
    # the visible part: from the border to the foot of the bead (6 + 17 px)
    edge = geo.path.points[:, 1] + 0.5 * geo.path.widths
    assert np.all(np.abs(edge - 23.0) < 2.5)


def test_square_weld_is_still_closed():
    height, beads = square_weld()
    geo = locate(height)
    assert geo.found and geo.kind == "closed", geo.reason
    assert len(geo.corners) == 4
    assert abs(geo.path.mean_width - beads[0].width) < 0.15 * beads[0].width
    assert geo.warnings == ()
    # the centreline runs round the truth rectangle
    pts = geo.path.points
    assert 70 < pts[:, 0].min() < 82 and 270 < pts[:, 0].max() < 282
    assert 23 < pts[:, 1].min() < 35 and 93 < pts[:, 1].max() < 105


def test_square_weld_cut_by_the_border_is_not_closed():
    height, _ = square_weld()
    cropped = height[:80]  # the bottom side is gone: nothing is enclosed any more
    geo = locate(cropped)
    assert geo.kind != "closed"
    if not geo.found:
        assert geo.reason


def test_warnings_are_in_the_json_summary():
    height, _, _ = t_joint()
    summary = locate(height).to_dict()
    assert summary["warnings"] and summary["warnings"][0].startswith("several beads")
    assert locate(render((128, 352), [Bead((-20, 64), (372, 64), 30)])).to_dict()["warnings"] == []


def test_wide_bead_on_a_tilted_plate_is_still_one_vertical_line():
    height, bead = wide_crossing_bead()
    xs = np.arange(height.shape[1], dtype=np.float32)[None, :]
    tilted = height + 0.0002 * (xs - 200.0)  # the plate rises by 0.08 (a third of the crown)
    geo = locate(tilted)
    assert geo.found and geo.kind == "line", geo.reason
    assert angle_difference(geo.axis_angle, 90.0) < 2.0
    assert _offset_from(geo, bead) < 2.0
    assert abs(geo.path.mean_width - bead.width) < 0.15 * bead.width
