"""Evaluate a trained model on a split of a data set: error, confusion, per-defect breakdown.

The split is rebuilt exactly as training made it (same manifest, or the same seed and
fraction recorded in the model), so ``--split val`` reproduces the run's validation set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from weldsynth.core.errors import WeldsynthError
from weldsynth.train.checkpoint import Checkpoint
from weldsynth.train.data import Item, Listing, list_images, list_topologies
from weldsynth.train.decision import decide, resolve_threshold
from weldsynth.train.metrics import confusion_matrix, error_rate
from weldsynth.train.plant import plant_rates
from weldsynth.train.predict import probabilities, read_heights

SPLIT_CHOICES = ("train", "val", "test", "all")
CHUNK = 512
"""Images decoded and scored at a time (a multiple of the batch size: the same batches)."""


def score_files(
    ckpt: Checkpoint,
    files: Sequence[Path],
    tta: str = "none",
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[int], list[tuple[str, str]], np.ndarray]:
    """Decode and score ``files`` a chunk at a time: (indices kept, (file, reason) of the
    unreadable ones, probabilities of the kept), ``progress(done, total)`` after each."""
    kept: list[int] = []
    failures: list[tuple[str, str]] = []
    parts = [np.zeros((0, len(ckpt.classes)), np.float32)]
    for start in range(0, len(files), CHUNK):
        heights, ok, bad = read_heights(files[start : start + CHUNK])
        kept += [start + k for k in ok]
        failures += bad
        parts.append(probabilities(ckpt, heights, tta=tta))
        if progress is not None:
            progress(min(start + CHUNK, len(files)), len(files))
    return kept, failures, np.concatenate(parts).astype(np.float32)


@dataclass
class Evaluation:
    """Predictions of one model on the images of one split.

    Attributes:
        classes: Class names (model order).
        items: Images evaluated (readable ones), in order.
        probs: (N, classes) probabilities.
        split: Which split.
        topology: Which topology.
        failures: (file, reason) of unreadable images.
        warnings: One-line notes for the user.
        threshold: Decision threshold on the bad score (None: argmax), see
            :mod:`weldsynth.train.decision`.
        seen_sources: Sources of the training split (their originals are not "unseen").
    """

    classes: list[str]
    items: list[Item]
    probs: np.ndarray
    split: str
    topology: str
    failures: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    threshold: float | None = None
    seen_sources: frozenset[str] = frozenset()

    @property
    def y_true(self) -> np.ndarray:
        """True class indices."""
        index = {c: k for k, c in enumerate(self.classes)}
        return np.array([index[i.label] for i in self.items], np.int64)

    @property
    def y_pred(self) -> np.ndarray:
        """Predicted class indices (argmax, or by :attr:`threshold`)."""
        return decide(self.probs, self.classes, self.threshold)

    @property
    def error(self) -> float:
        """Error rate."""
        return error_rate(self.y_true, self.y_pred)

    @property
    def confusion(self) -> np.ndarray:
        """Confusion matrix (rows true, columns predicted)."""
        return confusion_matrix(self.y_true, self.y_pred, len(self.classes))

    def per_defect(self) -> list[dict[str, Any]]:
        """Per defect (and label): images, errors, error %, and how they were predicted."""
        return per_defect_rows(self.items, self.y_pred, self.classes)

    def per_defect_verdict(self) -> list[dict[str, Any]]:
        """Per label, defect and norm verdict (``-`` for rows without one): e.g. how many
        acceptable pores (``good, hole, accept``) were taken for bad."""
        return per_defect_rows(self.items, self.y_pred, self.classes, by_verdict=True)

    def plant(self) -> dict[str, Any]:
        """False alarms on untouched unseen good welds, misses per defect
        (:func:`weldsynth.train.plant.plant_rates`)."""
        return plant_rates(self.items, self.y_pred, self.classes, self.seen_sources)

    @property
    def has_verdicts(self) -> bool:
        """True when some evaluated image has a norm verdict in the manifest."""
        return any(i.verdict for i in self.items)


def per_defect_rows(
    items: list[Item], y_pred: np.ndarray, classes: list[str], by_verdict: bool = False
) -> list[dict[str, Any]]:
    """Breakdown by (label, defect), or by (label, defect, verdict) with ``by_verdict``:
    which defects (acceptable or rejectable ones) are taken for another class."""
    groups: dict[tuple[str, ...], Counter[str]] = {}
    for item, pred in zip(items, y_pred, strict=True):
        key = (item.label, item.defect or "-")
        if by_verdict:
            key += (item.verdict or "-",)
        groups.setdefault(key, Counter())[classes[int(pred)]] += 1
    rows = []
    for key, preds in sorted(groups.items()):
        label, defect = key[:2]
        n = sum(preds.values())
        wrong = n - preds.get(label, 0)
        rows.append(
            {
                "label": label,
                "defect": defect,
                **({"verdict": key[2]} if by_verdict else {}),
                "images": n,
                "errors": wrong,
                "error_pct": round(100 * wrong / n, 2),
                **{f"as_{c}": preds.get(c, 0) for c in classes},
            }
        )
    return rows


def resolve_topology(root: Path, meta: dict[str, Any], topology: str | None = None) -> str:
    """The topology of ``root`` to evaluate: given, the model's own, or the only one."""
    found = list_topologies(root)
    if topology is not None:
        if topology not in found:
            raise WeldsynthError(f"{root}: no topology {topology!r} (have: {', '.join(found)})")
        return topology
    own = str(meta.get("topology", ""))
    if own in found:
        return own
    if len(found) == 1:
        return found[0]
    raise WeldsynthError(
        f"{root}: the model was trained on topology {own!r}, which is not "
        f"here (have: {', '.join(found)}); choose one with --topology"
    )


