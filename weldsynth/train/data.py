"""What to train on: list a data set's images per topology, their classes and their split.

Two layouts are understood (DESIGN.md, "Data model"):

* a data set with ``DATA/manifest.csv``: labels from its ``label`` column (``bad-<defect>``
  classes from ``defect`` with ``by_defect``), rows whose ``status`` is not empty are left
  out, and the split comes from its ``split`` column; rows without one are split 80/20
  *grouped by source*, so every variant of one weld lands on the same side;
* a plain ImageFolder ``DATA/<topology>/<class>/*.png`` (or ``DATA/<class>/*.png`` for one
  topology): the class is the folder name (any ``bad*`` folder is "bad" unless
  ``by_defect``), and the split is random per class, which may leak variants of one weld
  across train and val — a warning says so.

Folders starting with ``_`` or ``.`` (masks, quarantine) are never classes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from weldsynth.core.errors import WeldsynthError
from weldsynth.dataset.grouping import assign_groups
from weldsynth.dataset.inventory import natural_key
from weldsynth.io.manifest import manifest_path, read_manifest, safe_join, sha256_file

GOOD = "good"
MASKS_FOLDER = "_masks"
"""Folder of the defect masks beside the class folders (``generate``'s ``MASKS_DIR``)."""
LEAK_WARNING = (
    "no manifest.csv: random split per class; variants of one weld may leak "
    "across train and val, so the validation error may be optimistic"
)


@dataclass(frozen=True)
class Item:
    """One image to learn from.

    Attributes:
        path: The file.
        rel: Its path relative to the data-set root (POSIX), used in reports.
        label: The class it is trained as.
        defect: Defect name ("" for good welds or when unknown).
        source: The good weld it derives from (the split's group key).
        split: "train", "val" or "test".
        verdict: The norm's verdict of its imperfection from the manifest ("accept",
            "reject"; "" when none or unknown).
        mask: Its defect mask PNG (the manifest's ``mask`` column, or ``_masks/<name>``
            beside the class folders of an ImageFolder), or None when it has none.
    """

    path: Path
    rel: str
    label: str
    defect: str = ""
    source: str = ""
    split: str = ""
    verdict: str = ""
    mask: Path | None = None


@dataclass
class Listing:
    """The images of one topology, ready to split and decode.

    Attributes:
        root: The data-set root.
        topology: The topology id ("7"), or the folder name for a one-topology folder.
        items: Every usable image with its label and split.
        classes: Sorted class names (the model's output order).
        manifest_sha: SHA-256 of ``manifest.csv`` ("" without a manifest).
        split_note: How the split was made, in a few words.
        warnings: One-line warnings for the user.
    """

    root: Path
    topology: str
    items: list[Item]
    classes: list[str]
    manifest_sha: str = ""
    split_note: str = ""
    warnings: list[str] = field(default_factory=list)

    def subset(self, split: str) -> list[Item]:
        """Items of one split ("all": every item)."""
        return list(self.items) if split == "all" else [i for i in self.items if i.split == split]

    def counts(self) -> dict[str, dict[str, int]]:
        """split -> class -> number of images."""
        out: dict[str, dict[str, int]] = {}
        for item in self.items:
            out.setdefault(item.split, Counter())[item.label] += 1  # type: ignore[index]
        return {s: dict(c) for s, c in out.items()}


def class_of_folder(name: str, by_defect: bool) -> str:
    """Class of an ImageFolder folder: ``bad-*`` collapses to "bad" unless ``by_defect``."""
    return "bad" if name.startswith("bad") and not by_defect else name


def defect_of_folder(name: str) -> str:
    """Defect named by a ``bad-<defect>`` folder ("" otherwise)."""
    return name.split("-", 1)[1] if name.startswith("bad-") else ""


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))),
        key=lambda p: natural_key(p.name),
    )


def _is_class_folder(name: str) -> bool:
    return name == GOOD or name.startswith("bad")


def is_single_topology(root: Path) -> bool:
    """True when ``root`` holds class folders directly (``root/good``, ``root/bad``)."""
    return not manifest_path(root).is_file() and any(
        _is_class_folder(d.name) for d in _visible_dirs(root)
    )


def list_topologies(root: str | Path) -> list[str]:
    """Topologies of a data set, numeric ones in numeric order.

    Raises:
        WeldsynthError: ``root`` is not a folder or holds no topology.
    """
    base = Path(root)
    if not base.is_dir():
        raise WeldsynthError(f"{base}: not a folder")
    if manifest_path(base).is_file():
        topos = {r.topology for r in read_manifest(base) if r.active}
        found = sorted(topos, key=natural_key)
    elif is_single_topology(base):
        found = [base.name]
    else:
        found = [d.name for d in _visible_dirs(base) if _visible_dirs(d)]
    if not found:
        raise WeldsynthError(
            f"{base}: no topology found (expected DATA/<topology>/<class>/*.png or a manifest.csv)"
        )
    return found


def list_images(
    root: str | Path,
    topology: str,
    *,
    by_defect: bool = False,
    val_pct: float = 0.2,
    split_seed: int = 42,
) -> Listing:
    """List the images of one topology with their labels and split.

    Args:
        root: Data-set root (with or without ``manifest.csv``).
        topology: Which topology (see :func:`list_topologies`).
        by_defect: One class per defect instead of one "bad" class.
        val_pct: Validation fraction when a split has to be drawn.
        split_seed: Seed of that split.

    Raises:
        WeldsynthError: Unknown topology, no images, a class folder without images, or
            fewer than two classes.
    """
    base = Path(root)
    if manifest_path(base).is_file():
        listing = _from_manifest(base, topology, by_defect, val_pct, split_seed)
    else:
        listing = _from_folders(base, topology, by_defect, val_pct, split_seed)
    check_classes(listing.items, f"{base} topology {topology}")
    listing.classes = sorted({i.label for i in listing.items}, key=lambda c: (c == GOOD, c))
    return listing


