"""Train one model on arrays already in RAM and predict others: the unit of out-of-fold work.

The same recipe as ``weldsynth train`` (:func:`weldsynth.train.run.train_topology`): the
fine-tune schedule of :func:`weldsynth.train.fit.fit`, class balancing, augmentation,
BatchNorm re-estimation and the (model, shuffle, augment, calibrate) seeds drawn from one
seed, but without files: no checkpoint, no reports. The model of the *last* epoch is kept
(choosing the best epoch on the held-out fold would leak it into its own predictions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from weldsynth.core.errors import WeldsynthError
from weldsynth.train.config import TrainConfig
from weldsynth.train.fit import EpochRecord, fit
from weldsynth.train.images import Batches, build_augment, pixel_stats
from weldsynth.train.model import build_model, load_pretrained
from weldsynth.train.predict import probabilities_from_cache
from weldsynth.train.run import calibration_batches, seeds_for

MIN_STEPS = 6


@dataclass
class Fitted:
    """A trained model and the normalisation it expects.

    Attributes:
        model: The network, in eval mode.
        mean: Pixel mean of its training images (in [0, 1]).
        std: Their standard deviation.
    """

    model: torch.nn.Module
    mean: float
    std: float

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Softmax probabilities (N, classes) of uint16 cached images."""
        return probabilities_from_cache(self.model, images, self.mean, self.std)


def small_batch(n: int, cfg: TrainConfig) -> int:
    """The batch size, lowered for tiny folds so that each one-cycle phase has at least
    :data:`MIN_STEPS` steps (fewer breaks the schedule's warm-up arithmetic).

    Raises:
        WeldsynthError: ``n`` images cannot make that many steps of two images.
    """
    epochs = max(1, min(cfg.epochs, cfg.freeze_epochs or cfg.epochs))
    per_epoch = -(-MIN_STEPS // epochs)
    batch = int(min(cfg.batch_size, max(2, n // per_epoch)))
    if (n // batch) * epochs < MIN_STEPS:
        raise WeldsynthError(
            f"a fold model would train on {n} image(s) only, too few for "
            f"{MIN_STEPS} optimisation steps; use fewer folds, more epochs "
            "or more data"
        )
    return batch


def train_arrays(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    cfg: TrainConfig,
    *,
    seed: int,
    precision: str,
    weights: Path | None = None,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> Fitted:
    """Train a model on cached images (uint16 (N, H, W), letterboxed to ``cfg.size``).

    Args:
        x: Training images.
        y: Their class indices.
        n_classes: Outputs of the model.
        cfg: Architecture, epochs, learning rate, balance, augmentation...
        seed: Seeds model initialisation, shuffling, augmentation and calibration.
        precision: "bf16" or "fp32" (resolved already).
        weights: Pretrained weights file, or None (from scratch: no head-only epochs).
        x_val: Images scored after every epoch (progress only; default: a few training
            images). The returned model is the last epoch's whatever they say.
        y_val: Their labels.
        on_epoch: Called after every epoch.
    """
    mean, std = pixel_stats(x)
    seeds = seeds_for(seed)
    pretrained = weights is not None
    run_cfg = cfg if pretrained else cfg.with_(freeze_epochs=0)
    run_cfg = run_cfg.with_(batch_size=small_batch(len(x), run_cfg))
    with torch.random.fork_rng():
        torch.manual_seed(seeds["model"])
        model = build_model(cfg.arch, n_classes)
    if weights is not None:
        load_pretrained(model, weights)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    class_w = counts.sum() / (n_classes * np.maximum(counts, 1))
    loss_weights = torch.tensor(class_w, dtype=torch.float32) if cfg.balance == "weights" else None
    sample_w = class_w[y] if cfg.balance == "sampler" else None
    train_b = Batches(
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
    if x_val is None or y_val is None or not len(x_val):
        x_val, y_val = x[:2], y[:2]
    val_b = Batches(
        x_val, y_val, max(cfg.batch_size, 64), mean, std, channels_last=cfg.channels_last
    )
    calib_b = calibration_batches(x, y, run_cfg, mean, std, seeds["calibrate"])
    classes = [str(c) for c in range(n_classes)]
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        fit(
            model,
            train_b,
            val_b,
            run_cfg,
            classes=classes,
            pretrained=pretrained,
            precision=precision,
            loss_weights=loss_weights,
            on_epoch=on_epoch,
            calibration=calib_b,
        )
    finally:
        torch.use_deterministic_algorithms(deterministic)
    model.eval()
    return Fitted(model=model, mean=mean, std=std)
