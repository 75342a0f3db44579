"""Grouped, stratified train/val/test splits written into the manifest's ``split`` column.

Rows are grouped by ``source`` (the good weld they derive from; a row without one is its own
group), per topology: every variant of one weld lands in the same split, otherwise the
validation error is a lie. Groups are assigned by :mod:`weldsynth.dataset.grouping`: greedily,
largest first (ties in an order seeded by the seed and the topology), each to the split where
it brings the per-label counts closest to their targets (``fraction x rows of that label``),
so both labels reach val and test where the groups allow it. A final pass moves a group into
a split that lacks a label the topology has, when another split can spare one.

With ``keep_test``, groups holding a ``test`` row stay (or become wholly) test and only the
other groups are re-split into train and val: the audit loop needs a fixed test set.
Counts use the rows in use (empty ``status``); excluded rows follow their group.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from weldsynth.core.errors import WeldsynthError
from weldsynth.dataset.grouping import assign_groups
from weldsynth.dataset.inventory import natural_key
from weldsynth.io.manifest import SPLITS, Record, read_manifest, write_manifest


class SplitError(WeldsynthError):
    """The split cannot be made as asked (bad fractions, no test set to keep...)."""


@dataclass(frozen=True)
class Group:
    """Rows of one topology sharing a source."""

    key: str
    rows: tuple[Record, ...]

    @property
    def counts(self) -> Counter:
        """Rows in use per label."""
        return Counter(r.label for r in self.rows if r.active)

    @property
    def size(self) -> int:
        """Rows in use."""
        return sum(1 for r in self.rows if r.active)


def check_fractions(val: float, test: float) -> None:
    """Validate split fractions, naming the option at fault.

    Raises:
        SplitError: a fraction outside [0, 1), or ``val + test >= 1``.
    """
    for name, value in (("--val", val), ("--test", test)):
        if not 0.0 <= value < 1.0:
            raise SplitError(f"{name} {value}: must be in [0, 1)")
    if val + test >= 1.0:
        raise SplitError(
            f"--val {val} + --test {test} = {val + test:g}: must be below 1 "
            "(something must be left for train)"
        )


def assign_splits(
    records: list[Record],
    val: float = 0.2,
    test: float = 0.1,
    seed: int = 42,
    keep_test: bool = False,
) -> list[Record]:
    """Return the records with their ``split`` column set (same order as given).

    Args:
        records: Manifest rows.
        val: Fraction of rows for validation.
        test: Fraction of rows for test (ignored with ``keep_test``).
        seed: Seeds the order in which equally large groups are placed.
        keep_test: Keep the existing test rows; re-split only the others into train/val.

    Raises:
        SplitError: bad fractions, or ``keep_test`` without any test row.
    """
    check_fractions(val, test)
    if keep_test and not any(r.split == "test" for r in records):
        raise SplitError(
            "--keep-test: no row has split=test yet; run `weldsynth split` "
            "without --keep-test first"
        )
    by_topo: dict[str, dict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
    for rec in records:
        by_topo[rec.topology][rec.source or rec.path].append(rec)
    new_split: dict[str, str] = {}
    for topo in sorted(by_topo, key=natural_key):
        groups = [Group(key, tuple(rows)) for key, rows in by_topo[topo].items()]
        fixed: dict[str, str] = {}
        if keep_test:
            fixed = {g.key: "test" for g in groups if any(r.split == "test" for r in g.rows)}
            fractions = {"train": 1.0 - val, "val": val, "test": 0.0}
            # val keeps its share of the whole topology, test as it is
            rest = [g for g in groups if g.key not in fixed]
            total_rest = sum(g.size for g in rest)
            total = sum(g.size for g in groups)
            if total_rest:
                fractions["val"] = min(val * total / total_rest, 1.0)
                fractions["train"] = 1.0 - fractions["val"]
        else:
            fractions = {"train": 1.0 - val - test, "val": val, "test": test}
        placed = _assign_groups(groups, fractions, fixed, seed, topo)
        for g in groups:
            for r in g.rows:
                new_split[r.path] = placed[g.key]
    return [r.with_(split=new_split[r.path]) for r in records]


def split_dataset(
    root: str | Path, val: float = 0.2, test: float = 0.1, seed: int = 42, keep_test: bool = False
) -> tuple[list[Record], list[Record]]:
    """Split the data set at ``root`` and write its manifest (only when something changed).

    Returns:
        (records before, records after).
    """
    check_fractions(val, test)
    before = read_manifest(root)
    after = assign_splits(before, val, test, seed, keep_test)
    if after != before:
        write_manifest(root, after)
    return before, after


FRACTION_TOLERANCE = 0.05
"""How far (as a fraction of the rows) a split may land from its request before split says so."""


def fraction_notes(
    records: list[Record],
    val: float,
    test: float,
    keep_test: bool = False,
    tolerance: float = FRACTION_TOLERANCE,
) -> list[str]:
    """One line per topology whose split fractions (rows in use) differ from the request by
    more than ``tolerance``: grouping by source weld can only move whole welds.

    With ``keep_test`` the test share asked is the one kept.
    """
    notes = []
    by_topo: dict[str, list[Record]] = defaultdict(list)
    for rec in records:
        by_topo[rec.topology].append(rec)
    for topo in sorted(by_topo, key=natural_key):
        active = [r for r in by_topo[topo] if r.active]
        if not active:
            continue
        counts = Counter(r.split for r in active)
        got = {s: counts.get(s, 0) / len(active) for s in SPLITS}
        test_asked = got["test"] if keep_test else test
        asked = {"train": 1.0 - val - test_asked, "val": val, "test": test_asked}
        if max(abs(got[s] - asked[s]) for s in SPLITS) <= tolerance:
            continue
        sources = len({r.source or r.path for r in by_topo[topo]})
        diffs = [
            f"{s} {round(100 * (got[s] - asked[s])):+d}"
            for s in SPLITS
            if round(100 * (got[s] - asked[s]))
        ]
        notes.append(
            f"topology {topo}: {sources} source welds, whole welds per split give "
            f"{'/'.join(f'{100 * got[s]:.0f}' for s in SPLITS)} % (train/val/test), "
            f"asked {'/'.join(f'{100 * asked[s]:.0f}' for s in SPLITS)} %: "
            f"{', '.join(diffs)} points"
        )
    return notes


def split_counts(records: list[Record]) -> dict[tuple[str, str, str], int]:
    """(topology, split, label) -> rows in use."""
    out: Counter = Counter()
    for r in records:
        if r.active:
            out[r.topology, r.split or "-", r.label] += 1
    return dict(out)


def _assign_groups(
    groups: list[Group], fractions: dict[str, float], fixed: dict[str, str], seed: int, topo: str
) -> dict[str, str]:
    """Split name per group key (:func:`weldsynth.dataset.grouping.assign_groups`)."""
    placed = assign_groups(
        {g.key: g.counts for g in groups},
        [fractions[s] for s in SPLITS],
        seed,
        salt=(topo,),
        fixed={key: SPLITS.index(split) for key, split in fixed.items()},
    )
    return {key: SPLITS[b] for key, b in placed.items()}
