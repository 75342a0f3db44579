"""One training run per topology, end to end: list, decode, build, fit, report, track.

Each topology gets its own folder ``OUT/<topology>/`` with ``config.json``,
``metrics.csv``, ``loss.png``, ``confusion.png``, ``confusion.csv``, ``model.pt`` and
``report.json``; :func:`train_topologies` adds ``OUT/summary.csv`` and ``OUT/summary.md``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from weldsynth import __version__
from weldsynth.train import distributed, reports
from weldsynth.train.cache import subset
from weldsynth.train.checkpoint import MODEL_NAME, save_checkpoint
from weldsynth.train.choice import ModelChoice, RunChoice, choose_model
from weldsynth.train.config import AUTO_ARCH, TrainConfig
from weldsynth.train.data import Listing, check_classes, check_splits, list_images
from weldsynth.train.device import DeviceChoice, resolve_device
from weldsynth.train.fit import EpochRecord, FitResult
from weldsynth.train.images import Batches
from weldsynth.train.model import resolve_precision
from weldsynth.train.outcome import SplitArrays, evaluate_best, split_counts
from weldsynth.train.setup import TrainSetup, decode_items, prepare_training
from weldsynth.train.summary import write_train_summary
from weldsynth.train.tracking import NullTracker

Say = Callable[[str], None]


def prepare(data: Path, topology: str, cfg: TrainConfig) -> Listing:
    """List and check one topology before anything is decoded or trained."""
    listing = list_images(
        data, topology, by_defect=cfg.by_defect, val_pct=cfg.val_pct, split_seed=cfg.split_seed
    )
    check_splits(listing.items, f"{data} topology {topology}")
    return listing


def train_topology(
    listing: Listing,
    out: Path,
    cfg: TrainConfig,
    *,
    weights: Path | None,
    weights_note: str,
    say: Say,
    progress_factory=None,
    tracker: NullTracker | None = None,
    ddp: distributed.Distributed | None = None,
    model: ModelChoice | None = None,
) -> dict[str, Any]:
    """Train one topology and write its run folder.

    Args:
        listing: From :func:`prepare`.
        out: The run folder (``OUT/<topology>``).
        cfg: The configuration.
        weights: Pretrained weights file, or None for training from scratch.
        weights_note: What ``--weights`` resolved to (recorded in the report).
        say: Prints one line to the user.
        progress_factory: Returns a ``rich.progress.Progress`` (a context manager), or None.
        tracker: Experiment tracker.
        ddp: The torchrun job this process belongs to (shard, DDP, mean loss; rank 0
            writes), or None.
        model: ``--arch`` resolved (:func:`~weldsynth.train.choice.choose_model`), or None.

    Returns:
        The content of ``report.json``.
    """
    started = time.perf_counter()
    tracker = tracker or NullTracker()
    run = _choose(cfg, weights, weights_note, model, ddp)
    cfg, weights_note, precision = run.cfg(cfg), run.model.weights_note, run.precision
    arrays = _load(listing, cfg, say)
    decode_seconds = time.perf_counter() - started
    setup, val_b = _setup(arrays, cfg, run.model.weights, ddp, run.device.device)
    out.mkdir(parents=True, exist_ok=True)
    resolved = {**_resolved(listing, setup, precision, weights_note, ddp), **run.describe()}
    setup.cfg.write(out / "config.json", resolved)
    _announce(listing, arrays, cfg, f"{run.device.name} {precision}", say)
    tracker.start(
        f"{listing.topology}-{cfg.arch}",
        {**setup.cfg.to_dict(), **resolved, "topology": listing.topology},
        {"topology": listing.topology, "weldsynth_version": __version__},
    )
    result, history = _fit(
        setup,
        val_b,
        out,
        _meta(listing, cfg, arrays.classes, setup),
        classes=arrays.classes,
        precision=precision,
        tracker=tracker,
        progress_factory=progress_factory,
        label=f"[{listing.topology}]",
        ddp=ddp,
        say=say,
    )
    title, where = f"topology {listing.topology}, {cfg.arch}", run.device.device
    outcome = evaluate_best(out, title, arrays, setup.mean, setup.std, history, device=where)
    report = {
        **_report_head(listing, cfg, arrays, setup, weights_note, precision),
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        **outcome,
        "skipped": [{"file": f, "reason": r} for f, r in arrays.failures],
        "decode_seconds": round(decode_seconds, 3),
        "seconds": round(time.perf_counter() - started, 3),
        **{"weldsynth_version": __version__, "torch_version": torch.__version__},
    }
    reports.write_json(out / "report.json", report)
    tracker.finish(out)
    say(
        f"topology {listing.topology}: best epoch {result.best_epoch}, val error "
        f"{100 * outcome['val']['error_rate']:.2f}% -> {out / MODEL_NAME}"
    )
    return report


def _choose(
    cfg: TrainConfig,
    weights: Path | None,
    weights_note: str,
    model: ModelChoice | None,
    ddp: distributed.Distributed | None,
) -> RunChoice:
    """The run's model (``cfg.arch`` resolved when "auto"), device and precision."""
    if model is None:
        model = (
            choose_model(cfg)
            if cfg.arch == AUTO_ARCH
            else ModelChoice(cfg.arch, cfg.arch, "asked for", weights, weights_note)
        )
    device = (
        DeviceChoice(ddp.device, cfg.device, f"torchrun rank {ddp.rank}")
        if ddp is not None
        else resolve_device(cfg.device)
    )
    return RunChoice(model, device, resolve_precision(cfg.precision, device.device))


