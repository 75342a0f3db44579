"""``weldsynth demo``: the whole pipeline on the bundled samples, into a fresh folder."""

from __future__ import annotations

import csv
import io
import shutil
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from weldsynth.core.errors import WeldsynthError
from weldsynth.data import samples_dir as shipped_samples_dir
from weldsynth.dataset.inventory import natural_key
from weldsynth.io.heightmap import atomic_write_bytes

MARKER = ".weldsynth-demo"
SAMPLES_SEED = 7
"""Seed of the shipped samples; used to regenerate them when a stripped install lacks them."""


def bundled_samples_dir() -> Path | None:
    """The samples shipped inside the package, or None when they were stripped out."""
    candidate = shipped_samples_dir()
    if candidate.is_dir() and any(candidate.glob("*/*.png")):
        return candidate
    return None


def prepare_output(out: Path) -> None:
    """Create ``out`` fresh: refuse a non-empty folder that is not an earlier demo."""
    if out.exists():
        if not out.is_dir():
            raise WeldsynthError(f"{out}: exists and is not a folder")
        if any(out.iterdir()):
            if not (out / MARKER).exists():
                raise WeldsynthError(
                    f"{out}: folder is not empty and is not a weldsynth demo output; "
                    "choose another --out"
                )
            shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by `weldsynth demo`; safe to delete\n")


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
      4. balance good:bad    1:1 by label-preserving variants of good welds
      5. split               train/val/test grouped by source weld
      6. audit               out-of-fold top losses of topology 3: OUT/audit/report.html
      7. loop                train (OUT/loop/iter0/train/model.pt) -> audit -> apply
                             -> retrain, against a fixed test set: OUT/loop/loop.csv

    Steps 6-7 are sized to finish in about a minute on 2 CPU cores (WeldNet, the small
    CNN that learns from scratch, 128x352 input, 10 epochs, 2 folds, 1 seed, on the few
    bundled welds): they show the mechanics, not a finished model.

    \b
    Example:
      weldsynth demo --out weldsynth-demo
    """
    console = Console()
    started = time.perf_counter()
    prepare_output(out)
    steps = [
        ("good welds", lambda: _good_welds(out / "good", samples_dir)),
        ("locate the bead", lambda: _locate(out / "good", out)),
        ("generate defects", lambda: _generate(out / "good", out / "data")),
        ("balance good:bad 1:1", lambda: _balance(out / "data")),
        ("split train/val/test", lambda: _split(out / "data")),
        ("audit (quick)", lambda: _audit(out / "data", out / "audit")),
        ("loop, one iteration", lambda: _loop(out / "data", out / "loop")),
    ]
    for number, (title, step) in enumerate(steps, start=1):
        t0 = time.perf_counter()
        with console.status(f"{title}..."):
            message, table = step()
        console.print(
            f"[bold]{number}/{len(steps)} {title}[/] ({time.perf_counter() - t0:.1f} s): {message}"
        )
        if table is not None:
            console.print(table)
    console.print(f"done in {time.perf_counter() - started:.1f} s -> {out}")


Step = tuple[str, Table | None]


def _good_welds(good: Path, samples_dir: Path | None) -> Step:
    source = samples_dir or bundled_samples_dir()
    if source is not None:
        shutil.copytree(source, good, ignore=shutil.ignore_patterns("*.md", "*.py"))
        return f"copied from {source}", None
    from weldsynth.synth.samples import TOPOLOGIES, write_samples

    write_samples(good, sorted(TOPOLOGIES), n=4, seed=SAMPLES_SEED)
    return f"no bundled samples/ folder: generated (seed {SAMPLES_SEED})", None


def _locate(good: Path, out: Path) -> Step:
    from weldsynth.geometry import locate
    from weldsynth.geometry.overlay import render_overlay
    from weldsynth.io.heightmap import read_heightmap, write_png

    files = sorted(good.glob("*/*.png"), key=lambda p: (natural_key(p.parent.name), p.name))
    if not files:
        raise WeldsynthError(f"{good}: no height maps as <topology>/*.png")
    rows = []
    for file in files:
        hm = read_heightmap(file)
        geo = locate(hm.height)
        rel = file.relative_to(good)
        write_png(out / "inspect" / rel, render_overlay(hm.height, geo))
        rows.append(
            {
                "file": rel.as_posix(),
                "topology": file.parent.name,
                "found": geo.found,
                "kind": geo.kind,
                "axis_angle": "" if geo.axis_angle is None else round(geo.axis_angle, 2),
                "mean_width": "" if geo.path is None else round(geo.path.mean_width, 2),
                "length": "" if geo.path is None else round(geo.path.length, 1),
                "reason": geo.reason or "",
            }
        )
    _write_csv(out / "geometry.csv", rows)
    found = sum(r["found"] for r in rows)
    return f"found in {found}/{len(rows)} maps; overlays in {out / 'inspect'}", _geometry(rows)


def _generate(good: Path, data: Path) -> Step:
    from weldsynth.dataset import generate as gen
    from weldsynth.synth.recipe import recipe_for_topology

    topologies = sorted(int(p.name) for p in good.iterdir() if p.is_dir() and p.name.isdigit())
    recipes = {t: recipe_for_topology(t) for t in topologies}
    gen.prepare_out(data, recipes, by_defect=False, force=False)
    tasks, rejected = gen.plan_all(good, recipes, data, by_defect=False)
    summary = gen.run(tasks, data, rejected, workers=gen.default_workers())
    counts = gen.counts_by_topology(summary)
    bad = sum(v for row in counts.values() for k, v in row.items() if k.startswith("bad:"))
    return (
        f"{len(summary.records)} images ({bad} bad), {len(summary.rejections)} rejected "
        f"draws -> {data}"
    ), None


def _balance(data: Path) -> Step:
    from weldsynth.cli.commands.balance import balance_table
    from weldsynth.dataset.balance import balance

    plan = balance(data, ratio="1:1", method="oversample", seed=0)
    added = sum(len(t.new) for t in plan.topologies)
    return f"{added} label-preserving good variants added", balance_table(plan, "1:1", False)


def _split(data: Path) -> Step:
    from weldsynth.cli.commands.split import split_table
    from weldsynth.dataset.split import split_dataset

    _before, after = split_dataset(data, val=0.2, test=0.1, seed=42)
    return "grouped by source weld, seed 42", split_table(after)


DEMO_TOPOLOGY = "3"
"""Topology of the demo's audit and loop steps (a plain line weld)."""


