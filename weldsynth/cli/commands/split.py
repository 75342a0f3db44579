"""``weldsynth split OUT``: grouped, stratified train/val/test split in the manifest."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from weldsynth.cli.tables import print_table
from weldsynth.core.lock import output_lock
from weldsynth.dataset.inventory import natural_key
from weldsynth.dataset.split import (
    SplitError,
    check_fractions,
    fraction_notes,
    split_counts,
    split_dataset,
)
from weldsynth.io.manifest import LABELS, SPLITS, Record


@click.command("split")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--val",
    type=float,
    default=0.2,
    show_default=True,
    help="Fraction of rows for validation, in [0, 1).",
)
@click.option(
    "--test",
    type=float,
    default=0.1,
    show_default=True,
    help="Fraction of rows for test, in [0, 1); val + test < 1.",
)
@click.option(
    "--seed",
    type=int,
    default=42,
    show_default=True,
    help="Seed of the order in which equal-sized groups are placed.",
)
@click.option(
    "--keep-test",
    is_flag=True,
    help="Keep the rows already in test (a fixed test set); re-split the others "
    "into train and val. --test is then ignored.",
)
@click.option(
    "--quiet", "-q", is_flag=True, help="No table or summary line (notes on stderr stay)."
)
def command(
    out: Path, val: float, test: float, seed: int, keep_test: bool, quiet: bool = False
) -> None:
    """Write the split column (train/val/test) of OUT/manifest.csv.

    Rows are grouped by source, per topology: every variant of one good weld lands in the
    same split. Groups are placed so that each split gets its share of good and of bad
    rows (stratified by label where the groups allow it). Deterministic: the same
    arguments give the same split, and rerunning changes nothing.

    \b
    Examples:
      weldsynth split dataset/ --val 0.2 --test 0.1 --seed 42
      weldsynth split dataset/ --val 0.2 --keep-test      # after balancing, fixed test set
    """
    try:
        check_fractions(val, test)
    except SplitError as exc:
        raise click.BadParameter(str(exc)) from exc
    with output_lock(out, "manifest.csv is unchanged"):
        before, after = split_dataset(out, val, test, seed, keep_test)
    changed = sum(1 for a, b in zip(before, after, strict=True) if a.split != b.split)
    console = Console(quiet=quiet)
    print_table(console, split_table(after))
    console.print(f"{changed} row(s) changed split" if changed else "split unchanged")
    for note in fraction_notes(after, val, test, keep_test):
        click.echo(f"note: {note}", err=True)


def split_table(records: list[Record]) -> Table:
    counts = split_counts(records)
    table = Table(title="rows in use per split (good/bad)")
    table.add_column("topology", justify="right")
    splits = [*SPLITS, "-"] if any(k[1] == "-" for k in counts) else list(SPLITS)
    for s in splits:
        table.add_column(s if s != "-" else "unsplit", justify="right")
    topos = sorted({k[0] for k in counts}, key=natural_key)
    for topo in topos:
        cells = ["/".join(str(counts.get((topo, s, lab), 0)) for lab in LABELS) for s in splits]
        table.add_row(topo, *cells)
    return table
