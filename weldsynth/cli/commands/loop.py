"""``weldsynth loop DATA --topology T``: train → audit → apply → retrain, with a fixed test set."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from weldsynth.cli.commands.audit import make_config, model_options, pick_topology, progress_bar
from weldsynth.cli.tables import print_table
from weldsynth.core.lock import output_lock


@click.command("loop")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--topology", "-t", default=None, help="Topology (default: the only one).")
@click.option(
    "--iterations",
    type=click.IntRange(1),
    default=3,
    show_default=True,
    help="Audit + apply + retrain rounds at most.",
)
@click.option(
    "--auto",
    "auto",
    type=click.FloatRange(0.0, 1.0),
    default=0.95,
    show_default=True,
    help="Apply flagged suggestions whose confidence (1 - p_given) is at least this.",
)
@click.option(
    "--manual", is_flag=True, help="Stop after each audit for your decisions; resume with --resume."
)
@click.option("--resume", is_flag=True, help="Go on with the loop in OUT.")
@click.option(
    "--folds",
    type=click.IntRange(2),
    default=5,
    show_default=True,
    help="Folds of each audit, grouped by source weld.",
)
@click.option(
    "--seeds",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Repetitions averaged in each audit (each costs --folds models).",
)
@click.option(
    "--top",
    type=click.IntRange(0),
    default=50,
    show_default=True,
    help="Suspects in each report.html.",
)
@click.option(
    "--test",
    "test_pct",
    type=click.FloatRange(0.01, 0.5),
    default=0.15,
    show_default=True,
    help="Test fraction carved (grouped by source) when the topology has no test split yet.",
)
@click.option("--no-cam", is_flag=True, help="Skip Grad-CAM in the audits.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/loop"),
    show_default=True,
    help="Loop folder: iter<k>/train, iter<k>/audit, loop.csv, the loop's state.",
)
@model_options
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def command(
    data: Path,
    topology: str | None,
    iterations: int,
    auto: float,
    manual: bool,
    resume: bool,
    folds: int,
    seeds: int,
    top: int,
    test_pct: float,
    no_cam: bool,
    out: Path,
    quiet: bool,
    **train: object,
) -> None:
    """Iterate train → audit → apply decisions → retrain on one topology of DATA.

    A test set is carved once (grouped by source; an existing test split is kept) and is
    never audited or changed: its error is the loop's yardstick. Iteration 0 trains on
    the data as it is; each next one audits (out-of-fold, as `weldsynth audit`), applies
    decisions as one step of the relabel journal (undoable: `weldsynth relabel undo`)
    and retrains. With --auto T the flagged suggestions of confidence >= T are applied;
    with --manual the loop stops after the audit and prints the commands to apply your
    decisions and resume. It stops early when the test error is not below the best so
    far, or when nothing reaches the threshold. One row per iteration (samples, moved,
    dropped, validation and test error) is printed and written to OUT/loop.csv;
    OUT/summary.html shows it with each round's curves, matrices and mistakes.

    \b
    Examples:
      weldsynth loop dataset/ --topology 7 --iterations 3 --auto 0.95 --out runs/loop7
      weldsynth loop dataset/ -t 7 --manual --out runs/loop7
      weldsynth relabel apply dataset/ decisions.csv
      weldsynth loop dataset/ -t 7 --manual --resume --out runs/loop7
    """
    from rich.console import Console

    from weldsynth.audit.run import AuditSettings
    from weldsynth.pipelines.loop import LoopSettings, run_loop

    cfg = make_config(**train)  # type: ignore[arg-type]
    topo = pick_topology(data, topology)
    console, err = Console(), Console(stderr=True)
    settings = LoopSettings(
        iterations=iterations,
        auto=None if manual else auto,
        test=test_pct,
        split_seed=cfg.seed,
        audit=AuditSettings(
            folds=folds, seeds=seeds, top=top, cams=not no_cam, weights=cfg.weights
        ),
    )

    def say(line: str) -> None:
        (err if line.startswith("warning:") else console).print(
            line, markup=False, highlight=False, soft_wrap=True
        )

    bar, update = progress_bar(quiet, f"topology {topo}: audit fold models (epochs)", console)
    with output_lock(out), output_lock(data), bar:  # the loop relabels DATA
        state = run_loop(
            data,
            topo,
            out,
            cfg,
            settings,
            resume=resume,
            say=say,
            progress=update,
            progress_factory=bar.epochs(cfg.batch_size),
        )
    print_table(console, loop_table(state.rows, topo))
    say(f"table: {out / 'loop.csv'}, summary: {out / 'summary.html'}")


def loop_table(rows: list[dict], topology: str) -> Table:
    """One row per loop iteration: samples, moved, dropped, validation and test error."""
    table = Table(title=f"loop, topology {topology}")
    for name in ("iteration", "samples", "moved", "dropped", "val error", "test error", "note"):
        table.add_column(name, justify="left" if name == "note" else "right")
    for r in rows:
        table.add_row(
            str(r["iteration"]),
            str(r["samples"]),
            str(r["moved"]),
            str(r["dropped"]),
            f"{100 * r['val_error']:.2f}%",
            f"{100 * r['test_error']:.2f}%",
            r["note"],
        )
    return table
