"""The new files of a balance plan: label-preserving variants of good images, bad extras.

Names are ``<base stem>__<kind>_<k>.png`` with the first free ``k``; each item's seed is
:func:`weldsynth.dataset.balance.types.item_seed` of its path and ``k``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from weldsynth.dataset import augment
from weldsynth.dataset.balance.types import (
    BalanceError,
    NewItem,
    is_augmented,
    item_rng,
    item_seed,
    row_params,
)
from weldsynth.io.heightmap import read_heightmap
from weldsynth.io.manifest import Record, safe_join


def plan_variants(
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

    made = Counter(row_params(r).get("base", "") for r in rows if is_augmented(r))
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
            k, path = free_name(base, next_k[base.path], known, kind_of)
            next_k[base.path] = k + 1
            known.add(path)
            made[base.path] += 1
            items.append(NewItem(path, base, kind_of(k), k, item_seed(seed, path, k), "good"))
            progress = True
        if not progress:  # every base is at the cap
            break
    return items


def plan_extras(
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
        k, path = free_name(base, next_k[base.path, kind], known, kind, folder)
        next_k[base.path, kind] = k + 1
        it = NewItem(path, base, kind, k, item_seed(seed, path, k), "bad")
        if kind == augment.PLATE_ONLY:
            hm = read_heightmap(safe_join(root, base.path))
            if augment.plate_only(hm, item_rng(it)) is None:
                unusable.add(base.path)
                next_k[base.path, kind] = k
                continue
        known.add(path)
        items.append(it)
    return items


def free_name(
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
