"""Balance's vocabulary: the plan types, option parsing, row predicates and item seeds.

Shared by :mod:`weldsynth.dataset.balance.plan` (what to do), :mod:`weldsynth.dataset.balance.items`
(which files to add) and :mod:`weldsynth.dataset.balance.apply` (doing it). Every draw of a new file
is seeded by :func:`weldsynth.core.seeding.derive_seed` of ``(seed, new_row_path, k)``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from weldsynth.core.errors import WeldsynthError
from weldsynth.core.seeding import derive_seed
from weldsynth.dataset import augment
from weldsynth.io.manifest import Record

METHODS = ("oversample", "undersample", "both")

EXCLUDED = "excluded:undersample"

DEFAULT_MAX_VARIANTS = 6
"""Variants per good image allowed by ``--method both`` (the seed multiplied good by six)."""


class BalanceError(WeldsynthError):
    """Balancing cannot be done as asked (bad ratio, a class missing, a foreign file...)."""


@dataclass(frozen=True)
class NewItem:
    """A file balance will write: derived from ``base`` by ``kind`` (k-th of its kind)."""

    path: str
    base: Record
    kind: str
    k: int
    seed: int
    label: str


@dataclass
class TopologyPlan:
    """What balance does to one topology."""

    topology: str
    before: Counter = field(default_factory=Counter)
    after: Counter = field(default_factory=Counter)
    new: list[NewItem] = field(default_factory=list)
    status: dict[str, str] = field(default_factory=dict)
    """path -> new status, for rows whose status changes."""
    note: str = ""


@dataclass
class BalancePlan:
    """The whole plan: per topology, in natural order."""

    ratio: tuple[Fraction, Fraction]
    method: str
    topologies: list[TopologyPlan]

    @property
    def changes(self) -> int:
        """Number of new files plus changed statuses (0 = already balanced)."""
        return sum(len(t.new) + len(t.status) for t in self.topologies)


def parse_ratio(text: str) -> tuple[Fraction, Fraction]:
    """Parse ``GOOD:BAD`` (e.g. ``1:1``, ``2:3``, ``1.5:1``) into two positive fractions.

    Raises:
        BalanceError: not two positive numbers separated by ":", naming ``--ratio``.
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*", text or "")
    if not m:
        raise BalanceError(
            f"--ratio {text!r}: expected GOOD:BAD with positive numbers, e.g. 1:1 or 2:3"
        )
    good, bad = Fraction(m.group(1)), Fraction(m.group(2))
    if good <= 0 or bad <= 0:
        raise BalanceError(f"--ratio {text!r}: both sides must be greater than 0")
    return good, bad


def parse_variant_kinds(text: str) -> tuple[str, ...]:
    """``--augment`` text -> variant kinds (:func:`weldsynth.dataset.augment.parse_augments`).

    Raises:
        BalanceError: naming the option and the allowed kinds.
    """
    try:
        return augment.parse_augments(text)
    except ValueError as exc:
        raise BalanceError(f"--augment {text!r}: {exc}") from exc


def item_seed(seed: int, path: str, k: int) -> int:
    """The integer seed of the k-th item written at ``path`` (what the manifest records)."""
    return derive_seed(seed, path, k)


def item_rng(it: NewItem) -> np.random.Generator:
    """The generator of a new item's draws, replayable from its recorded seed."""
    return np.random.default_rng(it.seed)


def rank_key(seed: int, path: str) -> int:
    """Seeded sort key of a row: a fixed pseudo-random order of paths per seed."""
    return derive_seed(seed, path)


def row_params(rec: Record) -> dict:
    """The row's ``params`` JSON as a dict ({} when empty or not an object)."""
    try:
        value = json.loads(rec.params or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def is_augmented(rec: Record) -> bool:
    """True for a label-preserving variant written by balance."""
    return "augment" in row_params(rec)


def is_derived(rec: Record) -> bool:
    """True for rows made from another image (defects, variants, extras)."""
    return bool(rec.defect) or bool({"augment", "extra"} & row_params(rec).keys())
