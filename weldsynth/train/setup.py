"""The training setup, written once: ``weldsynth train`` and the audit's fold models use it.

From a :class:`~weldsynth.train.config.TrainConfig` and cached training images
(:func:`decode_items`), :func:`prepare_training` draws the (model, shuffle, augment,
calibrate) seeds from one seed, builds the model (seeded initialisation, optional
pretrained body, channels-last), the class balancing (loss weights or sampling weights),
the shuffled and augmented training batches and the fixed BatchNorm calibration batches.
:meth:`TrainSetup.fit` runs :func:`weldsynth.train.fit.fit` (optimiser, one-cycle schedule,
precision) on them with torch's deterministic algorithms switched on.

What differs between callers is passed in: the validation batches, a batch-size rule for
tiny folds, the batch class (sharded under ``torchrun``) and the device. Images come from
the decode cache (:mod:`weldsynth.train.cache`): an array in RAM or a view of the disk
cache, cut per split or fold without copying.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from weldsynth.train.augment import build_batch_augment
from weldsynth.train.cache import load_images, masks_of, subset, with_masks
from weldsynth.train.config import TrainConfig
from weldsynth.train.data import Item
from weldsynth.train.fit import FitResult, fit
from weldsynth.train.images import Batches, pixel_stats
from weldsynth.train.masks import load_masks
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
    x: Any,
    y: np.ndarray,
    cfg: TrainConfig,
    mean: float,
    std: float,
    seed: int,
    device: torch.device | None = None,
) -> Batches:
    """A fixed random sample of up to ``CALIBRATION_IMAGES`` training images (in batches of
    ``batch_size``, no augmentation) to re-estimate BatchNorm statistics on."""
    n = min(len(x), CALIBRATION_IMAGES)
    pick = np.sort(np.random.default_rng(seed).permutation(len(x))[:n])
    return Batches(
        subset(x, pick),
        y[pick],
        cfg.batch_size,
        mean,
        std,
        channels_last=cfg.channels_last,
        device=device,
    )


def run_config(cfg: TrainConfig, pretrained: bool) -> TrainConfig:
    """The configuration a run uses: no head-only epochs without a pretrained body."""
    return cfg if pretrained else cfg.with_(freeze_epochs=0)


def seeded_model(
    cfg: TrainConfig, n_classes: int, seed: int, weights: Path | None, mask_head: bool = False
) -> torch.nn.Module:
    """The network of ``cfg.arch``, initialised from ``seed`` without touching torch's global
    random state, with ``weights`` loaded into its body, a mask head when ``mask_head``
    (seeded too) and channels-last if configured."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = build_model(cfg.arch, n_classes)
    if weights is not None:
        load_pretrained(model, weights)
    if mask_head:
        with torch.random.fork_rng():
            torch.manual_seed(seed + 1)
            model.add_mask_head()
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
        loss_weights: Per-class loss weights (on the device), or None.
        device: Where the model and the batches are.
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
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    def fit(
        self,
        val: Batches,
        *,
        classes: list[str],
        precision: str,
        model: torch.nn.Module | None = None,
        say: Say = lambda _line: None,
        **hooks: Any,
    ) -> FitResult:
        """Train with the fine-tune schedule, deterministic algorithms on.

        Args:
            val: Validation batches (fixed order).
            classes: Class names, for F1.
            precision: "bf16", "fp16" or "fp32" (resolved for the device already).
            model: The network to train when not :attr:`model` itself (a DDP wrapper).
            say: Prints one line (the ``--compile`` fallback).
            **hooks: ``on_best``, ``on_epoch``, ``progress``, ``label`` of
                :func:`weldsynth.train.fit.fit`.
        """
        net = self.model if model is None else model
        if self.cfg.compile:
            net = compiled(net, self.calibration, precision, say)
        with deterministic():
            return fit(
                net,
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
    device: torch.device | None = None,
) -> TrainSetup:
    """Build model, class balancing and batches for training on cached images.

    Args:
        x: Training images, uint16 (N, H, W) letterboxed to ``cfg.size`` (an array or a
            view of the decode cache).
        y: Their class indices.
        n_classes: Outputs of the model.
        cfg: The configuration asked for.
        seed: Seeds model initialisation, shuffling, augmentation and calibration.
        weights: Pretrained weights file, or None (from scratch: no head-only epochs).
        batch_size: Rule ``(images, run config) -> batch size`` replacing ``cfg.batch_size``
            (e.g. smaller for tiny folds), or None.
        make_batches: Class of the training batches (:class:`Batches` or a sharded one,
            which places its batches itself).
        device: Where the model and batches go (default: the CPU).
    """
    mean, std = pixel_stats(x)
    seeds = seeds_for(seed)
    pretrained = weights is not None
    run_cfg = run_config(cfg, pretrained)
    if batch_size is not None:
        run_cfg = run_cfg.with_(batch_size=batch_size(len(x), run_cfg))
    where = torch.device("cpu") if device is None else torch.device(device)
    masks = masks_of(x) if cfg.guided else None
    use_masks = masks is not None and bool(masks.any())
    head = use_masks and cfg.mask_weight > 0
    model = seeded_model(cfg, n_classes, seeds["model"], weights, head).to(where)
    loss_weights, sample_w = class_balance(y, n_classes, cfg.balance)
    if loss_weights is not None:
        loss_weights = loss_weights.to(where)
    placed = {} if device is None else {"device": where}
    train = make_batches(
        x,
        y,
        run_cfg.batch_size,
        mean,
        std,
        shuffle_seed=seeds["shuffle"],
        augment=build_batch_augment(cfg.augment, seeds["augment"]),
        sample_weights=sample_w,
        channels_last=cfg.channels_last,
        **placed,
    )
    train.with_masks = use_masks
    calib = calibration_batches(x, y, run_cfg, mean, std, seeds["calibrate"], where)
    return TrainSetup(
        model, run_cfg, pretrained, seeds, mean, std, train, calib, loss_weights, where
    )


