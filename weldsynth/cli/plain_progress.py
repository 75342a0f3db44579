"""Progress as plain lines, for output that is not a terminal (a CI log, ``| tee``).

:class:`PlainProgress` speaks the part of ``rich.progress.Progress`` the package drives
(``add_task``, ``update``, ``advance``, ``reset``, ``remove_task``), so whatever takes
rich bars takes it too; :mod:`weldsynth.cli.progress` picks one or the other.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

EVERY_ENV = "WELDSYNTH_PROGRESS_SECONDS"
"""Environment variable: seconds between two plain progress lines of one task."""
DEFAULT_EVERY = 30.0


def progress_every() -> float:
    """Seconds between plain progress lines (``WELDSYNTH_PROGRESS_SECONDS``, default 30)."""
    raw = os.environ.get(EVERY_ENV, "")
    try:
        value = float(raw) if raw.strip() else DEFAULT_EVERY
    except ValueError:
        value = DEFAULT_EVERY
    return value if math.isfinite(value) and value >= 0 else DEFAULT_EVERY


def duration(seconds: float | None) -> str:
    """``seconds`` as "42 s", "3m07s" or "1h02m" ("?" when unknown)."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def rate_text(per_second: float | None, unit: str) -> str:
    """A rate as "12.3 img/s" ("" without a unit or a speed)."""
    if not unit or not per_second:
        return ""
    return f"{per_second:.1f} {unit}/s" if per_second < 100 else f"{per_second:.0f} {unit}/s"


@dataclass
class PlainTask:
    """One task of :class:`PlainProgress`: what rich keeps of it, and when it printed."""

    description: str
    total: float | None
    completed: float = 0.0
    fields: dict[str, Any] = field(default_factory=dict)
    started: float = 0.0
    printed: float = 0.0
    finished: bool = False


class PlainProgress:
    """Progress as plain lines (for output that is not a terminal).

    A line is printed when a task finishes (unless its ``done_line`` field is False), when
    its ``stage`` field changes and otherwise
    at most every ``every`` seconds; it names the task, done/total and percent, the
    ``info`` field, the rate, the elapsed time and an ETA.
    """

    def __init__(
        self,
        console: Console,
        every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.every = progress_every() if every is None else every
        self.clock = clock
        self._tasks: dict[int, PlainTask] = {}
        self._next = 0

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(
        self, description: str, total: float | None = None, completed: float = 0, **fields: Any
    ) -> int:
        """A new task; its id."""
        now = self.clock()
        task_id = self._next
        self._next += 1
        self._tasks[task_id] = PlainTask(description, total, completed, fields, now, now)
        return task_id

    def advance(self, task_id: int, advance: float = 1) -> None:
        """Add ``advance`` to the task's completed count."""
        self.update(task_id, advance=advance)

    @property
    def task_ids(self) -> list[int]:
        """The ids of the tasks (as ``rich.progress.Progress.task_ids``)."""
        return list(self._tasks)

    def remove_task(self, task_id: int) -> None:
        """Forget a task."""
        self._tasks.pop(task_id, None)

    def reset(self, task_id: int, *, total: float | None = None, **fields: Any) -> None:
        """Start a task again from nothing done (no line: a reused task stays quiet until
        ``every`` seconds have passed)."""
        task = self._tasks[task_id]
        task.completed, task.finished, task.started = 0.0, False, self.clock()
        task.total = task.total if total is None else total
        description = fields.pop("description", None)
        task.description = task.description if description is None else description
        task.fields.update(fields)

    def update(
        self,
        task_id: int,
        *,
        total: float | None = None,
        completed: float | None = None,
        advance: float | None = None,
        description: str | None = None,
        **fields: Any,
    ) -> None:
        """Change a task as ``rich.progress.Progress.update`` does; print when due."""
        task = self._tasks[task_id]
        stage = task.fields.get("stage")
        task.total = task.total if total is None else total
        task.completed = task.completed if completed is None else completed
        task.completed += advance or 0
        task.description = task.description if description is None else description
        task.fields.update(fields)
        now = self.clock()
        done = task.total is not None and task.completed >= task.total
        due = now - task.printed >= self.every and task.completed > 0
        closing = done and not task.finished and task.fields.get("done_line", True)
        if closing or due or task.fields.get("stage") != stage:
            task.finished = task.finished or done
            task.printed = now
            self.console.print(self.line(task, now), markup=False, highlight=False, soft_wrap=True)

    def line(self, task: PlainTask, now: float) -> str:
        """The plain line of ``task`` at time ``now``."""
        elapsed = now - task.started
        parts = [task.description]
        if task.fields.get("stage"):
            parts.append(str(task.fields["stage"]))
        if task.total:
            pct = 100 * task.completed / task.total
            parts.append(f"{task.completed:g}/{task.total:g} ({pct:.0f}%)")
        else:
            parts.append(f"{task.completed:g}")
        if task.fields.get("info"):
            parts.append(str(task.fields["info"]))
        speed = task.completed / elapsed if elapsed > 0 else None
        rate = rate_text(
            speed * task.fields.get("scale", 1) if speed else None, task.fields.get("unit", "")
        )
        timing = f"{duration(elapsed)} elapsed"
        if task.total and speed and task.completed < task.total:
            timing += f", eta {duration((task.total - task.completed) / speed)}"
        return ", ".join(p for p in (*parts, rate, timing) if p)
