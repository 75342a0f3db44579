"""One training run per topology, end to end: list, decode, build, fit, report, track.

Each topology gets its own folder ``OUT/<topology>/`` with ``config.json``,
``metrics.csv``, ``loss.png``, ``confusion.png``, ``confusion.csv``, ``model.pt`` and
``report.json``; :func:`train_topologies` adds ``OUT/summary.csv`` and ``OUT/summary.md``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from weldsynth import __version__
from weldsynth.train import distributed, reports
from weldsynth.train.checkpoint import MODEL_NAME, load_checkpoint, save_checkpoint
from weldsynth.train.config import TrainConfig
from weldsynth.train.data import Listing, check_classes, check_splits, list_images
from weldsynth.train.evaluate import per_defect_rows
from weldsynth.train.fit import EpochRecord, fit
from weldsynth.train.images import Batches, build_augment, decode_all, pixel_stats
from weldsynth.train.metrics import confusion_matrix, error_rate, f1_score
from weldsynth.train.model import build_model, load_pretrained, resolve_precision
from weldsynth.train.predict import probabilities_from_cache
from weldsynth.train.tracking import NullTracker

Say = Callable[[str], None]
CALIBRATION_IMAGES = 64
"""Training images (a fixed random sample) used to re-estimate BatchNorm statistics after
each epoch: enough for per-channel statistics, a small fraction of an epoch's cost."""


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

    Returns:
        The content of ``report.json``.
    """
    started = time.perf_counter()
    tracker = tracker or NullTracker()
    topo, where = listing.topology, f"{listing.root} topology {listing.topology}"
    for warning in listing.warnings:
        say(f"warning: {warning}")
    decoded = decode_all([i.path for i in listing.items], cfg.size, threads=max(cfg.threads, 2))
    items = [listing.items[k] for k in decoded.kept]
    if decoded.failures:
        say(
            f"warning: {len(decoded.failures)} unreadable image(s) skipped, e.g. "
            f"{decoded.failures[0][0]}: {decoded.failures[0][1]}"
        )
    check_classes(items, where)
    check_splits(items, where)
    classes = sorted({i.label for i in items}, key=lambda c: (c == "good", c))
    index = {c: k for k, c in enumerate(classes)}
    labels = np.array([index[i.label] for i in items], np.int64)
    split = np.array([i.split for i in items])
    x = {s: decoded.images[split == s] for s in ("train", "val", "test")}
    y = {s: labels[split == s] for s in ("train", "val", "test")}
    decode_seconds = time.perf_counter() - started
    failures = decoded.failures
    del decoded
    mean, std = pixel_stats(x["train"])
    precision = resolve_precision(cfg.precision)
    pretrained = weights is not None
    run_cfg = cfg if pretrained else cfg.with_(freeze_epochs=0)
    seeds = seeds_for(cfg.seed)
    with torch.random.fork_rng():
        torch.manual_seed(seeds["model"])
        model = build_model(cfg.arch, len(classes))
    if weights is not None:
        load_pretrained(model, weights)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    counts = np.bincount(y["train"], minlength=len(classes)).astype(np.float64)
    class_w = counts.sum() / (len(classes) * np.maximum(counts, 1))
    loss_weights = torch.tensor(class_w, dtype=torch.float32) if cfg.balance == "weights" else None
    sample_w = class_w[y["train"]] if cfg.balance == "sampler" else None
    make_batches = ddp.batches if ddp else Batches
    train_b = make_batches(
        x["train"],
        y["train"],
        cfg.batch_size,
        mean,
        std,
        shuffle_seed=seeds["shuffle"],
        augment=build_augment(cfg.augment, seeds["augment"]),
        sample_weights=sample_w,
        channels_last=cfg.channels_last,
    )
    val_b = Batches(x["val"], y["val"], cfg.batch_size, mean, std, channels_last=cfg.channels_last)
    calib_b = calibration_batches(x["train"], y["train"], cfg, mean, std, seeds["calibrate"])
    if ddp:
        val_b, calib_b = ddp.on_device(val_b), ddp.on_device(calib_b)
        loss_weights = None if loss_weights is None else loss_weights.to(ddp.device)
    meta = {
        "arch": cfg.arch,
        "classes": classes,
        "in_channels": 1,
        "input_size": list(cfg.size),
        "mean": mean,
        "std": std,
        "normalisation": "letterbox (aspect kept, zero padding), heights in [0, 1], "
        "then (x - mean) / std",
        "topology": topo,
        "weldsynth_version": __version__,
        "manifest_sha256": listing.manifest_sha,
        "split_seed": cfg.split_seed,
        "val_pct": cfg.val_pct,
        "by_defect": cfg.by_defect,
        "seed": cfg.seed,
    }
    out.mkdir(parents=True, exist_ok=True)
    resolved = {
        "data": str(listing.root),
        "topology": topo,
        "precision_used": precision,
        "pretrained": pretrained,
        "weights_note": weights_note,
        "split": listing.split_note,
        "seeds": seeds,
        **({"distributed": ddp.describe()} if ddp else {}),
    }
    run_cfg.write(out / "config.json", resolved)
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
            out / MODEL_NAME, model, {**meta, "epoch": rec.epoch, "val_error": rec.error_rate}
        )

    n = {s: len(y[s]) for s in y}
    say(
        f"topology {topo}: {n['train']} train / {n['val']} val"
        + (f" / {n['test']} test" if n["test"] else "")
        + f" images, classes {', '.join(classes)}; split: {listing.split_note}; "
        f"{cfg.arch} {cfg.size[0]}x{cfg.size[1]} {precision}"
    )
    tracker.start(
        f"{topo}-{cfg.arch}",
        {**run_cfg.to_dict(), **resolved, "topology": topo},
        {"topology": topo, "weldsynth_version": __version__},
    )
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        progress = progress_factory() if progress_factory else None
        with progress if progress is not None else _nothing():
            fitted = (
                ddp.wrap(model, find_unused=pretrained and run_cfg.freeze_epochs > 0)
                if ddp
                else model
            )
            result = fit(
                fitted,
                train_b,
                val_b,
                run_cfg,
                classes=classes,
                pretrained=pretrained,
                precision=precision,
                loss_weights=loss_weights,
                on_best=on_best,
                on_epoch=on_epoch,
                calibration=calib_b,
                progress=progress,
                label=f"[{topo}]",
            )
    except KeyboardInterrupt:
        tracker.finish(None, "KILLED")
        raise
    finally:
        torch.use_deterministic_algorithms(deterministic)
    best = load_checkpoint(out / MODEL_NAME)
    val_report = _split_report(
        best.model, x["val"], y["val"], [i for i in items if i.split == "val"], classes, mean, std
    )
    test_report = (
        _split_report(
            best.model,
            x["test"],
            y["test"],
            [i for i in items if i.split == "test"],
            classes,
            mean,
            std,
        )
        if n["test"]
        else None
    )
    matrix = np.array(val_report["confusion"], np.int64)
    title = f"topology {topo}, {cfg.arch}"
    reports.write_confusion_csv(out / "confusion.csv", matrix, classes)
    reports.plot_confusion(
        out / "confusion.png",
        matrix,
        classes,
        f"{title}: val error {100 * val_report['error_rate']:.2f}%",
    )
    reports.plot_loss(out / "loss.png", history, title)
    report = {
        "topology": topo,
        "arch": cfg.arch,
        "classes": classes,
        "data": str(listing.root),
        "counts": split_counts(items),
        "split": listing.split_note,
        "manifest_sha256": listing.manifest_sha,
        "weights": weights_note,
        "pretrained": pretrained,
        "precision": precision,
        "input_size": list(cfg.size),
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "val": val_report,
        "test": test_report,
        "skipped": [{"file": f, "reason": r} for f, r in failures],
        "decode_seconds": round(decode_seconds, 3),
        "seconds": round(time.perf_counter() - started, 3),
        "weldsynth_version": __version__,
        "torch_version": torch.__version__,
    }
    reports.write_json(out / "report.json", report)
    tracker.finish(out)
    say(
        f"topology {topo}: best epoch {result.best_epoch}, val error "
        f"{100 * val_report['error_rate']:.2f}% -> {out / MODEL_NAME}"
    )
    return report


def split_counts(items: list) -> dict[str, dict[str, int]]:
    """split -> class -> number of images."""
    out: dict[str, dict[str, int]] = {}
    for item in items:
        per = out.setdefault(item.split, {})
        per[item.label] = per.get(item.label, 0) + 1
    return {s: dict(sorted(c.items())) for s, c in sorted(out.items())}


def _split_report(
    model: torch.nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    items: list,
    classes: list[str],
    mean: float,
    std: float,
) -> dict[str, Any]:
    probs = probabilities_from_cache(model, x, mean, std)
    pred = probs.argmax(axis=1)
    err = error_rate(y, pred)
    wrong = [
        {
            "file": i.rel,
            "label": i.label,
            "predicted": classes[int(p)],
            "probability": round(float(pr[int(p)]), 4),
        }
        for i, t, p, pr in zip(items, y, pred, probs, strict=True)
        if t != p
    ]
    return {
        "images": len(y),
        "error_rate": err,
        "accuracy": 1.0 - err,
        "f1": f1_score(y, pred, classes),
        "confusion": confusion_matrix(y, pred, len(classes)).tolist(),
        "per_defect": per_defect_rows(items, pred, classes),
        "wrong": wrong,
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
    return rows


def _nothing():
    import contextlib

    return contextlib.nullcontext()
