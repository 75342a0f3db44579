"""``weldsynth import``: point clouds and height images from a scanner to calibrated maps."""

from __future__ import annotations

from pathlib import Path

import click

from weldsynth.core.errors import WeldsynthError
from weldsynth.core.lock import output_lock

_EPILOG = """\b
Examples:
  weldsynth import scans/ --out maps/ --pixel-mm 0.1
  weldsynth import part.pcd line.ply --out maps/ --align none --fill-gaps 0.5
  weldsynth import grid.npy --out maps/ --pixel-mm 0.05 --height-range -1 4
\b
Reads PCD (ascii/binary/binary_compressed), PLY (ascii/binary), XYZ/CSV/TXT (x y z
columns, or one laser profile per row: a height grid in mm with --pixel-mm), NPY/NPZ
(N x 3 points, or a 2-D height grid in mm with --pixel-mm), float or 16-bit TIFF height
images (pitch from a sidecar, --pixel-mm or the TIFF's resolution tags) and calibrated PNG
height maps. Writes OUT/<relative path>.png (grey level 0 = no data) and a .json sidecar
with the calibration (pixel_mm, height_mm, height_offset_mm) and where it came from, so
`weldsynth generate` works in mm on it.
Files that cannot be read are listed in OUT/rejected.csv; the run goes on.
Needs the scan extra: pip install "weldsynth[scan]".
"""


@click.command(name="import", epilog=_EPILOG)
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path, exists=False))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (input folders are mirrored into it).",
)
@click.option(
    "--pixel-mm",
    type=click.FloatRange(min=0.0, min_open=True, max=10.0),
    default=None,
    help="Output pixel size in mm [default: the median point spacing]. Also the pitch of "
    "NPY/TIFF/CSV height grids without a calibration (over a TIFF's resolution tags).",
)
@click.option(
    "--plate-plane",
    type=click.Choice(["remove", "keep"]),
    default="remove",
    show_default=True,
    help="remove: heights above the robustly fitted plate plane; keep: the source z (a "
    "tilted plate stays tilted; the fitted plane is only recorded).",
)
@click.option(
    "--align",
    type=click.Choice(["bead", "none"]),
    default="bead",
    show_default=True,
    help="bead: rotate so the bead runs along x; none: keep the frame's x and y.",
)
@click.option(
    "--fill-gaps",
    "fill_gaps",
    type=click.FloatRange(min=0.0),
    default=None,
    help="Fill no-data gaps up to this many mm wide from measured neighbours, never wider "
    "ones [default: 1.5 x the line pitch or pixel size, whichever is larger].",
)
@click.option(
    "--height-range",
    type=(float, float),
    default=None,
    metavar="LOW HIGH",
    help="Heights in mm mapped to grey levels 1..max [default: the data's range].",
)
@click.option(
    "--bit-depth",
    type=click.Choice(["8", "16"]),
    default="16",
    show_default=True,
    help="PNG bit depth.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the plane fit's random samples.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def command(
    sources: tuple[Path, ...],
    out_dir: Path,
    pixel_mm: float | None,
    plate_plane: str,
    align: str,
    fill_gaps: float | None,
    height_range: tuple[float, float] | None,
    bit_depth: str,
    seed: int,
    quiet: bool,
) -> None:
    """Turn scanner files (point clouds, height images) into calibrated height maps.

    The plate plane is fitted robustly (the bead and outliers do not tilt it) and heights
    are measured above it; the bead is turned to run along x; the points are rasterised on
    a square grid keeping the highest point per cell; isolated spikes are dropped and small
    gaps filled. SOURCES are files or folders (searched recursively).
    """
    from weldsynth.cli.progress import Reporter
    from weldsynth.io.scan.pipeline import ImportOptions
    from weldsynth.io.scan.run import REJECTED, plan_imports, run_imports

    options = ImportOptions(
        pixel_mm=pixel_mm,
        plate_plane=plate_plane,
        align=align,
        fill_gaps_mm=fill_gaps,
        height_range_mm=height_range,
        bit_depth=int(bit_depth),
        seed=seed,
    )
    jobs, rejected = plan_imports(list(sources), out_dir)
    with (
        output_lock(out_dir, "the maps written so far are kept; run the command again"),
        Reporter(quiet=quiet, transient=True) as reporter,
    ):
        report = run_imports(
            jobs, out_dir, options, rejected, progress=reporter.counter("import", len(jobs), "scan")
        )
    if not quiet:
        click.echo(
            f"imported {len(report.written)} scan(s) to {out_dir}; "
            f"{len(report.rejected)} rejected (see {out_dir / REJECTED})"
        )
    if not report.written:
        raise WeldsynthError(f"no scan could be imported; reasons in {out_dir / REJECTED}")
