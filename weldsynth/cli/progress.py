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
from rich.table import Column
from rich.text import Text

from weldsynth.cli.plain_progress import (
    DEFAULT_EVERY,
    EVERY_ENV,
    PlainProgress,
    PlainTask,
    duration,
    progress_every,
    rate_text,
)

__all__ = [
    "DEFAULT_EVERY",
    "EVERY_ENV",
    "PlainProgress",
    "Reporter",
    "duration",
    "progress_every",
    "rich_bars",
]


class RateColumn(ProgressColumn):
    """Speed of a task in its own unit: ``task.speed`` x field ``scale``, field ``unit``."""

    def render(self, task: Task) -> Text:
        """The rate text of ``task``."""
        scale = task.fields.get("scale", 1) or 1
        speed = task.speed * scale if task.speed else None
        return Text(rate_text(speed, task.fields.get("unit", "")), style="progress.data.speed")


class WhatColumn(ProgressColumn):
    """What a task is doing: its description, and its ``info`` field on a line below
    (wrapped at spaces, so a narrow terminal cuts none of it)."""

    def render(self, task: Task) -> Text:
        """The description and info of ``task``."""
        info = str(task.fields.get("info", "") or "")
        text = Text(task.description)
        if info:
            text.append("\n" + info, style="dim")
        return text

    def get_table_column(self) -> Column:
        """A column that takes the room left and wraps."""
        return Column(ratio=1, no_wrap=False, overflow="fold")


def rich_bars(console: Console, transient: bool = False) -> Progress:
    """The terminal's bars: what runs (and its info below), bar, done/total, rate, elapsed
    and ETA; the numbers keep their width on an 80-column terminal."""
    return Progress(
        WhatColumn(),
        BarColumn(bar_width=10),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
        expand=True,
    )


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
        entry = PlainTask(
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
