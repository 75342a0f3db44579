"""Out-of-fold class probabilities, averaged over seeds, and the per-sample loss table.

For each seed the samples are cut into grouped, stratified folds
(:func:`weldsynth.audit.folds.grouped_folds`, drawn anew per seed); a model trained on the
other folds predicts each fold. So every probability comes from a model that never saw the
sample nor any variant of its source weld. Averaging over seeds smooths one unlucky model;
the per-seed predictions tell whether independent models agree.

:func:`score` turns probabilities into the audit's columns: given and predicted class,
probability of the given class (``p_given``), loss ``-log p_given``, margin
``p_given - max(other)``, agreement of the seeds, and the rank (highest loss first).
:func:`read_probs` reads a user's own out-of-fold probabilities (``--probs``).
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from weldsynth.audit.evidence import defect_maps
from weldsynth.audit.folds import grouped_folds
from weldsynth.audit.learner import Fitted, train_arrays, tta_for
from weldsynth.core.errors import WeldsynthError
from weldsynth.train.cache import subset
from weldsynth.train.config import TrainConfig
from weldsynth.train.fit import EpochRecord

EPS = 1e-7


@dataclass
class OOF:
    """Out-of-fold predictions.

    Attributes:
        probs: float32 (S, N, C): per seed, every sample's probabilities from the model that
            held it out.
        folds: int64 (S, N): the sample's fold per seed (-1 with ``--probs``).
        cams: float32 (N, h, w) Grad-CAMs from the first seed's models, or None.
        cam_targets: Class explained by each CAM (int64 (N,)), or None.
        seconds: Time per stage ("train", "cam").
        fold_errors: Held-out error of every (seed, fold) model.
    """

    probs: np.ndarray
    folds: np.ndarray
    cams: np.ndarray | None = None
    cam_targets: np.ndarray | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    fold_errors: list[float] = field(default_factory=list)

    @property
    def mean(self) -> np.ndarray:
        """Probabilities averaged over seeds (N, C)."""
        return self.probs.mean(axis=0)


def audit_seeds(seed: int, n: int) -> list[int]:
    """``n`` independent seeds drawn from ``seed`` (fold draw and training per audit seed)."""
    return [int(s) for s in np.random.SeedSequence([seed, 7]).generate_state(n)]


def cam_targets(labels: np.ndarray, probs: np.ndarray, good: int | None) -> np.ndarray:
    """The class each Grad-CAM explains: the given class of bad samples; for good ones the
    most probable bad class, so the CAM shows where the model sees a defect."""
    targets = labels.copy()
    if good is None:
        return targets
    other = probs.copy()
    other[:, good] = -1.0
    is_good = labels == good
    targets[is_good] = other[is_good].argmax(axis=1)
    return targets


def out_of_fold(
    images: Any,
    labels: np.ndarray,
    groups: Sequence[str],
    n_classes: int,
    cfg: TrainConfig,
    *,
    folds: int,
    seeds: Sequence[int],
    precision: str,
    weights: Path | None = None,
    good: int | None = None,
    cams: bool = True,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    device: Any = None,
    tta: bool = True,
) -> OOF:
    """Out-of-fold probabilities of every sample for every seed.

    Every fold model reads the same decoded images (one decode per image for the whole
    audit): folds are views of the cache, not copies.

    Args:
        images: uint16 (N, H, W) letterboxed cache (an array or a view of the disk cache).
        labels: Given class indices (N,).
        groups: Source weld per sample (never split across folds).
        n_classes: Number of classes.
        cfg: Training settings of each fold model.
        folds: Folds per seed (fewer if there are fewer groups).
        seeds: One audit seed per repetition (see :func:`audit_seeds`).
        precision: "bf16" or "fp32".
        weights: Pretrained weights, or None.
        good: Index of the "good" class (for the CAM targets), or None.
        cams: Compute Grad-CAMs of every sample with the first seed's fold models.
        on_epoch: Called after every epoch of every fold model (progress).
        device: Where the fold models train and predict (default: the CPU); Grad-CAM
            runs on the CPU.
        tta: Average each held-out prediction over the image and its mirror images when
            the models were trained with flips (:func:`~weldsynth.audit.learner.tta_for`).
    """
    labels = np.asarray(labels, np.int64)
    views = tta_for(cfg.augment) if tta else "none"
    got = _Collected.empty(len(seeds), len(labels), n_classes)
    for s, seed in enumerate(seeds):
        assign, train_seeds = draw_folds(seed, groups, labels, folds)
        got.folds[s] = assign
        for f in range(int(assign.max()) + 1):
            held = np.flatnonzero(assign == f)
            train = np.flatnonzero(assign != f)
            if not len(held) or len(train) < 2:
                continue
            t0 = time.perf_counter()
            fitted = train_arrays(
                subset(images, train),
                labels[train],
                n_classes,
                cfg,
                seed=int(train_seeds[f]),
                precision=precision,
                weights=weights,
                on_epoch=on_epoch,
                device=device,
            )
            held_images = subset(images, held)
            p = fitted.probabilities(held_images, views)
            got.add(s, held, p, labels[held], time.perf_counter() - t0)
            if cams and s == 0:
                fitted.model.cpu()  # Grad-CAM's hooks and maps are CPU work
                got.add_cams(fitted, held_images, held, cam_targets(labels[held], p, good))
    return got.result()


def draw_folds(
    seed: int, groups: Sequence[str], labels: np.ndarray, folds: int
) -> tuple[np.ndarray, np.ndarray]:
    """One audit seed's fold of every sample and the training seed of every fold model."""
    ss = np.random.SeedSequence([seed, len(labels)])
    fold_rng, train_seeds = np.random.default_rng(ss.spawn(1)[0]), ss.generate_state(folds)
    return grouped_folds(list(groups), labels, folds, fold_rng), train_seeds


