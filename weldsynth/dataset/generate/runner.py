"""A generate run: prepare the output, run the units on an engine, assemble the manifest."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from weldsynth import __version__
from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.core.lock import is_bare
from weldsynth.dataset.generate.plan import (
    REJECTED_COLUMNS,
    REJECTED_NAME,
    STATE_DIR,
    OutputFolderError,
    Rejection,
    RunSummary,
    SourceResult,
    SourceTask,
    source_id,
)
from weldsynth.dataset.generate.worker import run_task
from weldsynth.engines.base import Executor, get_executor
from weldsynth.io.manifest import (
    MANIFEST_NAME,
    Record,
    read_manifest,
    write_manifest,
)
from weldsynth.synth.recipe import (
    Recipe,
    dump_yaml,
    resolved,
)


def prepare_out(
    out: Path,
    recipes: dict[int, Recipe],
    by_defect: bool,
    force: bool,
    scan: dict[str, Any] | None = None,
) -> None:
    """Check the output folder can be used, then write the run state and resolved recipes.

    ``scan`` (the ``--scan`` calibration, if any) is part of the run state: a rerun with
    another one is refused like one with other recipes.

    Raises:
        OutputFolderError: ``out`` holds files that are not a weldsynth output (unless
            ``force``), or a weldsynth output made with other recipes or options.
    """
    state = out / STATE_DIR / "run.json"
    wanted = {
        "by_defect": by_defect,
        "recipes": {str(t): resolved(r) for t, r in sorted(recipes.items())},
    }
    if scan is not None:
        wanted["scan"] = scan
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"{out}: exists and is not a folder")
    if state.exists():
        have = json.loads(state.read_text(encoding="utf-8"))
        keys = set(wanted) | ({"scan"} & set(have))
        if {k: have.get(k) for k in keys} != {k: wanted.get(k) for k in keys}:
            raise OutputFolderError(
                f"{out}: was generated with other recipes or options; use a new --out "
                "folder (nothing was changed)"
            )
    elif out.exists() and not is_bare(out) and not force:  # its lock alone: empty
        raise OutputFolderError(
            f"{out}: folder is not empty and is not a weldsynth output; use an empty folder "
            "or --force to write into it"
        )
    out.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_files(out)
    if not state.exists():
        atomic_write_bytes(
            state,
            json.dumps({"weldsynth": __version__, **wanted}, sort_keys=True, indent=1).encode(
                "utf-8"
            ),
        )
    for topo, recipe in recipes.items():
        text = "# resolved recipe: every default filled in\n" + dump_yaml(resolved(recipe))
        _write_if_changed(out / "recipes" / f"{topo}.yaml", text.encode("utf-8"))


def run(
    tasks: list[SourceTask],
    out: Path,
    planned_rejections: list[Rejection],
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    engine: str = "local",
    address: str | None = None,
    executor: Executor | None = None,
) -> RunSummary:
    """Run every task, then write the manifest and rejections.

    The tasks go to ``executor``, or else to a new executor of the engine named ``engine``
    (:mod:`weldsynth.engines`) with ``workers`` and ``address``: ``local`` runs them in
    ``workers`` processes, ``ray`` as Ray tasks on the cluster at ``address``, or on a
    local Ray instance with ``workers`` CPUs. The files written are the same.
    """
    summary = RunSummary(out=out, records=[], rejections=list(planned_rejections))
    produced: dict[str, list[Record]] = {}
    for task, result in zip(
        tasks, _results(tasks, workers, engine, address, executor), strict=True
    ):
        summary.records += result.records
        summary.rejections += result.rejections
        if result.records:
            produced[source_id(task.topology, task.name)] = result.records
        if result.skipped:
            summary.sources_done_before += 1
        else:
            summary.sources_run += 1
        if progress is not None:
            progress(1)
    _update_manifest(out, produced)
    _write_rejected(out, summary.rejections)
    return summary


def _results(
    tasks: list[SourceTask],
    workers: int,
    engine: str = "local",
    address: str | None = None,
    executor: Executor | None = None,
) -> Iterator[SourceResult]:
    """Results of ``tasks``, in task order."""
    if executor is None:
        with get_executor(engine, workers=workers, address=address) as own:
            yield from _results(tasks, workers, executor=own)
        return
    if executor.remote:  # workers elsewhere find the files at the same absolute paths
        tasks = [
            replace(t, file=Path(t.file).absolute(), out=Path(t.out).absolute()) for t in tasks
        ]
    yield from executor.map(run_task, tasks)


def _update_manifest(out: Path, produced: dict[str, list[Record]]) -> None:
    """Add the rows of sources not yet in the manifest; never touch rows already there.

    Later steps own the manifest once written (split sets ``split``, balance adds rows,
    relabel moves files and rows), so rows of sources merged by an earlier run are not
    added again; ``.weldsynth/merged.json`` lists those sources.
    """
    target = out / MANIFEST_NAME
    merged_file = out / STATE_DIR / "merged.json"
    existing = read_manifest(out) if target.exists() else []
    merged = (
        set(json.loads(merged_file.read_text()))
        if target.exists() and merged_file.exists()
        else set()
    )
    paths = {r.path for r in existing}
    rows = list(existing)
    for source in sorted(set(produced) - merged):
        rows += [r for r in produced[source] if r.path not in paths]
    tmp = out / STATE_DIR / "manifest.next.csv"
    write_manifest(tmp, rows)
    _write_if_changed(target, tmp.read_bytes())
    tmp.unlink()
    _write_if_changed(merged_file, json.dumps(sorted(merged | set(produced))).encode("utf-8"))


def _write_rejected(out: Path, rejections: list[Rejection]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(REJECTED_COLUMNS)
    for r in sorted(set(rejections), key=lambda r: (r.source, r.variant, r.defect, r.reason)):
        writer.writerow([r.source, r.variant, r.defect, r.reason])
    _write_if_changed(out / REJECTED_NAME, buf.getvalue().encode("utf-8"))


def _write_if_changed(path: Path, data: bytes) -> None:
    if path.exists() and path.read_bytes() == data:
        return
    atomic_write_bytes(path, data)


def _remove_stale_temp_files(out: Path) -> None:
    """Temp files left by a killed run (``.<name>.<random>.tmp``) are ours to remove."""
    for tmp in out.rglob(".*.tmp"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)


def counts_by_topology(summary: RunSummary) -> dict[str, dict[str, int]]:
    """topology -> {good, acceptable, bad-<defect>..., rejected} counts for the summary."""
    table: dict[str, dict[str, int]] = {}
    for rec in summary.records:
        row = table.setdefault(rec.topology, {})
        key = (
            ("good" if rec.defect == "" else rec.defect)
            if rec.label == "good"
            else f"bad:{rec.defect}"
        )
        row[key] = row.get(key, 0) + 1
    for rej in summary.rejections:
        topo = rej.source.split("/", 1)[0]
        row = table.setdefault(topo, {})
        row["rejected"] = row.get("rejected", 0) + 1
    return table


def default_workers() -> int:
    """Workers used when not given: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)