def check_classes(items: list[Item], where: str) -> None:
    """Refuse data that cannot train a classifier: no images or a single class."""
    if not items:
        raise WeldsynthError(f"{where}: no images")
    labels = {i.label for i in items}
    if len(labels) < 2:
        raise WeldsynthError(
            f"{where}: only one class ({', '.join(labels)}); a classifier "
            "needs at least two (e.g. good and bad)"
        )


def check_splits(items: list[Item], where: str, splits: tuple[str, ...] = ("train", "val")) -> None:
    """Refuse an empty train or val split, or a training split with a single class."""
    for split in splits:
        if not any(i.split == split for i in items):
            raise WeldsynthError(
                f"{where}: the {split} split is empty; add images or change the split"
            )
    check_classes([i for i in items if i.split == "train"], f"{where} (train split)")


def _from_manifest(
    base: Path, topology: str, by_defect: bool, val_pct: float, split_seed: int
) -> Listing:
    records = [r for r in read_manifest(base) if r.active and r.topology == topology]
    if not records:
        raise WeldsynthError(f"{manifest_path(base)}: no active rows for topology {topology}")
    items = []
    for rec in records:
        split_defect = by_defect and rec.label == "bad" and rec.defect
        label = f"bad-{rec.defect}" if split_defect else rec.label
        items.append(
            Item(
                path=safe_join(base, rec.path),
                rel=rec.path,
                label=label,
                defect=rec.defect,
                source=rec.source or rec.path,
                split=rec.split,
                verdict=rec.verdict,
                mask=safe_join(base, rec.mask) if rec.mask else None,
            )
        )
    items, note = _fill_grouped_split(items, val_pct, split_seed)
    return Listing(
        root=base,
        topology=topology,
        items=items,
        classes=[],
        manifest_sha=sha256_file(manifest_path(base)),
        split_note=note,
    )


def _from_folders(
    base: Path, topology: str, by_defect: bool, val_pct: float, split_seed: int
) -> Listing:
    folder = base if is_single_topology(base) and topology == base.name else base / topology
    if not folder.is_dir():
        raise WeldsynthError(
            f"{base}: topology {topology!r} not found (have: {', '.join(list_topologies(base))})"
        )
    items = []
    for class_dir in _visible_dirs(folder):
        files = sorted(
            p
            for p in class_dir.rglob("*.png")
            if p.is_file()
            and not any(part.startswith(("_", ".")) for part in p.relative_to(class_dir).parts[:-1])
        )
        if not files:
            raise WeldsynthError(f"{class_dir}: class folder {class_dir.name!r} has no images")
        label = class_of_folder(class_dir.name, by_defect)
        for file in files:
            rel = file.relative_to(base).as_posix()
            mask = folder / MASKS_FOLDER / file.name
            items.append(
                Item(
                    path=file,
                    rel=rel,
                    label=label,
                    defect=defect_of_folder(class_dir.name),
                    source=rel,
                    mask=mask if mask.is_file() else None,
                )
            )
    items = random_split(items, val_pct, split_seed)
    return Listing(
        root=base,
        topology=topology,
        items=items,
        classes=[],
        split_note=f"random per class (seed {split_seed})",
        warnings=[LEAK_WARNING],
    )


def random_split(items: list[Item], val_pct: float, seed: int) -> list[Item]:
    """Random split stratified by class: ``val_pct`` of each class (at least one) to val."""
    rng = np.random.default_rng(seed)
    val: set[str] = set()
    for label in sorted({i.label for i in items}):
        rels = sorted(i.rel for i in items if i.label == label)
        if len(rels) < 2:
            continue
        n_val = min(len(rels) - 1, max(1, round(val_pct * len(rels))))
        val.update(rels[k] for k in rng.permutation(len(rels))[:n_val])
    return [_with_split(i, "val" if i.rel in val else "train") for i in items]


def grouped_split(groups: dict[str, int], val_pct: float, seed: int) -> dict[str, str]:
    """Assign whole groups to train or val so that about ``val_pct`` of the images are in val.

    Args:
        groups: group key -> number of images.
        val_pct: Target fraction of images in val.
        seed: Seed of the order of equally large groups.

    Returns:
        group key -> "train" or "val"; at least one group on each side when there are two
        (:func:`weldsynth.dataset.grouping.assign_groups`).
    """
    placed = assign_groups({k: {"": n} for k, n in groups.items()}, [1.0 - val_pct, val_pct], seed)
    return {key: ("train", "val")[b] for key, b in sorted(placed.items())}


def _fill_grouped_split(items: list[Item], val_pct: float, seed: int) -> tuple[list[Item], str]:
    known = {i.source: i.split for i in items if i.split}
    missing = Counter(i.source for i in items if not i.split and i.source not in known)
    if not missing:
        return items, "manifest split column"
    drawn = grouped_split(dict(missing), val_pct, seed)
    filled = [
        i if i.split else _with_split(i, known.get(i.source) or drawn[i.source]) for i in items
    ]
    how = f"grouped by source, {round(100 * (1 - val_pct))}/{round(100 * val_pct)} (seed {seed})"
    return filled, how if not known else f"manifest split column; unsplit rows {how}"


def _with_split(item: Item, split: str) -> Item:
    return replace(item, split=split)
