"""Render issue 19's terminal captures into docs/img/ (dev tool, not shipped).

* ``issue19-suspects-80-{before,after}.svg``: the audit's top-suspects table on an
  80-column terminal, printed as rich laid it out before (paths cut to the same prefix,
  numbers cut) and through :func:`weldsynth.cli.tables.print_table` after;
* ``issue19-progress-terminal.svg``: the bars of an audit and a training epoch on an
  80-column terminal (what runs, the fold model, done/total, rate, elapsed, ETA);
* ``issue19-progress-log.txt``: the same progress as plain lines, as a CI log or
  ``| tee`` gets them.

The data are made up here (long names that differ only near their end), so the pictures
do not depend on a trained model. Usage (from the repository root)::

    python tools/issue19_terminal.py
"""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

from rich.console import Console

from weldsynth.audit.folds import FoldTally
from weldsynth.cli.commands.audit import SUSPECT_DROP, suspects_table
from weldsynth.cli.progress import PlainProgress, Reporter
from weldsynth.cli.tables import print_table

OUT = Path(__file__).resolve().parents[1] / "docs" / "img"


def _rows() -> list[dict]:
    rows = []
    for k in range(1, 9):
        defect = ("cut", "undercut")[k % 2]
        rows.append(
            {
                "rank": k,
                "path": f"3/bad-{defect}/plant_line_A_station_12_3_{k:04d}__{defect}_04.png",
                "given": "bad",
                "predicted": "good",
                "p_given": 0.0125 * k,
                "loss": 66.5 - 3.25 * k,
                "suggestion": "relabel:good",
            }
        )
    return rows


def _console(width: int = 80) -> Console:
    return Console(width=width, record=True, file=io.StringIO(), force_terminal=True)


def suspects() -> None:
    """The suspects table before and after fitting."""
    table = suspects_table(_rows(), "top suspects, topology 3")
    before = _console()
    before.print(table)
    before.save_svg(str(OUT / "issue19-suspects-80-before.svg"), title="weldsynth audit (before)")
    after = _console()
    print_table(after, table, drop=SUSPECT_DROP)
    after.save_svg(str(OUT / "issue19-suspects-80-after.svg"), title="weldsynth audit (after)")


def progress() -> None:
    """An audit's and a training epoch's progress: bars and plain lines."""
    console = _console()
    reporter = Reporter(console, live=True)
    clock = SimpleNamespace(now=0.0)
    reporter.bars.get_time = lambda: clock.now  # the made-up run's time, not the wall clock
    _drive(reporter, clock)
    console.print(reporter.bars.get_renderable())  # the frame a terminal shows now
    console.save_svg(str(OUT / "issue19-progress-terminal.svg"), title="weldsynth audit")
    log = Console(width=200, file=io.StringIO(), color_system=None)
    clock.now = 0.0
    plain = Reporter(log, live=False)
    plain.bars = PlainProgress(log, every=30, clock=lambda: clock.now)
    _drive(plain, clock)
    (OUT / "issue19-progress-log.txt").write_text(log.file.getvalue())  # type: ignore[attr-defined]


def _drive(reporter: Reporter, clock: SimpleNamespace) -> None:
    """3 folds x 2 seeds of 20 epochs, 4.5 s each; then part of a training epoch."""
    tally = FoldTally(seeds=2, folds=3, epochs=20, progress=reporter.fold_models("audit 3"))
    tally.start()
    for _model in range(4):
        for epoch in range(1, 21):
            clock.now += 4.5
            tally.on_epoch(SimpleNamespace(epoch=epoch))
    factory = reporter.epochs(batch_size=32)
    assert factory is not None
    bars = factory()
    task = bars.add_task("[3] epoch 7/20 (all)", total=40, info="")
    for step in range(25):
        clock.now += 0.4
        bars.update(task, advance=1, **({"info": "loss 0.2143"} if step % 20 == 0 else {}))


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    suspects()
    progress()
    print(f"written to {OUT}")
