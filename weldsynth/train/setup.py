"""The training setup, written once: ``weldsynth train`` and the audit's fold models use it.

From a :class:`~weldsynth.train.config.TrainConfig` and cached training images
(:func:`decode_items`), :func:`prepare_training` draws the (model, shuffle, augment,
calibrate) seeds from one seed, builds the model (seeded initialisation, optional
pretrained body, channels-last), the class balancing (loss weights or sampling weights),
the shuffled and augmented training batches and the fixed BatchNorm calibration batches.
:meth:`TrainSetup.fit` runs :func:`weldsynth.train.fit.fit` (optimiser, one-cycle schedule,
precision) on them with torch's deterministic algorithms switched on.

What differs between callers is passed in: the validation batches, a batch-size rule for
tiny folds, and the batch class (sharded under ``torchrun``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from weldsynth.train.config import TrainConfig
from weldsynth.train.data import Item
from weldsynth.train.fit import FitResult, fit
from weldsynth.train.images import Batches, build_augment, decode_all, pixel_stats
from weldsynth.train.model import build_model, load_pretrained

CALIBRATION_IMAGES = 64
"""Training images (a fixed random sample) used to re-estimate BatchNorm statistics after
each epoch: enough for per-channel statistics, a small fraction of an epoch's cost."""

Say = Callable[[str], None]


def seeds_for(seed: int) -> dict[str, int]:
    """Independent seeds of model init, shuffling and augmentation, drawn from ``seed``."""
    state = np.random.SeedSequence(seed).generate_state(4)
    return {
        "model": int(state[0]),
        "shuffle": int(state[1]),
        "augment": int(state[2]),
        "calibrate": int(state[3]),
    }


def calibration_batches(
    x: np.ndarray, y: np.ndarray, cfg: TrainConfig, mean: float, std: float, seed: int
) -> Batches:
    """A fixed random sample of up to ``CALIBRATION_IMAGES`` training images (in batches of
    ``batch_size``, no augmentation) to re-estimate BatchNorm statistics on."""
    n = min(len(x), CALIBRATION_IMAGES)
    pick = np.sort(np.random.default_rng(seed).permutation(len(x))[:n])
    return Batches(x[pick], y[pick], cfg.batch_size, mean, std, channels_last=cfg.channels_last)


def run_config(cfg: TrainConfig, pretrained: bool) -> TrainConfig:
    """The configuration a run uses: no head-only epochs without a pretrained body."""
    return cfg if pretrained else cfg.with_(freeze_epochs=0)


def seeded_model(
    cfg: TrainConfig, n_classes: int, seed: int, weights: Path | None
) -> torch.nn.Module:
    """The network of ``cfg.arch``, initialised from ``seed`` without touching torch's global
    random state, with ``weights`` loaded into its body and channels-last if configured."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = build_model(cfg.arch, n_classes)
    if weights is not None:
        load_pretrained(model, weights)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def class_balance(
    y: np.ndarray, n_classes: int, balance: str
) -> tuple[torch.Tensor | None, np.ndarray | None]:
    """(loss weights, per-image sampling weights) of ``balance`` ("weights", "sampler" or
    "none"); each class weighs ``N / (classes * its count)``."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    class_w = counts.sum() / (n_classes * np.maximum(counts, 1))
    loss_weights = torch.tensor(class_w, dtype=torch.float32) if balance == "weights" else None
    sample_w = class_w[y] if balance == "sampler" else None
    return loss_weights, sample_w


