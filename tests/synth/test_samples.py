"""Procedural good welds: topologies, determinism, truth consistency, writing, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import ndimage

from weldsynth.cli.main import cli
from weldsynth.core.topology import (
    get_topology,
    register_topology,
    topology_ids,
    topology_table_markdown,
    unregister_topology,
)
from weldsynth.data import recipes_dir, samples_dir
from weldsynth.geometry import PLATE_LEFT, PLATE_RIGHT
from weldsynth.geometry.path import BeadPath, angle_difference
from weldsynth.io.heightmap import read_heightmap, to_float, to_uint
from weldsynth.synth.samples import (
    GENERATOR_KNOBS,
    TOPOLOGIES,
    generate_weld,
    read_sample,
    sample_seed,
    topology_spec,
    truth_geometry,
    write_samples,
)

SEED_IDS = (2, 3, 4, 5, 7, 8, 9, 10, 11)
"""The seed's topologies (section 6.2): all registered; the registry may hold more."""
README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def welds() -> dict[int, list]:
    """Three welds per topology (16-bit, default shape), generated once."""
    return {t: [generate_weld(t, sample_seed(0, t, i)) for i in range(3)] for t in topology_ids()}


def test_the_nine_seed_topologies_are_defined() -> None:
    assert set(SEED_IDS) <= set(topology_ids())
    assert tuple(TOPOLOGIES) == topology_ids()
    assert TOPOLOGIES[7].shape_kind == "closed"
    assert all(TOPOLOGIES[t].shape_kind == "line" for t in SEED_IDS if t != 7)
    assert TOPOLOGIES[7].topology == get_topology(7) and TOPOLOGIES[7].knobs is GENERATOR_KNOBS[7]
    assert 6 not in TOPOLOGIES and "7" not in TOPOLOGIES


def _missing_parts(topology: int) -> list[str]:
    """What a registered topology lacks of what every layer needs (empty when complete)."""
    spec = get_topology(topology)
    missing = []
    if topology not in GENERATOR_KNOBS:
        missing.append("generator knobs (weldsynth.synth.samples.knobs.GENERATOR_KNOBS)")
    if not (recipes_dir() / f"{topology}.yaml").is_file():
        missing.append(f"shipped recipe ({topology}.yaml)")
    if not sorted((samples_dir() / str(topology)).glob(f"{topology}_*.png")):
        missing.append(f"shipped samples ({topology}/)")
    row = f"| {topology} | {spec.name} | {spec.shape_kind} | {spec.description} |"
    if row not in README.read_text(encoding="utf-8"):
        missing.append("README topology table row (python tools/readme_tables.py)")
    return missing


@pytest.mark.parametrize("topology", topology_ids())
def test_every_registered_topology_is_complete(topology: int) -> None:
    assert _missing_parts(topology) == []


def test_a_new_topology_without_its_parts_is_caught() -> None:
    register_topology(99, "test-only", "line", "registered by a test")
    try:
        missing = _missing_parts(99)
        assert len(missing) == 4 and "generator knobs" in missing[0]
        assert 99 in TOPOLOGIES and len(TOPOLOGIES) == len(topology_ids())
        with pytest.raises(ValueError, match="no generator knobs"):
            topology_spec(99)
        with pytest.raises(ValueError, match="no generator knobs"):
            generate_weld(99, sample_seed(0, 99, 0))
    finally:
        unregister_topology(99)
    assert 99 not in TOPOLOGIES


def test_every_topology_generates_a_valid_map(welds) -> None:
    for topo, items in welds.items():
        for weld in items:
            hgt = weld.height
            assert hgt.shape == (128, 352) and hgt.dtype == np.float32
            assert weld.topology == topo and weld.truth["topology"] == topo
            valid = hgt > 0
            assert valid.mean() > 0.05, topo
            assert hgt.max() < 1.0  # never saturated
            assert hgt[valid].min() > 0.02  # data is clearly above "no data"
            # already quantised to 16 bits: what the PNG reads back
            assert np.array_equal(to_float(to_uint(hgt, 16)), hgt)


def test_same_seed_same_weld_other_index_other_weld() -> None:
    a = generate_weld(4, sample_seed(3, 4, 1))
    b = generate_weld(4, sample_seed(3, 4, 1))
    c = generate_weld(4, sample_seed(3, 4, 2))
    assert np.array_equal(a.height, b.height)
    assert a.truth == b.truth
    assert not np.array_equal(a.height, c.height)


def test_bit_depth_round_trip(tmp_path: Path) -> None:
    for depth in (8, 16):
        weld = generate_weld(2, sample_seed(0, 2, 0), bit_depth=depth)
        write_samples(tmp_path / str(depth), [2], 1, 0, bit_depth=depth)
        back = read_heightmap(tmp_path / str(depth) / "2" / "2_0000.png")
        assert back.bit_depth == depth
        assert np.array_equal(back.height, weld.height)


