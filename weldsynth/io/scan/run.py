"""``weldsynth import`` over files and folders: mirror the inputs, write maps, list rejects.

Each input file becomes ``OUT/<relative path>.png`` and its ``.json`` sidecar (relative to
the folder given on the command line; a file given directly goes to ``OUT/<name>.png``).
A file that cannot be imported is one row of ``OUT/rejected.csv`` (``source,reason``) and
the run goes on. Hidden files, JSON sidecars, ``scan.yaml`` and anything inside ``OUT`` are
skipped; other unknown suffixes in a folder are rejected rows.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from weldsynth.core.atomic import atomic_write_text
from weldsynth.core.errors import WeldsynthError
from weldsynth.core.paths import safe_join
from weldsynth.io.heightmap import write_png
from weldsynth.io.scan import SCAN_SUFFIXES
from weldsynth.io.scan.pipeline import ImportOptions, import_file, sidecar

REJECTED = "rejected.csv"
"""Name of the list of files that could not be imported, in the output folder."""
_SKIP_NAMES = {"scan.yaml", "scan.yml", REJECTED}


@dataclass(frozen=True)
class ImportJob:
    """One file to import.

    Attributes:
        source: The input file.
        dest: The output PNG (the sidecar goes next to it).
        label: The input as the user named it (recorded in the sidecar and rejects).
        root: The folder given on the command line (``scan.yaml`` is looked for up to it).
    """

    source: Path
    dest: Path
    label: str
    root: Path | None = None


@dataclass
class ImportReport:
    """What a run did: written PNGs and rejected (source, reason) rows."""

    written: list[Path] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)


def plan_imports(
    sources: Sequence[Path], out: Path
) -> tuple[list[ImportJob], list[tuple[str, str]]]:
    """The files to import and the inputs rejected up front (missing, unknown format,
    an output name taken twice)."""
    jobs: list[ImportJob] = []
    rejected: list[tuple[str, str]] = []
    claimed: dict[Path, str] = {}
    out_resolved = out.resolve()
    for src in sources:
        if src.is_dir():
            found = [(f, f.relative_to(src), src) for f in _walk(src, out_resolved)]
        elif src.is_file():
            found = [(src, Path(src.name), None)]
        else:
            rejected.append((str(src), "not found"))
            continue
        for file, rel, root in found:
            label = str(file)
            if file.suffix.lower() not in SCAN_SUFFIXES:
                rejected.append((label, f"unsupported format {file.suffix or '(no suffix)'!r}"))
                continue
            dest = safe_join(out, rel.with_suffix(".png"))
            if dest in claimed:
                rejected.append((label, f"output {dest.name} already comes from {claimed[dest]}"))
                continue
            claimed[dest] = label
            jobs.append(ImportJob(file, dest, label, root))
    return jobs, rejected


def _walk(folder: Path, out: Path) -> list[Path]:
    files = []
    for file in sorted(folder.rglob("*")):
        rel = file.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not file.is_file():
            continue
        if file.name in _SKIP_NAMES or out in file.resolve().parents:
            continue
        if file.suffix.lower() == ".json":
            continue  # a calibration / truth sidecar
        files.append(file)
    return files


def run_imports(
    jobs: Sequence[ImportJob],
    out: Path,
    options: ImportOptions,
    rejected: Sequence[tuple[str, str]] = (),
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import every job; write ``OUT/rejected.csv`` (always, header only when none).

    Args:
        jobs: From :func:`plan_imports`.
        out: Output folder.
        options: The import options.
        rejected: Rows rejected while planning.
        progress: Called with (done, total) after each file.
    """
    report = ImportReport(rejected=list(rejected))
    for done, job in enumerate(jobs, start=1):
        try:
            imported = import_file(job.source, options, job.root)
        except (WeldsynthError, MemoryError) as exc:
            reason = str(exc) if isinstance(exc, WeldsynthError) else "out of memory"
            prefix = f"{job.source}: "
            report.rejected.append((job.label, reason.removeprefix(prefix)))
        else:
            write_png(job.dest, imported.pixels)
            text = json.dumps(sidecar(imported, job.label), indent=1, sort_keys=True)
            atomic_write_text(job.dest.with_suffix(".json"), text + "\n")
            report.written.append(job.dest)
        if progress is not None:
            progress(done, len(jobs))
    write_rejected(out, report.rejected)
    return report


def write_rejected(out: Path, rows: Sequence[tuple[str, str]]) -> Path:
    """Write ``OUT/rejected.csv`` atomically (``source,reason``; one line per reason)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["source", "reason"])
    for source, reason in rows:
        writer.writerow([source, " ".join(reason.split())])
    return atomic_write_text(out / REJECTED, buffer.getvalue())
