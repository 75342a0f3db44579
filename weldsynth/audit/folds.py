"""Grouped, stratified k-fold assignment for out-of-fold predictions.

Every sample of one group (the ``source`` weld its variants derive from) lands in the same
fold, so a model never sees a sibling of the sample it is asked about: in-sample or leaked
losses hide label errors. Within that constraint folds are stratified: groups are placed
largest first (ties in a seeded order) into the fold that keeps each label's share per fold
closest to ``1/k``, then the fold with the fewest samples.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from weldsynth.core.errors import WeldsynthError


def grouped_folds(
    groups: Sequence[str], labels: Sequence[int] | np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """Fold index (0..k'-1) of every sample, whole groups per fold.

    Args:
        groups: Group key per sample (the source weld).
        labels: Class index per sample.
        k: Folds wanted; fewer (``k' = number of groups``) when there are fewer groups.
        rng: Orders groups of equal size.

    Returns:
        int64 array (N,).

    Raises:
        WeldsynthError: ``k < 2`` or fewer than two groups.
    """
    labels = np.asarray(labels, np.int64)
    if len(groups) != len(labels):
        raise ValueError("groups and labels differ in length")
    keys = sorted(set(groups))
    if k < 2:
        raise WeldsynthError(f"--folds {k}: at least 2 folds are needed")
    if len(keys) < 2:
        raise WeldsynthError(
            f"out-of-fold predictions need at least two source welds (groups); found {len(keys)}"
        )
    k = min(k, len(keys))
    n_classes = int(labels.max()) + 1 if len(labels) else 1
    index = {key: n for n, key in enumerate(keys)}
    member = np.array([index[g] for g in groups], np.int64)
    counts = np.zeros((len(keys), n_classes), np.int64)
    np.add.at(counts, (member, labels), 1)
    totals = np.maximum(counts.sum(axis=0), 1).astype(np.float64)
    shuffled = rng.permutation(len(keys))
    order = sorted(shuffled, key=lambda g: -int(counts[g].sum()))  # stable: random ties
    per_fold = np.zeros((k, n_classes), np.float64)
    fold_of_group = np.zeros(len(keys), np.int64)
    for g in order:
        best, best_key = 0, None
        for f in range(k):
            trial = per_fold.copy()
            trial[f] += counts[g]
            spread = float(np.square(trial / totals - 1.0 / k).sum())
            key = (spread, float(per_fold[f].sum()), f)
            if best_key is None or key < best_key:
                best, best_key = f, key
        per_fold[best] += counts[g]
        fold_of_group[g] = best
    return fold_of_group[member]
