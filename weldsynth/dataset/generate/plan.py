"""Generate's work units: one :class:`SourceTask` per good weld, planned per topology."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from weldsynth.core.errors import WeldsynthError
from weldsynth.core.seeding import derive_seed
from weldsynth.io.calibration import Calibration
from weldsynth.io.inputs import scan_folder
from weldsynth.io.manifest import (
    Record,
)
from weldsynth.synth.recipe import (
    Recipe,
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


class InputClashError(WeldsynthError):
    """Two good welds would be written to the same output path (refused before writing)."""


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
    calibration: Calibration | None = None
    """The source's calibration as found (:func:`~weldsynth.dataset.generate.calibrate.
    calibrate_tasks`), None when uncalibrated; the worker resamples rectangular pixels."""
    keep_unlocated: bool = False
    """Keep the weld as good when no bead is located in it (else it is a rejected input)."""


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
    """Tasks for every PNG in ``good_dir`` (one topology), found by the shared scanner
    (:func:`weldsynth.io.inputs.scan_folder`): what it skips (a dangling symlink, a file
    that is not a PNG) is listed as rejected; hidden files and sidecars are ignored.
    """
    if not good_dir.is_dir():
        raise WeldsynthError(f"{good_dir}: not a folder of good welds")
    scan = scan_folder(good_dir)
    rejections = [
        Rejection(source_id(recipe.topology, file.name), "", "", reason)
        for file, reason in scan.skipped
    ]
    tasks = [
        SourceTask(recipe.topology, file, file.name, recipe, out, by_defect) for file in scan.files
    ]
    refuse_output_clashes(tasks)
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
    refuse_output_clashes(tasks)
    return tasks, rejections


def output_key(name: str) -> str:
    """What a good weld's output names are made of, as a file system may compare it: the
    stem, Unicode NFC-normalised and case-folded (``Dup.PNG``, ``dup.png`` and an NFD
    ``dup.png`` give one key)."""
    return unicodedata.normalize("NFC", Path(name).stem).casefold()


def refuse_output_clashes(tasks: list[SourceTask]) -> None:
    """Refuse, before anything is written, two good welds of one topology whose outputs
    would share a path: the same :func:`output_key` (extension or name case, Unicode form,
    the same name in two folders of the topology), or a weld named like a variant of
    another (``w__hole_00.png`` beside ``w.png``).

    Raises:
        InputClashError: naming both source files.
    """
    seen: dict[tuple[int, str], SourceTask] = {}
    for task in tasks:
        key = (task.topology, output_key(task.name))
        if key in seen:
            raise InputClashError(
                f"{seen[key].file} and {task.file} would both be written as "
                f"{task.topology}/good/{Path(task.name).stem}.png (names differ only in case, "
                "extension or Unicode form, or sit in two folders of one topology); rename "
                "one of them (nothing was written)"
            )
        seen[key] = task
    for (topology, key), task in seen.items():
        for cut in range(1, len(key)):
            base = seen.get((topology, key[:cut]))
            if base is not None and key.startswith("__", cut) and _variant_tail(key[cut + 2 :]):
                raise InputClashError(
                    f"{task.file} has the name of a variant of {base.file} "
                    f"({Path(task.name).stem}.png); rename it (nothing was written)"
                )


def _variant_tail(tail: str) -> bool:
    """True when ``tail`` ends like a variant name's ``<defect>_<two or more digits>``."""
    tag, _, index = tail.rpartition("_")
    return bool(tag) and len(index) >= 2 and index.isdigit()


def source_id(topology: int, name: str) -> str:
    return f"{topology}/{name}"
