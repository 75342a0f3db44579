"""``weldsynth inspect FILE``: where the bead, plates and no-data zones are."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from weldsynth.geometry import WeldGeometry, locate
from weldsynth.geometry.overlay import render_overlay
from weldsynth.io.heightmap import read_heightmap, write_png


@click.command("inspect")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--overlay",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Save a picture with the centreline, bead edges, axis, plates and "
    "no-data zones drawn on the map.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the geometry as JSON (for scripts) instead of a table.",
)
def command(file: Path, overlay: Path | None, as_json: bool) -> None:
    """Locate the bead in one height map and print its geometry.

    Exit status 0 when the bead is found, 1 when it is not (the reason is printed),
    2 when the file cannot be read.

    \b
    Examples:
      weldsynth inspect samples/7/7_0000.png
      weldsynth inspect weld.png --overlay weld-overlay.png
      weldsynth inspect weld.png --json | jq .axis_angle
    """
    hm = read_heightmap(file)
    geo = locate(hm.height)
    if overlay is not None:
        write_png(overlay, render_overlay(hm.height, geo))
    if as_json:
        data = {"file": str(file), "bit_depth": hm.bit_depth, **geo.to_dict()}
        click.echo(json.dumps(data, indent=2))
    else:
        Console().print(_table(file, hm.bit_depth, geo))
        if overlay is not None:
            click.echo(f"overlay written to {overlay}")
    if not geo.found:
        raise SystemExit(1)


def _table(file: Path, bit_depth: int, geo: WeldGeometry) -> Table:
    table = Table(title=str(file), show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    h, w = geo.shape
    table.add_row("size", f"{w} x {h} px, {bit_depth}-bit")
    table.add_row("bead", "found" if geo.found else f"not found: {geo.reason}")
    if geo.path is not None:
        table.add_row("shape", geo.kind)
        if geo.axis_angle is not None:
            table.add_row("axis angle", f"{geo.axis_angle:+.2f} deg")
        table.add_row("length", f"{geo.path.length:.1f} px")
        table.add_row("mean width", f"{geo.path.mean_width:.1f} px")
        x0, y0 = geo.path.start
        x1, y1 = geo.path.end
        table.add_row("start / end", f"({x0:.1f}, {y0:.1f}) / ({x1:.1f}, {y1:.1f})")
        if geo.corners:
            table.add_row("corners", str(len(geo.corners)))
    for plate in geo.plates:
        side = "left (+)" if plate.to_dict()["side"] == "left" else "right (-)"
        table.add_row(f"plate {side}", f"{plate.area} px, mean height {plate.mean_height:.3f}")
    table.add_row(
        "no data", f"{int(geo.nodata_mask.sum())} px ({100.0 * geo.nodata_mask.mean():.1f} %)"
    )
    return table
