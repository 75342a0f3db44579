"""A bead whose other plate is hidden (no data beyond its toe) in a map cropped close to it:
the bead's flank where the data end is not taken for a plate, so the width and centre hold;
a noisy plate whose data end before the image does is still a plate."""

from __future__ import annotations

import numpy as np
import pytest

from weldsynth.geometry import locate
from weldsynth.geometry.profile import find_edges

WIDTH, CENTRE, CROWN, PLATE = 28.0, 40.0, 0.25, 0.3


def _hidden_side_map(rows_after_toe: int, noise: float) -> np.ndarray:
    """A bead along x with a plate above it; below its crest the bead goes down past the
    plate's level to a hidden lower plate (no data beyond the toe), and the map ends
    ``rows_after_toe`` rows after the toe (an import crops the map to the data)."""
    toe = CENTRE + WIDTH / 2
    rows = np.arange(int(np.ceil(toe)) + rows_after_toe, dtype=np.float64)[:, None]
    across = (rows - CENTRE) / (WIDTH / 2) * np.ones((1, 352))
    base = PLATE - 0.12 * np.clip(across, 0.0, None)
    z = base + CROWN * np.clip(1.0 - across**2, 0.0, None)
    z = z + np.random.default_rng(5).normal(0.0, noise, z.shape)
    return np.where(rows <= toe, np.clip(z, 0.001, 1.0), 0.0).astype(np.float32)


@pytest.mark.parametrize("rows_after_toe", [0, 2, 4, 30])
@pytest.mark.parametrize("noise", [0.002, 0.03])
def test_a_close_crop_beside_a_hidden_plate_keeps_width_and_centre(
    rows_after_toe: int, noise: float
) -> None:
    geo = locate(_hidden_side_map(rows_after_toe, noise))
    assert geo.kind == "line"
    centre = float(np.median(geo.path.points[:, 1]))
    assert abs(centre - CENTRE) < 0.75  # was up to 2 px towards the visible plate
    assert abs(geo.path.mean_width - WIDTH) / WIDTH < 0.07  # was up to 18 % narrower


def _sections(n: int, reach: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Cross-sections of a cap 30 px wide centred on the middle column, plate on both
    sides (profile, has data, in image)."""
    d = np.arange(-reach, reach + 1, dtype=np.float64)[None, :] * np.ones((n, 1))
    profile = PLATE + 0.3 * np.clip(1.0 - (d / 15.0) ** 2, 0.0, None)
    return profile, np.ones(profile.shape, bool), np.ones(profile.shape, bool), d, rng


def test_sections_ending_on_the_flank_end_the_bead_where_the_data_end() -> None:
    profile, has, in_image, d, _ = _sections(60, 40, np.random.default_rng(0))
    both_plates = find_edges(profile, has, in_image, 40)
    profile = profile - 0.12 * np.clip(d / 15.0, 0.0, None)  # down past the plate level
    has &= d <= 15  # the other plate is hidden: no data beyond the toe
    in_image &= d <= 19  # and the map ends 4 px later
    sec = find_edges(profile, has, in_image, 40)
    assert np.all(sec.trusted)
    np.testing.assert_allclose(sec.left, 15.5, atol=0.01)  # half-way to the first no-data
    np.testing.assert_allclose(sec.right, both_plates.right, atol=0.01)  # the plate side


def test_a_noisy_plate_whose_data_end_early_is_still_a_plate() -> None:
    profile, has, in_image, d, rng = _sections(200, 40, np.random.default_rng(1))
    profile = profile + rng.normal(0.0, 0.07, profile.shape) * (np.abs(d) > 15)
    has &= d <= 30  # a no-data band before the image border (a turned scan's corner)
    sec = find_edges(profile, has, in_image, 40)
    # the plate's noise tilts some sections' last samples, but not like a flank
    assert float(np.median(sec.width[sec.trusted])) == pytest.approx(30.0, abs=3.0)
    assert np.mean(sec.left > 25) < 0.05