def test_bit_depth_does_not_change_the_weld() -> None:
    hi = generate_weld(3, sample_seed(0, 3, 5), bit_depth=16)
    lo = generate_weld(3, sample_seed(0, 3, 5), bit_depth=8)
    assert np.array_equal(hi.height > 0, lo.height > 0)
    assert np.abs(hi.height - lo.height).max() <= 0.5 / 255 + 1e-6


def test_truth_path_inside_image_and_dense(welds) -> None:
    for items in welds.values():
        for weld in items:
            path = weld.path
            h, w = weld.height.shape
            pts = path.points
            assert pts[:, 0].min() >= 0 and pts[:, 0].max() <= w - 1
            assert pts[:, 1].min() >= 0 and pts[:, 1].max() <= h - 1
            steps = np.hypot(*np.diff(path.vertices, axis=0).T)
            assert steps.max() <= 4.5
            # the whole bead (not only its centreline) is inside the image
            margin = 0.5 * path.widths
            assert (pts[:, 0] - margin).min() >= -0.5 and (pts[:, 0] + margin).max() <= w - 0.5


def test_line_paths_follow_direction_conventions(welds) -> None:
    for topo, items in welds.items():
        if topo == 7:
            continue
        for weld in items:
            path = weld.path
            chord = path.end - path.start
            if abs(chord[0]) >= abs(chord[1]):
                assert chord[0] > 0
            assert not path.closed
            assert weld.truth["axis_angle"] is not None


def test_bead_mask_matches_path_bead_mask(welds) -> None:
    for topo in (3, 7, 8):
        weld = welds[topo][0]
        ref = weld.path.bead_mask(weld.height.shape)
        geo = truth_geometry(weld)
        diff = np.logical_xor(ref, geo.bead_mask).sum()
        assert diff <= 0.01 * ref.sum(), (topo, diff)


def test_bead_is_higher_than_its_surroundings(welds) -> None:
    for topo, items in welds.items():
        for weld in items:
            bead = truth_geometry(weld).bead_mask
            hgt = weld.height
            ring = ndimage.binary_dilation(bead, iterations=6) & ~bead & (hgt > 0)
            crown = bead & (hgt > 0)
            assert crown.sum() > 0.8 * bead.sum(), topo  # shadows never take most of the bead
            if ring.any():
                assert np.median(hgt[crown]) > np.median(hgt[ring]) + 0.05, topo
            # the crown is the brightest part of the bead cross-section
            geo = truth_geometry(weld)
            s, d = geo.path.project(*np.nonzero(crown)[::-1])
            rel = np.abs(d) / (0.5 * geo.path.width_at(s))
            vals = hgt[crown]
            assert vals[rel < 0.3].mean() > vals[rel > 0.8].mean() + 0.05, topo


def test_zero_exactly_where_no_data(welds) -> None:
    for topo, items in welds.items():
        for weld in items:
            geo = truth_geometry(weld)
            plates = geo.plate_labels > 0
            # every labelled plate pixel and most bead pixels have data; nodata is height == 0
            assert np.all(weld.height[plates] > 0)
            assert np.array_equal(geo.nodata_mask, weld.height == 0)
            hidden = ~geo.bead_mask & (geo.plate_labels == 0)
            visible_sides = {p["side"] for p in weld.truth["plates"]}
            if not visible_sides:  # isolated bead: everything off the bead is no data
                assert np.all(weld.height[hidden] == 0), topo


def test_plates_per_topology(welds) -> None:
    for weld in welds[3] + welds[10] + welds[11]:
        assert weld.truth["plates"] == []
    for weld in welds[2] + welds[9]:
        assert [p["side"] for p in weld.truth["plates"]] == ["left"]
    for weld in welds[4]:
        geo = truth_geometry(weld)
        assert [p.side for p in geo.plates] == [PLATE_RIGHT]
        plate = geo.plate_labels == PLATE_RIGHT
        assert plate.sum() > 0.2 * plate.size
        assert abs(np.median(weld.height[plate]) - weld.truth["plates"][0]["height"]) < 0.05
    for weld in welds[7]:
        assert weld.truth["plates"][0]["side"] == "left"
        assert weld.truth["plates"][0]["kind"] in ("flat", "oblique")


