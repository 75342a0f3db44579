"""balance: a variant of an image with a defect mask gets its own mask, transformed like it.

The data sets are :func:`mask_fixtures.masked_set`'s (the ``generate`` layout: masks under
``<topology>/_masks/`` named in the manifest's ``mask`` column): per source one good image
with an acceptable blemish (and its mask) and one bad image; some tests add original good
welds without a mask.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import mask_fixtures as mf
import numpy as np
import pytest
from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.dataset import augment
from weldsynth.dataset.balance import BalanceError, balance
from weldsynth.io.heightmap import heightmap_from_pixels
from weldsynth.io.manifest import Record, read_manifest, sha256_file, write_manifest
from weldsynth.train.data import list_images
from weldsynth.train.masks import carries_mask, load_masks

SIZE = (32, 96)
"""Training input size of the loader checks (the fixtures' image shape)."""


def _mask(root: Path, rel: str) -> np.ndarray:
    mask = cv2.imread(str(root / rel), cv2.IMREAD_UNCHANGED)
    assert mask is not None, rel
    return mask


def _variants(root: Path) -> list[tuple[Record, dict]]:
    out = []
    for rec in read_manifest(root):
        params = json.loads(rec.params)
        if "augment" in params:
            out.append((rec, params))
    return out


def _add_originals(root: Path, n: int) -> None:
    """Original good welds (no mask) for the first ``n`` sources of a masked set."""
    rows = read_manifest(root)
    for k in range(n):
        rel = f"7/good/w{k:03d}.png"
        pixels, _ = mf.located_weld(99, k, bad=False)
        assert cv2.imwrite(str(root / rel), pixels)
        rows.append(Record(path=rel, topology="7", label="good", source=rel))
    write_manifest(root, rows)


@pytest.fixture
def masked(tmp_path: Path) -> Path:
    return mf.masked_set(tmp_path / "ds", n_sources=4)


def test_mirrored_variant_has_the_mirrored_mask_of_its_base(masked: Path) -> None:
    balance(masked, "3:1", "oversample", seed=2)  # 4 bad: 8 new good, 2 per good image
    variants = _variants(masked)
    assert len(variants) == 8
    bases = {r.path: r for r in read_manifest(masked)}
    for rec, params in variants:
        base = bases[params["base"]]
        name = Path(rec.path).name
        assert rec.mask == f"7/_masks/{name}", "beside its base's mask, under its own name"
        flipped = np.flip(_mask(masked, base.mask), augment.FLIPS[params["flip"]])
        assert np.array_equal(_mask(masked, rec.mask), flipped)
        assert not np.array_equal(flipped, _mask(masked, base.mask)), "a mirror moves it"
        # and the image itself is its base mirrored the same way (pixels unchanged by masks)
        image = cv2.imread(str(masked / rec.path), cv2.IMREAD_UNCHANGED)
        base_image = cv2.imread(str(masked / base.path), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(image, np.flip(base_image, augment.FLIPS[params["flip"]]))
        assert sha256_file(masked / rec.path) == rec.sha256


def test_brightness_and_dropout_variants_keep_the_mask_and_scale_heights(
    masked: Path,
) -> None:
    """Brightness/contrast moves no pixel: same mask; it multiplies every height difference
    by 1 + contrast, so a height in mm follows and a diameter does not."""
    rows = read_manifest(masked)
    sizes = '{"diameter_mm": 1.2, "height_mm": 0.5, "length_px": 7.0}'
    write_manifest(masked, [r.with_(measures=sizes) if r.label == "good" else r for r in rows])
    balance(masked, "3:1", "oversample", seed=5, augments="brightness,dropout")
    variants = _variants(masked)
    assert {p["augment"] for _, p in variants} == {"brightness_contrast", "pixel_dropout"}
    bases = {r.path: r for r in read_manifest(masked)}
    for rec, params in variants:
        base = bases[params["base"]]
        assert rec.mask and (masked / rec.mask).read_bytes() == (masked / base.mask).read_bytes()
        measures = json.loads(rec.measures)
        if params["augment"] == "pixel_dropout":
            assert rec.measures == sizes
            continue
        assert params["contrast"] != 0
        assert measures["height_mm"] == pytest.approx(0.5 * (1 + params["contrast"]))
        assert measures["diameter_mm"] == 1.2 and measures["length_px"] == 7.0


def test_brightness_variant_heights_match_its_pixels() -> None:
    """The scale applied to height measures is the one the pixels got."""
    height = np.full((32, 96), 0.3)
    height[12:20] = 0.6  # a bead 0.3 above its plates, far from 0 and full scale
    height += np.random.default_rng(0).normal(0, 0.01, height.shape)
    hm = heightmap_from_pixels(np.rint(height * 65535).astype(np.uint16))
    out, params = augment.augment(hm, augment.BRIGHTNESS, np.random.default_rng(3))
    assert params["contrast"] != 0 and params["brightness"] != 0
    new = out.astype(np.float64) / 65535
    step = new[12:20].mean() - new[:12].mean()
    base_step = hm.height[12:20].mean() - hm.height[:12].mean()
    scaled = augment.variant_measures({"height_mm": 1.0}, params)["height_mm"]
    assert step / base_step == pytest.approx(scaled, rel=1e-3)


def test_variants_of_good_welds_without_a_mask_get_none(masked: Path) -> None:
    _add_originals(masked, 4)
    masks_before = sorted(p.name for p in (masked / "7" / "_masks").iterdir())
    balance(masked, "4:1", "oversample", seed=0)  # 8 good images for 4 bad: one variant each
    variants = _variants(masked)
    of_originals = [r for r, p in variants if "__" not in Path(p["base"]).name]
    of_masked = [r for r, p in variants if "__" in Path(p["base"]).name]
    assert of_originals and of_masked, "both kinds of base were used"
    assert all(r.mask == "" for r in of_originals)
    assert all(r.mask for r in of_masked)
    masks_after = sorted(p.name for p in (masked / "7" / "_masks").iterdir())
    assert set(masks_after) - set(masks_before) == {Path(r.path).name for r in of_masked}


def test_loader_gives_good_variants_empty_masks_and_a_mirrored_bad_one_its_mask(
    masked: Path,
) -> None:
    """Good variants train with an empty mask (their base's blemish is acceptable); once a
    mirrored variant is relabelled bad (an audit decision), the trainer finds its mask."""
    balance(masked, "2:1", "oversample", seed=4)
    listing = list_images(masked, "7")
    variants = {i.rel: i for i in listing.items if "flip_" in i.rel}
    assert variants and all(i.mask is not None and i.mask.is_file() for i in variants.values())
    masks, non_empty = load_masks(list(variants.values()), SIZE)
    assert masks is not None and non_empty == 0 and not masks.any()

    moved = sorted(variants)[0]
    decisions = masked.parent / "decisions.csv"
    with decisions.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "decision", "to", "sha256"])
        writer.writerow([moved, "move", "bad", sha256_file(masked / moved)])
    res = CliRunner().invoke(cli, ["relabel", "apply", str(masked), str(decisions)])
    assert res.exit_code == 0, res.output
    listing = list_images(masked, "7")
    item = next(i for i in listing.items if Path(i.rel).name == Path(moved).name)
    assert item.label == "bad" and carries_mask(item)
    masks, non_empty = load_masks([item], SIZE)
    assert masks is not None and non_empty == 1
    # the cached mask is the mirrored one: it lies where the mirrored blemish is
    raw = _mask(masked, read_manifest_mask(masked, item.rel))
    assert np.array_equal(masks[0] > 0, _cells(raw))


