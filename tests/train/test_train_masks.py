"""Defect masks in training (train.masks, cache, augment, Batches): read with their images,
letterboxed and down-sampled, transformed with their images; the mask loss and its head."""

from __future__ import annotations

from pathlib import Path

import mask_fixtures as mf
import numpy as np
import pytest
import torch
import train_fixtures as fx
from click.testing import CliRunner
from torch_threads import one_torch_thread  # noqa: F401 (autouse)

from weldsynth.cli.main import cli
from weldsynth.train.augment import BatchAugment, Term
from weldsynth.train.cache import masks_of, subset, with_masks
from weldsynth.train.config import TrainConfig
from weldsynth.train.data import MASKS_FOLDER, list_images
from weldsynth.train.images import Batches
from weldsynth.train.masks import (
    MASK_STRIDE,
    load_masks,
    mask_loss,
    mask_size,
    mask_to_cache,
)
from weldsynth.train.setup import decode_items, prepare_training

SIZE = (64, 192)


@pytest.fixture(scope="module")
def located(tmp_path_factory) -> Path:
    return mf.masked_set(tmp_path_factory.mktemp("located") / "data", n_sources=16)


def test_masks_folder_is_the_generators() -> None:
    from weldsynth.dataset.generate import MASKS_DIR

    assert MASKS_FOLDER == MASKS_DIR


@pytest.mark.parametrize("manifest", [True, False])
def test_items_name_their_masks_and_only_bad_images_carry_one(
    tmp_path: Path, manifest: bool
) -> None:
    root = mf.masked_set(tmp_path / "d", n_sources=4, manifest=manifest)
    items = list_images(root, "7").items
    assert all(i.mask is not None and i.mask.is_file() for i in items)
    masks, non_empty = load_masks(items, SIZE)
    assert masks is not None and masks.shape == (len(items), *mask_size(SIZE))
    bad = np.array([i.label == "bad" for i in items])
    assert non_empty == int(bad.sum())
    assert masks[bad].reshape(int(bad.sum()), -1).any(axis=1).all()
    assert not masks[~bad].any()  # the good ones' files mark an acceptable blemish: ignored


def test_plain_image_folder_has_no_masks(tmp_path: Path) -> None:
    items = list_images(fx.image_folder(tmp_path / "f", n_per_class=3), "7").items
    assert all(i.mask is None for i in items)
    assert load_masks(items, SIZE) == (None, 0)


