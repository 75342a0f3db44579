"""``weldsynth inspect FILE``: where the bead, plates and no-data zones are."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from weldsynth.cli.tables import print_table
from weldsynth.geometry import WeldGeometry, locate
from weldsynth.geometry.dimensions import BeadDimensions, bead_dimensions
from weldsynth.geometry.overlay import render_overlay
from weldsynth.io.calibration import Calibration, find_calibration
from weldsynth.io.heightmap import HeightMap, heightmap_from_pixels, read_heightmap, write_png
from weldsynth.io.resample import resample_calibrated


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
@click.option(
    "--scan",
    "scan_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Scan calibration (YAML: pixel_mm, height_mm...) when FILE has no NAME.json "
    "sidecar or scan.yaml beside it: bead sizes are then in mm.",
)
def command(file: Path, overlay: Path | None, as_json: bool, scan_file: Path | None) -> None:
    """Locate the bead in one height map and print its geometry.

    Bead width, height and length are in mm when the map is calibrated (a NAME.json
    sidecar, a scan.yaml in its folder, or --scan), in pixels (height in grey levels)
    otherwise. A map with rectangular pixels is resampled to square ones first.

    Exit status 0 when the bead is found, 1 when it is not (the reason is printed),
    2 when the file or its calibration cannot be read.

    \b
    Examples:
      weldsynth inspect samples/7/7_0000.png
      weldsynth inspect weld.png --overlay weld-overlay.png
      weldsynth inspect weld.png --json | jq .axis_angle
      weldsynth inspect weld.png --scan scan.yaml
    """
    hm, calibration = _read(file, scan_file)
    geo = locate(hm.height)
    dims = bead_dimensions(hm.height, geo, hm.bit_depth, calibration)
    if overlay is not None:
        write_png(overlay, render_overlay(hm.height, geo, dimensions=dims))
    if as_json:
        data = {"file": str(file), "bit_depth": hm.bit_depth, **geo.to_dict()}
        data["calibration"] = _calibration_dict(calibration)
        data["dimensions"] = None if dims is None else dims.to_dict()
        click.echo(json.dumps(data, indent=2))
    else:
        print_table(Console(), _table(file, hm.bit_depth, geo, dims, calibration))
        if overlay is not None:
            click.echo(f"overlay written to {overlay}")
    if not geo.found:
        raise SystemExit(1)


def _read(file: Path, scan_file: Path | None) -> tuple[HeightMap, Calibration | None]:
    """The map and its calibration, resampled to square pixels when they are not."""
    hm = read_heightmap(file)
    calibration = find_calibration(file, None, scan_file, None, hm.bit_depth)
    if calibration is None or calibration.is_square:
        return hm, calibration
    pixels, calibration = resample_calibrated(hm.to_uint(), calibration)
    return heightmap_from_pixels(pixels, file), calibration


def _calibration_dict(calibration: Calibration | None) -> dict | None:
    if calibration is None:
        return None
    return {**calibration.to_dict(), "source": calibration.source}


def _table(
    file: Path,
    bit_depth: int,
    geo: WeldGeometry,
    dims: BeadDimensions | None = None,
    calibration: Calibration | None = None,
) -> Table:
    table = Table(title=str(file), show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    h, w = geo.shape
    table.add_row("size", f"{w} x {h} px, {bit_depth}-bit")
    if calibration is not None:
        table.add_row("calibration", f"{calibration.pixel_mm:g} mm/px ({calibration.source})")
    table.add_row("bead", "found" if geo.found else f"not found: {geo.reason}")
    for warning in geo.warnings:
        table.add_row("warning", warning)
    if geo.path is not None:
        table.add_row("shape", geo.kind)
        if geo.axis_angle is not None:
            table.add_row("axis angle", f"{geo.axis_angle:+.2f} deg")
        mm = dims is not None and dims.length_unit == "mm"
        length, width = f"{geo.path.length:.1f} px", f"{geo.path.mean_width:.1f} px"
        if dims is not None and mm:
            length, width = f"{dims.length:.2f} mm ({length})", f"{dims.width:.2f} mm ({width})"
        table.add_row("length", length)
        table.add_row("mean width", width)
        if dims is not None:
            exact = ".3f" if dims.height_unit == "mm" else ".0f"
            table.add_row("bead height", f"{dims.height:{exact}} {dims.height_unit}")
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
