"""An acceptable and a rejectable variant of the same defect on the same weld, judged by a
norm: measures on either side of the guard band, verdicts and labels, and their figure."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from weldsynth.data import samples_dir
from weldsynth.geometry import locate
from weldsynth.io.calibration import Calibration
from weldsynth.io.heightmap import read_heightmap
from weldsynth.synth.norm_pair import draw_pair, render_pair
from weldsynth.synth.recipe import recipe_for_topology, recipe_from_dict


@pytest.fixture(scope="module")
def pair():  # type: ignore[no-untyped-def]
    hm = read_heightmap(sorted((samples_dir() / "3").glob("*.png"))[0])
    data = recipe_for_topology(3).model_dump()
    data["norm"] = {**data["norm"], "preset": "iso5817-2014-C", "t_mm": 3}
    calibration = Calibration(0.1, 0.1, height_mm=8 / 65535)
    found = draw_pair(hm.to_uint(), locate(hm.height), recipe_from_dict(data), calibration, 0)
    assert found is not None
    return found


def test_the_two_variants_lie_on_either_side_of_the_guard_band(pair) -> None:  # type: ignore[no-untyped-def]
    good_up_to, bad_from = pair.bounds
    assert good_up_to < bad_from
    assert (pair.accept.verdict, pair.accept.label) == ("accept", "good")
    assert (pair.reject.verdict, pair.reject.label) == ("reject", "bad")
    assert pair.accept.measures[pair.key] <= good_up_to
    assert pair.reject.measures[pair.key] >= bad_from
    assert pair.key.endswith("_mm") and pair.reference
    line = pair.line()
    assert "-> accept (good)" in line and "-> reject (bad)" in line
    assert pair.reference in line and "ISO 5817 level C" in line


def test_the_figure_shows_both_side_by_side(pair) -> None:  # type: ignore[no-untyped-def]
    image = cv2.imdecode(np.frombuffer(render_pair(pair), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[1] > image.shape[0]  # two panels across
    red = (image[..., 2] > 150) & (image[..., 1] < 90) & (image[..., 0] < 90)
    half = image.shape[1] // 2
    assert red[:, :half].any() and red[:, half:].any()  # each defect outlined
