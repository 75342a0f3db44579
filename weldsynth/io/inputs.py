"""The one scanner of input folders (``generate``'s good welds, ``predict``'s images).

A height map is a file whose name ends in ``.png`` in any case (``a.png``, ``B.PNG``).
Ignored without a word: hidden entries (``.name``), the JSON sidecar of a PNG
(``NAME.json`` beside ``NAME.png``), a folder's ``scan.yaml`` calibration and, when
searching recursively, folders whose name starts with ``_`` or ``.``. Anything else that is
not used is *skipped* and listed with its reason: a dangling symlink, a file that is not a
PNG.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from weldsynth.io.calibration import SCAN_FILE

__all__ = ["InputScan", "is_png_name", "scan_folder", "scan_paths"]

DANGLING = "dangling symlink (its target does not exist)"
NOT_PNG = "not a PNG file"


@dataclass
class InputScan:
    """What a scan found.

    Attributes:
        files: PNG files, sorted by path.
        skipped: (path, reason) of every entry left out that is not ignored by rule.
    """

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def is_png_name(path: Path) -> bool:
    """True when the name ends in ``.png``, in any case."""
    return path.suffix.lower() == ".png"


def scan_folder(folder: Path, recursive: bool = False) -> InputScan:
    """PNG files of ``folder`` (and of its sub-folders when ``recursive``).

    Args:
        folder: The folder to scan.
        recursive: Also scan sub-folders (not those starting with ``_`` or ``.``).
    """
    scan = InputScan()
    _scan_into(Path(folder), recursive, scan)
    scan.files.sort()
    scan.skipped.sort()
    return scan


def scan_paths(paths: Iterable[Path]) -> InputScan:
    """Files as given (whatever their name: reading them says what is wrong), and the
    PNG files of folders, searched recursively (:func:`scan_folder`), in the given order."""
    scan = InputScan()
    for path in paths:
        if path.is_dir():
            found = scan_folder(path, recursive=True)
            scan.files += found.files
            scan.skipped += found.skipped
        else:
            scan.files.append(path)
    return scan


def _scan_into(folder: Path, recursive: bool, scan: InputScan) -> None:
    entries = sorted(folder.iterdir())
    stems = {p.stem for p in entries if is_png_name(p)}
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if recursive and not entry.name.startswith("_"):
                _scan_into(entry, recursive, scan)
            continue
        if entry.is_symlink() and not entry.exists():
            scan.skipped.append((entry, DANGLING))
        elif is_png_name(entry):
            scan.files.append(entry)
        elif (entry.suffix.lower() == ".json" and entry.stem in stems) or entry.name == SCAN_FILE:
            continue  # sidecar of a PNG (truth or calibration), the folder's calibration
        else:
            scan.skipped.append((entry, NOT_PNG))