def _demo_config():
    from weldsynth.train.config import TrainConfig

    return TrainConfig(
        arch="weldnet",
        epochs=10,
        batch_size=16,
        size=(128, 352),
        augment="hflip,vflip",
        weights="none",
    )


def _audit(data: Path, out: Path) -> Step:
    from weldsynth.audit.run import AuditSettings, audit_topology
    from weldsynth.cli.commands.audit import suspects_table

    result = audit_topology(
        data,
        DEMO_TOPOLOGY,
        out,
        _demo_config(),
        AuditSettings(folds=2, seeds=1, top=12, weights="none"),
    )
    s = result.summary
    return (
        f"{s['audited']} images audited (test split left out), {s['flagged']} flagged -> "
        f"{out / 'report.html'}"
    ), suspects_table(result.rows[:5], "top suspects")


def _loop(data: Path, out: Path) -> Step:
    from weldsynth.audit.run import AuditSettings
    from weldsynth.pipelines.loop import LoopSettings, run_loop

    settings = LoopSettings(
        iterations=1,
        auto=0.95,
        audit=AuditSettings(folds=2, seeds=1, top=12, cams=False, weights="none"),
    )
    state = run_loop(data, DEMO_TOPOLOGY, out, _demo_config(), settings)
    table = Table(title=f"loop, topology {DEMO_TOPOLOGY}")
    for col in ("iteration", "samples", "moved", "dropped", "val error", "test error"):
        table.add_column(col, justify="right")
    for r in state.rows:
        table.add_row(
            str(r["iteration"]),
            str(r["samples"]),
            str(r["moved"]),
            str(r["dropped"]),
            f"{100 * r['val_error']:.1f}%",
            f"{100 * r['test_error']:.1f}%",
        )
    changed = any(r["moved"] or r["dropped"] for r in state.rows)
    undo = f"; undo with: weldsynth relabel undo {data}" if changed else ""
    return f"{state.finished}{undo}", table


def _geometry(rows: list[dict]) -> Table:
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


def _write_csv(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(path, buf.getvalue().encode())
