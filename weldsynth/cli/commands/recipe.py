"""``weldsynth recipe check|show|init``: validate, print resolved, or start a recipe."""

from __future__ import annotations

from pathlib import Path

import click

from weldsynth.core.topology import topology_ids


@click.group("recipe")
def command() -> None:
    """Check recipes, show them with every default filled in, start your own.

    \b
    Examples:
      weldsynth recipe check recipes/7.yaml
      weldsynth recipe show 7
      weldsynth recipe init --topology 7 --out my.yaml
    """


@command.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    """Validate recipe FILES: one line per file, `ok` or the error naming the field and
    what is allowed. Exit status 0 when every file is valid, 1 when any is not (so a CI
    script that checks recipes fails on a broken one).

    \b
    Example:
      weldsynth recipe check recipes/*.yaml
    """
    from weldsynth.core.errors import WeldsynthError
    from weldsynth.synth.recipe import load_recipe

    failed = 0
    for file in files:
        try:
            recipe = load_recipe(file)
        except WeldsynthError as exc:
            failed += 1
            click.echo(f"error: {exc}", err=True)
            continue
        names = ", ".join(sorted(recipe.defects))
        click.echo(f"{file}: ok (topology {recipe.topology}; {names})")
    if failed:
        raise SystemExit(1)


@command.command("show")
@click.argument("topology", type=int)
@click.option(
    "--recipes",
    "recipes_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder of <topology>.yaml recipes (default: the shipped recipes/).",
)
def show(topology: int, recipes_dir: Path | None) -> None:
    """Print the recipe of TOPOLOGY resolved: plugin defaults and norm filled in.

    \b
    Example:
      weldsynth recipe show 7
    """
    from weldsynth.synth.recipe import dump_yaml, recipe_for_topology, resolved

    click.echo(dump_yaml(resolved(recipe_for_topology(topology, recipes_dir))), nl=False)


@command.command("init")
@click.option(
    "--topology",
    "-t",
    required=True,
    type=click.Choice([str(t) for t in topology_ids()]),
    help="Topology of your welds (the README's topology table lists them).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Recipe file to write.",
)
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
@click.option(
    "--norm",
    "preset",
    default=None,
    help="Judge the defects by this norm preset (weldsynth norm list); sizes in mm straddle "
    "each limit.",
)
@click.option("--t", "t_mm", type=float, default=None, help="With --norm: plate thickness t, mm.")
@click.option(
    "--scan",
    "scan_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="With --norm: a scan calibration (YAML) to embed as the recipe's scan: section.",
)
def init(
    topology: str,
    out: Path,
    force: bool,
    preset: str | None,
    t_mm: float | None,
    scan_file: Path | None,
) -> None:
    """Write a starting recipe for your own data: the shipped recipe of the topology with
    comments explaining each key and listing every defect parameter.

    Edit it for your welds and norm, check it, then generate with it. An existing file is
    kept unless --force; the file is written atomically.

    \b
    Example:
      weldsynth recipe init --topology 7 --out my.yaml
      weldsynth recipe check my.yaml
      weldsynth generate good/7 --recipe my.yaml --out data/
      weldsynth recipe init --topology 3 --norm iso5817-2014-C --t 3 --out iso.yaml
      weldsynth recipe init --topology 3 --scan scan.yaml --norm iso5817-2014-C --t 3 \\
        --out iso.yaml

    With --scan the mm ranges are cut to what can be drawn at the scan's pixel_mm; a limit
    of under 2 px (or grey levels) there is said in a comment and a warning, and a limit
    no drawable size can represent is an error naming the pixel_mm that would do.
    """
    import yaml

    from weldsynth.core.atomic import atomic_write_text
    from weldsynth.core.errors import WeldsynthError
    from weldsynth.synth.recipe import recipe_from_dict
    from weldsynth.synth.recipe_template import starter_recipe

    if out.exists() and not force:
        raise WeldsynthError(f"{out}: already exists; use --force to overwrite it")
    warnings: list[str] = []
    if preset is None:
        if t_mm is not None or scan_file is not None:
            raise WeldsynthError("recipe init: --t and --scan go with --norm PRESET")
        text = starter_recipe(int(topology))
    else:
        from weldsynth.io.calibration import read_scan_file
        from weldsynth.synth.recipe_template import norm_recipe_sizes

        scan = None if scan_file is None else read_scan_file(scan_file).to_dict()
        sized = norm_recipe_sizes(int(topology), preset, t_mm, scan)
        text, warnings = sized.text, sized.warnings
    # what is written must validate: a broken shipped recipe fails here, not in the user's run
    recipe_from_dict(yaml.safe_load(text), source=f"starter recipe for topology {topology}")
    atomic_write_text(out, text)
    for warning in warnings:  # a limit near the scan's resolution
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"wrote {out} (topology {topology}); check it with: weldsynth recipe check {out}")
