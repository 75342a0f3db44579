"""Throughput table of ``bench/train.py --parts throughput`` (issue 15).

Images per second, training and evaluation, for resnet18, resnet50 and WeldNet at 128x352
on one device, fp32 and mixed precision (the precision ``--precision auto`` resolves to on
that device; fp32 again where auto is fp32), weldsynth's loop against a plain reference
loop, in the same process, alternating:

* weldsynth: the decode cache (uint16 in RAM) gathered per batch, pinned and copied without
  blocking to a GPU, flips on the device, channels-last, autocast (+ gradient scaler for
  fp16), AdamW; evaluation in ``inference_mode`` (:mod:`weldsynth.train.fit`'s own loops);
* reference: what a user writes first: a ``Dataset`` returning one normalised float tensor
  per image, a ``DataLoader`` (batching in Python), ``.to(device)`` per batch, fp32,
  contiguous tensors, torchvision's 3-channel ResNet (the image repeated on R, G, B; WeldNet
  takes its one channel), Adam, ``no_grad`` evaluation.

Both see the same synthetic images (random uint16, only speed is measured) and batch size.
"""

from __future__ import annotations

import time

import numpy as np
import torch

SIZE = (128, 352)
ARCHS = ("resnet18", "resnet50", "weldnet")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 65535, (n, *SIZE), dtype=np.uint16)
    return x, (np.arange(n) % 2).astype(np.int64)


def weldsynth_rates(
    arch: str, precision: str, device: torch.device, n: int, batch: int, steps: int
) -> dict[str, float]:
    """(train, eval) images/s of weldsynth's training and evaluation loops."""
    from weldsynth.train import fit as fit_mod
    from weldsynth.train.config import TrainConfig
    from weldsynth.train.images import Batches
    from weldsynth.train.setup import prepare_training

    x, y = _images(n)
    cfg = TrainConfig(arch=arch, size=SIZE, batch_size=batch, epochs=1, weights="none")
    cfg = cfg.with_(augment="hflip,vflip")
    setup = prepare_training(x, y, 2, cfg, seed=0, weights=None, device=device)
    model = setup.model
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _s: 1.0)
    loss_fn = torch.nn.CrossEntropyLoss()
    aug = setup.train.augment

    def batches(k: int, seed: int | None) -> Batches:
        kw = {"shuffle_seed": seed, "augment": aug} if seed is not None else {}
        return Batches(
            x[: k * batch],
            y[: k * batch],
            batch,
            0.5,
            0.25,
            channels_last=True,
            device=device,
            **kw,
        )

    fit_mod._train_epoch(model, batches(2, 1), opt, sched, loss_fn, precision, None, None)
    _sync(device)
    t0 = time.perf_counter()
    fit_mod._train_epoch(model, batches(steps, 2), opt, sched, loss_fn, precision, None, None)
    _sync(device)
    train_rate = steps * batch / (time.perf_counter() - t0)
    fit_mod.evaluate_batches(model, batches(2, None), precision, loss_fn)
    _sync(device)
    t0 = time.perf_counter()
    fit_mod.evaluate_batches(model, batches(steps, None), precision, loss_fn)
    _sync(device)
    return {"train": train_rate, "eval": steps * batch / (time.perf_counter() - t0)}


class _Plain(torch.utils.data.Dataset):
    """One float tensor per image, normalised in Python (the first loop people write)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, channels: int) -> None:
        self.x, self.y, self.channels = x, y, channels

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, k: int):
        img = torch.from_numpy(self.x[k].astype(np.float32) / 65535.0)
        img = ((img - 0.5) / 0.25)[None].repeat(self.channels, 1, 1)
        return img, int(self.y[k])


def _plain_model(arch: str) -> tuple[torch.nn.Module, int]:
    import torchvision

    if arch == "weldnet":
        from weldsynth.train.models import build_model

        return build_model("weldnet", 2), 1
    return getattr(torchvision.models, arch)(weights=None, num_classes=2), 3


def reference_rates(
    arch: str, device: torch.device, n: int, batch: int, steps: int
) -> dict[str, float]:
    """(train, eval) images/s of the plain reference loop (fp32)."""
    from torch.utils.data import DataLoader

    x, y = _images(n)
    torch.manual_seed(0)
    model, channels = _plain_model(arch)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()

    def train(k: int) -> None:
        model.train()
        loader = DataLoader(_Plain(x[: k * batch], y[: k * batch], channels), batch, shuffle=True)
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            opt.step()

    def evaluate(k: int) -> None:
        model.eval()
        with torch.no_grad():
            for xb, _ in DataLoader(_Plain(x[: k * batch], y[: k * batch], channels), batch):
                model(xb.to(device)).argmax(1).cpu()

    train(2)
    _sync(device)
    t0 = time.perf_counter()
    train(steps)
    _sync(device)
    train_rate = steps * batch / (time.perf_counter() - t0)
    evaluate(2)
    t0 = time.perf_counter()
    evaluate(steps)
    _sync(device)
    return {"train": train_rate, "eval": steps * batch / (time.perf_counter() - t0)}


def throughput(device_spec: str, batch: int, steps: int, archs=ARCHS) -> dict:
    """The table: one row per (arch, precision), weldsynth and reference images/s."""
    from weldsynth.train.device import describe_device, resolve_device, resolve_precision

    choice = resolve_device(device_spec)
    device = choice.device
    mixed = resolve_precision("auto", device)
    n = max(steps, 2) * batch
    rows = []
    for arch in archs:
        ref = reference_rates(arch, device, n, batch, steps)
        for precision in dict.fromkeys(("fp32", mixed)):
            own = weldsynth_rates(arch, precision, device, n, batch, steps)
            rows.append(
                {
                    "arch": arch,
                    "precision": precision,
                    "weldsynth_train_img_s": round(own["train"], 2),
                    "weldsynth_eval_img_s": round(own["eval"], 2),
                    "reference_train_img_s": round(ref["train"], 2),
                    "reference_eval_img_s": round(ref["eval"], 2),
                    "train_speedup": round(own["train"] / ref["train"], 3),
                    "eval_speedup": round(own["eval"] / ref["eval"], 3),
                }
            )
            print(
                f"{arch:9s} {precision:5s} train {own['train']:8.1f} img/s (ref "
                f"{ref['train']:8.1f}), eval {own['eval']:8.1f} (ref {ref['eval']:8.1f})",
                flush=True,
            )
    return {
        "device": describe_device(choice),
        "size": list(SIZE),
        "batch_size": batch,
        "timed_batches": steps,
        "mixed_precision": mixed,
        "rows": rows,
        "note": "images/s after one warm-up pass; synthetic uint16 images; reference: "
        "Dataset + DataLoader per-image tensors, fp32, contiguous, Adam (see "
        "bench/train_throughput.py)",
    }
