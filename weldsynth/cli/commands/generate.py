"""``weldsynth generate``: good welds + recipe -> labelled, masked, manifested data set."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from weldsynth.cli.progress import Reporter
from weldsynth.cli.tables import print_table
from weldsynth.core.errors import WeldsynthError
from weldsynth.core.lock import output_lock
from weldsynth.engines.base import list_engines

if TYPE_CHECKING:
    from weldsynth.dataset.generate import RunSummary
    from weldsynth.synth.recipe import Recipe


@click.command("generate")
@click.argument("good_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--recipe",
    "recipe_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Recipe YAML for the welds in GOOD_DIR (one topology).",
)
@click.option(
    "--all",
    "all_topologies",
    is_flag=True,
    help="GOOD_DIR holds one sub-folder per topology; each uses its recipe from --recipes.",
)
@click.option(
    "--recipes",
    "recipes_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder of <topology>.yaml recipes for --all (default: the shipped recipes/).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output folder (new, empty, or an earlier weldsynth output to resume).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="Worker processes (default: the CPUs available). Output does not depend on it.",
)
@click.option(
    "--engine",
    type=click.Choice(list_engines()),
    default="local",
    show_default=True,
    help="Where sources run: local processes, or Ray tasks (pip install "
    '"weldsynth[ray]"). Output does not depend on it.',
)
@click.option(
    "--address",
    default=None,
    metavar="ADDR",
    help="With --engine ray: a running Ray cluster (e.g. 10.0.0.5:6379 or auto); "
    "default: a local Ray with --workers CPUs. Data and OUT must be on a "
    "filesystem every node sees at the same path.",
)
@click.option(
    "--scan",
    "scan_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Scan calibration (YAML: pixel_mm, height_mm...) for inputs without a NAME.json "
    "sidecar or a scan.yaml in their folders; overrides the recipe's scan: section.",
)
@click.option(
    "--norm",
    "norm_preset",
    default=None,
    metavar="PRESET",
    help="Label by this welding norm (weldsynth norm list), e.g. iso5817-2014-C; sets "
    "norm.preset of every recipe. Needs calibrated inputs (sidecars, scan.yaml or --scan).",
)
@click.option(
    "--t",
    "t_mm",
    type=click.FloatRange(0.0, 500.0, min_open=True),
    default=None,
    help="With --norm: nominal plate thickness t in mm (sets norm.t_mm).",
)
@click.option("--by-defect", is_flag=True, help="Split bad into bad-<defect> class folders.")
@click.option(
    "--keep-unlocated",
    is_flag=True,
    help="Keep a good weld in which no bead is located as a good image (default: it is "
    "listed in rejected.csv and left out).",
)
@click.option(
    "--seed", type=click.IntRange(0, 2**63 - 1), default=None, help="Override the recipe's seed."
)
@click.option(
    "--force", is_flag=True, help="Write into a non-empty folder that is not a weldsynth output."
)
@click.option(
    "--strict", is_flag=True, help="Exit with status 1 when any input or draw was rejected."
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary table.")
def command(
    good_dir: Path,
    recipe_file: Path | None,
    all_topologies: bool,
    recipes_dir: Path | None,
    out: Path,
    workers: int | None,
    engine: str,
    address: str | None,
    scan_file: Path | None,
    norm_preset: str | None,
    t_mm: float | None,
    by_defect: bool,
    keep_unlocated: bool,
    seed: int | None,
    force: bool,
    strict: bool,
    quiet: bool,
) -> None:
    """Turn the good welds in GOOD_DIR into a labelled data set in OUT.

    OUT gets OUT/<topology>/good|bad/*.png (good welds copied, defects drawn as the
    recipe says, acceptable cuts labelled good), defect masks in OUT/<topology>/_masks/,
    manifest.csv (one row per image), rejected.csv (unreadable inputs and rejected draws,
    with reasons) and the resolved recipes in OUT/recipes/. Output is byte-identical for
    any --workers; a killed run resumes where it stopped when run again.

    \b
    Examples:
      weldsynth generate good/7 --recipe recipes/7.yaml --out data
      weldsynth generate good/ --all --out data --workers 2 --by-defect
      weldsynth generate good/ --all --out data --scan scan.yaml
      weldsynth generate maps/ --all --out data --norm iso5817-2014-C --t 3
      weldsynth generate good/ --all --out data --engine ray --address auto
    """
    from weldsynth.dataset import generate as gen
    from weldsynth.engines.base import get_executor

    if all_topologies == (recipe_file is not None):
        raise click.UsageError("give either --recipe FILE (one topology) or --all")
    if t_mm is not None and norm_preset is None:
        raise click.UsageError("--t sets the plate thickness of a norm: give --norm too")
    n_workers = workers or gen.default_workers()
    kept = "the sources finished are kept; run the same command again to resume"
    with (
        output_lock(out, kept),
        get_executor(engine, workers=n_workers, address=address) as executor,
    ):
        recipes = _recipes(good_dir, recipe_file, recipes_dir, seed)
        if norm_preset is not None:
            recipes = _with_norm(recipes, norm_preset, t_mm)
        if all_topologies:  # planned first: clashing inputs are refused before any write
            tasks, rejected = gen.plan_all(good_dir, recipes, out, by_defect)
        else:
            tasks, rejected = gen.plan_topology(good_dir, recipes[min(recipes)], out, by_defect)
        tasks = gen.calibrate_tasks(tasks, good_dir, scan_file)  # bad values: before any write
        # the engine is checked: Ray is there
        if keep_unlocated:
            tasks = [replace(t, keep_unlocated=True) for t in tasks]
        gen.prepare_out(out, recipes, by_defect, force, _scan(scan_file))
        with Reporter(Console(stderr=True), quiet=quiet) as reporter:
            tick = reporter.ticker("generate", len(tasks), "weld")
            summary = gen.run(tasks, out, rejected, progress=tick, executor=executor)
    if not quiet:
        print_table(Console(), _summary_table(summary, gen.counts_by_topology(summary)))
    n_rej = len(summary.rejections)
    if n_rej:
        click.echo(
            f"warning: {n_rej} input(s) or draw(s) rejected; see {out / gen.REJECTED_NAME}",
            err=True,
        )
        if strict:
            raise SystemExit(1)


def _recipes(
    good_dir: Path, recipe_file: Path | None, recipes_dir: Path | None, seed: int | None
) -> dict[int, Recipe]:
    """topology -> recipe: the one of ``recipe_file``, else (``--all``) the recipe of every
    topology sub-folder of ``good_dir``; ``seed`` overrides their seeds."""
    from weldsynth.synth.recipe import load_recipe, recipe_for_topology
    from weldsynth.synth.samples import TOPOLOGIES

    if recipe_file is not None:
        recipe = load_recipe(recipe_file)
        recipes = {recipe.topology: recipe}
    else:
        present = [
            int(p.name)
            for p in good_dir.iterdir()
            if p.is_dir() and p.name.isdigit() and int(p.name) in TOPOLOGIES
        ]
        if not present:
            raise WeldsynthError(
                f"{good_dir}: no topology sub-folders ({', '.join(map(str, sorted(TOPOLOGIES)))})"
            )
        recipes = {t: recipe_for_topology(t, recipes_dir) for t in sorted(present)}
    if seed is not None:
        recipes = {t: r.model_copy(update={"seed": seed}) for t, r in recipes.items()}
    return recipes


def _with_norm(recipes: dict[int, Recipe], preset: str, t_mm: float | None) -> dict[int, Recipe]:
    """The recipes labelled by norm ``preset`` (and plate thickness ``t_mm``), validated again
    (an unknown preset, or a recipe the norm cannot judge, is a one-line error)."""
    from weldsynth.synth.recipe import recipe_from_dict

    changed = {"preset": preset, **({} if t_mm is None else {"t_mm": t_mm})}
    out = {}
    for topology, recipe in recipes.items():
        data = recipe.model_dump()
        data["norm"] = {**data.get("norm", {}), **changed}
        out[topology] = recipe_from_dict(data, source=f"--norm {preset} (topology {topology})")
    return out


def _scan(scan_file: Path | None) -> dict | None:
    """The ``--scan`` calibration as recorded in the run state (None without one)."""
    from weldsynth.io.calibration import read_scan_file

    return None if scan_file is None else read_scan_file(scan_file).to_dict()


def _summary_table(summary: RunSummary, counts: dict[str, dict[str, int]]) -> Table:
    from weldsynth.dataset.inventory import natural_key

    columns = sorted(
        {k for row in counts.values() for k in row}, key=lambda k: (k != "good", k == "rejected", k)
    )
    table = Table(
        title=f"{summary.out}: {len(summary.records)} images "
        f"({summary.sources_run} sources run, "
        f"{summary.sources_done_before} already done)"
    )
    table.add_column("topology", justify="right")
    for col in columns:
        table.add_column(col.replace("bad:", "bad "), justify="right")
    for topo in sorted(counts, key=natural_key):
        table.add_row(topo, *(str(counts[topo].get(c, 0)) for c in columns))
    return table