def test_square_weld_is_a_closed_clockwise_path_with_four_corners(welds) -> None:
    for weld in welds[7]:
        path = weld.path
        assert path.closed
        assert weld.truth["axis_angle"] is None
        assert len(weld.truth["corners"]) == 4
        assert not np.allclose(path.points[0], path.points[-1])
        x, y = path.points[:, 0], path.points[:, 1]
        signed_area = 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)
        assert signed_area > 0  # clockwise on screen (y down) has positive shoelace area
        # positive offsets are outside: a point beyond the top side is outside the rectangle
        top = path.to_image(0.0, 5.0)
        assert top[1] < path.points[0, 1] - 4.0
        geo = truth_geometry(weld)
        assert len(geo.segments()) == 4


def test_square_weld_has_both_outer_plate_kinds() -> None:
    kinds = {generate_weld(7, sample_seed(1, 7, i)).truth["plates"][0]["kind"] for i in range(8)}
    assert kinds == {"flat", "oblique"}


def test_bead_lengths_ordered_10_3_11() -> None:
    def mean_len(topo: int) -> float:
        return float(
            np.mean([generate_weld(topo, sample_seed(0, topo, i)).path.length for i in range(4)])
        )

    assert mean_len(10) < mean_len(3) < mean_len(11)
    assert mean_len(9) < mean_len(2)


def test_topology_5_has_shadows_that_spare_the_bead(welds) -> None:
    for weld in welds[5]:
        geo = truth_geometry(weld)
        zero_on_plate_side = (weld.height == 0) & ~geo.bead_mask & geo_side(weld, "right")
        side = geo_side(weld, "right") & ~geo.bead_mask
        assert zero_on_plate_side.sum() > 0.1 * side.sum()
        _, blobs = ndimage.label(zero_on_plate_side)
        assert blobs >= 5
        assert ((weld.height == 0) & geo.bead_mask).sum() < 0.1 * geo.bead_mask.sum()
        assert weld.truth["generator"]["shadows"] is True
    quiet = generate_weld(5, sample_seed(0, 5, 0), shadows=False)
    assert quiet.truth["generator"]["shadow_fraction"] == 0.0
    assert (quiet.height == 0).sum() < (welds[5][0].height == 0).sum()


def geo_side(weld, side: str) -> np.ndarray:
    """Pixels on one side of the bead (truth)."""
    geo = truth_geometry(weld)
    labels = geo.plate_labels
    code = PLATE_LEFT if side == "left" else PLATE_RIGHT
    return (labels == code) | ((weld.height == 0) & _side_mask(weld, side))


def _side_mask(weld, side: str) -> np.ndarray:
    from weldsynth.synth.samples import bead_and_side

    _, left = bead_and_side(weld.path, weld.height.shape)
    return left if side == "left" else ~left


@pytest.mark.parametrize(
    ("shape", "rotation"),
    [((96, 256), None), ((160, 480), None), ((352, 128), 90.0), ((128, 352), 25.0)],
)
def test_other_shapes_and_rotations(shape, rotation) -> None:
    for topo in (2, 7, 11):
        weld = generate_weld(topo, sample_seed(0, topo, 0), shape=shape, rotation=rotation)
        assert weld.height.shape == shape
        assert weld.truth["shape"] == list(shape)
        path = weld.path
        assert path.points[:, 0].max() <= shape[1] - 1 and path.points[:, 1].max() <= shape[0] - 1
        assert truth_geometry(weld).bead_mask.sum() > 0.02 * weld.height.size
        if rotation is not None and topo != 7:
            assert angle_difference(weld.truth["axis_angle"], rotation) < 1.0
            if rotation == 90.0:  # vertical beads run top to bottom
                assert path.end[1] > path.start[1]


def test_overriding_one_knob_keeps_the_others() -> None:
    a = generate_weld(3, sample_seed(0, 3, 7))
    b = generate_weld(3, sample_seed(0, 3, 7), rotation=10.0, curvature=0.0, noise=0.0)
    ga, gb = a.truth["generator"], b.truth["generator"]
    assert gb["rotation"] == 10.0 and gb["curvature"] == 0.0 and gb["noise"] == 0.0
    assert ga["bead_width"] == gb["bead_width"] and ga["ripple_period"] == gb["ripple_period"]


def test_bad_arguments_are_rejected() -> None:
    rng = sample_seed(0, 2, 0)
    with pytest.raises(ValueError, match="allowed"):
        generate_weld(6, rng)
    with pytest.raises(ValueError, match="bit_depth"):
        generate_weld(2, rng, bit_depth=12)
    with pytest.raises(ValueError, match="shape"):
        generate_weld(2, rng, shape=(10, 300))