@contextlib.contextmanager
def deterministic() -> Iterator[None]:
    """Torch's deterministic algorithms (warnings only) for the block, then as before."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


@dataclass
class TrainSetup:
    """Everything a training run needs besides its validation batches.

    Attributes:
        model: The network (not wrapped for distributed training).
        cfg: The configuration the run uses (see :func:`run_config`, batch size settled).
        pretrained: The body holds pretrained weights (decides the schedule).
        seeds: From :func:`seeds_for`.
        mean: Pixel mean of the training images (in [0, 1]).
        std: Their standard deviation.
        train: Shuffled, augmented (and maybe class-sampled) training batches.
        calibration: Fixed training batches BatchNorm statistics are re-estimated on.
        loss_weights: Per-class loss weights, or None.
    """

    model: torch.nn.Module
    cfg: TrainConfig
    pretrained: bool
    seeds: dict[str, int]
    mean: float
    std: float
    train: Batches
    calibration: Batches
    loss_weights: torch.Tensor | None

    def fit(
        self,
        val: Batches,
        *,
        classes: list[str],
        precision: str,
        model: torch.nn.Module | None = None,
        **hooks: Any,
    ) -> FitResult:
        """Train with the fine-tune schedule, deterministic algorithms on.

        Args:
            val: Validation batches (fixed order).
            classes: Class names, for F1.
            precision: "bf16" or "fp32" (resolved already).
            model: The network to train when not :attr:`model` itself (a DDP wrapper).
            **hooks: ``on_best``, ``on_epoch``, ``progress``, ``label`` of
                :func:`weldsynth.train.fit.fit`.
        """
        with deterministic():
            return fit(
                self.model if model is None else model,
                self.train,
                val,
                self.cfg,
                classes=classes,
                pretrained=self.pretrained,
                precision=precision,
                loss_weights=self.loss_weights,
                calibration=self.calibration,
                **hooks,
            )


def prepare_training(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    cfg: TrainConfig,
    *,
    seed: int,
    weights: Path | None,
    batch_size: Callable[[int, TrainConfig], int] | None = None,
    make_batches: Callable[..., Batches] = Batches,
) -> TrainSetup:
    """Build model, class balancing and batches for training on cached images.

    Args:
        x: Training images, uint16 (N, H, W) letterboxed to ``cfg.size``.
        y: Their class indices.
        n_classes: Outputs of the model.
        cfg: The configuration asked for.
        seed: Seeds model initialisation, shuffling, augmentation and calibration.
        weights: Pretrained weights file, or None (from scratch: no head-only epochs).
        batch_size: Rule ``(images, run config) -> batch size`` replacing ``cfg.batch_size``
            (e.g. smaller for tiny folds), or None.
        make_batches: Class of the training batches (:class:`Batches` or a sharded one).
    """
    mean, std = pixel_stats(x)
    seeds = seeds_for(seed)
    pretrained = weights is not None
    run_cfg = run_config(cfg, pretrained)
    if batch_size is not None:
        run_cfg = run_cfg.with_(batch_size=batch_size(len(x), run_cfg))
    model = seeded_model(cfg, n_classes, seeds["model"], weights)
    loss_weights, sample_w = class_balance(y, n_classes, cfg.balance)
    train = make_batches(
        x,
        y,
        run_cfg.batch_size,
        mean,
        std,
        shuffle_seed=seeds["shuffle"],
        augment=build_augment(cfg.augment, seeds["augment"]),
        sample_weights=sample_w,
        channels_last=cfg.channels_last,
    )
    calib = calibration_batches(x, y, run_cfg, mean, std, seeds["calibrate"])
    return TrainSetup(model, run_cfg, pretrained, seeds, mean, std, train, calib, loss_weights)


@dataclass
class DecodedItems:
    """Listed images decoded into the RAM cache.

    Attributes:
        images: uint16 (N, H, W), letterboxed.
        items: The items decoded, in order (unreadable ones left out).
        failures: (file, reason) of every file left out.
        seconds: Decoding time.
    """

    images: np.ndarray
    items: list[Item]
    failures: list[tuple[str, str]]
    seconds: float


def decode_items(
    items: Sequence[Item], cfg: TrainConfig, say: Say, left: str = "skipped"
) -> DecodedItems:
    """Decode ``items`` at ``cfg.size`` (at least two decoder threads), warning through
    ``say`` about unreadable files (``left``: the verb of the warning)."""
    started = time.perf_counter()
    decoded = decode_all([i.path for i in items], cfg.size, threads=max(cfg.threads, 2))
    if decoded.failures:
        say(
            f"warning: {len(decoded.failures)} unreadable image(s) {left}, e.g. "
            f"{decoded.failures[0][0]}: {decoded.failures[0][1]}"
        )
    return DecodedItems(
        images=decoded.images,
        items=[items[k] for k in decoded.kept],
        failures=decoded.failures,
        seconds=time.perf_counter() - started,
    )