def _load(listing: Listing, cfg: TrainConfig, say: Say) -> SplitArrays:
    """Decode the listed images into the decode cache (unreadable ones skipped), check them,
    cut them per split (views, not copies)."""
    where = f"{listing.root} topology {listing.topology}"
    for warning in listing.warnings:
        say(f"warning: {warning}")
    decoded = decode_items(listing.items, cfg, say, root=listing.root)
    items = decoded.items
    check_classes(items, where)
    check_splits(items, where)
    classes = sorted({i.label for i in items}, key=lambda c: (c == "good", c))
    index = {c: k for k, c in enumerate(classes)}
    labels = np.array([index[i.label] for i in items], np.int64)
    split = np.array([i.split for i in items])
    splits = ("train", "val", "test")
    return SplitArrays(
        items=items,
        classes=classes,
        x={s: subset(decoded.images, np.flatnonzero(split == s)) for s in splits},
        y={s: labels[split == s] for s in splits},
        failures=decoded.failures,
    )


def _setup(
    arrays: SplitArrays,
    cfg: TrainConfig,
    weights: Path | None,
    ddp: distributed.Distributed | None = None,
    device: torch.device | None = None,
) -> tuple[TrainSetup, Batches]:
    """The shared training setup on the train split on ``device``, and the validation
    batches (on the process's device under torchrun)."""
    setup = prepare_training(
        arrays.x["train"],
        arrays.y["train"],
        len(arrays.classes),
        cfg,
        seed=cfg.seed,
        weights=weights,
        make_batches=ddp.batches if ddp else Batches,
        device=None if ddp else device,
    )
    val_b = Batches(
        arrays.x["val"],
        arrays.y["val"],
        cfg.batch_size,
        setup.mean,
        setup.std,
        channels_last=cfg.channels_last,
        device=None if ddp else device,
    )
    if ddp:
        val_b, setup.calibration = ddp.on_device(val_b), ddp.on_device(setup.calibration)
        if setup.loss_weights is not None:
            setup.loss_weights = setup.loss_weights.to(ddp.device)
    return setup, val_b


def _resolved(
    listing: Listing,
    setup: TrainSetup,
    precision: str,
    weights_note: str,
    ddp: distributed.Distributed | None = None,
) -> dict[str, Any]:
    """The decisions taken at run time, written into ``config.json`` next to the settings."""
    return {
        "data": str(listing.root),
        "topology": listing.topology,
        "precision_used": precision,
        "pretrained": setup.pretrained,
        "weights_note": weights_note,
        "split": listing.split_note,
        "seeds": setup.seeds,
        **({"distributed": ddp.describe()} if ddp else {}),
    }


def _announce(
    listing: Listing, arrays: SplitArrays, cfg: TrainConfig, where: str, say: Say
) -> None:
    """The line that says what is about to train, and where."""
    n_test = arrays.count("test")
    say(
        f"topology {listing.topology}: {arrays.count('train')} train / "
        f"{arrays.count('val')} val"
        + (f" / {n_test} test" if n_test else "")
        + f" images, classes {', '.join(arrays.classes)}; split: {listing.split_note}; "
        f"{cfg.arch} {cfg.size[0]}x{cfg.size[1]} {where}"
    )


