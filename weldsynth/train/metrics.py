"""Classification metrics from class indices: error rate, accuracy, F1, confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts (n_classes, n_classes): rows are the true class, columns the predicted one."""
    out = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(out, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return out


def error_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of wrong predictions (0 for no samples)."""
    y_true = np.asarray(y_true)
    return float(np.mean(y_true != np.asarray(y_pred))) if len(y_true) else 0.0


def f1_score(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]) -> float:
    """F1 of detecting defects.

    Two classes: F1 of the non-"good" class (the defect is the positive). More classes:
    the macro average of the per-class F1 scores.
    """
    cm = confusion_matrix(y_true, y_pred, len(classes))
    tp = np.diag(cm).astype(float)
    precision_den = cm.sum(axis=0)
    recall_den = cm.sum(axis=1)
    denom = precision_den + recall_den
    per_class = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    if len(classes) == 2:
        positive = 0 if classes[1] == "good" else 1
        return float(per_class[positive])
    return float(per_class.mean())


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
