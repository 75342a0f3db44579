"""--device and --precision resolution (CUDA and MPS faked), mixed precision on the CPU, the
batch augmentation on the device, and --compile's fallback."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import train_fixtures as fx
from torch_threads import one_torch_thread  # noqa: F401 (autouse)

from weldsynth.core.errors import WeldsynthError
from weldsynth.train import device as dev
from weldsynth.train.augment import BatchAugment, Term, build_batch_augment, flip
from weldsynth.train.config import TrainConfig
from weldsynth.train.images import Batches
from weldsynth.train.setup import compiled, prepare_training

CFG = TrainConfig(arch="weldnet", size=fx.SHAPE, batch_size=8, epochs=2, weights="none")


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "mps_available", lambda: False)


@pytest.fixture
def two_gpus(monkeypatch):
    """CUDA faked: two devices, nothing is ever run on them."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


def _other_devices() -> list[str]:
    found = ["cuda"] if torch.cuda.is_available() else []
    return found + (["mps"] if dev.mps_available() else [])


def test_auto_takes_the_cpu_without_an_accelerator(no_gpu) -> None:
    choice = dev.resolve_device("auto")
    assert choice.device == torch.device("cpu") and "no CUDA or MPS" in choice.reason
    assert choice.describe() == {
        "device": "cpu",
        "device_requested": "auto",
        "device_reason": choice.reason,
    }
    assert dev.resolve_device("cpu").name == "cpu"
    with pytest.raises(WeldsynthError, match="no CUDA device"):
        dev.resolve_device("cuda")
    with pytest.raises(WeldsynthError, match="MPS is not available"):
        dev.resolve_device("mps")
    with pytest.raises(WeldsynthError, match="choose auto"):
        dev.resolve_device("tpu")


def test_auto_takes_cuda_then_mps(two_gpus, monkeypatch) -> None:
    assert dev.resolve_device("auto").name == "cuda:0"
    assert dev.resolve_device("cuda").name == "cuda:0"
    assert dev.resolve_device("CUDA:1").name == "cuda:1"
    with pytest.raises(WeldsynthError, match="only 2 CUDA"):
        dev.resolve_device("cuda:2")
    with pytest.raises(WeldsynthError, match="cuda:N"):
        dev.resolve_device("cuda:x")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "mps_available", lambda: True)
    assert dev.resolve_device("auto").name == "mps"


def test_precision_rules_per_device(monkeypatch) -> None:
    cuda, mps = torch.device("cuda", 0), torch.device("mps")
    monkeypatch.setattr(dev, "cpu_bf16", lambda: True)
    assert dev.resolve_precision("auto") == "bf16"
    monkeypatch.setattr(dev, "cpu_bf16", lambda: False)
    assert dev.resolve_precision("auto") == "fp32"
    with pytest.raises(WeldsynthError, match="no native bf16"):
        dev.resolve_precision("bf16")
    with pytest.raises(WeldsynthError, match="for CUDA and MPS"):
        dev.resolve_precision("fp16")
    monkeypatch.setattr(dev, "cuda_bf16", lambda _d: True)
    assert dev.resolve_precision("auto", cuda) == "bf16"
    monkeypatch.setattr(dev, "cuda_bf16", lambda _d: False)
    assert dev.resolve_precision("auto", cuda) == "fp16"
    with pytest.raises(WeldsynthError, match="no bf16"):
        dev.resolve_precision("bf16", cuda)
    assert dev.resolve_precision("auto", mps) == "fp16"
    assert dev.resolve_precision("fp32", cuda) == "fp32"
    assert dev.grad_scaler("fp16").is_enabled() and not dev.grad_scaler("bf16").is_enabled()


