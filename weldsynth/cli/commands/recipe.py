"""``weldsynth recipe check|show``: validate a recipe, or print one fully resolved."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("recipe")
def command() -> None:
    """Check recipes and show them with every default filled in.

    \b
    Examples:
      weldsynth recipe check recipes/7.yaml
      weldsynth recipe show 7
    """


@command.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    """Validate recipe FILES; the first error names the file, the field and what is allowed.

    \b
    Example:
      weldsynth recipe check recipes/*.yaml
    """
    from weldsynth.synth.recipe import load_recipe

    for file in files:
        recipe = load_recipe(file)
        names = ", ".join(sorted(recipe.defects))
        click.echo(f"{file}: ok (topology {recipe.topology}; {names})")


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