def listing_for(meta: dict[str, Any], root: Path, topology: str | None = None) -> Listing:
    """List ``root`` the way the model's training run did (classes, split seed, fraction)."""
    topo = resolve_topology(root, meta, topology)
    listing = list_images(
        root,
        topo,
        by_defect=bool(meta.get("by_defect", False)),
        val_pct=float(meta.get("val_pct", 0.2)),
        split_seed=int(meta.get("split_seed", 42)),
    )
    unknown = sorted(set(listing.classes) - set(meta["classes"]))
    if unknown:
        raise WeldsynthError(
            f"{root}: class(es) {', '.join(unknown)} unknown to the model "
            f"(it knows {', '.join(meta['classes'])})"
        )
    sha = meta.get("manifest_sha256", "")
    if sha and listing.manifest_sha and sha != listing.manifest_sha:
        listing.warnings.append(
            "manifest.csv changed since the model was trained; the split "
            "may differ from the training run's"
        )
    return listing


def select(listing: Listing, split: str) -> list[Item]:
    """Items of ``split``; a clear error when it is empty."""
    if split not in SPLIT_CHOICES:
        raise WeldsynthError(f"--split {split}: choose {', '.join(SPLIT_CHOICES)}")
    items = listing.subset(split)
    if not items:
        have = sorted({i.split for i in listing.items})
        raise WeldsynthError(
            f"{listing.root}: the {split} split of topology "
            f"{listing.topology} is empty (have: {', '.join(have)}, all)"
        )
    return items


def evaluate(
    ckpt: Checkpoint,
    root: str | Path,
    split: str = "test",
    topology: str | None = None,
    *,
    tta: str = "none",
    threshold: str | float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """Evaluate ``ckpt`` on one split of the data set at ``root``; ``tta`` and
    ``threshold`` (None: the default) as in :mod:`weldsynth.train.decision`;
    ``progress(done, total)`` after each chunk of images scored."""
    listing = listing_for(ckpt.meta, Path(root), topology)
    items = select(listing, split)
    decide_at = resolve_threshold(ckpt.meta, threshold)
    kept, failures, probs = score_files(ckpt, [i.path for i in items], tta, progress)
    return Evaluation(
        classes=ckpt.classes,
        items=[items[k] for k in kept],
        probs=probs,
        split=split,
        topology=listing.topology,
        failures=failures,
        warnings=list(listing.warnings),
        threshold=decide_at,
        seen_sources=frozenset(i.source for i in listing.items if i.split == "train"),
    )
