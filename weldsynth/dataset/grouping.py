"""Grouped, stratified assignment of whole groups to bins: the one splitter of weldsynth.

A *group* is every sample derived from one source weld; a *bin* is a split (train, val,
test) or a fold. Whole groups go to one bin each, so no model is checked on a sibling of an
image it learned from. :func:`assign_groups` places groups largest first (equal sizes in a
seeded order, :func:`weldsynth.core.seeding.derive_seed` of ``(seed, *salt, key)``), each
into the bin where the per-label counts end up closest to their targets (``share x rows of
that label``, squared and relative to the label's total; on a tie the bin with fewer samples,
then the first). A last pass moves a group into an
open bin that lacks a label, when another bin can spare one.

Used by :mod:`weldsynth.dataset.split` (train/val/test per topology),
:mod:`weldsynth.audit.folds` (k folds) and :mod:`weldsynth.train.data` (train/val).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence

from weldsynth.core.seeding import SeedItem, derive_seed

Counts = Mapping[Hashable, int]
"""Samples per label of one group."""


def assign_groups(
    groups: Mapping[str, Counts],
    shares: Sequence[float],
    seed: int,
    salt: Sequence[SeedItem] = (),
    fixed: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Bin index of every group.

    Args:
        groups: Group key -> samples per label (the labels in use).
        shares: Wanted share of every label per bin. Bin 0 is always open; another bin is
            open when its share is above 0.
        seed: Seeds the order of equally large groups.
        salt: Extra seed items (e.g. the topology), so parts of one run get their own order.
        fixed: Groups whose bin is already decided; they count towards the targets.

    Returns:
        Group key -> bin index, for every group (the fixed ones included).
    """
    fixed = dict(fixed or {})
    labels = sorted({lab for c in groups.values() for lab in c}, key=str)
    totals: Counter = Counter()
    for counts in groups.values():
        totals.update(counts)
    target = {(b, lab): shares[b] * totals[lab] for b in range(len(shares)) for lab in labels}
    scale = {lab: max(1, totals[lab]) for lab in labels}
    have: Counter = Counter()
    for key, b in fixed.items():
        for lab, n in groups[key].items():
            have[b, lab] += n
    open_bins = [0] + [b for b in range(1, len(shares)) if shares[b] > 0]
    order = sorted(
        (k for k in groups if k not in fixed),
        key=lambda k: (-sum(groups[k].values()), derive_seed(seed, *salt, k)),
    )
    placed = dict(fixed)
    for key in order:
        size = Counter({b: sum(have[b, lab] for lab in labels) for b in open_bins})
        best = min(
            open_bins,
            key=lambda b: (_cost_after(have, target, scale, groups[key], b), size[b], b),
        )
        placed[key] = best
        for lab, n in groups[key].items():
            have[best, lab] += n
    _fill_missing_labels(groups, order, placed, have, open_bins, totals)
    return placed


def _cost_after(have: Counter, target: dict, scale: dict, counts: Counts, bin_: int) -> float:
    """Squared relative distance of every (bin, label) count to its target after adding."""
    cost = 0.0
    for (b, lab), t in target.items():
        n = have[b, lab] + (counts.get(lab, 0) if b == bin_ else 0)
        cost += ((n - t) / scale[lab]) ** 2
    return cost


def _fill_missing_labels(
    groups: Mapping[str, Counts],
    order: list[str],
    placed: dict[str, int],
    have: Counter,
    open_bins: list[int],
    totals: Counter,
) -> None:
    """Give every open bin each label there is, when another bin can spare it."""
    rank = {k: i for i, k in enumerate(order)}
    for bin_ in open_bins:
        for lab in sorted(totals, key=str):
            if totals[lab] == 0 or have[bin_, lab] > 0:
                continue
            # smallest group holding the label, from the bin with most groups holding it
            donors = [k for k in order if groups[k].get(lab, 0) > 0 and placed[k] != bin_]
            per_bin = Counter(placed[k] for k in donors)
            donors = [k for k in donors if _keeps_other_labels(groups[k], placed[k], have)]
            if not donors:
                continue
            key = min(donors, key=lambda d: (-per_bin[placed[d]], sum(groups[d].values()), rank[d]))
            for lab2, n in groups[key].items():
                have[placed[key], lab2] -= n
                have[bin_, lab2] += n
            placed[key] = bin_


def _keeps_other_labels(counts: Counts, src: int, have: Counter) -> bool:
    """Moving the group out of bin ``src`` does not empty that bin of any label."""
    return all(have[src, lab] - n > 0 for lab, n in counts.items() if n)
