"""The outcome of a training run: the best checkpoint scored per split, plots, counts.

:func:`evaluate_best` reloads the run's best checkpoint, scores it on the validation split
(and the test split when there is one) and writes ``confusion.csv``, ``confusion.png`` and
``loss.png``; its reports become ``report.json``'s ``val`` and ``test`` fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from weldsynth.train import reports
from weldsynth.train.checkpoint import MODEL_NAME, Checkpoint, load_checkpoint, save_checkpoint
from weldsynth.train.data import Item
from weldsynth.train.decision import GOOD, THRESHOLD_RULE, choose_threshold, decide
from weldsynth.train.evaluate import per_defect_rows
from weldsynth.train.fit import EpochRecord
from weldsynth.train.metrics import confusion_matrix, error_rate, f1_score
from weldsynth.train.plant import plant_rates
from weldsynth.train.predict import probabilities_from_cache


@dataclass
class SplitArrays:
    """One topology's decoded images cut per split.

    Attributes:
        items: Every decoded item, in listing order.
        classes: Class names (model order).
        x: split -> uint16 images (N, H, W): views of the decode cache.
        y: split -> class indices.
        failures: (file, reason) of every file skipped.
    """

    items: list[Item]
    classes: list[str]
    x: dict[str, Any]
    y: dict[str, np.ndarray]
    failures: list[tuple[str, str]]

    def count(self, split: str) -> int:
        """Images in ``split``."""
        return len(self.y[split])


def evaluate_best(
    out: Path,
    title: str,
    arrays: SplitArrays,
    mean: float,
    std: float,
    history: list[EpochRecord],
    device: torch.device | None = None,
) -> dict[str, Any]:
    """Score the best checkpoint in ``out`` on val (and test) on ``device`` (default: the
    CPU), write the confusion and loss plots (``title`` above them).

    Returns:
        ``{"val": report, "test": report or None}`` (see :func:`split_report`).
    """
    best = load_checkpoint(out / MODEL_NAME, device=device)
    found = {}
    seen = {i.source for i in arrays.items if i.split == "train"}
    for split in ("val", "test"):
        items = [i for i in arrays.items if i.split == split]
        found[split] = (
            split_report(
                best.model,
                arrays.x[split],
                arrays.y[split],
                items,
                arrays.classes,
                mean,
                std,
                seen,
            )
            if split == "val" or arrays.count(split)
            else None
        )
    val_report = found["val"]
    val_report.update(_tune_threshold(out / MODEL_NAME, best, arrays, mean, std))
    matrix = np.array(val_report["confusion"], np.int64)
    reports.write_confusion_csv(out / "confusion.csv", matrix, arrays.classes)
    reports.plot_confusion(
        out / "confusion.png",
        matrix,
        arrays.classes,
        f"{title}: val error {100 * val_report['error_rate']:.2f}%",
    )
    reports.plot_loss(out / "loss.png", history, title)
    return found


def _tune_threshold(
    path: Path, best: Checkpoint, arrays: SplitArrays, mean: float, std: float
) -> dict[str, Any]:
    """Choose the decision threshold on the validation split and store it in the
    checkpoint's metadata (:mod:`weldsynth.train.decision`); the fields it adds to the val
    report ({} without a "good" class)."""
    classes, y = arrays.classes, arrays.y["val"]
    if GOOD not in classes or not len(y):
        return {}
    probs = probabilities_from_cache(best.model, arrays.x["val"], mean, std)
    threshold = choose_threshold(probs, y, classes)
    meta = {**best.meta, "threshold": threshold, "threshold_rule": THRESHOLD_RULE}
    save_checkpoint(path, best.model, meta)
    return {
        "threshold": threshold,
        "error_rate_at_threshold": error_rate(y, decide(probs, classes, threshold)),
    }


def split_counts(items: list) -> dict[str, dict[str, int]]:
    """split -> class -> number of images."""
    out: dict[str, dict[str, int]] = {}
    for item in items:
        per = out.setdefault(item.split, {})
        per[item.label] = per.get(item.label, 0) + 1
    return {s: dict(sorted(c.items())) for s, c in sorted(out.items())}


def split_report(
    model: torch.nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    items: list,
    classes: list[str],
    mean: float,
    std: float,
    seen_sources: Iterable[str] = (),
) -> dict[str, Any]:
    """A model's scores on one split: error, F1, confusion, per defect, the images it gets
    wrong, and (with a "good" class) the plant's figures: false alarms on untouched good
    welds whose source is not in ``seen_sources``, misses per defect."""
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
        **({"plant": plant_rates(items, pred, classes, seen_sources)} if GOOD in classes else {}),
    }
