"""Model registry: every architecture trains, explains (Grad-CAM) and round-trips; a family
registered by a test is a CLI choice and trains; checkpoints of the old layout still load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
import train_fixtures as fx
from click.testing import CliRunner
from torch import nn
from torch_threads import one_torch_thread  # noqa: F401 (autouse)

from weldsynth.audit.gradcam import cam_to_map, gradcam
from weldsynth.cli.main import cli
from weldsynth.core.errors import WeldsynthError
from weldsynth.train.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from weldsynth.train.config import TrainConfig
from weldsynth.train.model import freeze_body, param_groups, resolve_weights
from weldsynth.train.models import (
    build_model,
    get_model_spec,
    list_models,
    register_model,
    unregister_model,
)
from weldsynth.train.models.base import WeldModel

BATCH = (2, 1, 64, 176)
HEAVY = {"resnet50", "resnet101"}
"""Seconds per test on one CPU thread: run with ``-m slow``."""
ARCHES = [pytest.param(a, marks=pytest.mark.slow) if a in HEAVY else a for a in list_models()]


def _meta(arch: str, n_classes: int = 2, size: tuple[int, int] = BATCH[2:]) -> dict:
    return {
        "arch": arch,
        "classes": [f"c{k}" for k in range(n_classes)],
        "in_channels": 1,
        "input_size": list(size),
        "mean": 0.4,
        "std": 0.3,
    }


def _one_step(model: nn.Module) -> None:
    """One AdamW step on a random batch through the schedule's parameter groups."""
    x = torch.randn(*BATCH, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1])
    groups = param_groups(model)
    assert sum(len(g) for g in groups) == len(list(model.parameters()))
    opt = torch.optim.AdamW([{"params": g, "lr": 1e-2} for g in groups if g])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    head = model.head_keys()
    assert head & set(changed) and set(changed) - head  # head and body both learnt


