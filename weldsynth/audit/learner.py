"""Train one model on arrays already in RAM and predict others: the unit of out-of-fold work.

The same recipe as ``weldsynth train``: both build on
:func:`weldsynth.train.setup.prepare_training` (the fine-tune schedule, class balancing,
augmentation, BatchNorm re-estimation and the (model, shuffle, augment, calibrate) seeds
drawn from one seed), but without files: no checkpoint, no reports; tiny folds train with
smaller batches (:func:`small_batch`). The model of the *last* epoch is kept
(choosing the best epoch on the held-out fold would leak it into its own predictions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from weldsynth.core.errors import WeldsynthError
from weldsynth.train.cache import subset
from weldsynth.train.config import TrainConfig, parse_augment
from weldsynth.train.fit import EpochRecord
from weldsynth.train.images import Batches
from weldsynth.train.predict import probabilities_from_cache
from weldsynth.train.setup import prepare_training

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

    def probabilities(self, images: Any, tta: str = "none") -> np.ndarray:
        """Softmax probabilities (N, classes) of uint16 cached images (an array or a view of
        the decode cache); ``tta="flip"`` averages the image and its mirror images
        (:mod:`weldsynth.train.decision`)."""
        return probabilities_from_cache(self.model, images, self.mean, self.std, tta=tta)


def tta_for(augment: str) -> str:
    """The test-time augmentation fold models trained with ``augment`` are asked with:
    "flip" (the image and its three mirror images, averaged) when they learnt that a
    mirrored weld keeps its class (``hflip`` and ``vflip`` in ``augment``), else "none".
    It steadies the out-of-fold probabilities at the cost of predictions only."""
    parsed = parse_augment(augment)
    names = {name for name, _ in parsed} if isinstance(parsed, list) else set()
    return "flip" if {"hflip", "vflip"} <= names else "none"


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
    x: Any,
    y: np.ndarray,
    n_classes: int,
    cfg: TrainConfig,
    *,
    seed: int,
    precision: str,
    weights: Path | None = None,
    x_val: Any = None,
    y_val: np.ndarray | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    device: torch.device | None = None,
) -> Fitted:
    """Train a model on cached images (uint16 (N, H, W), letterboxed to ``cfg.size``: an
    array or a view of the decode cache) on ``device`` (default: the CPU).

    Args:
        x: Training images.
        y: Their class indices.
        n_classes: Outputs of the model.
        cfg: Architecture, epochs, learning rate, balance, augmentation...
        seed: Seeds model initialisation, shuffling, augmentation and calibration.
        precision: "bf16", "fp16" or "fp32" (resolved for the device already).
        weights: Pretrained weights file, or None (from scratch: no head-only epochs).
        x_val: Images scored after every epoch (progress only; default: a few training
            images). The returned model is the last epoch's whatever they say.
        y_val: Their labels.
        on_epoch: Called after every epoch.
        device: Where the model trains; the returned model stays there.
    """
    setup = prepare_training(
        x, y, n_classes, cfg, seed=seed, weights=weights, batch_size=small_batch, device=device
    )
    if x_val is None or y_val is None or not len(x_val):
        x_val, y_val = subset(x, np.arange(min(2, len(x)))), y[:2]
    val_b = Batches(
        x_val,
        y_val,
        max(cfg.batch_size, 64),
        setup.mean,
        setup.std,
        channels_last=cfg.channels_last,
        device=setup.device,
    )
    classes = [str(c) for c in range(n_classes)]
    setup.fit(val_b, classes=classes, precision=precision, on_epoch=on_epoch)
    setup.model.eval()
    return Fitted(model=setup.model, mean=setup.mean, std=setup.std)
