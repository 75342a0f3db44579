"""Work functions for the engine tests: top-level, so every engine can ship them to its
workers (processes forked from the test run, or Ray workers with ``tests/`` on their
``PYTHONPATH``)."""

from __future__ import annotations

import time

from weldsynth.engines import faults


def square_late(unit: int) -> int:
    """``unit`` squared; early units take longest, so units finish out of order."""
    time.sleep(0.002 * (20 - unit % 20))
    return unit * unit


def fail_on_three(unit: int) -> int:
    """``unit``, except that unit 3 raises a ValueError naming it."""
    if unit == 3:
        raise ValueError("unit 3 is bad")
    return unit


def write_twice(unit: int) -> int:
    """Two counted writes (see :func:`weldsynth.engines.faults.before_write`), then ``unit``."""
    faults.before_write(f"unit{unit}")
    faults.before_write(f"unit{unit}")
    return unit
