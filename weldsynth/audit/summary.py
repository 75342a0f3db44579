"""The audit folder's ``summary.html``: the page to open (or print) after an audit.

From the audit's rows and the files beside them: the topology's table (audited samples,
out-of-fold error, false alarms = good welds the fold models call bad, misses = bad welds
they call good, flagged suggestions), the out-of-fold confusion matrix and the
per-defect confusion picture, a gallery of the samples the models get wrong (review
order) and links to ``report.html`` and the CSVs. The fold models keep no loss history,
so the page has no loss curves (``train`` and ``loop`` pages do).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from weldsynth.train import summary_page as page
from weldsynth.train.reports import plot_confusion

WRONG_LIMIT = 48
"""Misclassified samples shown (the rest are counted; all are in suspects.csv)."""
AUDIT_FILES = (
    "report.html",
    "suspects.csv",
    "decisions_suggested.csv",
    "confusion_by_defect.csv",
    "confusion_by_defect_verdict.csv",
    "cam_in_mask.csv",
    "audit.json",
)


def write_audit_summary(
    out: Path, rows: Sequence[dict[str, Any]], data: Path, topology: str, subtitle: str = ""
) -> Path:
    """Write ``out/summary.html`` of an audit (atomically).

    Args:
        out: The audit folder (``suspects.csv`` and the other files are beside the page).
        rows: ``suspects.csv`` rows, review order.
        data: The data set root (the thumbnails are read from it).
        topology: The topology audited.
        subtitle: The line under the title (how the audit was run).

    Returns:
        The page written.
    """
    classes = sorted({str(r["given"]) for r in rows} | {str(r["predicted"]) for r in rows})
    matrix = confusion(rows, classes)
    sections = [
        page.Section("results", "Results", _table(rows, matrix, classes, topology)),
        page.Section("confusion", "Confusion matrices", _pictures(out, matrix, classes, topology)),
        page.Section("misclassified", "Misclassified samples", _gallery(rows, data)),
        page.Section("files", "Reports and files", page.links((f, f) for f in AUDIT_FILES)),
    ]
    title = f"weldsynth audit: topology {topology}"
    return page.write_page(out / page.SUMMARY_HTML, title, subtitle, sections)


def confusion(rows: Sequence[dict[str, Any]], classes: Sequence[str]) -> np.ndarray:
    """Out-of-fold confusion matrix (rows given class, columns predicted)."""
    index = {c: k for k, c in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes)), np.int64)
    for r in rows:
        matrix[index[str(r["given"])], index[str(r["predicted"])]] += 1
    return matrix


def _table(
    rows: Sequence[dict[str, Any]], matrix: np.ndarray, classes: Sequence[str], topology: str
) -> str:
    fa, good, miss, bad = page.errors(matrix.tolist(), classes)
    n = len(rows)
    wrong = n - int(np.trace(matrix))
    flagged = sum(1 for r in rows if r["suggestion"] != "keep")
    columns = (
        "topology",
        "audited",
        "out-of-fold error %",
        "false alarms (good called bad)",
        "misses (bad called good)",
        "flagged",
    )
    error = f"{100 * wrong / n:.2f}" if n else "-"
    return page.table(
        columns, [[topology, n, error, f"{fa} of {good}", f"{miss} of {bad}", flagged]]
    )


def _pictures(out: Path, matrix: np.ndarray, classes: Sequence[str], topology: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "confusion.png"
        title = f"topology {topology}: out-of-fold predictions"
        plot_confusion(png, matrix, classes, title)
        oof = page.file_figure(png, "out-of-fold confusion (rows: given class)")
    by_defect = page.file_figure(out / "confusion_by_defect.png", "per (given class, defect)")
    return f'<div class="pictures">{oof}{by_defect}</div>'


def _gallery(rows: Sequence[dict[str, Any]], data: Path) -> str:
    samples = []
    for r in rows:
        if r["given"] == r["predicted"]:
            continue
        defect = f", {r['defect']}" if r.get("defect") else ""
        caption = (
            f"#{r['rank']} {r['path']}: given {r['given']}{defect}, predicted {r['predicted']}"
            f" (p given {float(r['p_given']):.2f}); suggestion {r['suggestion']}"
        )
        samples.append((str(r["path"]), caption))
    return page.gallery(data, samples, WRONG_LIMIT, "in suspects.csv")
