"""How probabilities become verdicts: flip test-time augmentation and the decision threshold.

* **Flip TTA** (``--tta flip``): the model sees each image as it is and mirrored left-right,
  top-bottom and both; the four softmax outputs are averaged. Training mirrors every class
  at random, so each view is an image the model was trained on.
* **Threshold**: a weld is called bad when its *bad score* ``1 - P(good)`` reaches the
  threshold (with ``bad-<defect>`` classes the most likely bad class is the verdict).
  Training chooses one on the validation split (:func:`choose_threshold`) and stores it in
  the checkpoint's metadata (``threshold``); ``predict`` and ``evaluate`` use it with
  ``--threshold tuned``, a number of your own with ``--threshold T``. Without the option
  they decide as :data:`DEFAULT_THRESHOLD` says (argmax, the behaviour of every earlier
  version; ``bench/false_alarms.py`` compares the two). A checkpoint without a threshold
  (older runs) decides by argmax with either.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from weldsynth.core.errors import WeldsynthError

GOOD = "good"
TTA_CHOICES: tuple[str, ...] = ("none", "flip")
"""``--tta`` values."""
TTA_DIMS: dict[str, tuple[tuple[int, ...], ...]] = {
    "none": ((),),
    "flip": ((), (3,), (2,), (2, 3)),
}
"""Tensor dims flipped per view of an (N, C, H, W) batch: as is, left-right, top-bottom, both."""
ARGMAX = "argmax"
"""``--threshold argmax``: ignore a stored threshold, take the most likely class."""
TUNED = "tuned"
"""``--threshold tuned``: the threshold training chose (argmax for a model without one)."""
DEFAULT_THRESHOLD = ARGMAX
"""What ``predict``/``evaluate`` decide by without ``--threshold`` (bench/false_alarms.py)."""
THRESHOLD_RULE = "balanced validation error (mean of good->bad and bad->good rates)"


def check_tta(tta: str) -> tuple[tuple[int, ...], ...]:
    """The flip dims of ``tta``; a one-line error for an unknown value."""
    if tta not in TTA_DIMS:
        raise WeldsynthError(f"--tta {tta}: choose {', '.join(TTA_CHOICES)}")
    return TTA_DIMS[tta]


def bad_score(probs: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """``1 - P(good)`` per row (the probability of any bad class)."""
    if GOOD not in classes:
        raise WeldsynthError(f"a threshold needs a {GOOD!r} class (classes: {', '.join(classes)})")
    return 1.0 - np.asarray(probs, np.float64)[:, list(classes).index(GOOD)]


def decide(probs: np.ndarray, classes: Sequence[str], threshold: float | None) -> np.ndarray:
    """Predicted class indices: argmax without a threshold; with one, "good" unless the bad
    score reaches it, else the most likely bad class."""
    probs = np.asarray(probs)
    if not len(probs):
        return np.zeros(0, np.int64)
    if threshold is None:
        return probs.argmax(axis=1)
    good = list(classes).index(GOOD)
    bad_only = probs.astype(np.float64, copy=True)
    bad_only[:, good] = -1.0
    worst = bad_only.argmax(axis=1)
    return np.where(bad_score(probs, classes) >= threshold, worst, good).astype(np.int64)


def choose_threshold(probs: np.ndarray, y_true: np.ndarray, classes: Sequence[str]) -> float:
    """The threshold with the lowest balanced error on (validation) predictions.

    Balanced error: the mean of the share of good images called bad and the share of bad
    images called good, so the many bad variants do not outvote the good welds. Of the
    thresholds that reach it, the one nearest 0.5 (argmax for two classes); 0.5 when a
    class is missing.
    """
    score = bad_score(probs, classes)
    is_bad = np.asarray(y_true) != list(classes).index(GOOD)
    if is_bad.all() or not is_bad.any():
        return 0.5
    cuts = np.unique(np.concatenate([[0.0, 1.0], score]))
    candidates = np.unique(np.concatenate([(cuts[:-1] + cuts[1:]) / 2.0, [0.5]]))
    best, best_key = 0.5, (math.inf, math.inf)
    for t in candidates:
        called_bad = score >= t
        err = 0.5 * (float(np.mean(called_bad[~is_bad])) + float(np.mean(~called_bad[is_bad])))
        key = (round(err, 12), abs(float(t) - 0.5))
        if key < best_key:
            best, best_key = float(t), key
    return round(best, 6)


def resolve_threshold(meta: dict[str, Any], given: str | float | None) -> float | None:
    """The threshold to decide with (None: argmax): ``given`` — a number, "argmax" or
    "tuned" (the checkpoint's own; None for checkpoints without one) — or, when None,
    :data:`DEFAULT_THRESHOLD`.

    Raises:
        WeldsynthError: a value that is not "argmax", "tuned" or a number in (0, 1).
    """
    given = DEFAULT_THRESHOLD if given is None else given
    if str(given).strip().lower() == TUNED:
        value: Any = meta.get("threshold")
        if value is None:
            return None
        where = "the model's threshold"
    elif str(given).strip().lower() == ARGMAX:
        return None
    else:
        value, where = given, f"--threshold {given}"
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (0.0 < number < 1.0):
        raise WeldsynthError(
            f"{where}: give a number between 0 and 1 (exclusive), {TUNED} or {ARGMAX}"
        )
    return number