@dataclass
class _Collected:
    """The out-of-fold results as fold models add them (see :class:`OOF`)."""

    probs: np.ndarray
    folds: np.ndarray
    cams: np.ndarray | None = None
    targets: np.ndarray | None = None
    seconds: dict[str, float] = field(default_factory=lambda: {"train": 0.0, "cam": 0.0})
    errors: list[float] = field(default_factory=list)

    @classmethod
    def empty(cls, n_seeds: int, n: int, n_classes: int) -> _Collected:
        """Zero probabilities and folds for ``n`` samples and ``n_seeds`` seeds."""
        return cls(
            probs=np.zeros((n_seeds, n, n_classes), np.float32),
            folds=np.zeros((n_seeds, n), np.int64),
        )

    def add(
        self, seed: int, held: np.ndarray, p: np.ndarray, labels: np.ndarray, seconds: float
    ) -> None:
        """A fold model's probabilities of its held-out samples, error and training time."""
        self.probs[seed, held] = p
        self.errors.append(float((p.argmax(axis=1) != labels).mean()))
        self.seconds["train"] += seconds

    def add_cams(
        self, fitted: Fitted, images: np.ndarray, held: np.ndarray, targets: np.ndarray
    ) -> None:
        """Grad-CAMs of the held-out ``images`` (samples ``held``) explaining ``targets``."""
        t0 = time.perf_counter()
        c = defect_maps(fitted, images, targets)
        if self.cams is None or self.targets is None:
            self.cams = np.zeros((len(self.probs[0]), *c.shape[1:]), np.float32)
            self.targets = np.zeros(len(self.probs[0]), np.int64)
        self.cams[held] = c
        self.targets[held] = targets
        self.seconds["cam"] += time.perf_counter() - t0

    def result(self) -> OOF:
        """The :class:`OOF` (timings rounded to milliseconds)."""
        return OOF(
            probs=self.probs,
            folds=self.folds,
            cams=self.cams,
            cam_targets=self.targets,
            seconds={k: round(v, 3) for k, v in self.seconds.items()},
            fold_errors=self.errors,
        )


