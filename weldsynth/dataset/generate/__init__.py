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

from weldsynth.dataset.generate.calibrate import calibrate_tasks
from weldsynth.dataset.generate.plan import (
    MASKS_DIR,
    REJECTED_COLUMNS,
    REJECTED_NAME,
    STATE_DIR,
    OutputFolderError,
    Rejection,
    RunSummary,
    SourceResult,
    SourceTask,
    item_seed,
    plan_all,
    plan_topology,
)
from weldsynth.dataset.generate.runner import counts_by_topology, default_workers, prepare_out, run
from weldsynth.dataset.generate.worker import run_task

__all__ = [
    "MASKS_DIR",
    "REJECTED_COLUMNS",
    "REJECTED_NAME",
    "STATE_DIR",
    "OutputFolderError",
    "Rejection",
    "RunSummary",
    "SourceResult",
    "SourceTask",
    "calibrate_tasks",
    "counts_by_topology",
    "default_workers",
    "item_seed",
    "plan_all",
    "plan_topology",
    "prepare_out",
    "run",
    "run_task",
]
