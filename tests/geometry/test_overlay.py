"""``inspect --overlay``: the label sits in its own band, once (no offset shadow), the
legend names every colour drawn, nothing is written over the map, mm when calibrated."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from weldsynth.data import samples_dir
from weldsynth.geometry import locate
from weldsynth.geometry import overlay as ov
from weldsynth.geometry.dimensions import BeadDimensions
from weldsynth.io.heightmap import read_heightmap

SCALE = 3


@pytest.fixture(scope="module")
def closed_weld():
    hm = read_heightmap(samples_dir() / "7" / "7_0000.png")
    geo = locate(hm.height)
    assert geo.found and geo.kind == "closed" and geo.corners
    return hm.height, geo


def _bands(img: np.ndarray, map_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split an overlay into (label band, map, legend band): the label band ends at the
    first row that is not mostly band colour."""
    band = np.all(img == np.array(ov.BAND, np.uint8), axis=2).mean(axis=1) > 0.5
    top = int(np.argmax(~band))
    return img[:top], img[top : top + map_rows], img[top + map_rows :]


def test_the_map_is_kept_whole_between_a_label_band_and_a_legend_band(closed_weld) -> None:
    height, geo = closed_weld
    img = ov.render_overlay(height, geo, scale=SCALE)
    rows = height.shape[0] * SCALE
    assert img.shape[1] == height.shape[1] * SCALE
    top, on_map, bottom = _bands(img, rows)
    assert top.shape[0] > 0 and bottom.shape[0] > 0
    assert top.shape[0] + rows + bottom.shape[0] == img.shape[0]
    # the old label was written over the map's top-left corner: now it is the bare map
    bare = ov.render_overlay(height, dataclasses.replace(geo, found=False), scale=SCALE)
    _, bare_map, _ = _bands(bare, rows)
    assert np.array_equal(on_map[:40, :450], bare_map[:40, :450])
    ink = np.any(top != np.array(ov.BAND, np.uint8), axis=2)
    assert ink.sum() > 200  # the label is written...
    pixels = top[ink].astype(int)
    assert (pixels >= min(ov.BAND)).all()  # ...with no darker copy (shadow) beside it
    assert (np.ptp(pixels, axis=1) <= 2).all()  # in grey levels only


def test_the_legend_shows_every_colour_drawn(closed_weld) -> None:
    height, geo = closed_weld
    img = ov.render_overlay(height, geo, scale=SCALE)
    _, _, legend = _bands(img, height.shape[0] * SCALE)
    names = [name for name, _, _ in ov._legend_entries(geo)]
    assert {"bead edges", "centreline", "start", "corners", "plate left (+)"} <= set(names)
    assert {"plate right (-)", "no data"} <= set(names)
    assert "end" not in names  # a closed bead has no end dot
    for name, colour, _ in ov._legend_entries(geo):
        near = np.abs(legend.astype(int) - np.array(colour)).sum(axis=2) <= 6
        assert near.sum() >= 10, f"no swatch of {name} in the legend"


def test_a_not_found_map_has_no_bead_entries_and_its_reason_wraps(closed_weld) -> None:
    height, _ = closed_weld
    narrow = height[:, :60]
    geo = locate(narrow)
    assert not geo.found
    img = ov.render_overlay(narrow, geo, scale=SCALE)
    names = [name for name, _, _ in ov._legend_entries(geo)]
    assert names == ["plate left (+)", "plate right (-)", "no data"]
    lines = ov.fit_words(f"bead not found: {geo.reason}", img.shape[1] - 2 * ov.PAD)
    assert len(lines) > 1
    assert all(ov._text_width(line) <= img.shape[1] - 2 * ov.PAD for line in lines)


@pytest.mark.parametrize("width", [120, 300, 1056])
def test_text_boxes_never_overlap_and_hold_their_ink(width: int) -> None:
    parts = ["closed", "width 1.52 mm (15.2 px)", "length 60.3 mm (603 px)", "axis -12.5 deg"]
    parts += ["bead edges", "plate right (-)", "gjpqy descenders"]
    boxes = ov.text_boxes(parts, width, ov.GAP, ov.SWATCH)
    for a, b in itertools.combinations(boxes, 2):
        ax0, ay0, aw, ah = a
        bx0, by0, bw, bh = b
        assert min(ax0 + aw, bx0 + bw) <= max(ax0, bx0) or min(ay0 + ah, by0 + bh) <= max(ay0, by0)
    for part in parts:  # each part's ink inside its box
        band, (box,) = ov._band([part], 2000)
        ink = np.argwhere(np.any(band != np.array(ov.BAND, np.uint8), axis=2))
        x, y, w, h = box
        assert ink[:, 0].min() >= y and ink[:, 0].max() < y + h, part
        assert ink[:, 1].min() >= x and ink[:, 1].max() < x + w + 1, part
    assert all(x + w <= width - ov.PAD or x == ov.PAD for x, _, w, _ in boxes)


def test_calibrated_sizes_are_in_mm_with_pixels_beside(closed_weld) -> None:
    _, geo = closed_weld
    dims = BeadDimensions(width=1.523, length=60.31, height=0.8, length_unit="mm", height_unit="mm")
    parts = ov.label_parts(geo, dims)
    assert parts[1] == f"width 1.52 mm ({geo.path.mean_width:.1f} px)"
    assert parts[2] == f"length 60.3 mm ({geo.path.length:.0f} px)"
    assert "height 0.80 mm" in parts
    raw = BeadDimensions(15.2, 603.0, 31832.0, "px", "levels")
    assert (
        ov.label_parts(geo, raw)
        == ov.label_parts(geo)
        == [
            "closed",
            f"width {geo.path.mean_width:.1f} px",
            f"length {geo.path.length:.0f} px",
        ]
    )