@dataclass
class Scores:
    """The per-sample audit columns (arrays of length N, rows in input order).

    Attributes:
        given: Given class index.
        predicted: Argmax of the seed-averaged probabilities.
        p_given: Mean probability of the given class.
        p_predicted: Mean probability of the predicted class.
        loss: ``-log(p_given)``.
        margin: ``p_given - max(other classes)``.
        agree: Share of seeds whose own argmax is ``predicted``.
        p_given_min: Lowest per-seed ``p_given``.
        p_given_max: Highest per-seed ``p_given``.
        rank: 1 = highest loss (ties: input order).
    """

    given: np.ndarray
    predicted: np.ndarray
    p_given: np.ndarray
    p_predicted: np.ndarray
    loss: np.ndarray
    margin: np.ndarray
    agree: np.ndarray
    p_given_min: np.ndarray
    p_given_max: np.ndarray
    rank: np.ndarray


def score(probs: np.ndarray, labels: np.ndarray) -> Scores:
    """Audit columns from per-seed probabilities (S, N, C) or one set (N, C)."""
    per_seed = np.asarray(probs, np.float64)
    if per_seed.ndim == 2:
        per_seed = per_seed[None]
    labels = np.asarray(labels, np.int64)
    n = len(labels)
    mean = per_seed.mean(axis=0)
    rows = np.arange(n)
    p_given = mean[rows, labels]
    predicted = mean.argmax(axis=1)
    other = mean.copy()
    other[rows, labels] = -np.inf
    margin = p_given - (other.max(axis=1) if mean.shape[1] > 1 else 0.0)
    votes = per_seed.argmax(axis=2)  # (S, N)
    agree = (votes == predicted[None]).mean(axis=0)
    seed_given = per_seed[:, rows, labels]
    loss = -np.log(np.clip(p_given, EPS, 1.0))
    order = np.lexsort((rows, -loss))
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(1, n + 1)
    return Scores(
        given=labels,
        predicted=predicted,
        p_given=p_given,
        p_predicted=mean[rows, predicted],
        loss=loss,
        margin=margin,
        agree=agree,
        p_given_min=seed_given.min(axis=0),
        p_given_max=seed_given.max(axis=0),
        rank=rank,
    )


def read_probs(
    file: str | Path, paths: Sequence[str], classes: Sequence[str]
) -> tuple[np.ndarray, list[int], list[str]]:
    """Read a user's out-of-fold probabilities for the audited paths.

    The CSV has a ``path`` column (the data set's manifest/relative path) and one column
    per class; rows are renormalised to sum to 1.

    Args:
        file: The CSV.
        paths: Paths of the samples to audit.
        classes: Their class names (model order); every one needs a column.

    Returns:
        (probabilities (M, C) in ``classes`` order, indices into ``paths`` found, paths in
        the CSV that are not audited samples).

    Raises:
        WeldsynthError: missing file or column, a value that is not a probability, or no
            audited sample in the file.
    """
    file = Path(file)
    if not file.is_file():
        raise WeldsynthError(f"--probs {file}: no such file")
    with file.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = reader.fieldnames or []
        missing = [c for c in ("path", *classes) if c not in columns]
        if missing:
            raise WeldsynthError(
                f"--probs {file}: missing column(s) {', '.join(missing)}; "
                f"expected path,{','.join(classes)}"
            )
        table: dict[str, np.ndarray] = {}
        for line, row in enumerate(reader, start=2):
            try:
                values = np.array([float(row[c]) for c in classes], np.float64)
            except (TypeError, ValueError) as exc:
                raise WeldsynthError(f"--probs {file}:{line}: not a number ({exc})") from exc
            total = float(values.sum())
            if not np.isfinite(values).all() or (values < 0).any() or total <= 0:
                raise WeldsynthError(
                    f"--probs {file}:{line}: probabilities must be finite, "
                    "non-negative and not all zero"
                )
            table[(row.get("path") or "").strip()] = values / total
    index = {p: k for k, p in enumerate(paths)}
    found = [index[p] for p in table if p in index]
    unknown = [p for p in table if p not in index]
    if not found:
        raise WeldsynthError(
            f"--probs {file}: none of its {len(table)} paths is an audited "
            "sample (paths are relative to DATA, as in manifest.csv)"
        )
    found.sort()
    probs = np.stack([table[paths[k]] for k in found]).astype(np.float32)
    return probs, found, unknown


def finite(value: float) -> float | None:
    """A float for JSON, None for NaN."""
    return None if value is None or math.isnan(value) else float(value)
