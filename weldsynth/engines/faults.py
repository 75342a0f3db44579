"""Test support: kill a worker in the middle of a work unit, once, on request.

A work function calls :func:`before_write` before each file it writes, with the key of its
unit. Without ``$WELDSYNTH_FAULT_DIR`` (every normal run) that is all. With it, a file
``$WELDSYNTH_FAULT_DIR/<key>`` holding a number N is a kill request: the unit's first N
writes go through, and before the next one the request is removed, ``<key>.killed`` is
written (holding the process id) and the process dies (``os._exit``): a crash in the middle
of a unit, once, which an engine's retry or a rerun must repair. The countdown lives in the
request file, so it holds across processes and nothing here keeps state.
"""

from __future__ import annotations

import os
from pathlib import Path

FAULT_ENV = "WELDSYNTH_FAULT_DIR"
"""Folder of kill requests; unset in normal runs."""
EXIT_STATUS = 17
"""Exit status of a process killed on request."""


def before_write(key: str) -> None:
    """Count one write of unit ``key`` against its kill request, if any; die when the
    request's writes are used up."""
    folder = os.environ.get(FAULT_ENV)
    if not folder:
        return
    request = Path(folder) / key
    try:
        left = int(request.read_text(encoding="utf-8").strip() or 0)
    except (OSError, ValueError):
        return
    if left > 0:
        request.write_text(str(left - 1), encoding="utf-8")
        return
    request.with_name(request.name + ".killed").write_text(str(os.getpid()), encoding="utf-8")
    request.unlink(missing_ok=True)
    os._exit(EXIT_STATUS)
