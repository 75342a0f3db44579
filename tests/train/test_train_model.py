"""Model builders, pretrained-weight loading, fine-tune schedule, checkpoint checks."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
import train_fixtures as fx
from torch_threads import one_torch_thread  # noqa: F401 (autouse)

from weldsynth.core.errors import WeldsynthError
from weldsynth.train.checkpoint import load_checkpoint, save_checkpoint
from weldsynth.train.config import TrainConfig
from weldsynth.train.fit import schedule
from weldsynth.train.model import (
    bf16_supported,
    build_model,
    freeze_body,
    load_pretrained,
    resolve_precision,
    resolve_weights,
)
from weldsynth.train.models import list_models
from weldsynth.train.run import prepare, train_topology


@pytest.fixture
def hub(tmp_path: Path, monkeypatch) -> Path:
    """An empty torch hub cache (TORCH_HOME) so no test sees or downloads real weights."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    return folder


@pytest.mark.parametrize("arch", list_models())
def test_every_arch_takes_one_channel_and_has_one_output_per_class(arch: str) -> None:
    model = build_model(arch, 3).eval()
    assert model.input_conv.in_channels == 1
    with torch.no_grad():
        out = model(torch.zeros(1, 1, 32, 32))
    assert out.shape == (1, 3)


def test_weldnet_learns_the_hole_from_scratch_and_reloads(tmp_path: Path, hub: Path) -> None:
    file, note = resolve_weights("imagenet", "weldnet")
    assert file is None and "no ImageNet weights" in note and "from scratch" in note
    data = fx.manifest_set(tmp_path / "data", n_sources=12)
    cfg = TrainConfig(arch="weldnet", size=(32, 96), batch_size=8, epochs=4, seed=3)
    report = train_topology(
        prepare(data, "7", cfg),
        tmp_path / "run",
        cfg,
        weights=None,
        weights_note=note,
        say=lambda _: None,
    )
    assert report["val"]["error_rate"] == 0.0  # the hole is easy to see
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt.meta["arch"] == "weldnet" and ckpt.model.input_conv.in_channels == 1
    assert sum(p.numel() for p in ckpt.model.parameters()) < 400_000  # small on purpose


def test_imagenet_weights_come_from_the_hub_cache_summed_over_rgb(hub: Path) -> None:
    file, note = resolve_weights("imagenet", "resnet18")
    assert file is None and "training from scratch" in note and "\n" not in note
    rgb = torchvision.models.resnet18(weights=None)
    torch.save(rgb.state_dict(), hub / "resnet18-f37072fd.pth")
    file, note = resolve_weights("imagenet", "resnet18")
    assert file == hub / "resnet18-f37072fd.pth"
    model = build_model("resnet18", 2)
    head_before = model.fc.weight.clone()
    load_pretrained(model, file)
    assert torch.allclose(model.conv1.weight, rgb.conv1.weight.sum(dim=1, keepdim=True))
    assert torch.equal(model.layer3[0].conv1.weight, rgb.layer3[0].conv1.weight)
    assert torch.equal(model.fc.weight, head_before)  # 1000-class head not loaded
    with pytest.raises(WeldsynthError, match="does not match"):
        load_pretrained(build_model("resnet34", 2), file)
    with pytest.raises(WeldsynthError, match="no such file"):
        resolve_weights(str(hub / "nope.pth"), "resnet18")


def test_freeze_body_keeps_head_and_batchnorm_trainable() -> None:
    model = build_model("resnet18", 2)
    freeze_body(model, True)
    assert not model.conv1.weight.requires_grad
    assert not model.layer4[1].conv2.weight.requires_grad
    assert model.bn1.weight.requires_grad and model.layer2[0].bn1.bias.requires_grad
    assert model.fc.weight.requires_grad
    freeze_body(model, False)
    assert all(p.requires_grad for p in model.parameters())