def _data(n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    y = (np.arange(n) % 2).astype(np.int64)
    return np.stack([fx.weld(3, k, bool(y[k])) for k in range(n)]), y


@pytest.mark.parametrize("precision", ["bf16", "fp16", "fp32"])
def test_mixed_precision_trains_on_the_cpu(precision: str) -> None:
    """bf16 autocast, and the fp16 path (autocast + gradient scaler) of GPUs, run on the CPU
    and give finite losses, the same for the same seed."""
    x, y = _data()
    records = []
    for _ in range(2):
        setup = prepare_training(x, y, 2, CFG, seed=1, weights=None)
        val = Batches(x[:8], y[:8], 8, setup.mean, setup.std)
        result = setup.fit(val, classes=["0", "1"], precision=precision)
        records.append([r.train_loss for r in result.history])
    assert all(np.isfinite(records[0])) and records[0] == records[1]


def test_batch_augment_is_seeded_and_flips_equal_numpy() -> None:
    x = torch.rand(6, 1, 16, 32)
    spec = "hflip,vflip,rotate=10,dropout=0.2"
    a, b, c = (build_batch_augment(spec, s) for s in (5, 5, 6))
    assert isinstance(a, BatchAugment)
    out_a, out_b, out_c = a(x.clone()), b(x.clone()), c(x.clone())
    assert torch.equal(out_a, out_b) and not torch.equal(out_a, out_c)
    assert build_batch_augment("none", 0) is None
    flips = BatchAugment([Term("hflip"), Term("vflip")], 3)
    draws = torch.Generator().manual_seed(3)
    h = (torch.rand(6, generator=draws) < 0.5).numpy()
    v = (torch.rand(6, generator=draws) < 0.5).numpy()
    expected = x.numpy().copy()
    expected[h] = expected[h][..., ::-1]
    expected[v] = expected[v][..., ::-1, :]
    assert np.array_equal(flips(x.clone()).numpy(), expected)


@pytest.mark.parametrize("where", ["cuda", "mps"])
def test_flips_on_a_device_equal_the_cpu(where: str) -> None:
    if where not in _other_devices():
        pytest.skip(f"no {where} device on this machine")
    x = torch.rand(8, 1, 16, 32)
    apply = torch.tensor([True, False] * 4)
    on_device = flip(x.to(where), apply, -1).cpu()
    assert torch.equal(on_device, flip(x, apply, -1))
    aug = build_batch_augment("hflip,vflip,rotate=5,dropout=0.1", 2)
    again = build_batch_augment("hflip,vflip,rotate=5,dropout=0.1", 2)
    assert torch.equal(aug(x.to(where)).cpu(), again(x.to(where)).cpu())


def test_augmented_batches_keep_zero_as_no_data_and_are_deterministic() -> None:
    x, y = _data(16)
    runs = []
    for _ in range(2):
        aug = build_batch_augment("rotate=20,dropout=0.3", 9)
        batches = Batches(x, y, 8, 0.5, 0.25, shuffle_seed=1, augment=aug)
        runs.append([b.numpy() for b, _ in batches])
    assert all(np.array_equal(p, q) for p, q in zip(*runs, strict=True))
    dropped = np.concatenate(runs[0])
    assert np.isclose(dropped, (0 - 0.5) / 0.25).mean() > 0.05  # zeros, normalised


def test_compile_falls_back_to_eager_in_one_line(monkeypatch) -> None:
    x, y = _data(8)
    setup = prepare_training(x, y, 2, CFG.with_(compile=True), seed=1, weights=None)

    def broken(_model, **_kw):
        raise RuntimeError("no C compiler\nlong traceback")

    lines: list[str] = []
    monkeypatch.setattr(torch, "compile", broken)
    assert compiled(setup.model, setup.calibration, "fp32", lines.append) is setup.model
    assert len(lines) == 1 and "cannot compile" in lines[0] and "no C compiler" in lines[0]
    assert all(p.grad is None for p in setup.model.parameters())

    class Wrapped(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self._orig_mod = inner

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return self._orig_mod(z)

    monkeypatch.setattr(torch, "compile", lambda model, **_kw: Wrapped(model))
    lines.clear()
    net = compiled(setup.model, setup.calibration, "fp32", lines.append)
    assert isinstance(net, Wrapped) and not lines
    val = Batches(x[:4], y[:4], 4, setup.mean, setup.std)
    result = setup.fit(val, classes=["0", "1"], precision="fp32", say=lines.append)
    assert len(result.history) == CFG.epochs and not lines  # param groups look through it