@pytest.mark.parametrize("arch", ARCHES)
def test_every_architecture_trains_explains_and_round_trips(arch: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model(arch, 2)
    assert isinstance(model, WeldModel) and model.num_classes == 2
    assert model.input_conv.in_channels == 1
    _one_step(model)
    model.eval()
    x = torch.randn(*BATCH, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        logits = model(x)
        feats = model.features(x)
    assert logits.shape == (2, 2) and feats.ndim == 4
    assert torch.allclose(model.forward_head(feats), logits)
    # Grad-CAM through the interface, mapped back to the input's spatial size
    images = np.random.default_rng(3).integers(0, 65535, (2, *BATCH[2:]), dtype=np.uint16)
    cams = gradcam(model, images, np.array([0, 1]), 0.4, 0.3)
    assert cams.shape[0] == 2 and cams.shape[1:] == feats.shape[2:]
    full = cam_to_map(cams[0], BATCH[2:], BATCH[2:])
    assert full.shape == BATCH[2:] and full.min() >= 0 and full.max() <= 1
    # checkpoint round trip: same weights, same predictions
    save_checkpoint(tmp_path / "run" / "model.pt", model, _meta(arch))
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt.meta["arch"] == arch and type(ckpt.model) is type(model)
    with torch.no_grad():
        assert torch.equal(ckpt.model(x), logits)


@pytest.mark.parametrize("arch", ARCHES)
def test_freeze_leaves_the_head_and_batchnorm_trainable(arch: str) -> None:
    model = build_model(arch, 3)
    freeze_body(model, True)
    head = {id(p) for p in model.classifier.parameters()}
    bn = {
        id(p)
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        for p in m.parameters()
    }
    for p in model.parameters():
        assert p.requires_grad == (id(p) in head or id(p) in bn)
    assert not model.input_conv.weight.requires_grad
    assert [id(p) for p in param_groups(model)[2]] == [id(p) for p in model.classifier.parameters()]
    freeze_body(model, False)
    assert all(p.requires_grad for p in model.parameters())
    model.reset_classifier(5)
    assert model.num_classes == 5 and model.eval()(torch.zeros(1, 1, 32, 32)).shape == (1, 5)


def test_unknown_arch_names_the_registered_ones() -> None:
    with pytest.raises(WeldsynthError, match="unknown arch 'vgg11'; choose resnet18"):
        build_model("vgg11", 2)
    with pytest.raises(WeldsynthError, match="choose resnet18, resnet34, resnet50, resnet101"):
        TrainConfig(arch="vgg11")
    assert get_model_spec("resnet50").pretrainable and not get_model_spec("weldnet").pretrainable


class TinyNet(WeldModel):
    """A family defined outside the package: one conv stage and a linear head."""

    head_attr = "head"
    cam_attr = "body"
    early_attrs = ("body",)

    def __init__(self, num_classes: int, in_channels: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 4, 3, stride=4, padding=1), nn.BatchNorm2d(4), nn.ReLU()
        )
        self.mid = nn.Conv2d(4, 4, 1)
        self.head = nn.Linear(4, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.mid(self.body(x))

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        return self.head(feats.amax(dim=(2, 3)))


@pytest.fixture
def tinynet():
    @register_model("tinynet", summary="a test family")
    def build(num_classes: int, in_channels: int = 1) -> TinyNet:
        return TinyNet(num_classes, in_channels)

    yield "tinynet"
    unregister_model("tinynet")


def test_a_registered_family_is_a_cli_choice_and_trains(tinynet: str, tmp_path: Path) -> None:
    assert tinynet in list_models()
    for command in ("train", "audit"):
        res = CliRunner().invoke(cli, [command, "--help"])
        assert res.exit_code == 0 and "|tinynet" in res.output.replace("\n", "")
    _one_step(build_model(tinynet, 2))
    file, note = resolve_weights("imagenet", tinynet)
    assert file is None and "no ImageNet weights" in note
    data = fx.manifest_set(tmp_path / "data", n_sources=6)
    args = ["train", str(data), "--arch", tinynet, "--epochs", "1", "--size", "32x96"]
    args += ["--batch-size", "4", "--weights", "none", "--quiet", "--out", str(tmp_path / "r")]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    ckpt = load_checkpoint(tmp_path / "r" / "7")
    assert ckpt.meta["arch"] == tinynet and isinstance(ckpt.model, TinyNet)
    unregister_model(tinynet)
    assert tinynet not in list_models()
    res = CliRunner().invoke(cli, ["train", str(data), "--arch", tinynet])
    assert res.exit_code == 2 and "'tinynet' is not one of" in res.output


def test_registering_a_taken_name_is_refused(tinynet: str) -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_model(tinynet)(lambda n, c=1: TinyNet(n, c))
    with pytest.raises(ValueError, match="lower-case identifier"):
        register_model("Tiny-Net")


def _save_payload(path: Path, state: dict, meta: dict) -> Path:
    """A ``model.pt`` as the pre-registry code wrote it (plain torch.save of the payload)."""
    torch.save({"format": FORMAT, "state_dict": state, "meta": meta}, path)
    return path


def test_old_resnet_checkpoint_loads_and_predicts_identically(tmp_path: Path) -> None:
    """The old code saved a plain torchvision ResNet with a 1-channel ``conv1``."""
    torch.manual_seed(4)
    old = torchvision.models.resnet18(weights=None, num_classes=3)
    old.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    x = torch.randn(*BATCH)
    with torch.no_grad():
        old.train()(x)  # running statistics that are not the defaults
        expected = old.eval()(x)
    file = _save_payload(tmp_path / "old.pt", old.state_dict(), _meta("resnet18", 3))
    ckpt = load_checkpoint(file)
    with torch.no_grad():
        assert torch.allclose(ckpt.model(x), expected, atol=1e-6, rtol=0)
    cams = gradcam(ckpt.model, np.zeros((1, *BATCH[2:]), np.uint16), np.array([0]), 0.4, 0.3)
    assert cams.shape == (1, 2, 6)  # layer4: stride 32


def _old_weldnet(x: torch.Tensor, state: dict[str, torch.Tensor]) -> torch.Tensor:
    """WeldNet's forward written against its pre-registry state-dict keys."""
    for stage in range(1, 5):
        for conv, bn in ((0, 1), (3, 4)):
            p = f"layer{stage}."
            x = F.conv2d(x, state[f"{p}{conv}.weight"], padding=1)
            x = F.batch_norm(
                x,
                state[f"{p}{bn}.running_mean"],
                state[f"{p}{bn}.running_var"],
                state[f"{p}{bn}.weight"],
                state[f"{p}{bn}.bias"],
            )
            x = F.relu(x)
        x = F.max_pool2d(x, 2)
    return F.linear(x.amax(dim=(2, 3)), state["fc.weight"], state["fc.bias"])


def test_old_weldnet_checkpoint_loads_and_predicts_identically(tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(5)
    state: dict[str, torch.Tensor] = {}
    widths = (1, 16, 32, 64, 128)
    for stage in range(1, 5):
        cin, cout = widths[stage - 1], widths[stage]
        for conv, bn in ((0, 1), (3, 4)):
            p = f"layer{stage}."
            state[f"{p}{conv}.weight"] = torch.randn(cout, cin, 3, 3, generator=gen) * 0.3
            state[f"{p}{bn}.weight"] = torch.rand(cout, generator=gen) + 0.5
            state[f"{p}{bn}.bias"] = torch.randn(cout, generator=gen) * 0.1
            state[f"{p}{bn}.running_mean"] = torch.randn(cout, generator=gen) * 0.1
            state[f"{p}{bn}.running_var"] = torch.rand(cout, generator=gen) + 0.5
            state[f"{p}{bn}.num_batches_tracked"] = torch.tensor(7)
            cin = cout
    state["fc.weight"] = torch.randn(2, 128, generator=gen) * 0.1
    state["fc.bias"] = torch.randn(2, generator=gen) * 0.1
    file = _save_payload(tmp_path / "old.pt", state, _meta("weldnet"))
    ckpt = load_checkpoint(file)  # strict: every old key, nothing else
    x = torch.randn(*BATCH, generator=gen)
    with torch.no_grad():
        assert torch.allclose(ckpt.model(x), _old_weldnet(x, state), atol=1e-5, rtol=1e-5)
    assert ckpt.model.state_name(ckpt.model.input_conv) == "layer1.0"
    cams = gradcam(ckpt.model, np.zeros((1, *BATCH[2:]), np.uint16), np.array([1]), 0.4, 0.3)
    assert cams.shape == (1, 4, 11)  # layer4: stride 16
    _save_payload(tmp_path / "ch.pt", state, {**_meta("weldnet"), "in_channels": 3})
    with pytest.raises(WeldsynthError, match=r"layer1\.0 has 1 channel"):
        load_checkpoint(tmp_path / "ch.pt")
    _save_payload(tmp_path / "cls.pt", state, _meta("weldnet", n_classes=3))
    with pytest.raises(WeldsynthError, match="3 classes: the head has 2 outputs"):
        load_checkpoint(tmp_path / "cls.pt")
