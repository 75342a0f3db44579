"""The audit's picture: ``confusion_by_defect.png``, how each (given class, defect) is
predicted.

One row per (given class, defect), one column per predicted class, each cell the share of
the row's samples predicted that class. The columns are named by their class alone under
one "predicted" axis label, so neighbouring names never run together; the figure widens
with the longest row and class names.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.train.reports import wrap_title

CHAR_IN = 0.075
"""Approximate width of one tick-label character at 10 pt, in inches."""


def plot_confusion_by_defect(
    path: Path, rows: Sequence[dict], classes: Sequence[str], title: str
) -> Path:
    """Heat map: one row per (given, defect), one column per predicted class, shares.

    Args:
        path: The PNG written (atomically).
        rows: :func:`~weldsynth.audit.suspects.confusion_by_defect` rows (``given``,
            ``defect``, ``n`` and ``pred_<class>``).
        classes: Class names, the columns' order.
        title: Above the picture (wrapped to its width).

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['given']} / {r['defect']} (n={r['n']})" for r in rows]
    shares = np.array([[r[f"pred_{c}"] for c in classes] for r in rows], np.float64)
    if shares.size == 0:
        shares = np.zeros((1, len(classes)))
        labels = ["(no samples)"]
    longest_class = max((len(c) for c in classes), default=4)
    rotate = longest_class > 8  # upright, so a long name's box never reaches its neighbour
    column = 0.9 if rotate else max(0.9, CHAR_IN * longest_class + 0.35)
    width = 1.0 + CHAR_IN * max(len(s) for s in labels) + column * len(classes)
    height = 1.6 + 0.42 * len(labels) + (CHAR_IN * longest_class if rotate else 0.0)
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(classes)), list(classes), rotation=90 if rotate else 0)
    ax.set_xlabel("predicted")
    ax.set_yticks(range(len(labels)), labels)
    for i in range(shares.shape[0]):
        for j in range(shares.shape[1]):
            ax.text(
                j,
                i,
                f"{100 * shares[i, j]:.0f}%",
                ha="center",
                va="center",
                color="white" if shares[i, j] > 0.55 else "black",
                fontsize=9,
            )
    fig.suptitle(wrap_title(title, width, 10), fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
