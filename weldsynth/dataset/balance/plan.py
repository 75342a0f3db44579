"""Planning a balance run: per topology, the files to add and the statuses to change.

Planning reads only the manifest (and, for plate-only extras, the base images) and checks
everything before a single file is written (see :mod:`weldsynth.dataset.balance`).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from fractions import Fraction
from pathlib import Path

from weldsynth.dataset import augment
from weldsynth.dataset.balance.items import plan_extras, plan_variants
from weldsynth.dataset.balance.types import (
    DEFAULT_MAX_VARIANTS,
    EXCLUDED,
    METHODS,
    BalanceError,
    BalancePlan,
    NewItem,
    TopologyPlan,
    is_augmented,
    is_derived,
    rank_key,
)
from weldsynth.dataset.inventory import natural_key
from weldsynth.io.manifest import Record, safe_join

MAX_NEW_FILES = 10_000
"""Most files one balance run writes without ``--force``: a ratio such as 1000:1 would
otherwise write hundreds of thousands of variants (gigabytes) before anyone notices."""


def check_plan_size(root: str | Path, plan: BalancePlan, force: bool = False) -> None:
    """Refuse a plan that writes more than :data:`MAX_NEW_FILES` files, unless ``force``.

    Raises:
        BalanceError: saying how many files and about how many bytes it would write (each
            variant about the size of its base image).
    """
    new = [item for t in plan.topologies for item in t.new]
    if force or len(new) <= MAX_NEW_FILES:
        return
    sizes: dict[str, int] = {}
    for item in new:
        if item.base.path not in sizes:
            file = safe_join(root, item.base.path)
            sizes[item.base.path] = file.stat().st_size if file.is_file() else 0
    total = sum(sizes[item.base.path] for item in new)
    raise BalanceError(
        f"{root}: this balance would write {len(new)} files (about {total / 1e6:.1f} MB), "
        f"more than {MAX_NEW_FILES}; use a smaller --ratio, --method undersample, or "
        "--force to write them (nothing was written)"
    )


def plan_balance(
    root: str | Path,
    records: list[Record],
    ratio: tuple[Fraction, Fraction] = (Fraction(1), Fraction(1)),
    method: str = "oversample",
    seed: int = 0,
    extras: int = 0,
    max_variants: int = DEFAULT_MAX_VARIANTS,
    augments: tuple[str, ...] = augment.DEFAULT_AUGMENTS,
) -> BalancePlan:
    """Work out, per topology, the files to add and the statuses to change.

    Args:
        root: Data-set root (needed to test plate-only extras on the base images).
        records: The manifest rows.
        ratio: (good, bad) parts, as :func:`parse_ratio` returns.
        method: One of :data:`METHODS`.
        seed: Run seed.
        extras: Bad extras wanted per topology (existing ones count).
        max_variants: Cap on variants per good image with ``method="both"``.
        augments: Variant kinds used in turn (:data:`weldsynth.dataset.augment.AUGMENTS`).

    Raises:
        BalanceError: unknown method or variant kind, negative extras, a topology without
            good or bad rows.
    """
    if method not in METHODS:
        raise BalanceError(f"--method {method!r}: allowed: {', '.join(METHODS)}")
    if extras < 0:
        raise BalanceError(f"--extras {extras}: must be 0 or more")
    if max_variants < 0:
        raise BalanceError(f"--max-variants {max_variants}: must be 0 or more")
    unknown = [k for k in augments if k not in augment.AUGMENTS]
    if unknown or not augments:
        raise BalanceError(
            f"--augment {','.join(augments) or '(empty)'}: allowed kinds: flip, "
            f"{', '.join(augment.AUGMENTS)}"
        )
    by_topo: dict[str, list[Record]] = defaultdict(list)
    for rec in records:
        by_topo[rec.topology].append(rec)
    known = {r.path for r in records}
    plans = []
    for topo in sorted(by_topo, key=natural_key):
        plan = _plan_topology(
            Path(root),
            topo,
            by_topo[topo],
            known,
            ratio,
            method,
            seed,
            extras,
            max_variants,
            tuple(augments),
        )
        plans.append(plan)
    for it in (it for p in plans for it in p.new):  # refuse paths escaping root up front
        safe_join(root, it.base.path)
        safe_join(root, it.path)
    return BalancePlan(ratio=ratio, method=method, topologies=plans)


def _plan_topology(
    root: Path,
    topo: str,
    rows: list[Record],
    known: set[str],
    ratio: tuple[Fraction, Fraction],
    method: str,
    seed: int,
    extras: int,
    max_variants: int,
    augments: tuple[str, ...],
) -> TopologyPlan:
    plan = TopologyPlan(topology=topo)
    active = [r for r in rows if r.active]
    plan.before = Counter(r.label for r in active)
    pool_status = ("",) if method == "oversample" else ("", EXCLUDED)
    pool = [r for r in rows if r.status in pool_status]
    counts = Counter(r.label for r in pool)
    originals = sorted(
        (r for r in pool if r.label == "good" and not is_derived(r)),
        key=lambda r: rank_key(seed, r.path),
    )

    if extras:
        have = sum(1 for r in rows if r.defect in augment.EXTRAS)
        plan.new += plan_extras(root, topo, rows, originals, known, extras - have, seed)
        counts["bad"] += len(plan.new)
    if counts["good"] == 0:
        raise BalanceError(f"topology {topo}: no good rows in use; cannot balance")
    if counts["bad"] == 0:
        raise BalanceError(
            f"topology {topo}: no bad rows in use; cannot balance "
            "(generate defects first, or add extras with --extras N)"
        )
    good_part, bad_part = ratio
    if method in ("oversample", "both"):
        target = _round(counts["bad"] * good_part / bad_part)
        need = target - counts["good"]
        if need > 0:
            bases = sorted(
                (r for r in pool if r.label == "good" and not is_augmented(r)),
                key=lambda r: rank_key(seed, r.path),
            )
            cap = max_variants if method == "both" else None
            added = plan_variants(bases, rows, known, need, cap, seed, augments)
            plan.new += added
            counts["good"] += len(added)
            if not bases:
                plan.note = "no good image in use to derive variants from"
            elif len(added) < need:
                plan.note = f"variants capped at {max_variants} per good image"
        elif need < 0 and method == "oversample":
            plan.note = "good already above the ratio; use --method undersample"
    if method in ("undersample", "both"):
        plan.status = _plan_undersample(pool, plan.new, counts, ratio, seed)
    plan.after = Counter(plan.before)
    labels = {r.path: (r.label, r.active) for r in rows}
    labels.update({it.path: (it.label, False) for it in plan.new})
    for path in {*plan.status, *(it.path for it in plan.new)}:
        label, was_active = labels[path]
        now_active = plan.status.get(path, "") == ""
        plan.after[label] += int(now_active) - int(was_active)
    return plan


def _plan_undersample(
    pool: list[Record],
    new: list[NewItem],
    counts: Counter,
    ratio: tuple[Fraction, Fraction],
    seed: int,
) -> dict[str, str]:
    """Keep the whole minority class and a seeded selection of the majority class.

    The selection ranks the rows (new ones included) by a key that does not depend on which
    run added them, so a rerun selects the same rows: requested extras first, then
    originals, then other derived rows, each in seeded order.
    """
    good_part, bad_part = ratio
    g, b = counts["good"], counts["bad"]
    if g * bad_part > b * good_part:
        major, keep = "good", max(1, _round(b * good_part / bad_part))
    else:
        major, keep = "bad", max(1, _round(g * bad_part / good_part))
    candidates = [(r.path, r.label, _keep_priority(r)) for r in pool]
    candidates += [(it.path, it.label, 0 if it.kind in augment.EXTRAS else 2) for it in new]
    ranked = sorted(
        (c for c in candidates if c[1] == major), key=lambda c: (c[2], rank_key(seed, c[0]))
    )
    wanted = {path: "" for path, _, _ in candidates}
    wanted.update({path: EXCLUDED for path, _, _ in ranked[keep:]})
    current = {r.path: r.status for r in pool}
    return {p: s for p, s in wanted.items() if current.get(p, "") != s}


def _keep_priority(rec: Record) -> int:
    """0 for bad extras, 1 for originals, 2 for other derived rows (excluded first)."""
    if rec.defect in augment.EXTRAS:
        return 0
    return 2 if is_derived(rec) else 1


def _round(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))
