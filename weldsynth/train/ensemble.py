"""Committees of models (seed 001, chapter 7): mean of probabilities or majority vote.

Images are decoded once and fed to every member through the same inference path as
``predict`` and ``evaluate``, so a one-member committee equals the model alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from weldsynth.core.errors import WeldsynthError
from weldsynth.train.checkpoint import Checkpoint
from weldsynth.train.data import Item
from weldsynth.train.evaluate import listing_for, select
from weldsynth.train.metrics import error_rate
from weldsynth.train.predict import probabilities, read_heights

MODES = ("mean", "vote")


def combine(member_probs: list[np.ndarray], mode: str) -> np.ndarray:
    """The committee's scores (N, classes); its prediction is their argmax.

    ``mean``: the mean of the members' probabilities. ``vote``: the fraction of members
    voting for each class, ties broken by the mean probability (added at a scale that
    cannot overturn a vote).
    """
    if not member_probs:
        raise WeldsynthError("an ensemble needs at least one model")
    stack = np.stack(member_probs)
    mean = stack.mean(axis=0)
    if mode == "mean":
        return mean
    if mode == "vote":
        n_members = len(stack)
        votes = np.zeros_like(mean)
        for member in stack:
            votes[np.arange(len(member)), member.argmax(axis=1)] += 1
        return votes / n_members + mean / (2 * n_members)
    raise WeldsynthError(f"--mode {mode}: choose {', '.join(MODES)}")


@dataclass
class CommitteeResult:
    """Each member's and the committee's predictions on the same images.

    Attributes:
        classes: Shared class names.
        names: One name per member (its file).
        items: Images evaluated.
        member_probs: (N, classes) per member.
        scores: The committee's scores (see :func:`combine`).
        mode: "mean" or "vote".
        failures: (file, reason) of unreadable images.
        warnings: One-line notes.
    """

    classes: list[str]
    names: list[str]
    items: list[Item]
    member_probs: list[np.ndarray]
    scores: np.ndarray
    mode: str
    failures: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def y_true(self) -> np.ndarray:
        """True class indices."""
        index = {c: k for k, c in enumerate(self.classes)}
        return np.array([index[i.label] for i in self.items], np.int64)

    def member_errors(self) -> list[float]:
        """Error rate of each member."""
        return [error_rate(self.y_true, p.argmax(axis=1)) for p in self.member_probs]

    def committee_error(self) -> float:
        """Error rate of the committee."""
        return error_rate(self.y_true, self.scores.argmax(axis=1))


def run_committee(
    members: list[Checkpoint],
    root: str | Path,
    split: str = "val",
    mode: str = "mean",
    topology: str | None = None,
) -> CommitteeResult:
    """Evaluate every member and their committee on one split of a data set.

    Raises:
        WeldsynthError: No members, members with different classes, or an empty split.
    """
    if mode not in MODES:
        raise WeldsynthError(f"--mode {mode}: choose {', '.join(MODES)}")
    if not members:
        raise WeldsynthError("an ensemble needs at least one model")
    classes = members[0].classes
    for m in members[1:]:
        if m.classes != classes:
            raise WeldsynthError(
                f"{m.path}: classes {m.classes} differ from {members[0].path}'s "
                f"{classes}; members must share their classes"
            )
    listing = listing_for(members[0].meta, Path(root), topology)
    warnings = list(listing.warnings)
    seeds = {(m.meta.get("split_seed"), m.meta.get("val_pct")) for m in members}
    if len(seeds) > 1:
        warnings.append(
            "members were trained with different split seeds or fractions; the "
            "split follows the first model"
        )
    items = select(listing, split)
    heights, kept, failures = read_heights([i.path for i in items])
    probs = [probabilities(m, heights) for m in members]
    return CommitteeResult(
        classes=classes,
        names=[str(m.path) for m in members],
        items=[items[k] for k in kept],
        member_probs=probs,
        scores=combine(probs, mode),
        mode=mode,
        failures=failures,
        warnings=warnings,
    )
