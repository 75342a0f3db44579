"""The calibration of every good weld of a generate run, found before anything is written.

Each source's calibration is looked up in the main process, once, with the input paths as
the user gave them (:func:`weldsynth.io.calibration.find_calibration`: a sidecar next to
the PNG, a ``scan.yaml`` from its folder up to the input root, ``--scan FILE``, the
recipe's ``scan:`` section), so a bad calibration stops the run before the first write and
the manifest's ``calibration`` column does not depend on the engine.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from weldsynth.core.errors import HeightMapError
from weldsynth.dataset.generate.plan import SourceTask
from weldsynth.io.calibration import find_calibration
from weldsynth.io.heightmap import png_bit_depth
from weldsynth.synth.recipe_norm import require_calibration


def calibrate_tasks(
    tasks: list[SourceTask], root: Path, scan_file: Path | None = None
) -> list[SourceTask]:
    """``tasks`` with each one's calibration filled in (None where there is none).

    Args:
        tasks: The planned work units.
        root: The input root (``GOOD_DIR``): ``scan.yaml`` files are looked for up to it.
        scan_file: ``--scan FILE``, or None.

    Raises:
        CalibrationError: A calibration found is unreadable or out of range (one line
            naming the file, the field, the value and the allowed range).
    """
    out = []
    for task in tasks:
        try:
            depth = png_bit_depth(task.file)
        except (OSError, HeightMapError):
            depth = 16  # the worker rejects the file itself; its calibration is moot
        found = find_calibration(task.file, root, scan_file, task.recipe.scan, depth)
        require_calibration(task.recipe, found, str(task.file))  # the norm's mm: before writes
        out.append(replace(task, calibration=found) if found is not None else task)
    return out
