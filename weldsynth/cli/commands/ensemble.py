"""``weldsynth ensemble MODEL... --data DATA``: each member's error and the committee's."""

from __future__ import annotations

from pathlib import Path

import click

from weldsynth.cli.commands._options import device_option
from weldsynth.cli.tables import print_table


@click.command("ensemble")
@click.argument("models", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--data",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Data set to evaluate on.",
)
@click.option(
    "--mode",
    type=click.Choice(("mean", "vote")),
    default="mean",
    show_default=True,
    help="mean: average the probabilities; vote: majority of the members' labels.",
)
@click.option(
    "--split",
    type=click.Choice(("val", "test", "train", "all")),
    default="val",
    show_default=True,
    help="Which images (the split as the first model's training made it).",
)
@click.option(
    "--topology", "-t", default=None, help="Topology of DATA to use (default: the models' own)."
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the table as JSON here.",
)
@device_option
def command(
    models: tuple[Path, ...],
    data: Path,
    mode: str,
    split: str,
    topology: str | None,
    json_out: Path | None,
    device: str = "auto",
) -> None:
    """Combine trained MODELS (model.pt files or run folders) into a committee.

    Every member and the committee are evaluated on the same images; the table
    shows each one's error (seed 001, chapter 7: the mean of ResNet34, 50 and 101
    beat every single model).

    \b
    Example:
      weldsynth ensemble runs/r34/7 runs/r50/7 runs/r101/7 --data dataset/ --mode mean
    """
    from rich.console import Console
    from rich.table import Table

    from weldsynth.train.checkpoint import load_checkpoint
    from weldsynth.train.ensemble import run_committee
    from weldsynth.train.reports import write_json

    members = [load_checkpoint(m, device=device) for m in models]
    result = run_committee(members, data, split, mode, topology)
    err = Console(stderr=True)
    for line in result.warnings:
        err.print(f"warning: {line}", markup=False, highlight=False, soft_wrap=True)
    for file, reason in result.failures:
        err.print(f"skipped {file}: {reason}", markup=False, highlight=False, soft_wrap=True)
    n = len(result.items)
    errors = result.member_errors()
    rows = [
        {"model": name, "arch": m.meta["arch"], "error_rate": e}
        for name, m, e in zip(result.names, members, errors, strict=True)
    ]
    rows.append(
        {"model": f"committee ({mode})", "arch": "", "error_rate": result.committee_error()}
    )
    table = Table(title=f"{split} split: {n} images")
    table.add_column("model", overflow="fold")
    table.add_column("arch")
    table.add_column("error %", justify="right")
    table.add_column("wrong", justify="right")
    for k, row in enumerate(rows):
        style = "bold" if k == len(rows) - 1 else None
        table.add_row(
            row["model"],
            row["arch"],
            f"{100 * row['error_rate']:.2f}",
            str(round(row["error_rate"] * n)),
            style=style,
        )
    print_table(Console(), table, drop=("arch",))
    if json_out is not None:
        write_json(
            json_out,
            {
                "data": str(data),
                "split": split,
                "mode": mode,
                "images": n,
                "classes": result.classes,
                "rows": rows,
            },
        )
