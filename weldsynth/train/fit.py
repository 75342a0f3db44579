"""The fine-tune schedule and the training loop.

With a pretrained body (fastai's ``fine_tune``, the seed's recipe): ``freeze_epochs`` epochs
train the new head only (body frozen, BatchNorm trainable) with a one-cycle schedule at
``lr``; then every layer trains for ``epochs`` epochs with discriminative learning rates
(lr/200, lr/20, lr/2 for early layers, late layers and head) and a one-cycle schedule.
From scratch there is nothing to keep: every layer trains at ``lr`` from the first epoch.
AdamW throughout; the best epoch on validation (lowest error, then lowest loss) is
checkpointed; optional early stopping.

After every training epoch the BatchNorm running statistics are re-estimated on a fixed
sample of training images (as ``torch.optim.swa_utils.update_bn`` does for SWA): the
running averages lag behind fast-changing weights, which on small data sets makes the
model in eval mode predict one class for everything even when it has learnt the task.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from weldsynth.train.config import TrainConfig
from weldsynth.train.device import autocast, grad_scaler, model_device
from weldsynth.train.images import Batches
from weldsynth.train.masks import cam_loss, mask_loss
from weldsynth.train.metrics import error_rate, f1_score
from weldsynth.train.model import freeze_body, param_groups
from weldsynth.train.models.base import unwrap


@dataclass(frozen=True)
class EpochRecord:
    """One row of ``metrics.csv``."""

    epoch: int
    phase: str
    train_loss: float
    val_loss: float
    error_rate: float
    accuracy: float
    f1: float
    lr: float
    seconds: float

    def to_dict(self) -> dict[str, float | int | str]:
        """Plain dict (column -> value)."""
        return asdict(self)


@dataclass
class FitResult:
    """What a training run did.

    Attributes:
        history: One record per epoch run.
        best_epoch: Epoch of the checkpointed model (1-based; 0 if none).
        best_error: Its validation error rate.
        stopped_early: Early stopping ended the run.
    """

    history: list[EpochRecord]
    best_epoch: int = 0
    best_error: float = math.inf
    stopped_early: bool = False


@dataclass(frozen=True)
class Phase:
    """A stretch of epochs with one optimiser and one one-cycle schedule."""

    name: str
    epochs: int
    lrs: tuple[float, float, float]
    frozen: bool
    pct_start: float
    div: float


def schedule(cfg: TrainConfig, pretrained: bool) -> list[Phase]:
    """The phases of the fine-tune schedule (see the module docstring)."""
    lr = cfg.lr
    if not pretrained:
        return [Phase("all", cfg.epochs, (lr, lr, lr), False, 0.25, 25.0)]
    phases = []
    if cfg.freeze_epochs:
        phases.append(Phase("head", cfg.freeze_epochs, (lr, lr, lr), True, 0.99, 25.0))
    half = lr / 2
    phases.append(Phase("all", cfg.epochs, (half / 100, half / 10, half), False, 0.3, 5.0))
    return phases


MIN_ONE_CYCLE_STEPS = 4
"""Below this many optimiser steps a phase runs at a constant learning rate."""


def one_cycle(
    optimizer: torch.optim.Optimizer, max_lrs: list[float], steps: int, pct_start: float, div: float
) -> torch.optim.lr_scheduler.LRScheduler:
    """One-cycle schedule over ``steps`` steps, safe for tiny runs.

    torch's OneCycleLR divides by the length of its warm-up and annealing parts, which are
    zero for some short runs (e.g. 4 steps with ``pct_start=0.25``): the warm-up is kept
    between 1 and ``steps - 1`` steps, and runs shorter than ``MIN_ONE_CYCLE_STEPS`` steps
    use the peak learning rates unchanged.
    """
    if steps < MIN_ONE_CYCLE_STEPS:
        for group, lr in zip(optimizer.param_groups, max_lrs, strict=True):
            group["lr"] = lr
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _step: 1.0)
    warmup = min(max(pct_start * steps, 2.0), steps - 2.0)  # both parts >= 1 step long
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=max_lrs, total_steps=steps, pct_start=warmup / steps, div_factor=div
    )


def evaluate_batches(
    model: nn.Module, batches: Batches, precision: str, loss_fn: nn.Module
) -> tuple[float, np.ndarray]:
    """Mean loss and logits (float32, in ``batches`` order) of a model in eval mode (summed
    and kept on the device, read once at the end)."""
    model.eval()
    device = model_device(model)
    total, n, outs = torch.zeros((), dtype=_wide(device), device=device), 0, []
    with torch.inference_mode():
        for x, y, *_ in batches:
            with autocast(precision, device):
                logits = model(x)
            logits = logits.float()
            total += loss_fn(logits, y).to(total.dtype) * len(y)
            n += len(y)
            outs.append(logits)
    logits_all = torch.cat(outs).cpu().numpy() if outs else np.zeros((0, 0), np.float32)
    return float(total) / max(n, 1), logits_all


def _wide(device: torch.device) -> torch.dtype:
    """The dtype sums of losses are kept in: float64, float32 on MPS (no float64 there)."""
    return torch.float32 if device.type == "mps" else torch.float64


def fit(
    model: nn.Module,
    train: Batches,
    val: Batches,
    cfg: TrainConfig,
    *,
    classes: list[str],
    pretrained: bool,
    precision: str,
    loss_weights: torch.Tensor | None = None,
    on_best: Callable[[EpochRecord], None] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    calibration: Batches | None = None,
    progress=None,
    label: str = "",
) -> FitResult:
    """Train ``model`` with the fine-tune schedule.

    Args:
        model: The network (channels-last already applied if wanted).
        train: Training batches (shuffled, augmented).
        val: Validation batches (fixed order).
        cfg: The configuration (epochs, lr, weight decay, patience).
        classes: Class names, for F1.
        pretrained: Whether the body holds pretrained weights (decides the schedule).
        precision: "bf16", "fp16" (with a gradient scaler) or "fp32", on the model's device.
        loss_weights: Per-class weights of the loss (on the model's device), or None.
        on_best: Called after an epoch that improves on validation (save the checkpoint).
        on_epoch: Called after every epoch (tracking).
        calibration: Fixed training batches to re-estimate BatchNorm statistics on after
            each epoch (None: keep the running averages).
        progress: A ``rich.progress.Progress`` to draw one bar per epoch on, or None.
        label: Prefix of the progress bar descriptions (the topology).
    """
    loop = _EpochLoop(
        model,
        train,
        val,
        classes,
        precision,
        nn.CrossEntropyLoss(weight=loss_weights),
        calibration,
        progress,
        label,
        mask_weight=cfg.mask_weight,
        cam_weight=cfg.cam_weight,
    )
    result = FitResult(history=[])
    best_key = (math.inf, math.inf)
    stale = 0
    epoch = 0
    phases = schedule(cfg, pretrained)
    loop.total_epochs = sum(p.epochs for p in phases)
    for phase in phases:
        optimizer, scheduler = _phase_optimizer(model, phase, cfg.weight_decay, len(train))
        for _ in range(phase.epochs):
            epoch += 1
            rec = loop.run(epoch, phase, optimizer, scheduler)
            result.history.append(rec)
            if on_epoch is not None:
                on_epoch(rec)
            key = (rec.error_rate, rec.val_loss)
            if key < best_key:
                best_key, stale = key, 0
                result.best_epoch, result.best_error = epoch, rec.error_rate
                if on_best is not None:
                    on_best(rec)
            elif phase.name == "all":
                stale += 1
            if cfg.patience and stale >= cfg.patience:
                result.stopped_early = True
                return result
    return result


def _phase_optimizer(
    model: nn.Module, phase: Phase, weight_decay: float, steps_per_epoch: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """Freeze or unfreeze the body for ``phase``; a fresh AdamW over the three parameter
    groups at the phase's rates and its one-cycle schedule."""
    freeze_body(model, phase.frozen)
    groups = [{"params": g, "lr": lr} for g, lr in zip(param_groups(model), phase.lrs, strict=True)]
    optimizer = torch.optim.AdamW(groups, lr=phase.lrs[-1], weight_decay=weight_decay)
    steps = steps_per_epoch * phase.epochs
    scheduler = one_cycle(optimizer, list(phase.lrs), steps, phase.pct_start, phase.div)
    return optimizer, scheduler


@dataclass
class _EpochLoop:
    """What every epoch of one :func:`fit` shares; :meth:`run` trains and scores one."""

    model: nn.Module
    train: Batches
    val: Batches
    classes: list[str]
    precision: str
    train_loss_fn: nn.Module
    calibration: Batches | None
    progress: Any
    label: str
    total_epochs: int = 0
    val_loss_fn: nn.Module = field(default_factory=nn.CrossEntropyLoss)
    mask_weight: float = 0.0
    cam_weight: float = 0.0

    def run(self, epoch: int, phase: Phase, optimizer, scheduler) -> EpochRecord:
        """Train one epoch, re-estimate BatchNorm, score on validation."""
        started = time.perf_counter()
        task = None
        steps = len(self.train) + len(self.val)
        if self.progress is not None:
            task = self.progress.add_task(
                f"{self.label} epoch {epoch}/{self.total_epochs} ({phase.name})",
                total=steps,
                info="",
            )
        train_loss, last_lr = _train_epoch(
            self.model,
            self.train,
            optimizer,
            scheduler,
            self.train_loss_fn,
            self.precision,
            self.progress,
            task,
            (self.mask_weight, self.cam_weight),
        )
        if self.calibration is not None:
            recalibrate_batchnorm(self.model, self.calibration, self.precision)
        val_loss, logits = evaluate_batches(self.model, self.val, self.precision, self.val_loss_fn)
        pred = logits.argmax(axis=1)
        err = error_rate(self.val.labels, pred)
        rec = EpochRecord(
            epoch=epoch,
            phase=phase.name,
            train_loss=train_loss,
            val_loss=val_loss,
            error_rate=err,
            accuracy=1.0 - err,
            f1=f1_score(self.val.labels, pred, self.classes),
            lr=last_lr,
            seconds=time.perf_counter() - started,
        )
        if self.progress is not None:
            info = f"loss {train_loss:.4f} val {val_loss:.4f} err {100 * err:.2f}%"
            self.progress.update(task, completed=steps, info=info)
        return rec


def recalibrate_batchnorm(model: nn.Module, batches: Batches, precision: str) -> None:
    """Recompute every BatchNorm layer's running mean and variance from ``batches``.

    The statistics become the plain average over the batches (momentum None) with the
    weights as they are now; the layers' momentum is restored afterwards.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    device = model_device(model)
    with torch.no_grad():
        for x, *_ in batches:
            if len(x) < 2:
                continue  # BatchNorm in train mode needs two samples
            with autocast(precision, device):
                model(x)
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum


def _train_epoch(
    model: nn.Module,
    batches: Batches,
    optimizer,
    scheduler,
    loss_fn: nn.Module,
    precision: str,
    progress,
    task,
    guide: tuple[float, float] = (0.0, 0.0),
) -> tuple[float, float]:
    """One pass over the training batches: (mean loss, head learning rate of the last step).

    Batches that carry defect masks (images, labels, masks) add the mask-guided losses
    (:func:`_guided_loss`) weighted by ``guide`` = (mask weight, CAM weight).

    fp16 scales the loss (a step whose gradients overflow is skipped by the scaler, so the
    schedule's "step before optimizer step" warning is expected and silenced); the loss is
    summed on the device and read once (and every 20 steps for a progress bar), so a GPU
    is not stopped every step.
    """
    model.train()
    device = model_device(model)
    scaler = grad_scaler(precision, device)
    wide = _wide(device)
    total, n, lr = torch.zeros((), dtype=wide, device=device), 0, 0.0
    for step, (x, y, *rest) in enumerate(batches, start=1):
        with autocast(precision, device):
            if rest and max(guide) > 0:
                loss = _guided_loss(model, x, y, rest[0], loss_fn, guide)
            else:
                loss = loss_fn(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        lr = float(optimizer.param_groups[-1]["lr"])
        with warnings.catch_warnings():  # fp16: the scaler may have skipped the step
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler")
            scheduler.step()
        total += loss.detach().to(wide) * len(y)
        n += len(y)
        if progress is not None:
            info = {"info": f"loss {float(total) / n:.4f}"} if step % 20 == 1 else {}
            progress.update(task, advance=1, **info)
    return float(total) / max(n, 1), lr


def _guided_loss(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    masks: torch.Tensor,
    loss_fn: nn.Module,
    guide: tuple[float, float],
) -> torch.Tensor:
    """Classification loss plus ``guide[0]`` times the mask head's loss
    (:func:`weldsynth.train.masks.mask_loss`) and ``guide[1]`` times the share of the true
    class's activation map outside the mask (:func:`weldsynth.train.masks.cam_loss`)."""
    mask_weight, cam_weight = guide
    logits, seg, feats = model(x, with_mask=mask_weight > 0, with_features=True)
    loss = loss_fn(logits.float(), y)
    if seg is not None:
        loss = loss + mask_weight * mask_loss(seg, masks)
    if cam_weight > 0:
        cams = unwrap(model).class_map(feats, y)
        loss = loss + cam_weight * cam_loss(cams, masks)
    return loss
