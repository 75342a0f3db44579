"""Files a training run leaves behind: metrics.csv, loss.png, confusion.png/.csv, report.json,
and the summary.csv / summary.md table across topologies. Every write is atomic."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from weldsynth.core.atomic import atomic_write_bytes

METRIC_COLUMNS = (
    "epoch",
    "phase",
    "train_loss",
    "val_loss",
    "error_rate",
    "accuracy",
    "f1",
    "lr",
    "seconds",
)
SUMMARY_COLUMNS = (
    "topology",
    "arch",
    "error_pct",
    "test_error_pct",
    "train",
    "val",
    "test",
    "epochs",
    "best_epoch",
    "seconds",
    "skipped",
)


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> Path:
    """Write rows (dicts) as CSV with a header, atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _fmt(v) for k, v in row.items()})
    return atomic_write_bytes(path, buf.getvalue().encode("utf-8"))


def write_json(path: Path, data: Any) -> Path:
    """Write JSON (indented, sorted keys), atomically."""
    text = json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n"
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_metrics(path: Path, history: Sequence[Any]) -> Path:
    """``metrics.csv``: one row per epoch (see :data:`METRIC_COLUMNS`)."""
    return write_csv(path, METRIC_COLUMNS, [r.to_dict() for r in history])


def write_confusion_csv(path: Path, matrix: np.ndarray, classes: Sequence[str]) -> Path:
    """``confusion.csv``: rows are true classes, columns predicted classes."""
    rows = [
        {"true": c, **{f"pred_{p}": int(v) for p, v in zip(classes, row, strict=True)}}
        for c, row in zip(classes, matrix, strict=True)
    ]
    return write_csv(path, ["true", *(f"pred_{c}" for c in classes)], rows)


def plot_loss(path: Path, history: Sequence[Any], title: str = "") -> Path:
    """``loss.png``: train and validation loss per epoch, error rate on a second axis.

    Epochs are whole numbers on the axis (also for one or two epochs); the legend stands
    under the axes, where it covers no curve.
    """
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    epochs = [r.epoch for r in history]
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110, layout="constrained")
    ax.plot(epochs, [r.train_loss for r in history], "o-", label="train loss")
    ax.plot(epochs, [r.val_loss for r in history], "s-", label="val loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    if epochs:
        ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
    ax2 = ax.twinx()
    ax2.plot(epochs, [100 * r.error_rate for r in history], "--", color="grey", label="val error %")
    ax2.set_ylabel("val error %")
    ax2.set_ylim(0.0, max(1.0, ax2.get_ylim()[1]))  # an error is never negative
    lines = ax.get_legend_handles_labels()
    more = ax2.get_legend_handles_labels()
    fig.legend(
        lines[0] + more[0],
        lines[1] + more[1],
        fontsize="small",
        loc="outside lower center",
        ncols=3,
    )
    ax.set_title(wrap_title(title, 6.0), fontsize="medium")
    return _save(fig, path, plt)


def plot_confusion(path: Path, matrix: np.ndarray, classes: Sequence[str], title: str = "") -> Path:
    """``confusion.png``: the confusion matrix with its counts."""
    plt = _pyplot()
    n = len(classes)
    longest = max((len(c) for c in classes), default=4)
    width = 1.2 * n + 2.2 + 0.06 * longest
    fig, ax = plt.subplots(
        figsize=(width, 1.2 * n + 1.6 + 0.04 * longest), dpi=110, layout="constrained"
    )
    ax.imshow(matrix, cmap="Blues")
    if longest > 12:  # upright, so a long name's box never reaches its neighbour
        ax.set_xticks(range(n), classes, rotation=90)
    else:
        ax.set_xticks(range(n), classes, rotation=30, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    top = matrix.max() if matrix.size else 0
    for i in range(n):
        for j in range(n):
            colour = "white" if top and matrix[i, j] > top / 2 else "black"
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", color=colour)
    ax.set_title(wrap_title(title, width), fontsize="medium")
    return _save(fig, path, plt)


def summary_row(report: dict[str, Any]) -> dict[str, Any]:
    """The summary-table row of one run's report.json content."""
    counts = report["counts"]
    test = report.get("test") or {}
    return {
        "topology": report["topology"],
        "arch": report["arch"],
        "error_pct": round(100 * report["val"]["error_rate"], 2),
        "test_error_pct": round(100 * test["error_rate"], 2) if test else "",
        "train": sum(counts.get("train", {}).values()),
        "val": sum(counts.get("val", {}).values()),
        "test": sum(counts.get("test", {}).values()),
        "epochs": report["epochs_run"],
        "best_epoch": report["best_epoch"],
        "seconds": round(report["seconds"], 1),
        "skipped": len(report["skipped"]),
    }


def write_summary(out: Path, rows: Sequence[dict[str, Any]]) -> tuple[Path, Path]:
    """``summary.csv`` and ``summary.md``: one row per topology."""
    csv_path = write_csv(out / "summary.csv", SUMMARY_COLUMNS, rows)
    lines = [
        "| " + " | ".join(SUMMARY_COLUMNS) + " |",
        "|" + "|".join("---:" for _ in SUMMARY_COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in SUMMARY_COLUMNS) + " |" for r in rows]
    md = atomic_write_bytes(out / "summary.md", ("\n".join(lines) + "\n").encode("utf-8"))
    return csv_path, md


def summary_table(rows: Sequence[dict[str, Any]], title: str = "validation error per topology"):
    """A rich table of summary rows (the seed's error tables)."""
    from rich.table import Table

    table = Table(title=title)
    for col in SUMMARY_COLUMNS:
        table.add_column(_HEADERS.get(col, col), justify="left" if col == "arch" else "right")
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in SUMMARY_COLUMNS))
    return table


_HEADERS = {
    "topology": "topo",
    "error_pct": "val err %",
    "test_error_pct": "test err %",
    "best_epoch": "best",
    "seconds": "s",
}


def _fmt(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return f"{float(value):.8g}"
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer | np.floating):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return value.as_posix()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def wrap_title(text: str, width_in: float, points: float = 10.0) -> str:
    """``text`` wrapped at spaces to lines that fit ``width_in`` inches at ``points`` pt."""
    import textwrap

    chars = max(12, int(0.9 * width_in * 72.0 / (0.6 * points)))
    return "\n".join(textwrap.wrap(text, chars)) if text else ""


def _save(fig, path: Path, plt) -> Path:
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
