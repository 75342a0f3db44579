"""Count the height maps in a folder per topology and class.

Understood layouts (ImageFolder convention, see DESIGN.md):

* ``DIR/<topology>/<class>/*.png`` — a data set (class = good, bad, bad-<defect>...);
* ``DIR/<topology>/*.png`` — good welds sorted by topology only (class shown as "-");
* ``DIR/*.png`` — a flat folder (topology and class "-").

Folders whose name starts with ``_`` or ``.`` (masks, quarantine, caches) are not counted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

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