def test_mask_is_letterboxed_like_its_image() -> None:
    mask = np.zeros((32, 48), np.uint8)  # aspect 2:3 into 64x192: scaled x2, padded sideways
    mask[:8, :8] = 255
    cells = mask_to_cache(mask, SIZE)
    assert cells.shape == (SIZE[0] // MASK_STRIDE, SIZE[1] // MASK_STRIDE)
    left = (SIZE[1] - 96) // 2  # the letterboxed map is 64x96, centred
    hot = np.argwhere(cells)
    assert hot[:, 0].tolist() == [0, 0, 1, 1] and hot[:, 1].min() == left // MASK_STRIDE


def _block_batch(n: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images with one bright block on the 8-pixel grid, and masks marking that cell."""
    rng = np.random.default_rng(seed)
    h, w = mask_size((32, 96))
    images = np.zeros((n, 32, 96), np.uint16)
    masks = np.zeros((n, h, w), np.uint8)
    for k in range(n):
        r, c = int(rng.integers(h)), int(rng.integers(w))
        images[k, 8 * r : 8 * r + 8, 8 * c : 8 * c + 8] = 60000
        masks[k, r, c] = 255
    return images, masks


def test_flipped_image_has_flipped_mask() -> None:
    images, masks = _block_batch()
    view = with_masks(images, masks)
    batches = Batches(view, np.zeros(len(images)), 16, 0.0, 1.0, augment=None)
    batches.augment = BatchAugment([Term("hflip"), Term("vflip")], seed=3)
    batches.with_masks = True
    x, _y, m = batches.batch(np.arange(len(images)))
    cells = x[:, 0].reshape(len(images), 4, 8, 12, 8).mean(dim=(2, 4))
    assert torch.equal(cells.flatten(1).argmax(1), m[:, 0].flatten(1).argmax(1))
    moved = m[:, 0].flatten(1).argmax(1).numpy() != masks.reshape(len(masks), -1).argmax(1)
    assert moved.any()  # some images were flipped (and their masks with them)


def test_rotation_turns_mask_and_image_alike() -> None:
    x = torch.rand(6, 1, 32, 96)
    mask = (x > 0.7).float()
    terms = [Term("rotate", 20.0)]
    turned, turned_mask = BatchAugment(terms, seed=5)(x, mask)
    assert torch.equal(turned, BatchAugment(terms, seed=5)(x))  # same draws with masks
    assert torch.equal(turned_mask, BatchAugment(terms, seed=5)(mask))
    assert not torch.equal(turned_mask, mask)


def test_masks_travel_with_subsets() -> None:
    images, masks = _block_batch(8)
    view = subset(with_masks(images, masks), np.array([5, 2]))
    assert np.array_equal(masks_of(view), masks[[5, 2]])
    assert np.array_equal(view[:], images[[5, 2]])


def test_mask_loss_is_zero_on_good_images_and_positive_on_bad() -> None:
    logits = torch.randn(4, 1, 4, 12)
    empty = torch.zeros(4, 1, 8, 24)
    assert float(mask_loss(logits, empty)) == 0.0
    marked = empty.clone()
    marked[1, 0, 2:4, 5:7] = 1.0
    loss = mask_loss(logits, marked)
    assert float(loss) > 0
    mixed = torch.cat([marked[1:2], empty[:3]])
    assert torch.allclose(mask_loss(torch.cat([logits[1:2], logits[:3]]), mixed), loss)


def _mean_mask_loss(model: torch.nn.Module, batches: Batches) -> float:
    model.eval()
    with torch.no_grad():
        losses = [float(mask_loss(model(x, with_mask=True)[1], m)) for x, _y, m in batches]
    return float(np.mean(losses))


def test_mask_loss_lowers_when_defects_differ_only_by_place(located: Path) -> None:
    cfg = TrainConfig(
        arch="weldnet", size=SIZE, batch_size=8, epochs=3, weights="none", mask_loss=1.0
    )
    items = list_images(located, "7").items
    decoded = decode_items(items, cfg, lambda _line: None)
    y = np.array([i.label == "good" for i in decoded.items], np.int64)
    setup = prepare_training(decoded.images, y, 2, cfg, seed=0, weights=None)
    assert setup.train.with_masks and setup.model.has_mask_head
    probe = Batches(decoded.images, y, 8, setup.mean, setup.std)
    probe.with_masks = True
    before = _mean_mask_loss(setup.model, probe)
    setup.fit(probe, classes=["bad", "good"], precision="fp32")
    after = _mean_mask_loss(setup.model, probe)
    assert after < 0.6 * before, (before, after)


def test_mask_loss_on_image_folder_without_masks_is_one_warning(tmp_path: Path) -> None:
    data = fx.image_folder(tmp_path / "f", n_per_class=6)
    args = ["train", str(data), "--arch", "weldnet", "--weights", "none", "--epochs", "1"]
    args += ["--size", "32x96", "--batch-size", "4", "--mask-loss", "1", "-q"]
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    lines = [line for line in res.output.splitlines() if "--mask-loss" in line]
    assert len(lines) == 1 and lines[0].startswith("warning:")
    assert (tmp_path / "run" / "7" / "model.pt").is_file()


@pytest.mark.parametrize("name", ["mask_loss", "cam_loss"])
def test_guide_loss_options_reach_audit_and_loop(name: str) -> None:
    from weldsynth.cli.commands.audit import make_config

    option = "--" + name.replace("_", "-")
    for command in ("train", "audit", "loop"):
        res = CliRunner().invoke(cli, [command, "--help"])
        assert option in res.output, command
    args = ("weldnet", 1, 0, 4, 1e-3, "32x96", "none", "none", 0, False, "fp32", 0)
    assert getattr(make_config(*args), name) == "auto"
    weight = name.replace("_loss", "_weight")
    assert getattr(make_config(*args, **{name: 0.5}), weight) == 0.5
    for bad in ("lots", "-1"):
        res = CliRunner().invoke(cli, ["train", ".", option, bad])
        assert res.exit_code == 2 and "use auto or a weight in [0, 100]" in res.output


def test_auto_mask_loss_is_silent_without_masks_and_on_with_them(
    tmp_path: Path, located: Path
) -> None:
    cfg = TrainConfig(arch="weldnet", size=(32, 96), batch_size=4, epochs=1, weights="none")
    assert cfg.mask_loss == "auto" and cfg.mask_weight > 0
    said: list[str] = []
    plain = fx.image_folder(tmp_path / "f", n_per_class=3)
    got = decode_items(list_images(plain, "7").items, cfg, said.append)
    assert masks_of(got.images) is None and said == []
    got = decode_items(list_images(located, "7").items, cfg, said.append)
    assert masks_of(got.images) is not None and said == []
    off = decode_items(list_images(located, "7").items, cfg.with_(mask_loss=0.0), said.append)
    assert masks_of(off.images) is None


def test_albumentations_pipeline_flips_the_mask_with_its_image() -> None:
    import albumentations as A

    from weldsynth.train.images import _augment_each

    images, masks = _block_batch(4, seed=1)
    x = images.astype(np.float32) / 65535
    flipped, cells = _augment_each(A.Compose([A.HorizontalFlip(p=1.0)], seed=0), x, masks)
    assert np.array_equal(flipped, x[:, :, ::-1])
    assert np.array_equal(cells, masks[:, :, ::-1])
