"""``weldsynth demo``: the whole pipeline on the bundled samples, into a fresh folder.

The steps live in :mod:`weldsynth.pipelines.demo`; this module runs them and renders each
step's result as a table.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from weldsynth.cli.tables import print_table


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("weldsynth-demo"),
    show_default=True,
    help="Output folder. Replaced if it holds an earlier demo; a non-empty folder "
    "of anything else is refused.",
)
@click.option(
    "--samples",
    "samples_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Good welds as SAMPLES/<topology>/*.png (default: the bundled samples/).",
)
def command(out: Path, samples_dir: Path | None) -> None:
    """Run weldsynth end to end on the bundled good-weld samples.

    \b
    Steps, each writing into OUT:
      1. good welds          OUT/good/<topology>/*.png
      2. locate the bead     OUT/inspect/ overlays, OUT/geometry.csv
      3. generate defects    OUT/data/ (ImageFolder, masks, manifest.csv, rejected.csv)
      4. norm                one defect drawn acceptable (good) and rejectable (bad) on
                             the same weld under ISO 5817 level C (t 3 mm, 0.1 mm/px
                             assumed): OUT/norm/acceptable_vs_rejectable.png, and a line
                             with both measures in mm, the verdicts and the rule
      5. balance good:bad    1:1 by label-preserving variants of good welds
      6. split               train/val/test grouped by source weld
      7. plant data          20 procedural welds of topology 3 -> OUT/plant/data, with
                             8 % of the train/val labels flipped on purpose (a relabel
                             step, listed in OUT/plant/injected.csv)
      8. loop                train (OUT/loop/iter0/train/model.pt; its test error next to
                             the seed's ResNet18 figure) -> audit (report.html in
                             OUT/loop/iter1/audit/; its precision and recall on the
                             flipped labels printed) -> apply -> retrain: OUT/loop/loop.csv

    It trains WeldNet, the small CNN that learns from scratch (64x176 input, 20 epochs,
    3 folds, 1 seed). Measured: 66 s on 2 CPU cores (bench/results/defaults.json,
    "demo"); the time depends on the machine and its load, and each long step shows its
    progress.

    \b
    Example:
      weldsynth demo --out weldsynth-demo
    """
    from weldsynth.cli.progress import Reporter
    from weldsynth.pipelines.demo import bundled_samples_dir, demo_steps, prepare_output

    console = Console()
    started = time.perf_counter()
    source = samples_dir or bundled_samples_dir()
    prepare_output(out, [source] if source is not None else [])
    with Reporter(console, transient=True) as reporter:
        steps = demo_steps(out, samples_dir, progress=reporter)
        for number, (key, title, step) in enumerate(steps, start=1):
            t0 = time.perf_counter()
            if not reporter.live:
                reporter.print(f"{number}/{len(steps)} {title}...")
            reporter.add(f"{number}/{len(steps)} {title}")
            done = step()
            reporter.clear()
            seconds = time.perf_counter() - t0
            console.print(
                f"[bold]{number}/{len(steps)} {title}[/] ({seconds:.1f} s): {done.message}"
            )
            table = _table(key, done.result)
            if table is not None:
                print_table(console, table)
    console.print(f"done in {time.perf_counter() - started:.1f} s -> {out}")


def _table(key: str, result: Any) -> Table | None:
    """The table of one step's result (None for steps without one)."""
    if result is None:
        return None
    if key == "locate":
        return _geometry_table(result)
    if key == "balance":
        from weldsynth.cli.commands.balance import balance_table

        return balance_table(result, "1:1", False)
    if key == "split":
        from weldsynth.cli.commands.split import split_table

        return split_table(result)
    if key == "audit":
        from weldsynth.cli.commands.audit import suspects_table

        return suspects_table(result, "top suspects")
    if key == "loop":
        from weldsynth.cli.commands.loop import loop_table
        from weldsynth.pipelines.demo import DEMO_TOPOLOGY

        return loop_table(result.rows, DEMO_TOPOLOGY)
    return None


def _geometry_table(rows: list[dict]) -> Table:
    from weldsynth.dataset.inventory import natural_key

    table = Table(title="geometry per topology")
    for col in ("topology", "maps", "found", "kind", "mean width px"):
        table.add_column(col, justify="right")
    topologies = sorted({r["topology"] for r in rows}, key=natural_key)
    for topo in topologies:
        sel = [r for r in rows if r["topology"] == topo]
        found = [r for r in sel if r["found"]]
        kinds = ",".join(sorted({r["kind"] for r in found})) or "-"
        width = (sum(r["mean_width"] for r in found) / len(found)) if found else float("nan")
        table.add_row(topo, str(len(sel)), str(len(found)), kinds, f"{width:.1f}")
    return table
