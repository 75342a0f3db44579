"""``weldsynth balance OUT``: reach a good:bad ratio per topology through the manifest."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from weldsynth.cli.tables import print_table
from weldsynth.core.lock import output_lock
from weldsynth.dataset.balance import (
    DEFAULT_MAX_VARIANTS,
    METHODS,
    BalancePlan,
    apply_plan,
    parse_ratio,
    parse_variant_kinds,
    plan_balance,
)
from weldsynth.dataset.balance.plan import check_plan_size
from weldsynth.io.manifest import read_manifest


@click.command("balance")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--ratio",
    default="1:1",
    show_default=True,
    help="Wanted GOOD:BAD ratio of the rows in use, per topology (e.g. 1:1, 2:3).",
)
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default="oversample",
    show_default=True,
    help="oversample: add label-preserving variants of good images; undersample: "
    "exclude rows of the larger class (status excluded:undersample, nothing "
    "deleted); both: oversample up to --max-variants per image, then "
    "undersample the rest.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of every draw (which images, which variants).",
)
@click.option(
    "--extras",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Bad extras per topology (plate only with the bead removed, and solid "
    "images, in turn), added before balancing. Existing extras count.",
)
@click.option(
    "--augment",
    "augments",
    default="flip",
    show_default=True,
    help="Variant kinds for oversampling, used in turn: flip (= hflip,vflip,hvflip: "
    "mirror images), dropout (2 % of measured pixels set to 0) and brightness "
    "(brightness/contrast change), the seed's two. Only flips add nothing the "
    "bad class lacks: dropout and brightness variants exist in good alone, and "
    "a model learns them as a shortcut for 'good'.",
)
@click.option(
    "--max-variants",
    type=click.IntRange(min=0),
    default=DEFAULT_MAX_VARIANTS,
    show_default=True,
    help="With --method both: variants per good image at most.",
)
@click.option("--dry-run", is_flag=True, help="Show the counts before/after; write nothing.")
@click.option(
    "--force",
    is_flag=True,
    help="Write even when the plan adds more than 10,000 files (refused otherwise, "
    "saying how many files and bytes).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def command(
    out: Path,
    ratio: str,
    method: str,
    seed: int,
    extras: int,
    augments: str,
    max_variants: int,
    dry_run: bool,
    force: bool,
    quiet: bool,
) -> None:
    """Balance good and bad per topology in the data set OUT (OUT/manifest.csv).

    Oversampling writes label-preserving variants of good images next to them (mirror
    images by default; no-data stays no-data, bit depth kept) and adds them to the
    manifest with their parameters, seed, source and split. Undersampling only marks
    rows excluded in the manifest. Nothing is deleted. Deterministic: the same arguments
    give byte-identical files and manifest, and rerunning on a balanced set changes
    nothing.

    \b
    Examples:
      weldsynth balance dataset/                         # oversample good to 1:1
      weldsynth balance dataset/ --ratio 1:2 --method undersample
      weldsynth balance dataset/ --method both --extras 20 --seed 7
      weldsynth balance dataset/ --augment flip,dropout   # the seed's dropouts too
    """
    good_bad = parse_ratio(ratio)
    kinds = parse_variant_kinds(augments)
    kept = "manifest.csv is unchanged; run the same command again to finish"
    with nullcontext() if dry_run else output_lock(out, kept):
        records = read_manifest(out)
        plan = plan_balance(out, records, good_bad, method, seed, extras, max_variants, kinds)
        console = Console()
        if not dry_run:
            check_plan_size(out, plan, force)
        if not dry_run and plan.changes:
            from weldsynth.cli.progress import Reporter

            with Reporter(console, quiet=quiet, transient=True) as reporter:
                apply_plan(out, records, plan, progress=reporter.track("writing variants", "img"))
    print_table(console, balance_table(plan, ratio, dry_run))
    for t in plan.topologies:
        if t.note:
            console.print(f"topology {t.topology}: {t.note}")
    if plan.changes == 0:
        console.print("already balanced: nothing to do")


def balance_table(plan: BalancePlan, ratio: str, dry_run: bool) -> Table:
    verb = "would change" if dry_run else "changed"
    table = Table(title=f"balance {plan.method} to good:bad = {ratio} ({verb})")
    for name in (
        "topology",
        "good\nbefore",
        "bad\nbefore",
        "good\nafter",
        "bad\nafter",
        "new\nfiles",
        "excluded",
        "restored",
    ):
        table.add_column(name, justify="right")
    for t in plan.topologies:
        excluded = sum(1 for s in t.status.values() if s)
        restored = sum(1 for s in t.status.values() if not s)
        table.add_row(
            t.topology,
            str(t.before["good"]),
            str(t.before["bad"]),
            str(t.after["good"]),
            str(t.after["bad"]),
            str(len(t.new)),
            str(excluded),
            str(restored),
        )
    return table
