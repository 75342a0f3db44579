"""Under a norm every plugin's measure is the size the map shows (within one pixel
equivalent), and recipes without a norm still draw byte for byte as before.

The map side is measured here from the written map alone (before, after, changed mask),
knowing where the defect is but not its size, as ``bench/norm_measure.py`` does over
1,000 draws per plugin.
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest
from defects_support import make_case, sample_case

from weldsynth.core.units import to_unit
from weldsynth.io.calibration import Calibration
from weldsynth.synth.defects import create_defect
from weldsynth.synth.defects.bead_deviation import JUDGED_AMPLITUDE
from weldsynth.synth.defects.rule import ACCEPT, REJECT
from weldsynth.synth.norm import Judge, NormSettings
from weldsynth.synth.recipe import build_defect, recipe_from_dict

PIXEL_MM = 0.05
CAL = Calibration(PIXEL_MM, PIXEL_MM, height_mm=8.0 / 65535, t_mm=3.0)
MM_PER_UNIT = 8.0
"""mm of a height difference of 1.0 ([0, 1] units) on these 16-bit maps."""
ISO_C = NormSettings.from_mapping({"preset": "iso5817-2014-C", "t_mm": 3})
WITH_PLATE = (2, 4, 8, 9)
"""Topologies whose procedural welds have a plate (undercut needs one)."""


def _judged(name: str, **config: object):
    return create_defect(name, **config).with_norm(Judge(ISO_C, CAL))


def _draws(plugin, case, seeds: range):
    """Successful draws of each verdict on ``case``."""
    for verdict in (ACCEPT, REJECT):
        only = plugin.for_verdict(verdict)
        for seed in seeds:
            result = only(case.height, np.random.default_rng(seed), case.geometry)
            if result.ok:
                yield result


def _bilinear(unit: np.ndarray, xy: np.ndarray) -> float:
    out = cv2.remap(
        unit.astype(np.float32),
        np.float32([[xy[0]]]),
        np.float32([[xy[1]]]),
        cv2.INTER_LINEAR,
    )
    return float(out[0, 0])


@pytest.mark.parametrize("topology", [3, 5, 7, 10])
def test_excess_material_raise_on_the_map_is_its_measure(topology: int) -> None:
    case = sample_case(topology, "uint16")
    plugin = _judged("excess_material", strength=(0.02, 0.6))
    seen = 0
    for result in _draws(plugin, case, range(4)):
        before, after = to_unit(case.height), to_unit(result.height)
        raise_mm = float((after - before)[result.mask].max()) * MM_PER_UNIT
        assert raise_mm == pytest.approx(result.measures["height_mm"], abs=PIXEL_MM)
        seen += 1
    assert seen >= 4


@pytest.mark.parametrize("topology", WITH_PLATE)
def test_undercut_depth_below_the_plate_beside_it_is_its_measure(topology: int) -> None:
    case = sample_case(topology, "uint16")
    plugin = _judged("missing_plate", depth=(0.02, 0.8))
    path = case.geometry.path
    seen = 0
    for result in _draws(plugin, case, range(5)):
        p = result.params
        if "depth_mm" not in result.measures:  # lack of fusion: a length only
            continue
        before, after = to_unit(case.height), to_unit(result.height)
        depths = []
        lo, hi = p.s + p.s0 + p.ramp, p.s + p.s1 - p.ramp
        for s in np.linspace(lo + 0.5, hi - 0.5, 9):
            foot, normal = path.point_at(s), path.normal_at(s) * p.side
            half = float(path.width_at(s)) / 2
            e0, e1 = half * (1 - p.flank), half * (1 + p.margin)
            mid = (e0 + e1) / 2
            plate = _bilinear(before, foot + (2 * e1 - mid) * normal)
            depths.append(plate - _bilinear(after, foot + mid * normal))
        depth_mm = float(np.median(depths)) * MM_PER_UNIT
        assert depth_mm == pytest.approx(result.measures["depth_mm"], abs=PIXEL_MM)
        seen += 1
    assert seen >= 2


def _feret_px(mask: np.ndarray) -> float:
    ys, xs = np.nonzero(mask)
    pts = np.stack([xs, ys], 1).astype(np.float64)
    return float(np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1)).max()) + 0.5


def _disc_px(mask: np.ndarray) -> float:
    """Diameter of the disc with the area of the changed pixels."""
    return 2.0 * float(np.sqrt(np.count_nonzero(mask) / np.pi))


@pytest.mark.parametrize("angle", [0.0, 30.0])
def test_ball_on_a_sloped_flank_shows_its_whole_diameter(angle: float) -> None:
    """A lump on the flank of the bead (a slope) rises over its whole disc, so its extent and
    its area on the map are those of its measured diameter; the pixel cap leaves the uphill
    part of its disc unchanged."""
    case = make_case("line", "uint16", angle)
    config = {"offset": (0.55, 0.8), "radius": (3.0, 9.0)}
    plugin = _judged("ball", **config)
    for result in _draws(plugin, case, range(4)):
        diameter_px = result.measures["diameter_mm"] / PIXEL_MM
        assert _feret_px(result.mask) == pytest.approx(diameter_px, abs=1.0)
        assert _disc_px(result.mask) == pytest.approx(diameter_px, abs=1.0)
    pixel = create_defect("ball", **config)
    smaller = [
        _disc_px(r.mask) < 2 * r.params.radius - 1.0
        for seed in range(8)
        if (r := pixel(case.height, np.random.default_rng(seed), case.geometry)).ok
    ]
    assert any(smaller), "the pixel cap was expected to show less than its disc on a slope"


def test_bead_deviation_defaults_straddle_the_plant_limit_under_a_norm() -> None:
    data = {"topology": 3, "norm": {"preset": "iso5817-2014-C", "t_mm": 3}}
    judged = build_defect(
        recipe_from_dict({**data, "defects": {"bead_deviation": {}}}), "bead_deviation", CAL
    )
    assert judged.config.amplitude == JUDGED_AMPLITUDE
    pixel = build_defect(
        recipe_from_dict({"topology": 3, "defects": {"bead_deviation": {}}}), "bead_deviation", None
    )
    assert pixel.config.amplitude == (0.3, 0.7)  # recipes without a norm: as before
    given = {"bead_deviation": {"params": {"amplitude": [0.4, 0.5]}}}
    assert build_defect(
        recipe_from_dict({**data, "defects": given}), "bead_deviation", CAL
    ).config.amplitude == (0.4, 0.5)
    case = sample_case(3, "uint16")
    accepted = [
        r
        for seed in range(6)
        if (
            r := judged.for_verdict(ACCEPT)(case.height, np.random.default_rng(seed), case.geometry)
        ).ok
    ]
    assert accepted and all(r.verdict == ACCEPT and r.label == "good" for r in accepted)


# sha256 of the maps written by recipes without a norm (default config, seeds 0-3, on a
# hand-made line and a procedural weld), checked equal to the code before measures met
# the map (issue 13): a change here changes every data set drawn from a pixel recipe
PIXEL_DIGESTS = {
    "ball": "94a02b12be1567ede252aa98f08022f0e5e6bf1419a38d39c99ae351ddd57202",
    "bead_deviation": "1250c140d4c8d18b29c794b45a97f1f89324cfa3adfc52ed1d8652a7153650f2",
    "excess_material": "e8c9169418889b67d7a71012cac9e81fe770ec7b2c62867f56d3ed37f2ae9b16",
    "missing_plate": "d90edaf74d54d5f0625afcda5ed0101da8dffc51eedef8e6fe49f520726b2d46",
}


@pytest.mark.parametrize("name", sorted(PIXEL_DIGESTS))
def test_pixel_recipes_draw_byte_for_byte_as_before(name: str) -> None:
    digest = hashlib.sha256()
    plugin = create_defect(name)
    for case in (make_case("line", "uint16"), sample_case(4, "uint16")):
        for seed in range(4):
            result = plugin(case.height, np.random.default_rng(seed), case.geometry)
            digest.update(b"-" if result.rejected else result.height.tobytes())
    assert digest.hexdigest() == PIXEL_DIGESTS[name]
