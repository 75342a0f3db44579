"""Trainer data handling: listing, classes, grouped and random splits, letterbox, batches."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import train_fixtures as fx

from weldsynth.core.errors import WeldsynthError
from weldsynth.train.config import TrainConfig, parse_size
from weldsynth.train.data import (
    LEAK_WARNING,
    grouped_split,
    list_images,
    list_topologies,
)
from weldsynth.train.images import Batches, build_augment, decode_all, letterbox, pixel_stats


def test_plain_folder_random_split_is_stratified_and_warns(tmp_path: Path) -> None:
    fx.image_folder(tmp_path, ("3", "7"), n_per_class=10, bad_folder="bad-hole")
    (tmp_path / "7" / "_masks").mkdir()
    fx._write(tmp_path / "7" / "_masks" / "m.png", fx.weld(0, 0, False))
    assert list_topologies(tmp_path) == ["3", "7"]
    listing = list_images(tmp_path, "7")
    assert listing.classes == ["bad", "good"]  # bad-hole collapses to bad; _masks ignored
    assert listing.warnings == [LEAK_WARNING]
    assert listing.counts() == {"train": {"bad": 8, "good": 8}, "val": {"bad": 2, "good": 2}}
    assert {i.defect for i in listing.items if i.label == "bad"} == {"hole"}
    again = list_images(tmp_path, "7")
    assert [i.split for i in again.items] == [i.split for i in listing.items]
    other = list_images(tmp_path, "7", split_seed=1)
    assert [i.split for i in other.items] != [i.split for i in listing.items]
    assert list_images(tmp_path, "7", by_defect=True).classes == ["bad-hole", "good"]


def test_single_topology_folder_is_understood(tmp_path: Path) -> None:
    fx.image_folder(tmp_path, ("9",), n_per_class=4)
    listing = list_images(tmp_path / "9", "9")
    assert list_topologies(tmp_path / "9") == ["9"]
    assert len(listing.items) == 8


def test_manifest_split_is_grouped_by_source_and_skips_inactive_rows(tmp_path: Path) -> None:
    fx.manifest_set(tmp_path, n_sources=20)
    rows = list(csv.DictReader((tmp_path / "manifest.csv").open()))
    rows[0]["status"] = "dropped"
    with (tmp_path / "manifest.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(fx.COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    listing = list_images(tmp_path, "7")
    assert len(listing.items) == 39
    assert rows[0]["path"] not in {i.rel for i in listing.items}
    by_source: dict[str, set[str]] = {}
    for item in listing.items:
        by_source.setdefault(item.source, set()).add(item.split)
    assert all(len(s) == 1 for s in by_source.values())  # no source on both sides
    n_val = sum(i.split == "val" for i in listing.items)
    assert 6 <= n_val <= 10  # about 20 % of 39, whole groups of 2
    assert listing.manifest_sha and "grouped by source" in listing.split_note
    assert listing.warnings == []


def test_manifest_split_column_is_respected(tmp_path: Path) -> None:
    splits = {k: "test" for k in range(4)} | {k: "val" for k in range(4, 8)}
    fx.manifest_set(tmp_path, n_sources=12, splits=splits | {k: "train" for k in range(8, 12)})
    listing = list_images(tmp_path, "7")
    assert listing.counts() == {
        "test": {"bad": 4, "good": 4},
        "val": {"bad": 4, "good": 4},
        "train": {"bad": 4, "good": 4},
    }
    assert listing.split_note == "manifest split column"


def test_grouped_split_keeps_both_sides_non_empty() -> None:
    out = grouped_split({"a": 5, "b": 5}, 0.2, seed=42)
    assert sorted(out.values()) == ["train", "val"]
    assert grouped_split({"a": 3}, 0.5, seed=0) == {"a": "train"}
    big = grouped_split({f"s{k}": 2 for k in range(50)}, 0.2, seed=3)
    assert sum(v == "val" for v in big.values()) == 10


def test_single_class_and_empty_class_are_clear_errors(tmp_path: Path) -> None:
    for k in range(3):
        fx._write(tmp_path / "7" / "good" / f"{k}.png", fx.weld(0, k, False))
    with pytest.raises(WeldsynthError, match="only one class"):
        list_images(tmp_path, "7")
    (tmp_path / "7" / "bad").mkdir()
    with pytest.raises(WeldsynthError, match="has no images"):
        list_images(tmp_path, "7")
    with pytest.raises(WeldsynthError, match="not found"):
        list_images(tmp_path, "8")


def test_letterbox_keeps_aspect_and_pads_with_zeros() -> None:
    img = np.full((10, 40), 0.5, np.float32)
    out = letterbox(img, (20, 40))  # already 40 wide: no resize, 5 rows of padding each side
    assert out.shape == (20, 40)
    assert np.all(out[:5] == 0) and np.all(out[15:] == 0)
    assert np.allclose(out[5:15], 0.5)
    small = letterbox(np.full((20, 20), 1.0, np.float32), (16, 32))  # scaled to 16x16, centred
    assert np.all(small[:, :8] == 0) and np.all(small[:, 24:] == 0)
    assert np.allclose(small[:, 8:24], 1.0)


def test_decode_all_skips_and_lists_unreadable_files(tmp_path: Path) -> None:
    good = tmp_path / "a.png"
    fx._write(good, fx.weld(0, 0, False))
    broken = tmp_path / "b.png"
    broken.write_bytes(b"not a png")
    out = decode_all([good, broken, tmp_path / "missing.png"], (32, 96), threads=1)
    assert out.kept == [0]
    assert out.images.shape == (1, 32, 96) and out.images.dtype == np.uint16
    assert [Path(f).name for f, _ in out.failures] == ["b.png", "missing.png"]


def test_batches_normalise_shuffle_deterministically_and_drop_a_lone_sample() -> None:
    images = np.arange(5, dtype=np.uint16)[:, None, None] * 1000 + np.zeros((5, 4, 4), np.uint16)
    labels = np.arange(5)
    mean, std = pixel_stats(images)
    assert mean == pytest.approx(2000 / 65535)
    plain = list(Batches(images, labels, 2, mean, std))
    assert [len(y) for _, y in plain] == [2, 2, 1]  # evaluation keeps every image
    x0 = plain[0][0]
    assert x0.shape == (2, 1, 4, 4)
    assert float(x0[0, 0, 0, 0]) == pytest.approx((0 - mean) / std, rel=1e-5)
    a = [y.tolist() for _, y in Batches(images, labels, 2, mean, std, shuffle_seed=7)]
    b = [y.tolist() for _, y in Batches(images, labels, 2, mean, std, shuffle_seed=7)]
    assert a == b and [len(y) for y in a] == [2, 2]  # training drops the batch of one
    assert len(Batches(images, labels, 2, mean, std, shuffle_seed=7)) == 2


def test_augment_spec_and_errors(tmp_path: Path) -> None:
    assert build_augment("none", 0) is None
    aug = build_augment("hflip,vflip,rotate=3", 5)
    img = np.random.default_rng(0).random((16, 32), dtype=np.float32)
    again = build_augment("hflip,vflip,rotate=3", 5)
    assert all(np.array_equal(aug(image=img)["image"], again(image=img)["image"]) for _ in range(4))
    import albumentations as A

    A.save(A.Compose([A.HorizontalFlip(p=1.0)]), str(tmp_path / "a.json"))
    flip = build_augment(str(tmp_path / "a.json"), 0)
    assert np.array_equal(flip(image=img)["image"], img[:, ::-1])
    speckle = build_augment("dropout=0.5", 1)
    dropped = [int((speckle(image=img + 0.5)["image"] == 0).sum()) for _ in range(6)]
    assert max(dropped) > 100 and min(dropped) == 0  # p=0.5: some images untouched
    with pytest.raises(WeldsynthError, match="unknown term"):
        build_augment("shear", 0)


def test_config_validation_and_size_parsing() -> None:
    assert parse_size("64x128") == (64, 128) and parse_size("48") == (48, 48)
    with pytest.raises(WeldsynthError):
        parse_size("8x8")
    with pytest.raises(WeldsynthError, match="arch"):
        TrainConfig(arch="vgg16")
    cfg = TrainConfig(size=(32, 96), epochs=2)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
