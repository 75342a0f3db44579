"""Count the height maps in a folder per topology and class.

Understood layouts (ImageFolder convention, see DESIGN.md):

* ``DIR/<topology>/<class>/*.png`` — a data set (class = good, bad, bad-<defect>...);
* ``DIR/<topology>/*.png`` — good welds sorted by topology only (class shown as "-");
* ``DIR/*.png`` — a flat folder (topology and class "-").

Folders whose name starts with ``_`` or ``.`` (masks, quarantine, caches) are not counted.

A data set with a ``manifest.csv`` is counted from the manifest instead
(:func:`manifest_inventory`): per topology, class, defect and split, rows in use only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from weldsynth.io.manifest import Record

UNSORTED = "-"


@dataclass(frozen=True)
class Inventory:
    """Image counts of one folder.

    Attributes:
        root: The folder counted.
        counts: (topology, class) -> number of PNG files.
    """

    root: Path
    counts: dict[tuple[str, str], int]

    @property
    def total(self) -> int:
        """Number of PNG files counted."""
        return sum(self.counts.values())

    @property
    def topologies(self) -> list[str]:
        """Topologies present, numeric ones in numeric order."""
        return sorted({t for t, _ in self.counts}, key=natural_key)

    @property
    def classes(self) -> list[str]:
        """Classes present, "good" first."""
        names = {c for _, c in self.counts}
        return sorted(names, key=lambda c: (c != "good", c))

    def count(self, topology: str, cls: str) -> int:
        """Images of one topology and class (0 when none)."""
        return self.counts.get((topology, cls), 0)


def scan(root: str | Path) -> Inventory:
    """Count PNG files under ``root`` by topology and class.

    Args:
        root: Folder to scan.

    Returns:
        The :class:`Inventory`.

    Raises:
        NotADirectoryError: ``root`` is not a folder.
    """
    base = Path(root)
    if not base.is_dir():
        raise NotADirectoryError(f"{base}: not a folder")
    counts: Counter[tuple[str, str]] = Counter()
    for file in base.rglob("*"):
        if file.suffix.lower() != ".png" or not file.is_file():
            continue
        parts = file.relative_to(base).parts[:-1]
        if any(p.startswith(("_", ".")) for p in parts):
            continue
        topology = parts[0] if len(parts) >= 1 else UNSORTED
        cls = parts[1] if len(parts) >= 2 else UNSORTED
        counts[(topology, cls)] += 1
    return Inventory(root=base, counts=dict(counts))


def natural_key(name: str) -> tuple[int, int | str]:
    """Sort key: numeric names ("2", "10") in numeric order, before other names."""
    return (0, int(name)) if name.isdigit() else (1, name)


@dataclass(frozen=True)
class ManifestInventory:
    """Counts of a data set read from its ``manifest.csv`` (rows in use only).

    Attributes:
        root: The data-set folder.
        counts: (topology, class folder, defect, split) -> rows in use; defect and split
            are "" when empty.
        excluded: status -> rows left out (e.g. "excluded:undersample": 12).
        rows: Number of rows in the manifest, in use or not.
    """

    root: Path
    counts: dict[tuple[str, str, str, str], int]
    excluded: dict[str, int]
    rows: int

    @property
    def total(self) -> int:
        """Rows in use."""
        return sum(self.counts.values())

    @property
    def splits(self) -> list[str]:
        """Splits present, in train/val/test order, "" (not split) last."""
        order = {"train": 0, "val": 1, "test": 2, "": 3}
        return sorted({k[3] for k in self.counts}, key=lambda s: order.get(s, 4))

    def groups(self) -> list[tuple[str, str, str]]:
        """(topology, class, defect) present, topologies in natural order, good first."""
        found = {k[:3] for k in self.counts}
        return sorted(found, key=lambda k: (natural_key(k[0]), k[1] != "good", k[1], k[2]))

    def count(self, topology: str, cls: str, defect: str, split: str) -> int:
        """Rows in use of one topology, class, defect and split (0 when none)."""
        return self.counts.get((topology, cls, defect, split), 0)

    def to_inventory(self) -> Inventory:
        """Per (topology, class) counts of the rows in use, as a folder scan would give."""
        per: Counter[tuple[str, str]] = Counter()
        for (topo, cls, _, _), n in self.counts.items():
            per[topo, cls] += n
        return Inventory(root=self.root, counts=dict(per))


def manifest_inventory(root: str | Path, records: Iterable[Record]) -> ManifestInventory:
    """Count manifest rows per topology, class folder, defect and split.

    The class is the folder of the row's path (``<topology>/<class>/<name>.png``), or its
    label when the path has no class folder. Rows with a ``status`` are only counted in
    ``excluded``.
    """
    counts: Counter[tuple[str, str, str, str]] = Counter()
    excluded: Counter[str] = Counter()
    n = 0
    for rec in records:
        n += 1
        if not rec.active:
            excluded[rec.status] += 1
            continue
        parts = PurePosixPath(rec.path).parts
        cls = parts[1] if len(parts) >= 3 else rec.label
        counts[rec.topology, cls, rec.defect, rec.split] += 1
    return ManifestInventory(root=Path(root), counts=dict(counts), excluded=dict(excluded), rows=n)
