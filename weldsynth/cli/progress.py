"""Progress of long steps: live bars on a terminal, plain lines in a log.

One :class:`Reporter` per command. On a terminal it draws rich bars (what it is doing,
done/total, a rate such as images/s, elapsed time and an ETA); when the output is not a
terminal (a CI log, ``| tee``) :class:`PlainProgress` prints one plain line per finished
task (an epoch, a fold model), per new stage, and otherwise at most every
``WELDSYNTH_PROGRESS_SECONDS`` seconds (default 30). Both speak the part of
``rich.progress.Progress`` the lower layers drive (``add_task``, ``update``, ``advance``),
so ``train``'s ``progress_factory`` takes either.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

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


class RateColumn(ProgressColumn):
    """Speed of a task in its own unit: ``task.speed`` x field ``scale``, field ``unit``."""

    def render(self, task: Task) -> Text:
        """The rate text of ``task``."""
        scale = task.fields.get("scale", 1) or 1
        speed = task.speed * scale if task.speed else None
        return Text(rate_text(speed, task.fields.get("unit", "")), style="progress.data.speed")


def rich_bars(console: Console, transient: bool = False) -> Progress:
    """The terminal's bars: description, bar, done/total, rate, info, elapsed, ETA."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        RateColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
    )


@dataclass
class _PlainTask:
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
        self._tasks: dict[int, _PlainTask] = {}
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
        self._tasks[task_id] = _PlainTask(description, total, completed, fields, now, now)
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

    def line(self, task: _PlainTask, now: float) -> str:
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


class Reporter:
    """The progress of one command: bars on a terminal, plain lines otherwise, nothing when
    quiet. A context manager (the bars are drawn while it is open).

    Args:
        console: Where bars and lines go (stdout by default: a log made with ``| tee``
            keeps the lines).
        quiet: Show nothing.
        transient: Terminal bars vanish when done.
        every: Seconds between plain lines (default :func:`progress_every`).
        live: Force bars (True) or plain lines (False); default: bars on a terminal.
    """

    def __init__(
        self,
        console: Console | None = None,
        *,
        quiet: bool = False,
        transient: bool = False,
        every: float | None = None,
        live: bool | None = None,
    ) -> None:
        self.console = console or Console()
        self.live = self.console.is_terminal if live is None else live
        self.bars: Any = None
        if not quiet:
            self.bars = (
                rich_bars(self.console, transient)
                if self.live
                else PlainProgress(self.console, every)
            )

    def __enter__(self) -> Reporter:
        if self.live and self.bars is not None:
            self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live and self.bars is not None:
            self.bars.stop()

    def clear(self) -> None:
        """Remove every task (the next step starts with no bars)."""
        if self.bars is not None:
            for task_id in list(self.bars.task_ids):
                self.bars.remove_task(task_id)

    def print(self, line: str) -> None:
        """One line above the bars (plain text, no markup)."""
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def add(self, label: str, total: float | None = None, unit: str = "", **fields: Any) -> Any:
        """A new task (None when quiet)."""
        if self.bars is None:
            return None
        fields = {"info": "", "unit": unit, "scale": 1, **fields}
        return self.bars.add_task(label, total=total, **fields)

    def counter(self, label: str, total: int | None = None, unit: str = "") -> Callable[..., None]:
        """A ``(done, total)`` callback (the total may change; extra arguments ignored)."""
        task = self.add(label, total, unit)

        def update(done: int, total: int | None = None, *_rest: Any) -> None:
            if task is not None:
                self.bars.update(task, completed=done, total=total)

        return update

    def ticker(self, label: str, total: int | None, unit: str = "") -> Callable[[int], None]:
        """A callback that advances a task of ``total`` by its argument."""
        task = self.add(label, total, unit)
        return lambda n=1: None if task is None else self.bars.update(task, advance=n)

    def track(self, label: str, unit: str = "") -> Callable[[Any], Iterator[Any]]:
        """Wraps a sized iterable: the task advances by one per item."""

        def wrap(items: Any) -> Iterator[Any]:
            tick = self.ticker(label, len(items), unit)
            for item in items:
                yield item
                tick(1)

        return wrap

    def fold_models(self, label: str) -> Callable[[int, int, Any], None]:
        """An audit's ``progress(done, total, step)`` callback (epochs of its fold models;
        the stage is the fold model: one plain line per model)."""
        held: list[Any] = []  # the task, added at the first call

        def update(done: int, total: int, step: Any) -> None:
            if self.bars is None:
                return
            if not held:
                held.append(self.add(label, total))
            task = held[0]
            where, epoch = step.where(), f"epoch {step.epoch}/{step.epochs}"
            if self.live:
                self.bars.update(task, completed=done, total=total, info=f"{where}, {epoch}")
            else:
                self.bars.update(task, completed=done, total=total, stage=where, info=epoch)

        return update

    def epochs(self, batch_size: int = 1, lines: bool = True) -> Callable[[], Any] | None:
        """A ``progress_factory`` for training (one task per epoch, counted in batches; the
        rate in images/s); None when quiet.

        Args:
            batch_size: Images per batch (for the rate).
            lines: One line per finished epoch; False: one bar reused by every epoch (plain
                output: a line every ``every`` seconds only).
        """
        if self.bars is None:
            return None
        return lambda: _EpochBars(self, batch_size, lines)

    def done_line(self, task_id: Any) -> str:
        """The summary line of a finished terminal task."""
        task = next(t for t in self.bars.tasks if t.id == task_id)
        started = 0.0 if task.start_time is None else task.start_time
        entry = _PlainTask(
            task.description, task.total, task.completed, dict(task.fields), started, started
        )
        return PlainProgress(self.console, every=0).line(entry, started + (task.elapsed or 0.0))


@dataclass
class _EpochBars:
    """What ``train``'s fit draws on: each epoch's task; on a terminal the finished epoch's
    bar gives way to one line."""

    reporter: Reporter
    batch_size: int
    lines: bool = True
    _open: list[Any] = field(default_factory=list)

    def __enter__(self) -> _EpochBars:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def add_task(self, description: str, total: float | None = None, **fields: Any) -> Any:
        """A new epoch (the one before it, if any, is closed or reused)."""
        if not self.lines and self._open:
            task = self._open[0]
            self.reporter.bars.reset(task, total=total, description=description, **fields)
            return task
        self._close()
        fields = {**fields, "scale": self.batch_size, "done_line": self.lines}
        task = self.reporter.add(description, total, "img", **fields)
        self._open.append(task)
        return task

    def update(self, task_id: Any, **changes: Any) -> None:
        """As ``rich.progress.Progress.update``."""
        self.reporter.bars.update(task_id, **changes)

    def advance(self, task_id: Any, advance: float = 1) -> None:
        """As ``rich.progress.Progress.advance``."""
        self.reporter.bars.update(task_id, advance=advance)

    def _close(self) -> None:
        if not self.reporter.live:
            self._open.clear()
            return
        while self._open:
            task = self._open.pop()
            if self.lines:
                self.reporter.print(self.reporter.done_line(task))
            self.reporter.bars.remove_task(task)
