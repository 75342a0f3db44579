"""``weldsynth info DIR``: how many height maps per topology and class (and, for a data set
with a manifest, per defect and split)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from weldsynth.cli.tables import print_table
from weldsynth.core.errors import WeldsynthError
from weldsynth.dataset.inventory import Inventory, ManifestInventory, manifest_inventory, scan
from weldsynth.io.manifest import manifest_path, read_manifest


@click.command("info")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also save a bar chart of the counts to this PNG file.",
)
def command(folder: Path, plot: Path | None) -> None:
    """Count the height maps in FOLDER per topology and class.

    FOLDER is laid out as FOLDER/<topology>/<class>/*.png (a data set) or
    FOLDER/<topology>/*.png (good welds by topology). Folders starting with "_"
    (masks, quarantine) are not counted. When FOLDER/manifest.csv exists, the counts
    come from it instead: per topology, class, defect and split, rows in use only, plus
    the number of rows left out (undersampled, dropped).

    \b
    Examples:
      weldsynth info samples/
      weldsynth info dataset/ --plot counts.png
    """
    console = Console()
    if manifest_path(folder).is_file():
        minv = manifest_inventory(folder, read_manifest(folder))
        print_table(console, _manifest_table(minv), keys=3)
        left_out = sum(minv.excluded.values())
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(minv.excluded.items()))
        console.print(f"excluded rows: {left_out}" + (f" ({detail})" if detail else ""))
        on_disk = scan(folder).total
        if on_disk != minv.rows:
            console.print(
                f"note: {on_disk} PNG files in class folders, {minv.rows} rows in the manifest"
            )
        inv = minv.to_inventory()
    else:
        inv = scan(folder)
        if inv.total == 0:
            raise WeldsynthError(f"{folder}: no PNG height maps found")
        print_table(console, _table(inv))
    if plot is not None:
        _plot(inv, plot)
        click.echo(f"bar chart written to {plot}")


def _table(inv: Inventory) -> Table:
    table = Table(title=f"{inv.root}: {inv.total} height maps")
    table.add_column("topology", justify="right")
    for cls in inv.classes:
        table.add_column(cls, justify="right")
    table.add_column("total", justify="right", style="bold")
    for topo in inv.topologies:
        row = [inv.count(topo, c) for c in inv.classes]
        table.add_row(topo, *map(str, row), str(sum(row)))
    totals = [sum(inv.count(t, c) for t in inv.topologies) for c in inv.classes]
    table.add_row("all", *map(str, totals), str(inv.total), style="bold")
    return table


def _manifest_table(minv: ManifestInventory) -> Table:
    table = Table(title=f"{minv.root}: {minv.total} rows in use (manifest)")
    for name in ("topology", "class", "defect"):
        table.add_column(name)
    splits = minv.splits
    for s in splits:
        table.add_column(s or "unsplit", justify="right")
    table.add_column("total", justify="right", style="bold")
    for topo, cls, defect in minv.groups():
        row = [minv.count(topo, cls, defect, s) for s in splits]
        table.add_row(topo, cls, defect or "-", *map(str, row), str(sum(row)))
    totals = [sum(n for k, n in minv.counts.items() if k[3] == s) for s in splits]
    table.add_row("all", "", "", *map(str, totals), str(minv.total), style="bold")
    return table


def _plot(inv: Inventory, out: Path) -> None:
    from weldsynth.dataset.plots import plot_counts

    plot_counts(inv, out)
