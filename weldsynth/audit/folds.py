"""Grouped, stratified k-fold assignment for out-of-fold predictions.

Every sample of one group (the ``source`` weld its variants derive from) lands in the same
fold, so a model never sees a sibling of the sample it is asked about: in-sample or leaked
losses hide label errors. Within that constraint folds are stratified by the one grouped
splitter, :func:`weldsynth.dataset.grouping.assign_groups`: groups placed largest first (ties
in a seeded order) into the fold that keeps each label's count closest to ``1/k`` of it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from weldsynth.core.errors import WeldsynthError
from weldsynth.dataset.grouping import assign_groups


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
    counts: dict[str, Counter] = {key: Counter() for key in keys}
    for g, lab in zip(groups, labels.tolist(), strict=True):
        counts[g][lab] += 1
    seed = int(rng.integers(2**63))  # orders groups of equal size
    fold_of = assign_groups(counts, [1.0 / k] * k, seed)
    return np.array([fold_of[g] for g in groups], np.int64)
