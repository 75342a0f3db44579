"""``weldsynth samples``: write procedural good welds (PNG + JSON truth) per topology."""

from __future__ import annotations

from pathlib import Path

import click

from weldsynth.core.topology import topology_ids
from weldsynth.synth.samples.knobs import CLUTTER_LEVELS

_EPILOG = """\b
Examples:
  weldsynth samples --topology 7 -n 50 --out good/ --seed 0
  weldsynth samples --all -n 20 --out good/ --bit-depth 8
  weldsynth samples --topology 3 -n 40 --out cluttered/ --clutter realistic
\b
Writes OUT/<topology>/<topology>_<index>.png and a .json truth sidecar next to each
(bead path, widths, plates, every drawn knob). The same seed gives byte-identical files.
--clutter realistic|heavy adds what a plant's good welds carry (ripples, spatter on the
plate, scanner noise, dropouts, shadows, a tilted or warped part); the welds stay good.
"""


@click.command(name="samples", epilog=_EPILOG)
@click.option(
    "--topology",
    "-t",
    "topologies",
    multiple=True,
    type=click.Choice([str(t) for t in topology_ids()]),
    help="Topology to generate (repeatable).",
)
@click.option("--all", "all_topologies", is_flag=True, help="Generate every topology.")
@click.option(
    "-n",
    "--count",
    "n",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Welds per topology.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Base seed; sample i of topology t uses SeedSequence([seed, t, i]).",
)
@click.option(
    "--bit-depth",
    type=click.Choice(["8", "16"]),
    default="16",
    show_default=True,
    help="PNG bit depth.",
)
@click.option(
    "--start", type=click.IntRange(min=0), default=0, show_default=True, help="First sample index."
)
@click.option(
    "--clutter",
    type=click.Choice(CLUTTER_LEVELS),
    default="none",
    show_default=True,
    help="Clutter of good welds (none: the clean welds, as before).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def command(
    topologies: tuple[str, ...],
    all_topologies: bool,
    n: int,
    out_dir: Path,
    seed: int,
    bit_depth: str,
    start: int,
    quiet: bool,
    clutter: str = "none",
) -> None:
    """Generate procedural good weld height maps with exact truth.

    Each topology of the seed (2, 3, 4, 5, 7, 8, 9, 10, 11) has its own look: plates
    visible or not, bead length, shadows, square beads for 7.
    """
    from weldsynth.cli.progress import Reporter
    from weldsynth.synth.samples import write_samples

    if all_topologies and topologies:
        raise click.UsageError("give either --topology or --all, not both")
    if not all_topologies and not topologies:
        raise click.UsageError("give --topology T (repeatable) or --all")
    chosen = list(topology_ids()) if all_topologies else sorted({int(t) for t in topologies})
    total = len(chosen) * n
    with Reporter(quiet=quiet, transient=True) as reporter:
        paths = write_samples(
            out_dir,
            chosen,
            n,
            seed,
            bit_depth=int(bit_depth),
            progress=reporter.counter("samples", total, "map"),
            start=start,
            clutter=clutter,
        )
    if not quiet:
        click.echo(f"wrote {len(paths)} samples ({len(chosen)} topologies) to {out_dir}")