@dataclass
class DecodedItems:
    """Listed images in the decode cache.

    Attributes:
        images: uint16 (N, H, W), letterboxed: an array in RAM or an
            :class:`~weldsynth.train.cache.ImageView` of the disk cache.
        items: The items decoded, in order (unreadable ones left out).
        failures: (file, reason) of every file left out.
        seconds: Decoding (or cache look-up) time.
        where: "ram" or the disk cache's folder.
        decoded: Files decoded by this call (the rest came from the disk cache).
    """

    images: Any
    items: list[Item]
    failures: list[tuple[str, str]]
    seconds: float
    where: str = "ram"
    decoded: int = 0


def decode_items(
    items: Sequence[Item],
    cfg: TrainConfig,
    say: Say,
    left: str = "skipped",
    root: Path | None = None,
) -> DecodedItems:
    """Decode ``items`` at ``cfg.size`` into the decode cache (RAM up to ``cfg.cache_gb``,
    else on disk under ``root``; at least two decoder threads), warning through ``say``
    about unreadable files (``left``: the verb of the warning)."""
    started = time.perf_counter()
    loaded = load_images(
        [i.path for i in items],
        cfg.size,
        root=root,
        rels=[i.rel for i in items] if root is not None else None,
        cache_gb=cfg.cache_gb,
        threads=max(cfg.threads, 2),
    )
    if loaded.failures:
        say(
            f"warning: {len(loaded.failures)} unreadable image(s) {left}, e.g. "
            f"{loaded.failures[0][0]}: {loaded.failures[0][1]}"
        )
    if loaded.where != "ram":
        say(
            f"decode cache: {len(loaded.kept)} images on disk in {loaded.where} "
            f"({loaded.decoded} decoded now)"
        )
    kept = [items[k] for k in loaded.kept]
    return DecodedItems(
        images=_masked(loaded.images, kept, cfg, say),
        items=kept,
        failures=loaded.failures,
        seconds=time.perf_counter() - started,
        where=loaded.where,
        decoded=loaded.decoded,
    )


NO_MASKS = (
    "warning: --mask-loss: no defect masks here (manifest mask column or _masks/ beside "
    "the class folders); training without the mask loss"
)


def _masked(images: Any, items: list[Item], cfg: TrainConfig, say: Say) -> Any:
    """``images`` carrying the items' defect masks when ``cfg.mask_loss`` or ``cam_loss`` asks
    (:func:`weldsynth.train.masks.load_masks`); as they are when the data set has none (with
    a warning when a weight was given, not for "auto")."""
    if not cfg.guided:
        return images
    masks, non_empty = load_masks(items, cfg.size, threads=max(cfg.threads, 2))
    if masks is None or not non_empty:
        given = (cfg.mask_loss, cfg.mask_weight), (cfg.cam_loss, cfg.cam_weight)
        if any(value != "auto" and weight > 0 for value, weight in given):
            say(NO_MASKS)
        return images
    return with_masks(images, masks)


def compiled(model: torch.nn.Module, sample: Batches, precision: str, say: Say) -> torch.nn.Module:
    """``torch.compile(model)`` when this platform compiles it, else ``model`` with one line.

    Compilation happens on the first call, so one training step (forward and backward, no
    optimiser step; gradients cleared) on a batch of ``sample`` tries it here; BatchNorm
    statistics are re-estimated after every epoch, so the trial leaves no trace.
    """
    from weldsynth.train.device import autocast, model_device

    try:
        trial = torch.compile(model)
        x, _ = sample.batch(np.arange(min(2, len(sample.images))))
        trial.train()
        with autocast(precision, model_device(model)):
            trial(x).float().sum().backward()
    except Exception as exc:  # any backend failure: train eagerly
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
        say(f"warning: --compile: cannot compile here ({type(exc).__name__}: {reason}); eager")
        return model
    finally:
        model.zero_grad(set_to_none=True)
    return trial
