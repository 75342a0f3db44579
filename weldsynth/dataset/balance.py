"""Class balancing of a data set through its manifest (seed 001, section 6.5).

Per topology, reach a requested good:bad ratio among the rows in use:

* **oversample** — add label-preserving variants of good images (:mod:`weldsynth.dataset.augment`:
  mirror images by default, which carry nothing the bad class lacks once the trainer mirrors
  every class; the seed's dropout and brightness variants on request)
  as new files next to their base image (an original, or an acceptable cut), with new
  manifest rows: the base's defect ("" for an original), params naming the augmentation,
  its values and the base, the row seed, and the base's ``source`` and ``split`` so groups
  stay whole;
* **undersample** — select rows of the majority class to leave out by setting
  ``status="excluded:undersample"``; nothing is deleted or moved, and the selection is
  recomputed from scratch each run (so a new ratio can bring rows back);
* **both** — oversample with at most ``max_variants`` variants per good image, then
  undersample what is still in excess;
* **extras** — optionally first add "bad" extras (plate only with the bead removed, solid
  images), ``extras`` per topology in total.

Planning reads only the manifest (and, for plate-only extras, the base images) and checks
everything before a single file is written. Every draw is seeded by
``SeedSequence([seed, stable_int(new_row_path), k])``, so the output depends on neither
order nor worker count; rerunning on a balanced set does nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from weldsynth.core.errors import WeldsynthError
from weldsynth.dataset import augment
from weldsynth.dataset.inventory import natural_key
from weldsynth.io.heightmap import HeightMap, atomic_write_bytes, read_heightmap
from weldsynth.io.manifest import Record, read_manifest, safe_join, write_manifest

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


def stable_int(text: str) -> int:
    """A 32-bit integer from a string, the same on every machine and run."""
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16)


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
    state = np.random.SeedSequence([seed, stable_int(path), k]).generate_state(1, np.uint32)
    return int(state[0])


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


def apply_plan(
    root: str | Path,
    records: list[Record],
    plan: BalancePlan,
    progress: Callable[[list[NewItem]], Iterable[NewItem]] | None = None,
) -> list[Record]:
    """Write the planned files and the manifest; return the new manifest rows.

    Files are written atomically before the manifest, which is written once at the end: a
    run killed half-way leaves files the manifest does not list, and the rerun writes the
    same bytes over them. A file that exists, is not in the manifest and differs from what
    would be written is someone else's: balance stops instead of overwriting it.
    """
    base_dir = Path(root)
    items = [it for t in plan.topologies for it in t.new]
    items.sort(key=lambda it: (it.base.path, it.kind, it.k))
    iterator: Iterable[NewItem] = progress(items) if progress else items
    statuses = {p: s for t in plan.topologies for p, s in t.status.items()}
    new_rows: list[Record] = []
    cache: tuple[str, HeightMap] | None = None
    for it in iterator:
        if cache is None or cache[0] != it.base.path:
            cache = (it.base.path, read_heightmap(safe_join(base_dir, it.base.path)))
        pixels, params = _render(it, cache[1])
        data = _encode(pixels, it.path)
        target = safe_join(base_dir, it.path)
        if target.exists() and target.read_bytes() != data:
            raise BalanceError(
                f"{it.path}: exists, is not in the manifest and differs from "
                "what balance would write; move it away and rerun"
            )
        atomic_write_bytes(target, data)
        params = {**params, "base": it.base.path}
        new_rows.append(
            Record(
                path=it.path,
                topology=it.base.topology,
                label=it.label,
                defect=it.base.defect if it.label == "good" else it.kind,
                source=it.base.source or it.base.path,
                params=json.dumps(params, sort_keys=True, separators=(",", ":")),
                seed=str(it.seed),
                sha256=hashlib.sha256(data).hexdigest(),
                split=it.base.split,
                status=statuses.get(it.path, ""),
            )
        )
    updated = [r.with_(status=statuses[r.path]) if r.path in statuses else r for r in records]
    result = updated + new_rows
    if new_rows or statuses:
        write_manifest(base_dir, result)
    return result


def balance(
    root: str | Path,
    ratio: str = "1:1",
    method: str = "oversample",
    seed: int = 0,
    extras: int = 0,
    max_variants: int = DEFAULT_MAX_VARIANTS,
    dry_run: bool = False,
    augments: str = "flip",
) -> BalancePlan:
    """Plan and apply balancing of the data set at ``root`` (see the module docstring).

    ``augments`` is a comma list of variant kinds (see
    :func:`weldsynth.dataset.augment.parse_augments`).
    """
    records = read_manifest(root)
    plan = plan_balance(
        root,
        records,
        parse_ratio(ratio),
        method,
        seed,
        extras,
        max_variants,
        parse_variant_kinds(augments),
    )
    if not dry_run:
        apply_plan(root, records, plan)
    return plan


# --- planning ----------------------------------------------------------------------------


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
        (r for r in pool if r.label == "good" and not _derived(r)),
        key=lambda r: _rank(seed, r.path),
    )

    if extras:
        have = sum(1 for r in rows if r.defect in augment.EXTRAS)
        plan.new += _plan_extras(root, topo, rows, originals, known, extras - have, seed)
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
                (r for r in pool if r.label == "good" and not _augmented(r)),
                key=lambda r: _rank(seed, r.path),
            )
            cap = max_variants if method == "both" else None
            added = _plan_variants(bases, rows, known, need, cap, seed, augments)
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


def _plan_variants(
    bases: list[Record],
    rows: list[Record],
    known: set[str],
    need: int,
    cap: int | None,
    seed: int,
    augments: tuple[str, ...],
) -> list[NewItem]:
    """Round-robin over the bases (in seeded order): each gets variant k before any gets k+1."""
    if not bases:
        return []

    def kind_of(k: int) -> str:
        return augment.augment_kind(k, augments)

    made = Counter(_params(r).get("base", "") for r in rows if _augmented(r))
    next_k = {b.path: 0 for b in bases}
    items: list[NewItem] = []
    while len(items) < need:
        progress = False
        level = min(made[b.path] for b in bases)
        for base in bases:
            if len(items) >= need:
                break
            if made[base.path] != level or (cap is not None and made[base.path] >= cap):
                continue
            k, path = _free_name(base, next_k[base.path], known, kind_of)
            next_k[base.path] = k + 1
            known.add(path)
            made[base.path] += 1
            items.append(NewItem(path, base, kind_of(k), k, item_seed(seed, path, k), "good"))
            progress = True
        if not progress:  # every base is at the cap
            break
    return items


def _plan_extras(
    root: Path,
    topo: str,
    rows: list[Record],
    originals: list[Record],
    known: set[str],
    count: int,
    seed: int,
) -> list[NewItem]:
    """Bad extras, alternating plate-only and solid, over the good originals in turn."""
    if count <= 0:
        return []
    if not originals:
        raise BalanceError(f"topology {topo}: --extras needs good originals to derive from")
    by_defect = any(
        PurePosixPath(r.path).parts[1:2] and PurePosixPath(r.path).parts[1].startswith("bad-")
        for r in rows
    )
    items: list[NewItem] = []
    next_k: dict[tuple[str, str], int] = defaultdict(int)
    unusable: set[str] = set()
    j = 0
    while len(items) < count and j < 4 * count + 2 * len(originals):
        kind = augment.extra_kind(len(items))
        if kind == augment.PLATE_ONLY and len(unusable) == len(originals):
            kind = augment.SOLID
        base = originals[j % len(originals)]
        j += 1
        if kind == augment.PLATE_ONLY and base.path in unusable:
            continue
        folder = f"bad-{kind}" if by_defect else "bad"
        k, path = _free_name(base, next_k[base.path, kind], known, kind, folder)
        next_k[base.path, kind] = k + 1
        it = NewItem(path, base, kind, k, item_seed(seed, path, k), "bad")
        if kind == augment.PLATE_ONLY:
            hm = read_heightmap(safe_join(root, base.path))
            if augment.plate_only(hm, _rng(it)) is None:
                unusable.add(base.path)
                next_k[base.path, kind] = k
                continue
        known.add(path)
        items.append(it)
    return items


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
        (c for c in candidates if c[1] == major), key=lambda c: (c[2], _rank(seed, c[0]))
    )
    wanted = {path: "" for path, _, _ in candidates}
    wanted.update({path: EXCLUDED for path, _, _ in ranked[keep:]})
    current = {r.path: r.status for r in pool}
    return {p: s for p, s in wanted.items() if current.get(p, "") != s}


def _keep_priority(rec: Record) -> int:
    """0 for bad extras, 1 for originals, 2 for other derived rows (excluded first)."""
    if rec.defect in augment.EXTRAS:
        return 0
    return 2 if _derived(rec) else 1


def _free_name(
    base: Record,
    k: int,
    known: set[str],
    kind: str | Callable[[int], str],
    folder: str | None = None,
) -> tuple[int, str]:
    """First variant index >= k whose name is not in the manifest yet.

    ``kind`` is the name's kind, or a function giving it from the index.
    """
    kind_of = kind if callable(kind) else (lambda _k: kind)
    base_path = PurePosixPath(base.path)
    parent = base_path.parent if folder is None else base_path.parent.parent / folder
    while True:
        path = str(parent / f"{base_path.stem}__{kind_of(k)}_{k:02d}.png")
        if path not in known:
            return k, path
        k += 1


def _render(it: NewItem, hm: HeightMap) -> tuple[np.ndarray, dict]:
    rng = _rng(it)
    if it.kind in augment.AUGMENTS:
        return augment.augment(hm, it.kind, rng)
    if it.kind == augment.SOLID:
        return augment.solid(hm, rng)
    result = augment.plate_only(hm, rng)
    if result is None:  # pragma: no cover - planning only keeps bases where it works
        raise BalanceError(f"{it.base.path}: no plate-only extra possible")
    return result


def _rng(it: NewItem) -> np.random.Generator:
    return np.random.default_rng(it.seed)


def _encode(pixels: np.ndarray, name: str) -> bytes:
    ok, buf = cv2.imencode(".png", pixels)
    if not ok:  # pragma: no cover
        raise BalanceError(f"{name}: PNG encoding failed")
    return buf.tobytes()


def _params(rec: Record) -> dict:
    try:
        value = json.loads(rec.params or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _augmented(rec: Record) -> bool:
    """True for a label-preserving variant written by balance."""
    return "augment" in _params(rec)


def _derived(rec: Record) -> bool:
    """True for rows made from another image (defects, variants, extras)."""
    return bool(rec.defect) or bool({"augment", "extra"} & _params(rec).keys())


def _rank(seed: int, path: str) -> str:
    return hashlib.sha256(f"{seed}:{path}".encode()).hexdigest()


def _round(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))
