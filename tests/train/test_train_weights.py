"""--weights imagenet through torchvision's loader (served from a local file:// URL, never the
network), --offline / WELDSYNTH_OFFLINE, the one-line fallback, and --arch auto's choice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torchvision
import train_fixtures as fx
from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.train.choice import choose_model, choose_run
from weldsynth.train.config import TrainConfig
from weldsynth.train.model import OFFLINE_ENV, resolve_weights
from weldsynth.train.models import resnet


@pytest.fixture
def hub(tmp_path: Path, monkeypatch) -> Path:
    """An empty torch hub cache; downloads allowed (the conftest forbids them)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(OFFLINE_ENV, raising=False)
    return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.fixture
def served(tmp_path: Path, monkeypatch) -> Path:
    """torchvision's ResNet18 weights (random) served from a file:// URL."""
    file = tmp_path / "server" / "resnet18-0123abcd.pth"
    file.parent.mkdir()
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), file)
    monkeypatch.setattr(resnet, "imagenet_url", lambda _arch: file.as_uri())
    return file


def test_downloaded_from_a_file_url_into_the_hub_cache_then_found(hub: Path, served) -> None:
    file, note = resolve_weights("imagenet", "resnet18")
    assert file == hub / served.name and file.read_bytes() == served.read_bytes()
    assert "downloaded into" in note and "\n" not in note
    served.unlink()  # the second time it comes from the cache
    again, note = resolve_weights("imagenet", "resnet18")
    assert again == file and "hub cache" in note


@pytest.mark.parametrize("how", ["flag", "env"])
def test_offline_refuses_the_download(hub: Path, served, monkeypatch, how: str) -> None:
    if how == "env":
        monkeypatch.setenv(OFFLINE_ENV, "1")
    file, note = resolve_weights("imagenet", "resnet18", offline=how == "flag")
    assert file is None and (not hub.exists() or not any(hub.iterdir()))
    assert "downloads are off" in note and "training from scratch" in note


def test_a_failed_download_is_one_line_naming_what_trains_instead(hub: Path, monkeypatch) -> None:
    monkeypatch.setattr(resnet, "imagenet_url", lambda _a: (hub.parent / "nowhere.pth").as_uri())
    file, note = resolve_weights("imagenet", "resnet18", instead="weldnet")
    assert file is None and "\n" not in note
    assert "download failed" in note and "training from scratch with weldnet instead" in note


def test_arch_auto_picks_resnet18_with_weights_and_weldnet_without(hub: Path, served) -> None:
    cfg = TrainConfig(arch="auto", size=fx.SHAPE)
    offline = choose_model(cfg.with_(offline=True))
    assert offline.arch == "weldnet" and offline.weights is None
    assert "no ImageNet resnet18 weights" in offline.reason
    assert choose_model(cfg.with_(weights="none")).arch == "weldnet"
    line = choose_run(cfg.with_(offline=True, device="cpu")).line()
    assert line.startswith("model weldnet (--arch auto: no ImageNet") and "device cpu" in line
    online = choose_model(cfg)
    assert online.arch == "resnet18" and online.weights == hub / served.name
    assert choose_model(cfg.with_(arch="resnet34", offline=True)).arch == "resnet34"


def test_train_says_what_it_chose_first_and_records_it(tmp_path: Path, hub: Path, served) -> None:
    data = fx.manifest_set(tmp_path / "data", n_sources=6)
    args = ["train", str(data), "--epochs", "1", "--size", "32x96", "--batch-size", "4"]
    args += ["--device", "cpu", "--out", str(tmp_path / "r")]
    res = CliRunner().invoke(cli, [*args, "--offline"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0].startswith("model weldnet (--arch auto")
    assert "training from scratch with weldnet instead" in res.output
    config = json.loads((tmp_path / "r" / "7" / "config.json").read_text())
    assert (config["arch"], config["arch_requested"], config["device"]) == (
        "weldnet",
        "auto",
        "cpu",
    )
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "r2")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0].startswith("model resnet18 (--arch auto: ImageNet")
    config = json.loads((tmp_path / "r2" / "7" / "config.json").read_text())
    assert config["arch"] == "resnet18" and config["pretrained"] is True
