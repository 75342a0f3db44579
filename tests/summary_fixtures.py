"""Run folders as ``train``, ``audit`` and ``loop`` leave them, built without training: the
inputs of the ``summary.html`` tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from weldsynth.io.heightmap import write_heightmap
from weldsynth.train import reports
from weldsynth.train.fit import EpochRecord

CLASSES = ["bad", "good"]
SHAPE = (40, 120)


def height_map(seed: int) -> np.ndarray:
    """A 16-bit ridge with a no-data strip, varied by ``seed``."""
    rng = np.random.default_rng(np.random.SeedSequence([19, seed]))
    rows = np.arange(SHAPE[0])[:, None]
    img = 0.2 + 0.6 * np.exp(-((rows - SHAPE[0] / 2 - rng.uniform(-3, 3)) ** 2) / 40.0)
    img = img * np.ones((1, SHAPE[1])) + rng.normal(0, 0.01, SHAPE)
    img[:, :4] = 0.0
    return np.rint(np.clip(img, 0, 1) * 65535).astype(np.uint16)


def data_set(root: Path, topology: str, n: int = 4) -> list[str]:
    """``n`` maps per class under ``root/<topology>/<class>/``; their relative paths."""
    paths = []
    for c, cls in enumerate(CLASSES):
        for k in range(n):
            rel = f"{topology}/{cls}/{topology}_{k:04d}__{cls}_{k:02d}.png"
            write_heightmap(root / rel, height_map(100 * c + k + 7 * len(topology)))
            paths.append(rel)
    return paths


def train_run(run: Path, data: Path, topology: str, epochs: int = 3) -> dict:
    """``run`` as one topology's training leaves it: report.json (val with two wrong
    images: a false alarm and a miss), metrics.csv, loss.png, confusion.png/.csv."""
    paths = data_set(data, topology)
    run.mkdir(parents=True, exist_ok=True)
    history = [
        EpochRecord(e, "all", 1.0 / e, 0.9 / e, 0.5 / e, 1 - 0.5 / e, 0.5, 1e-3, 1.0)
        for e in range(1, epochs + 1)
    ]
    matrix = np.array([[3, 1], [1, 3]])  # rows true bad, good
    wrong = [
        {"file": paths[0], "label": "bad", "predicted": "good", "probability": 0.81},
        {"file": paths[4], "label": "good", "predicted": "bad", "probability": 0.66},
    ]
    report = {
        "topology": topology,
        "arch": "weldnet",
        "classes": CLASSES,
        "data": str(data),
        "counts": {"train": {"bad": 4, "good": 4}, "val": {"bad": 4, "good": 4}},
        "val": {"images": 8, "error_rate": 0.25, "confusion": matrix.tolist(), "wrong": wrong},
        "test": None,
        "epochs_run": epochs,
        "best_epoch": epochs,
        "seconds": 1.5,
        "skipped": [],
    }
    reports.write_json(run / "report.json", report)
    reports.write_metrics(run / "metrics.csv", history)
    reports.write_confusion_csv(run / "confusion.csv", matrix, CLASSES)
    reports.plot_confusion(run / "confusion.png", matrix, CLASSES, f"topology {topology}")
    reports.plot_loss(run / "loss.png", history, f"topology {topology}")
    (run / "config.json").write_text("{}\n")
    return report


def audit_rows(data: Path, topology: str) -> list[dict]:
    """``suspects.csv`` rows of an audit of ``data_set(data, topology)``: three wrong."""
    paths = data_set(data, topology)
    rows = []
    for k, path in enumerate(paths):
        given = "bad" if "/bad/" in path else "good"
        wrong = k in (0, 1, 5)
        rows.append(
            {
                "rank": k + 1,
                "path": path,
                "given": given,
                "predicted": ("good" if given == "bad" else "bad") if wrong else given,
                "p_given": 0.1 if wrong else 0.9,
                "suggestion": "relabel:good" if k == 0 else "keep",
                "defect": "hole" if given == "bad" else "",
            }
        )
    return rows


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