def test_write_samples_is_byte_identical_on_rerun(tmp_path: Path) -> None:
    first = write_samples(tmp_path / "a", [5, 7], 2, seed=11)
    second = write_samples(tmp_path / "b", [5, 7], 2, seed=11)
    assert [p.relative_to(tmp_path / "a") for p in first] == [
        p.relative_to(tmp_path / "b") for p in second
    ]
    assert [p.name for p in first] == ["5_0000.png", "5_0001.png", "7_0000.png", "7_0001.png"]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
        assert a.with_suffix(".json").read_bytes() == b.with_suffix(".json").read_bytes()
    truth = json.loads(first[2].with_suffix(".json").read_text())
    assert truth["topology"] == 7 and truth["sample"] == {"seed": 11, "index": 0}
    assert set(truth) >= {
        "topology",
        "bit_depth",
        "shape",
        "path",
        "axis_angle",
        "corners",
        "plates",
        "generator",
    }
    BeadPath.from_dict(truth["path"])  # the sidecar path is loadable
    other = write_samples(tmp_path / "c", [5], 1, seed=12)
    assert other[0].read_bytes() != first[0].read_bytes()


def test_read_sample_gives_back_the_same_truth_geometry(tmp_path: Path) -> None:
    weld = generate_weld(7, sample_seed(0, 7, 0))
    png = write_samples(tmp_path, [7], 1, seed=0)[0]
    back = read_sample(png)
    g1, g2 = truth_geometry(weld), truth_geometry(back)
    assert np.array_equal(back.height, weld.height)
    assert np.array_equal(g1.bead_mask, g2.bead_mask)
    assert np.array_equal(g1.plate_labels, g2.plate_labels)
    assert g1.corners == g2.corners


def test_cli_writes_samples_and_rejects_unknown_topology(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        cli,
        [
            "samples",
            "--topology",
            "9",
            "-n",
            "2",
            "--out",
            str(tmp_path),
            "--seed",
            "4",
            "--bit-depth",
            "8",
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    files = sorted(p.name for p in (tmp_path / "9").iterdir())
    assert files == ["9_0000.json", "9_0000.png", "9_0001.json", "9_0001.png"]
    assert read_heightmap(tmp_path / "9" / "9_0001.png").bit_depth == 8
    bad = runner.invoke(cli, ["samples", "--topology", "6", "--out", str(tmp_path)])
    assert bad.exit_code == 2
    assert "--topology" in bad.output and "11" in bad.output
    none = runner.invoke(cli, ["samples", "--out", str(tmp_path)])
    assert none.exit_code == 2 and "--all" in none.output


SAMPLES_ORDER = ("knobs", "render", "paths", "shapes", "clutter", "weld", "io", "__init__")
"""The modules of weldsynth.synth.samples, each importing only those before it."""


def test_samples_modules_import_one_way() -> None:
    import ast

    import weldsynth.synth.samples as package

    folder = Path(package.__file__).parent
    assert sorted(p.stem for p in folder.glob("*.py")) == sorted(SAMPLES_ORDER)
    for i, name in enumerate(SAMPLES_ORDER):
        tree = ast.parse((folder / f"{name}.py").read_text(encoding="utf-8"))
        inside = {
            node.module.removeprefix("weldsynth.synth.samples").lstrip(".") or "__init__"
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("weldsynth.synth.samples")
        }
        assert inside <= set(SAMPLES_ORDER[:i]), (name, inside)


def test_topology_table_lists_every_registered_topology() -> None:
    table = topology_table_markdown()
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + len(topology_ids())
    for topo, spec in TOPOLOGIES.items():
        assert f"| {topo} | {spec.name} | {spec.shape_kind} |" in table
    assert "square" in table and "shadow" in table


SHIPPED = samples_dir()  # the real folder (a checkout's samples/ links to it)


def test_shipped_set_is_what_the_generator_makes(tmp_path: Path) -> None:
    """samples/ must be regenerated (python tools/make_samples.py) when the generator changes."""
    seed = json.loads((SHIPPED / "2" / "2_0000.json").read_text())["sample"]["seed"]
    write_samples(tmp_path, list(TOPOLOGIES), 1, seed, bit_depth=16)
    write_samples(tmp_path, list(TOPOLOGIES), 1, seed, bit_depth=8, start=3)
    for topo in TOPOLOGIES:
        for name, depth in ((f"{topo}_0000", 16), (f"{topo}_0003", 8)):
            for ext in (".png", ".json"):
                shipped = SHIPPED / str(topo) / (name + ext)
                assert shipped.read_bytes() == (tmp_path / str(topo) / (name + ext)).read_bytes()
            assert read_heightmap(SHIPPED / str(topo) / f"{name}.png").bit_depth == depth
    pngs = sorted(SHIPPED.glob("*/*.png"))
    assert len(pngs) == 4 * len(TOPOLOGIES)
    assert sum(p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file()) < 5_000_000
    readme = (SHIPPED / "README.md").read_text()
    for topo in TOPOLOGIES:
        thumb = f"../../../docs/thumbs/{topo}.png"
        assert thumb in readme and (SHIPPED / thumb).is_file()