def _meta(
    listing: Listing, cfg: TrainConfig, classes: list[str], setup: TrainSetup
) -> dict[str, Any]:
    """What the checkpoint records besides the weights (epoch and error added per save)."""
    return {
        "arch": cfg.arch,
        "classes": classes,
        "in_channels": 1,
        "input_size": list(cfg.size),
        "mean": setup.mean,
        "std": setup.std,
        "normalisation": "letterbox (aspect kept, zero padding), heights in [0, 1], "
        "then (x - mean) / std",
        "topology": listing.topology,
        "weldsynth_version": __version__,
        "manifest_sha256": listing.manifest_sha,
        "split_seed": cfg.split_seed,
        "val_pct": cfg.val_pct,
        "by_defect": cfg.by_defect,
        "seed": cfg.seed,
    }


def _fit(
    setup: TrainSetup,
    val_b: Batches,
    out: Path,
    meta: dict[str, Any],
    *,
    classes: list[str],
    precision: str,
    tracker: NullTracker,
    progress_factory,
    label: str,
    ddp: distributed.Distributed | None = None,
    say: Say = lambda _line: None,
) -> tuple[FitResult, list[EpochRecord]]:
    """Train, writing ``metrics.csv`` after every epoch and the checkpoint of every best one.

    Returns:
        (the fit's result, the epoch records as written, averaged over processes under DDP).
    """
    history: list[EpochRecord] = []

    def on_epoch(rec: EpochRecord) -> None:
        rec = ddp.reduce_epoch(rec) if ddp else rec
        history.append(rec)
        reports.write_metrics(out / "metrics.csv", history)
        tracker.log_epoch(
            rec.epoch, {k: v for k, v in rec.to_dict().items() if k not in ("epoch", "phase")}
        )

    def on_best(rec: EpochRecord) -> None:
        save_checkpoint(
            out / MODEL_NAME, setup.model, {**meta, "epoch": rec.epoch, "val_error": rec.error_rate}
        )

    try:
        progress = progress_factory() if progress_factory else None
        with progress if progress is not None else contextlib.nullcontext():
            find_unused = setup.pretrained and setup.cfg.freeze_epochs > 0
            model = ddp.wrap(setup.model, find_unused=find_unused) if ddp else setup.model
            result = setup.fit(
                val_b,
                classes=classes,
                precision=precision,
                model=model,
                on_best=on_best,
                on_epoch=on_epoch,
                progress=progress,
                label=label,
                say=say,
            )
    except KeyboardInterrupt:
        tracker.finish(None, "KILLED")
        raise
    return result, history


def _report_head(
    listing: Listing,
    cfg: TrainConfig,
    arrays: SplitArrays,
    setup: TrainSetup,
    weights_note: str,
    precision: str,
) -> dict[str, Any]:
    """The first fields of ``report.json``: what was trained on what."""
    return {
        "topology": listing.topology,
        "arch": cfg.arch,
        "classes": arrays.classes,
        "data": str(listing.root),
        "counts": split_counts(arrays.items),
        "split": listing.split_note,
        "manifest_sha256": listing.manifest_sha,
        "weights": weights_note,
        "pretrained": setup.pretrained,
        "precision": precision,
        "input_size": list(cfg.size),
    }


def train_topologies(
    data: Path,
    topologies: list[str],
    out: Path,
    cfg: TrainConfig,
    *,
    weights: Path | None,
    weights_note: str,
    say: Say,
    progress_factory=None,
    tracker_factory=None,
) -> list[dict[str, Any]]:
    """Train every topology in turn and write ``summary.csv`` / ``summary.md`` in ``out``.

    Every topology is listed and checked before the first one trains, so a data problem
    stops the run before hours are spent.

    Returns:
        The summary rows (one per topology).
    """
    listings = [prepare(data, t, cfg) for t in topologies]
    rows: list[dict[str, Any]] = []
    for listing in listings:
        tracker = tracker_factory() if tracker_factory else None
        report = train_topology(
            listing,
            out / listing.topology,
            cfg,
            weights=weights,
            weights_note=weights_note,
            say=say,
            progress_factory=progress_factory,
            tracker=tracker,
        )
        rows.append(reports.summary_row(report))
        reports.write_summary(out, rows)
    write_train_summary(out, [r["topology"] for r in rows])
    return rows
