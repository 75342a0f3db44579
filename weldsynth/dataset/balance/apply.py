"""Apply a balance plan: write the new files and the manifest (see the package docstring)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from weldsynth.core.atomic import atomic_write_bytes, atomic_write_text
from weldsynth.core.lock import STATE_DIR
from weldsynth.dataset import augment
from weldsynth.dataset.balance.masks import mask_path, variant_measures, write_mask
from weldsynth.dataset.balance.plan import plan_balance
from weldsynth.dataset.balance.types import (
    DEFAULT_MAX_VARIANTS,
    BalanceError,
    BalancePlan,
    NewItem,
    item_rng,
    parse_ratio,
    parse_variant_kinds,
)
from weldsynth.io.calibration import read_sidecar, write_sidecar
from weldsynth.io.heightmap import HeightMap, encode_png, read_heightmap
from weldsynth.io.manifest import Record, read_manifest, safe_join, write_manifest


def apply_plan(
    root: str | Path,
    records: list[Record],
    plan: BalancePlan,
    progress: Callable[[list[NewItem]], Iterable[NewItem]] | None = None,
) -> list[Record]:
    """Write the planned files and the manifest; return the new manifest rows.

    A variant of an image with a defect mask gets its own mask, transformed as its image
    (:mod:`weldsynth.dataset.balance.masks`), in the row's ``mask`` column.

    Files are written atomically before the manifest, which is written once at the end: a
    run killed half-way leaves files the manifest does not list, and the rerun writes the
    same bytes over them. A file that exists, is not in the manifest and differs from what
    would be written is someone else's: balance stops instead of overwriting it.

    The paths a run is about to write (images and masks) are recorded first
    (``.weldsynth/balance-pending.json``, removed with the manifest write); the next run
    removes those of them the manifest does not list (as a path or a mask), with their temp
    files, so a killed run never leaves orphan images behind, even when the rerun asks for
    another ratio.
    """
    base_dir = Path(root)
    _sweep_interrupted(base_dir, records)
    items = [it for t in plan.topologies for it in t.new]
    items.sort(key=lambda it: (it.base.path, it.kind, it.k))
    pending = base_dir / STATE_DIR / PENDING_NAME
    if items:
        written = [p for it in items for p in (it.path, mask_path(it)) if p]
        atomic_write_text(pending, json.dumps(written, indent=0))
    iterator: Iterable[NewItem] = progress(items) if progress else items
    statuses = {p: s for t in plan.topologies for p, s in t.status.items()}
    new_rows: list[Record] = []
    cache: tuple[str, HeightMap] | None = None
    for it in iterator:
        if cache is None or cache[0] != it.base.path:
            cache = (it.base.path, read_heightmap(safe_join(base_dir, it.base.path)))
        pixels, params = _render(it, cache[1])
        data = encode_png(pixels, it.path)
        target = safe_join(base_dir, it.path)
        if target.exists() and target.read_bytes() != data:
            raise BalanceError(
                f"{it.path}: exists, is not in the manifest and differs from "
                "what balance would write; move it away and rerun"
            )
        atomic_write_bytes(target, data)
        _copy_calibration(safe_join(base_dir, it.base.path), target)
        mask = write_mask(base_dir, it)
        row = _row(it, {**params, "base": it.base.path}, data, statuses.get(it.path, ""))
        new_rows.append(row.with_(mask=mask) if mask else row)
    updated = [r.with_(status=statuses[r.path]) if r.path in statuses else r for r in records]
    result = updated + new_rows
    if new_rows or statuses:
        write_manifest(base_dir, result)
    pending.unlink(missing_ok=True)
    return result


def _row(it: NewItem, params: dict, data: bytes, status: str) -> Record:
    """The manifest row of a new file (its mask is filled in by the caller)."""
    same = it.label == "good"  # a label-preserving variant: the base's imperfection
    return Record(
        path=it.path,
        topology=it.base.topology,
        label=it.label,
        defect=it.base.defect if same else it.kind,
        source=it.base.source or it.base.path,
        params=json.dumps(params, sort_keys=True, separators=(",", ":")),
        seed=str(it.seed),
        sha256=hashlib.sha256(data).hexdigest(),
        split=it.base.split,
        status=status,
        verdict=it.base.verdict if same else "",
        rule=it.base.rule if same else "",
        measures=variant_measures(it.base.measures, params) if same else "",
        calibration=it.base.calibration,
    )


PENDING_NAME = "balance-pending.json"
"""Paths an unfinished balance run was writing (see :func:`apply_plan`)."""


def _sweep_interrupted(base_dir: Path, records: list[Record]) -> None:
    """Remove what a killed balance run wrote that the manifest does not list."""
    pending = base_dir / STATE_DIR / PENDING_NAME
    if not pending.is_file():
        return
    listed = {r.path for r in records} | {r.mask for r in records if r.mask}
    for rel in json.loads(pending.read_text(encoding="utf-8")):
        if rel in listed:
            continue
        target = safe_join(base_dir, rel)
        for leftover in (target, target.with_suffix(".json")):
            leftover.unlink(missing_ok=True)
        for tmp in target.parent.glob(f".{target.name}.*.tmp"):
            tmp.unlink(missing_ok=True)
    pending.unlink()


def balance(
    root: str | Path,
    ratio: str = "1:1",
    method: str = "oversample",
    seed: int = 0,
    extras: int = 0,
    max_variants: int = DEFAULT_MAX_VARIANTS,
    dry_run: bool = False,
    augments: str = "flip",
    progress: Callable[[list[NewItem]], Iterable[NewItem]] | None = None,
) -> BalancePlan:
    """Plan and apply balancing of the data set at ``root`` (see the module docstring).

    ``augments`` is a comma list of variant kinds (see
    :func:`weldsynth.dataset.augment.parse_augments`); ``progress`` wraps the variants
    as they are written (as :func:`apply_plan`'s).
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
        apply_plan(root, records, plan, progress=progress)
    return plan


def _copy_calibration(base: Path, target: Path) -> None:
    """A calibrated base's sidecar goes with its variants (same grid, square pixels)."""
    calibration = read_sidecar(base)
    if calibration is not None:
        write_sidecar(target, calibration)


def _render(it: NewItem, hm: HeightMap) -> tuple[np.ndarray, dict]:
    rng = item_rng(it)
    if it.kind in augment.AUGMENTS:
        return augment.augment(hm, it.kind, rng)
    if it.kind == augment.SOLID:
        return augment.solid(hm, rng)
    result = augment.plate_only(hm, rng)
    if result is None:  # pragma: no cover - planning only keeps bases where it works
        raise BalanceError(f"{it.base.path}: no plate-only extra possible")
    return result
