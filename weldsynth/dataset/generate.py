"""Dataset generation: good welds + recipe -> labelled ImageFolder, masks and manifest.

The work unit is one good weld (a :class:`SourceTask`): it is read and located once, copied
into ``good``, and its variants are drawn, each from its own generator seeded from
(recipe seed, topology, source name, variant). Output is therefore byte-identical whatever
the number of workers or the order of work.

Reliability:

* every file is written atomically (temp file + rename);
* a source counts as done only when a small record of its rows is written, after its
  images, under ``OUT/.weldsynth/done/``; a killed run resumes from those records, redoing
  (with identical bytes) only the sources that had no record;
* ``manifest.csv`` and ``rejected.csv`` are assembled from the records at the end, sorted,
  so a killed and resumed run ends with exactly the files of an uninterrupted one;
* unreadable inputs and rejected draws never stop the run: they go to ``rejected.csv``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from weldsynth import __version__
from weldsynth.core.errors import HeightMapError, WeldsynthError
from weldsynth.core.seeding import derive_seed
from weldsynth.engines import faults
from weldsynth.engines.base import Executor, get_executor
from weldsynth.io.heightmap import atomic_write_bytes, encode_png, read_heightmap, write_png
from weldsynth.io.manifest import (
    MANIFEST_NAME,
    Record,
    read_manifest,
    safe_join,
    write_manifest,
)
from weldsynth.synth.recipe import (
    Recipe,
    acceptable_defects,
    dump_yaml,
    resolved,
    variant_defect,
)

STATE_DIR = ".weldsynth"
REJECTED_NAME = "rejected.csv"
REJECTED_COLUMNS = ("source", "variant", "defect", "reason")
MASKS_DIR = "_masks"
VERDICTS = {"bad": "reject", "good": "accept"}
"""Kind of variant -> the verdict its plugin draws (bad variants are all rejectable draws,
acceptable variants, written to ``good``, all acceptable ones)."""


class OutputFolderError(WeldsynthError):
    """The output folder cannot be used (foreign content, or made with another recipe)."""


@dataclass(frozen=True)
class Rejection:
    """One line of ``rejected.csv``."""

    source: str
    variant: str
    defect: str
    reason: str


@dataclass(frozen=True)
class SourceTask:
    """All the work derived from one good weld."""

    topology: int
    file: Path
    name: str
    recipe: Recipe
    out: Path
    by_defect: bool


@dataclass
class SourceResult:
    """What a task produced (also the content of its done record)."""

    records: list[Record] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    skipped: bool = False


@dataclass
class RunSummary:
    """Totals of a generate run, for the summary table."""

    out: Path
    records: list[Record]
    rejections: list[Rejection]
    sources_done_before: int = 0
    sources_run: int = 0


def item_seed(seed: int, topology: int, name: str, variant: int) -> int:
    """The integer seed of one variant (what the manifest's ``seed`` column holds)."""
    return derive_seed(seed, topology, name, variant)


# --------------------------------------------------------------------------- planning
def plan_topology(
    good_dir: Path, recipe: Recipe, out: Path, by_defect: bool
) -> tuple[list[SourceTask], list[Rejection]]:
    """Tasks for every file in ``good_dir`` (one topology).

    Hidden files and the JSON truth sidecars of procedural samples are ignored; any other
    file that is not a PNG is listed as rejected.
    """
    if not good_dir.is_dir():
        raise WeldsynthError(f"{good_dir}: not a folder of good welds")
    tasks: list[SourceTask] = []
    rejections: list[Rejection] = []
    for file in sorted(good_dir.iterdir()):
        if file.name.startswith(".") or file.is_dir():
            continue
        if file.suffix.lower() == ".json" and file.with_suffix(".png").exists():
            continue  # truth sidecar of a procedural sample
        if file.suffix.lower() != ".png":
            rejections.append(
                Rejection(_source_id(recipe.topology, file.name), "", "", "not a PNG file")
            )
            continue
        tasks.append(SourceTask(recipe.topology, file, file.name, recipe, out, by_defect))
    return tasks, rejections


def plan_all(
    good_root: Path, recipes: dict[int, Recipe], out: Path, by_defect: bool
) -> tuple[list[SourceTask], list[Rejection]]:
    """Tasks for ``good_root/<topology>/`` for every topology that has a recipe."""
    tasks: list[SourceTask] = []
    rejections: list[Rejection] = []
    for sub in sorted(p for p in good_root.iterdir() if p.is_dir() and p.name[:1] != "."):
        if not sub.name.isdigit() or int(sub.name) not in recipes:
            rejections.append(
                Rejection(sub.name + "/", "", "", "folder is not a topology with a recipe")
            )
            continue
        t, r = plan_topology(sub, recipes[int(sub.name)], out, by_defect)
        tasks += t
        rejections += r
    return tasks, rejections


# --------------------------------------------------------------------------- one source
def run_task(task: SourceTask) -> SourceResult:
    """Do (or skip, when its record exists) all the work of one good weld."""
    record_file = _record_file(task)
    if record_file.exists():
        result = _read_record(record_file)
        result.skipped = True
        return result
    source = _source_id(task.topology, task.name)
    try:
        hm = read_heightmap(task.file)
    except HeightMapError as exc:
        return SourceResult(rejections=[Rejection(source, "", "", exc.reason)])

    from weldsynth.geometry import locate

    result = SourceResult()
    pixels = hm.to_uint()
    stem = Path(task.name).stem
    good_rel = f"{task.topology}/good/{stem}.png"
    result.records.append(
        _write_image(
            task, good_rel, pixels, source=good_rel, label="good", defect="", params={}, seed=""
        )
    )
    geometry = locate(hm.height)
    recipe = task.recipe
    plans = _variant_plan(recipe)
    if not geometry.found and plans:
        result.rejections.append(
            Rejection(source, "*", "", f"no bead located: {geometry.reason}; no variants drawn")
        )
        _write_record(record_file, result)
        return result
    plugins: dict[tuple[str, str], Any] = {}
    for variant, kind in plans:
        seed = item_seed(recipe.seed, task.topology, task.name, variant)
        rng = np.random.default_rng(seed)
        name = _pick_defect(recipe, kind, rng)
        key = (name, kind)
        if key not in plugins:
            plugins[key] = variant_defect(recipe, name, VERDICTS[kind])
        out = plugins[key](pixels, rng, geometry)
        tag = _acceptable_name(name) if kind == "good" else name
        if not out.ok:
            result.rejections.append(Rejection(source, str(variant), tag, out.reason))
            continue
        label = out.label
        folder = "good" if label == "good" else (f"bad-{name}" if task.by_defect else "bad")
        fname = f"{stem}__{tag}_{variant:02d}.png"
        rel = f"{task.topology}/{folder}/{fname}"
        mask_rel = f"{task.topology}/{MASKS_DIR}/{fname}"
        write_png(safe_join(task.out, mask_rel), out.mask.astype(np.uint8) * 255)
        result.records.append(
            _write_image(
                task,
                rel,
                out.height,
                source=good_rel,
                label=label,
                defect=tag if label == "good" else name,
                params=out.params.to_dict(),
                seed=str(seed),
                mask=mask_rel,
            )
        )
    _write_record(record_file, result)
    return result


def _variant_plan(recipe: Recipe) -> list[tuple[int, str]]:
    """(variant index, kind) of every variant: ``variants`` bad ones, then ``acceptable``
    good ones when a defect of the recipe draws acceptable variants (none otherwise)."""
    bad = [(v, "bad") for v in range(recipe.variants)] if recipe.defects else []
    good = (
        [(recipe.variants + a, "good") for a in range(recipe.acceptable)]
        if acceptable_defects(recipe)
        else []
    )
    return bad + good


def _pick_defect(recipe: Recipe, kind: str, rng: np.random.Generator) -> str:
    """The defect of one variant, drawn by weight among those that can make its kind (a
    single candidate of an acceptable variant is taken without a draw)."""
    if kind == "bad":
        names = sorted(n for n, e in recipe.defects.items() if e.weight > 0)
    else:
        names = acceptable_defects(recipe)
        if len(names) == 1:
            return names[0]
    weights = np.array([recipe.defects[n].weight for n in names], float)
    if weights.sum() <= 0:
        weights = np.ones(len(names))
    return str(rng.choice(names, p=weights / weights.sum()))


def _acceptable_name(name: str) -> str:
    from weldsynth.synth.defects.rule import acceptable_name

    return acceptable_name(name)


def _write_image(
    task: SourceTask,
    rel: str,
    pixels: np.ndarray,
    *,
    source: str,
    label: str,
    defect: str,
    params: dict[str, Any],
    seed: str,
    mask: str = "",
) -> Record:
    data = encode_png(pixels, rel)
    faults.before_write(f"{task.topology}_{task.name}")  # test hook: nothing in a normal run
    atomic_write_bytes(safe_join(task.out, rel), data)
    digest = hashlib.sha256(data).hexdigest()  # of the bytes written: no read-back
    return Record(
        path=rel,
        topology=str(task.topology),
        label=label,
        defect=defect,
        source=source,
        params=json.dumps(params, sort_keys=True),
        seed=seed,
        mask=mask,
        sha256=digest,
    )


def _source_id(topology: int, name: str) -> str:
    return f"{topology}/{name}"


def _record_file(task: SourceTask) -> Path:
    return task.out / STATE_DIR / "done" / str(task.topology) / f"{task.name}.json"


def _write_record(path: Path, result: SourceResult) -> None:
    data = {
        "records": [asdict(r) for r in result.records],
        "rejections": [asdict(r) for r in result.rejections],
    }
    atomic_write_bytes(path, json.dumps(data, sort_keys=True).encode("utf-8"))


def _read_record(path: Path) -> SourceResult:
    data = json.loads(path.read_text(encoding="utf-8"))
    return SourceResult(
        records=[Record(**r) for r in data["records"]],
        rejections=[Rejection(**r) for r in data["rejections"]],
    )


# --------------------------------------------------------------------------- the run
def prepare_out(out: Path, recipes: dict[int, Recipe], by_defect: bool, force: bool) -> None:
    """Check the output folder can be used, then write the run state and resolved recipes.

    Raises:
        OutputFolderError: ``out`` holds files that are not a weldsynth output (unless
            ``force``), or a weldsynth output made with other recipes or options.
    """
    state = out / STATE_DIR / "run.json"
    wanted = {
        "by_defect": by_defect,
        "recipes": {str(t): resolved(r) for t, r in sorted(recipes.items())},
    }
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"{out}: exists and is not a folder")
    if state.exists():
        have = json.loads(state.read_text(encoding="utf-8"))
        mine = {k: have.get(k) for k in wanted}
        if mine != wanted:
            raise OutputFolderError(
                f"{out}: was generated with other recipes or options; use a new --out "
                "folder (nothing was changed)"
            )
    elif out.exists() and any(out.iterdir()) and not force:
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
            produced[_source_id(task.topology, task.name)] = result.records
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