def test_fine_tune_schedule() -> None:
    cfg = TrainConfig(epochs=5, freeze_epochs=1, lr=2e-3)
    head, full = schedule(cfg, pretrained=True)
    assert (head.name, head.epochs, head.frozen, head.lrs) == ("head", 1, True, (2e-3,) * 3)
    assert (full.epochs, full.frozen) == (5, False)
    assert full.lrs == pytest.approx((1e-5, 1e-4, 1e-3))  # lr/200, lr/20, lr/2
    (scratch,) = schedule(cfg, pretrained=False)
    assert scratch.epochs == 5 and scratch.lrs == (2e-3,) * 3


def test_precision_follows_the_cpu() -> None:
    assert resolve_precision("auto") == ("bf16" if bf16_supported() else "fp32")
    assert resolve_precision("fp32") == "fp32"


def test_pretrained_run_trains_the_head_first(tmp_path: Path, hub: Path) -> None:
    torch.save(
        torchvision.models.resnet18(weights=None).state_dict(), hub / "resnet18-f37072fd.pth"
    )
    data = fx.manifest_set(tmp_path / "data", n_sources=8)
    cfg = TrainConfig(size=(32, 96), batch_size=8, epochs=1, weights="imagenet")
    file, note = resolve_weights(cfg.weights, cfg.arch)
    train_topology(
        prepare(data, "7", cfg),
        tmp_path / "run",
        cfg,
        weights=file,
        weights_note=note,
        say=lambda _: None,
    )
    with (tmp_path / "run" / "metrics.csv").open() as fh:
        assert [r["phase"] for r in csv.DictReader(fh)] == ["head", "all"]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["pretrained"] is True and config["freeze_epochs"] == 1


def _meta(**changes) -> dict:
    return {
        "arch": "resnet18",
        "classes": ["bad", "good"],
        "in_channels": 1,
        "input_size": [32, 32],
        "mean": 0.1,
        "std": 0.2,
        **changes,
    }


def test_checkpoint_round_trip_and_mismatches_are_clear(tmp_path: Path) -> None:
    model = build_model("resnet18", 2)
    save_checkpoint(tmp_path / "ok" / "model.pt", model, _meta(topology="7"))
    ckpt = load_checkpoint(tmp_path / "ok")
    assert ckpt.classes == ["bad", "good"] and ckpt.size == (32, 32)
    assert torch.equal(ckpt.model.conv1.weight, model.conv1.weight)
    save_checkpoint(tmp_path / "cls.pt", model, _meta(classes=["a", "b", "c"]))
    with pytest.raises(WeldsynthError, match="3 classes: the head has 2 outputs"):
        load_checkpoint(tmp_path / "cls.pt")
    save_checkpoint(tmp_path / "ch.pt", model, _meta(in_channels=3))
    with pytest.raises(WeldsynthError, match="conv1 has 1 channel"):
        load_checkpoint(tmp_path / "ch.pt")
    save_checkpoint(tmp_path / "arch.pt", model, _meta(arch="resnet34"))
    with pytest.raises(WeldsynthError, match="do not match resnet34"):
        load_checkpoint(tmp_path / "arch.pt")
    torch.save(model.state_dict(), tmp_path / "plain.pt")
    with pytest.raises(WeldsynthError, match="not a weldsynth model"):
        load_checkpoint(tmp_path / "plain.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(WeldsynthError, match="not a loadable model"):
        load_checkpoint(tmp_path / "junk.pt")


def test_batchnorm_statistics_are_re_estimated_from_the_calibration_batches() -> None:
    from weldsynth.train.fit import recalibrate_batchnorm
    from weldsynth.train.images import Batches

    model = build_model("resnet18", 2)
    images = np.random.default_rng(0).integers(0, 65535, (3, 16, 32), dtype=np.uint16)
    batches = Batches(images, np.zeros(3, np.int64), 2, 0.5, 0.25)  # batches of 2 and 1
    recalibrate_batchnorm(model, batches, "fp32")  # the lone image is skipped, no error
    x, _ = next(iter(batches))
    with torch.no_grad():
        first = model.conv1(x)
    assert torch.allclose(model.bn1.running_mean, first.mean(dim=(0, 2, 3)), atol=1e-5)
    assert model.bn1.momentum == 0.1  # restored
