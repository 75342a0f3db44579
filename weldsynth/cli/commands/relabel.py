"""``weldsynth relabel apply|undo|log DATA``: journaled, undoable review decisions."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from weldsynth.cli.tables import print_table
from weldsynth.core.lock import output_lock
from weldsynth.dataset.relabel.journal import Journal, Outcome, Step, open_journal

_DATA = click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
_KEPT = "an unfinished step is rolled back by the next relabel command"


@click.group("relabel")
def command() -> None:
    """Apply review decisions (keep / move / drop) to a data set, undoably.

    Decisions come as a CSV with columns path, decision, to, sha256 (what report.html
    exports). Every apply and undo is a step of the append-only journal
    DATA/.weldsynth/journal.jsonl, written before any file is touched. Files are only
    renamed: moves go to the sibling class folder, drops to DATA/_quarantine/ (status
    "dropped"); nothing is ever deleted. A decision whose file changed since the audit
    (sha256) refuses the whole file. Applying the same decisions twice changes nothing.
    A step interrupted by a crash is rolled back by the next relabel command.

    \b
    Examples:
      weldsynth relabel apply dataset/ decisions.csv
      weldsynth relabel log dataset/
      weldsynth relabel undo dataset/              # revert the last step
      weldsynth relabel undo dataset/ --to 0       # revert every step
    """


@command.command("apply")
@_DATA
@click.argument("decisions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def apply_cmd(data: Path, decisions: Path) -> None:
    """Apply the decisions CSV DECISIONS to the data set DATA as one journal step.

    All decisions are checked first (known manifest path inside DATA, keep/move/drop,
    target class good, bad or bad-<defect>, unchanged sha256, free target); any problem
    refuses the file and nothing is applied. A move to the class the file is already in
    counts as keep.

    \b
    Example:
      weldsynth relabel apply dataset/ audit/decisions.csv
    """
    with output_lock(data, _KEPT), open_journal(data) as journal:
        _print_recovered(journal)
        outcome = journal.apply(decisions)
    click.echo(_apply_line(outcome))


@command.command("undo")
@_DATA
@click.option(
    "--to",
    "to",
    type=click.IntRange(min=0),
    default=None,
    metavar="STEP",
    help="Revert every step in effect after STEP (0: all of them). "
    "Default: the last step in effect.",
)
def undo_cmd(data: Path, to: int | None) -> None:
    """Revert the last relabel step of DATA (or back to --to STEP), as a new step.

    Files are moved back and manifest.csv is restored byte for byte; if another command
    rewrote the manifest since, only the fields relabel changed (path, label, defect,
    status) are reverted and the rest is kept. The journal keeps every step.

    \b
    Examples:
      weldsynth relabel undo dataset/
      weldsynth relabel undo dataset/ --to 2
    """
    with output_lock(data, _KEPT), open_journal(data) as journal:
        _print_recovered(journal)
        outcome = journal.undo(to)
    step = outcome.step
    assert step is not None
    how = (
        "manifest.csv restored byte for byte"
        if outcome.byte_exact
        else "manifest.csv changed since by another command: reverted path, label, defect "
        "and status of the rows, kept the rest"
    )
    click.echo(
        f"step {step.step}: {step.describe()}: moved back {len(step.changes)} file(s); {how}"
    )


@command.command("log")
@_DATA
def log_cmd(data: Path) -> None:
    """List the relabel steps of DATA: what each did and whether it is still in effect.

    \b
    Example:
      weldsynth relabel log dataset/
    """
    with output_lock(data, _KEPT), open_journal(data) as journal:
        _print_recovered(journal)
        steps = journal.steps()
    if not steps:
        click.echo("no relabel steps yet")
        return
    print_table(Console(), _table(steps), drop=("time (UTC)", "kept"))


def _print_recovered(journal: Journal) -> None:
    for line in journal.recovered:
        click.echo(line)


def _apply_line(outcome: Outcome) -> str:
    plan = outcome.plan
    assert plan is not None
    if outcome.step is None:
        return f"nothing to change: all {plan.total} decision(s) are already in effect"
    step = outcome.step
    text = (
        f"step {step.step}: moved {step.count('move')}, dropped {step.count('drop')}, "
        f"kept {len(step.kept)} ({step.decisions_file})"
    )
    if plan.unchanged:
        text += f"; {plan.unchanged} decision(s) already in effect"
    return text


def _table(steps: list[Step]) -> Table:
    table = Table(title="relabel journal")
    for name, justify in (
        ("step", "right"),
        ("time (UTC)", "left"),
        ("what", "left"),
        ("moved", "right"),
        ("dropped", "right"),
        ("kept", "right"),
        ("state", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for s in steps:
        state = s.state
        if s.undone_by is not None:
            state = f"undone by step {s.undone_by}"
        moved = s.count("move") + s.count("undo")
        table.add_row(
            str(s.step),
            s.time.replace("+00:00", ""),
            s.describe(),
            str(moved),
            str(s.count("drop")),
            str(len(s.kept)),
            state,
        )
    return table
