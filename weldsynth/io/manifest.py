"""``manifest.csv``: one row per image of a data set, the single source of truth.

Audit, split, training and relabeling read it; the class folders are a view of it.
Columns (see DESIGN.md, "Data model"):

======== ================================================================================
path     image path relative to the data-set root, POSIX separators
topology topology id as text ("7")
label    class used for training: "good" or "bad" (folders may be ``bad-<defect>``)
defect   defect plugin name; "" for an original good weld or a label-preserving variant
source   the good weld the row derives from, relative path (the group key of splits)
params   JSON of the drawn defect / augmentation parameters ("{}" for originals)
seed     the integer seed the row was drawn from ("" for originals)
mask     relative path of the defect mask PNG ("" when none)
sha256   SHA-256 of the image file's bytes
split    "train", "val", "test" or "" (not split yet)
status   "" when in use; otherwise why it is left out (e.g. "excluded:undersample",
         "dropped"): rows are never deleted, files never lost
======== ================================================================================

Optional columns (:data:`OPTIONAL_COLUMNS`), written only when some row has a value, so a
data set made without a norm or a calibration keeps exactly the columns above; a manifest
without them reads as if they were empty, and every command carries them through:

=========== =============================================================================
verdict     the norm's verdict of the drawn imperfection: "accept" or "reject" ("" for
            originals and rows without a norm)
rule        the reference of the norm rule that gave the verdict
measures    JSON object of the draw's measured sizes (mm when calibrated), "" when none
calibration where the source's calibration came from: "sidecar", "scan.yaml:<path>",
            "--scan:<path>", "recipe"; "" when uncalibrated (sizes in pixels)
=========== =============================================================================
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.core.errors import WeldsynthError
from weldsynth.core.paths import UnsafePathError
from weldsynth.core.paths import safe_join as _safe_join

MANIFEST_NAME = "manifest.csv"
SPLITS = ("train", "val", "test")
LABELS = ("good", "bad")


@dataclass(frozen=True)
class Record:
    """One manifest row (all fields are text, as in the CSV)."""

    path: str
    topology: str
    label: str
    defect: str = ""
    source: str = ""
    params: str = "{}"
    seed: str = ""
    mask: str = ""
    sha256: str = ""
    split: str = ""
    status: str = ""
    verdict: str = ""
    rule: str = ""
    measures: str = ""
    calibration: str = ""

    @property
    def active(self) -> bool:
        """True when the row is in use (not excluded or dropped)."""
        return self.status == ""

    def with_(self, **changes: str) -> Record:
        """A copy with some fields changed."""
        return replace(self, **changes)


OPTIONAL_COLUMNS: tuple[str, ...] = ("verdict", "rule", "measures", "calibration")
"""Columns written only when a row has a value; missing ones read as empty."""
COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Record) if f.name not in OPTIONAL_COLUMNS)
"""Columns every manifest has (in order)."""


def record_dict(rec: Record) -> dict[str, str]:
    """A row as a dict: every column of :data:`COLUMNS`, optional ones only when set."""
    return {k: v for k, v in asdict(rec).items() if k in COLUMNS or v != ""}


def columns_of(records: Iterable[Record]) -> list[str]:
    """The columns a manifest of ``records`` has: :data:`COLUMNS`, then the optional ones
    that some row sets."""
    used = {c for rec in records for c in OPTIONAL_COLUMNS if getattr(rec, c) != ""}
    return [*COLUMNS, *(c for c in OPTIONAL_COLUMNS if c in used)]


class ManifestError(WeldsynthError):
    """A manifest is missing, malformed, or inconsistent with the files."""


def manifest_path(root: str | Path) -> Path:
    """Where the manifest of data-set root ``root`` lives."""
    return Path(root) / MANIFEST_NAME


RELABEL_JOURNAL = ".weldsynth/journal.jsonl"
"""A data set's relabel journal (:mod:`weldsynth.dataset.relabel.journal`), looked at here
only to refuse reading a data set that a killed relabel step left half-changed."""


def unfinished_relabel_steps(root: str | Path) -> list[int]:
    """Relabel steps of the data set at ``root`` that have an intent but neither a commit
    nor a rollback (a relabel command was killed in the middle of them)."""
    file = Path(root) / RELABEL_JOURNAL
    if not file.is_file():
        return []
    data = file.read_bytes()
    closed = data.count(b'"type": "commit"') + data.count(b'"type": "rollback"')
    if data.count(b'"type": "intent"') <= closed:
        return []
    open_steps: set[object] = set()
    for line in data.split(b"\n"):
        try:
            entry = json.loads(line)
        except ValueError:  # a torn last line: written before any file was touched
            continue
        if not isinstance(entry, dict):
            continue
        if entry.get("type") == "intent":
            open_steps.add(entry.get("step"))
        elif entry.get("type") in ("commit", "rollback"):
            open_steps.discard(entry.get("step"))
    return sorted(s for s in open_steps if isinstance(s, int))


def read_manifest(root_or_file: str | Path, *, unfinished_ok: bool = False) -> list[Record]:
    """Read a manifest (give the data-set root or the CSV itself).

    Args:
        root_or_file: The data-set root or its ``manifest.csv``.
        unfinished_ok: Read even while a relabel step is unfinished (relabel's own
            recovery); otherwise such a data set is refused.

    Raises:
        ManifestError: missing file, missing columns, or a bad label/split value, naming
            the file, the line and the field; or a relabel step was interrupted, naming
            the command that rolls it back.
    """
    file = Path(root_or_file)
    if file.is_dir():
        file = manifest_path(file)
    if not file.is_file():
        raise ManifestError(f"{file}: manifest not found")
    unfinished = [] if unfinished_ok else unfinished_relabel_steps(file.parent)
    if unfinished:
        root = file.parent
        raise ManifestError(
            f"{root}: relabel step {', '.join(map(str, unfinished))} was interrupted and "
            f"left the data set half-changed; run `weldsynth relabel log {root}` to roll it "
            "back, then run this command again"
        )
    try:
        return _parse(file)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ManifestError(
            f"{file}: not a readable manifest CSV ({type(exc).__name__}: {exc}); restore it "
            "from a backup or regenerate the data set"
        ) from exc


def _parse(file: Path) -> list[Record]:
    with file.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ManifestError(
                f"{file}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}"
            )
        present = [c for c in (*COLUMNS, *OPTIONAL_COLUMNS) if c in reader.fieldnames]
        records = []
        for line, row in enumerate(reader, start=2):
            rec = Record(**{c: row[c] or "" for c in present})
            if rec.label not in LABELS:
                raise ManifestError(
                    f"{file}:{line}: label={rec.label!r}, allowed: {', '.join(LABELS)}"
                )
            if rec.split not in ("", *SPLITS):
                raise ManifestError(
                    f"{file}:{line}: split={rec.split!r}, allowed: {', '.join(SPLITS)} or empty"
                )
            records.append(rec)
    return records


def write_manifest(root_or_file: str | Path, records: Iterable[Record]) -> Path:
    """Write a manifest atomically, rows sorted by path (stable, diff-friendly).

    Raises:
        ManifestError: two rows have one path (nothing is written).
    """
    file = Path(root_or_file)
    if file.suffix != ".csv":
        file = manifest_path(file)
    rows = sorted(records, key=lambda r: r.path)
    twice = sorted({a.path for a, b in itertools.pairwise(rows) if a.path == b.path})
    if twice:
        raise ManifestError(
            f"{file}: not written, {len(twice)} path(s) would appear twice: "
            + ", ".join(twice[:5])
            + (" ..." if len(twice) > 5 else "")
        )
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns_of(rows), lineterminator="\n")
    writer.writeheader()
    for rec in rows:
        writer.writerow(record_dict(rec))
    return atomic_write_bytes(file, buf.getvalue().encode("utf-8"))


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def safe_join(root: str | Path, relative: str) -> Path:
    """Join a manifest path to its root, refusing anything that escapes the root.

    :func:`weldsynth.core.paths.safe_join` with the manifest's wording.

    Raises:
        ManifestError: the path is absolute or climbs out of ``root`` (``..``, a symlink).
    """
    try:
        return _safe_join(root, relative)
    except UnsafePathError:
        if Path(relative).is_absolute():
            raise ManifestError(
                f"{relative}: absolute paths are not allowed in a manifest"
            ) from None
        raise ManifestError(f"{relative}: escapes the data-set folder {root}") from None
