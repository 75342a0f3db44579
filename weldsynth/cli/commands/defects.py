"""``weldsynth defects list|show``: the registered defect plugins and a gallery of each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from weldsynth.cli.tables import print_table
from weldsynth.core.errors import WeldsynthError

_EPILOG = """\b
Examples:
  weldsynth defects list
  weldsynth defects show hole --input samples/4/4_0000.png --out hole.png -n 8 --seed 0
  weldsynth defects show cut --input weld.png --out cut.png --set length=2,30 --set p_acceptable=0.5
  weldsynth defects show --all --input samples/4/4_0000.png --out docs/defects.png -n 4
"""


@click.group("defects", epilog=_EPILOG)
def command() -> None:
    """List the defect plugins and draw galleries of them.

    \b
    Examples:
      weldsynth defects list
      weldsynth defects show hole --input samples/4/4_0000.png --out hole.png
    """


@command.command(
    "list",
    epilog="""\b
Examples:
  weldsynth defects list
  weldsynth defects list --json | jq '.[].name'
""",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of a table."
)
def list_command(as_json: bool) -> None:
    """Table of the registered defects: name, label, parameters with ranges, description.

    Third-party plugins registered through the ``weldsynth.defects`` entry-point group are
    listed too (their source column says which entry point).
    """
    from weldsynth.synth.defects.registry import defect_source, get_defect, list_defects

    rows = []
    for name in list_defects():
        cls = get_defect(name)
        rows.append(
            {
                "name": name,
                "labels": list(cls.labels()),
                "description": cls.description,
                "source": defect_source(name),
                "parameters": cls.Config.describe(),
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=_json_default))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="weldsynth defects", show_lines=True)
    table.add_column("name", style="bold")
    table.add_column("label")
    table.add_column("parameters (default, allowed)")
    table.add_column("description")
    for row in rows:
        params = "\n".join(_describe(p) for p in row["parameters"])
        source = "" if row["source"].startswith("weldsynth.") else f"\n[dim]{row['source']}[/dim]"
        table.add_row(row["name"], " / ".join(row["labels"]), params, row["description"] + source)
    print_table(Console(), table)


@command.command("show", epilog=_EPILOG)
@click.argument("name", required=False)
@click.option(
    "--input",
    "input_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Good weld height map (PNG).",
)
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Gallery PNG to write.",
)
@click.option(
    "-n",
    "--count",
    "n",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Draws per defect.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Draw i of defect NAME uses SeedSequence([seed, crc32(NAME), i]).",
)
@click.option("--all", "all_defects", is_flag=True, help="One row per registered defect.")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Config value for NAME, e.g. radius=2,5 or depth=0.8 (repeatable).",
)
@click.option(
    "--geometry",
    "geometry_source",
    type=click.Choice(["locate", "truth"]),
    default="locate",
    show_default=True,
    help="Find the bead with geometry.locate, or read the sample's .json truth "
    "sidecar (files written by `weldsynth samples`).",
)
def show_command(
    name: str | None,
    input_file: Path,
    out_file: Path,
    n: int,
    seed: int,
    all_defects: bool,
    settings: tuple[str, ...],
    geometry_source: str,
) -> None:
    """Draw NAME (or --all defects) N times on one good weld: before / after / mask.

    One defect: a row per draw (before, after with its label and params, mask). With --all:
    a row per defect, before and N "after" panels with the changed pixels outlined in red.
    Rejected draws (no-op, e.g. on shadow) say why.
    """
    from weldsynth.core.atomic import atomic_write_bytes
    from weldsynth.io.heightmap import read_heightmap
    from weldsynth.synth.defects.gallery import render, shoot
    from weldsynth.synth.defects.registry import create_defect, list_defects

    if all_defects == (name is not None):
        raise click.UsageError("give a defect NAME or --all (not both)")
    if all_defects and settings:
        raise click.UsageError("--set applies to one defect NAME, not to --all")
    config = dict(_parse_setting(s) for s in settings)
    names = list_defects() if all_defects else [name]
    plugins = [create_defect(x, **(config if not all_defects else {})) for x in names]
    hm = read_heightmap(input_file)
    pixels = hm.to_uint()
    geometry = _geometry(input_file, hm.height, geometry_source)
    shots = {p.name: shoot(p, pixels, geometry, n, seed) for p in plugins}
    title = f"{input_file.name}  seed {seed}"
    atomic_write_bytes(out_file, render(pixels, shots, title=title))
    rejected = sum(s.result.rejected for v in shots.values() for s in v)
    total = sum(len(v) for v in shots.values())
    click.echo(f"gallery written to {out_file} ({total} draws, {rejected} rejected)")


def _geometry(file: Path, height: Any, source: str):
    if source == "truth":
        from weldsynth.synth.samples import read_sample, truth_geometry

        if not file.with_suffix(".json").exists():
            raise WeldsynthError(
                f"{file}: no truth sidecar {file.with_suffix('.json').name}; use --geometry locate"
            )
        return truth_geometry(read_sample(file))
    from weldsynth.geometry import locate

    geometry = locate(height)
    if not geometry.found:
        raise WeldsynthError(f"{file}: no bead located ({geometry.reason})")
    return geometry


def _parse_setting(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise click.BadParameter(f"expected FIELD=VALUE, got {text!r}", param_hint="--set")
    parts = [p.strip() for p in raw.split(",")]
    values: list[Any] = []
    for part in parts:
        if part.lower() in ("true", "false"):
            values.append(part.lower() == "true")
            continue
        try:
            values.append(float(part))
        except ValueError:
            values.append(part)
    return key.strip(), values[0] if len(values) == 1 else tuple(values)


def _describe(p: dict[str, Any]) -> str:
    default = p["default"]
    if isinstance(default, tuple):
        text = "(" + ", ".join(f"{v:g}" for v in default) + ")"
    elif isinstance(default, float):
        text = f"{default:g}"
    else:
        text = str(default)
    unit = f" {p['unit']}" if p.get("unit") else ""
    allowed = ""
    if p.get("bounds"):
        lo, hi = p["bounds"]
        allowed = f", allowed [{lo:g}, {hi:g}]"
    elif p.get("choices"):
        allowed = ", one of " + "/".join(str(c) for c in p["choices"])
    return f"{p['name']} {text}{unit}{allowed}"


def _json_default(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return str(value)