def read_manifest_mask(root: Path, rel: str) -> str:
    return next(r.mask for r in read_manifest(root) if r.path == rel)


def _cells(mask: np.ndarray) -> np.ndarray:
    """Which 8x8 cells of a SIZE-shaped mask hold a defect pixel."""
    h, w = mask.shape
    return (mask > 0).reshape(h // 8, 8, w // 8, 8).any(axis=(1, 3))


def test_killed_run_leaves_no_orphan_masks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = mf.masked_set(tmp_path / "a", n_sources=4)
    b = tmp_path / "b"
    shutil.copytree(a, b)
    balance(a, "2:1", "oversample", seed=8)

    def killed(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("weldsynth.dataset.balance.apply.write_manifest", killed)
    with pytest.raises(KeyboardInterrupt):
        balance(b, "3:1", "oversample", seed=8)  # more variants (and masks) than a's
    monkeypatch.undo()
    balance(b, "2:1", "oversample", seed=8)
    snap = {p.relative_to(b).as_posix(): p.read_bytes() for p in b.rglob("*.png")}
    assert snap == {p.relative_to(a).as_posix(): p.read_bytes() for p in a.rglob("*.png")}
    assert (b / "manifest.csv").read_bytes() == (a / "manifest.csv").read_bytes()
    listed = {r.mask for r in read_manifest(b) if r.mask}
    assert sum("flip_" in m for m in listed) == 4, "the variants' masks are listed"
    assert {p.relative_to(b).as_posix() for p in (b / "7" / "_masks").iterdir()} == listed


def test_a_foreign_file_where_a_mask_goes_is_never_overwritten(masked: Path) -> None:
    target = masked / "7" / "_masks" / "w000__pore_00__hflip_00.png"
    target.write_bytes(b"someone else's")
    with pytest.raises(BalanceError, match=r"w000__pore_00__hflip_00\.png: exists"):
        balance(masked, "2:1", "oversample", seed=0)
    assert target.read_bytes() == b"someone else's"
