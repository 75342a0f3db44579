"""Grouped, stratified k-fold assignment for out-of-fold predictions.

Every sample of one group (the ``source`` weld its variants derive from) lands in the same
fold, so a model never sees a sibling of the sample it is asked about: in-sample or leaked
losses hide label errors. Within that constraint folds are stratified by the one grouped
splitter, :func:`weldsynth.dataset.grouping.assign_groups`: groups placed largest first (ties
in a seeded order) into the fold that keeps each label's count closest to ``1/k`` of it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True)
class FoldStep:
    """Where an audit's fold models are, after one epoch of one of them.

    Attributes:
        model: Fold model (1-based) of ``models`` (``seeds`` x ``folds``).
        models: Fold models in the audit.
        seed: Audit seed (1-based) of ``seeds``.
        seeds: Audit seeds.
        fold: Fold (1-based) of ``folds`` within the seed.
        folds: Folds per seed.
        epoch: Epoch (1-based; 0 before the first) of ``epochs`` of this model.
        epochs: Epochs per model (a model stopped early by ``--patience`` ends sooner).
    """

    model: int
    models: int
    seed: int
    seeds: int
    fold: int
    folds: int
    epoch: int
    epochs: int

    def where(self) -> str:
        """The model, e.g. "fold model 4/15 (seed 2/3, fold 1/5)"."""
        return (
            f"fold model {self.model}/{self.models} "
            f"(seed {self.seed}/{self.seeds}, fold {self.fold}/{self.folds})"
        )


FoldProgress = Callable[[int, int, FoldStep], None]
"""Called as ``progress(epochs done, epochs in all, step)`` after every epoch."""


@dataclass
class FoldTally:
    """Counts the epochs of an audit's fold models and reports them to ``progress``.

    Attributes:
        seeds: Audit seeds.
        folds: Folds per seed.
        epochs: Epochs per fold model.
        progress: The reporter, or None.
    """

    seeds: int
    folds: int
    epochs: int
    progress: FoldProgress | None = None
    done: int = 0
    models: int = field(default=0)

    @property
    def total(self) -> int:
        """Epochs of every fold model together."""
        return self.seeds * self.folds * self.epochs

    def start(self) -> None:
        """Report nothing done yet."""
        self._report(0)

    def on_epoch(self, rec: Any) -> None:
        """After an epoch (an ``EpochRecord``; its epoch 1 starts a new fold model)."""
        if rec.epoch == 1 or self.models == 0:
            self.models += 1
        self.done += 1
        self._report(rec.epoch)

    def _report(self, epoch: int) -> None:
        if self.progress is None:
            return
        m = max(self.models, 1)
        n = self.seeds * self.folds
        step = FoldStep(
            model=m,
            models=n,
            seed=min((m - 1) // self.folds + 1, self.seeds),
            seeds=self.seeds,
            fold=(m - 1) % self.folds + 1,
            folds=self.folds,
            epoch=epoch,
            epochs=self.epochs,
        )
        self.progress(min(self.done, self.total), self.total, step)
