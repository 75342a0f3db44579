"""The demo pipeline: every step of weldsynth on the bundled samples, into a fresh folder.

:func:`demo_steps` lists the steps; each returns a :class:`StepResult` (a one-line message
and the step's own result object, which the CLI renders as a table). ``weldsynth demo`` runs
them in order."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.core.errors import WeldsynthError
from weldsynth.data import samples_dir as shipped_samples_dir
from weldsynth.dataset.inventory import natural_key

MARKER = ".weldsynth-demo"
SAMPLES_SEED = 7
"""Seed of the shipped samples; used to regenerate them when a stripped install lacks them."""


def bundled_samples_dir() -> Path | None:
    """The samples shipped inside the package, or None when they were stripped out."""
    candidate = shipped_samples_dir()
    if candidate.is_dir() and any(candidate.glob("*/*.png")):
        return candidate
    return None


MARKER_TEXT = "made by `weldsynth demo`; safe to delete\n"
DEMO_ENTRIES = frozenset(
    {
        MARKER,
        ".weldsynth",
        "good",
        "inspect",
        "geometry.csv",
        "data",
        "norm",
        "audit",
        "loop",
        "plant",
    }
)
"""What the demo (and weldsynth's own state: locks, crash reports) writes at the top of its
folder; an earlier demo holding anything else is not deleted."""


def prepare_output(out: Path, inputs: Sequence[Path] = ()) -> None:
    """Create ``out`` fresh: refuse a folder that holds or sits inside one of ``inputs``,
    and a non-empty folder that is not an earlier demo (its marker file, with the demo's
    text, and nothing but what the demo writes); only such a folder is deleted.

    Raises:
        WeldsynthError: naming the folder and what stops it being used.
    """
    here = out.resolve()
    for given in inputs:
        source = Path(given).resolve()
        if source == here or here in source.parents or source in here.parents:
            where = "inside" if here in source.parents or source == here else "holding"
            raise WeldsynthError(
                f"--out {out}: the --samples folder {given} is {where} it; the demo replaces "
                "its output folder, so choose an --out apart from the samples (nothing was "
                "deleted)"
            )
    if out.exists():
        if not out.is_dir():
            raise WeldsynthError(f"{out}: exists and is not a folder")
        if any(out.iterdir()):
            _check_earlier_demo(out)
            shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(MARKER_TEXT)


def _check_earlier_demo(out: Path) -> None:
    """Raise unless ``out`` is an earlier demo: the demo's marker and only demo entries."""
    marker = out / MARKER
    if not (marker.is_file() and not marker.is_symlink() and _text(marker) == MARKER_TEXT):
        raise WeldsynthError(
            f"{out}: folder is not empty and is not a weldsynth demo output; choose another --out"
        )
    foreign = sorted(p.name for p in out.iterdir() if p.name not in DEMO_ENTRIES)
    if foreign:
        raise WeldsynthError(
            f"{out}: an earlier demo output, but it also holds {', '.join(foreign[:5])}"
            f"{' ...' if len(foreign) > 5 else ''}, which the demo did not make; move "
            "them or choose another --out (nothing was deleted)"
        )


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


@dataclass(frozen=True)
class StepResult:
    """What one demo step did.

    Attributes:
        message: One line for the user.
        result: The step's result object for a table (geometry rows, a balance plan, split
            counts, audit rows, the loop state), or None.
    """

    message: str
    result: Any = None


Step = Callable[[], StepResult]


def demo_steps(
    out: Path, samples_dir: Path | None = None, progress: Any = None
) -> list[tuple[str, str, Step]]:
    """The demo's steps as (key, title, run) in order, writing into ``out``.

    ``progress`` (the CLI's reporter, or None) follows the long steps: its
    ``ticker(label, total, unit)``, ``track(label, unit)``, ``fold_models(label)`` and
    ``epochs(batch_size, lines=False)`` give the callbacks generate, balance, the audit
    and training take.
    """
    data = out / "data"
    held: dict[str, Any] = {}  # the plant data, from its step to the loop's
    return [
        ("good", "good welds", lambda: _good_welds(out / "good", samples_dir)),
        ("locate", "locate the bead", lambda: _locate(out / "good", out)),
        ("generate", "generate defects", lambda: _generate(out / "good", data, progress)),
        ("norm", "acceptable vs rejectable by a norm", lambda: _norm_pair(out)),
        ("balance", "balance good:bad 1:1", lambda: _balance(data, progress)),
        ("split", "split train/val/test", lambda: _split(data)),
        ("plant", "plant data, labels flipped on purpose", lambda: _plant(out, held)),
        ("loop", "loop: train, audit, fix, retrain", lambda: _loop(out, held, progress)),
    ]


def _good_welds(good: Path, samples_dir: Path | None) -> StepResult:
    source = samples_dir or bundled_samples_dir()
    if source is not None:
        shutil.copytree(source, good, ignore=shutil.ignore_patterns("*.md", "*.py"))
        return StepResult(f"copied from {source}")
    from weldsynth.core.topology import topology_ids
    from weldsynth.synth.samples import write_samples

    write_samples(good, sorted(topology_ids()), n=4, seed=SAMPLES_SEED)
    return StepResult(f"no bundled samples: generated (seed {SAMPLES_SEED})")


def _locate(good: Path, out: Path) -> StepResult:
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
    return StepResult(f"found in {found}/{len(rows)} maps; overlays in {out / 'inspect'}", rows)


def _generate(good: Path, data: Path, progress: Any = None) -> StepResult:
    from weldsynth.dataset import generate as gen
    from weldsynth.synth.recipe import recipe_for_topology

    topologies = sorted(int(p.name) for p in good.iterdir() if p.is_dir() and p.name.isdigit())
    recipes = {t: recipe_for_topology(t) for t in topologies}
    gen.prepare_out(data, recipes, by_defect=False, force=False)
    tasks, rejected = gen.plan_all(good, recipes, data, by_defect=False)
    tick = progress.ticker("generate", len(tasks), "weld") if progress is not None else None
    summary = gen.run(tasks, data, rejected, workers=gen.default_workers(), progress=tick)
    counts = gen.counts_by_topology(summary)
    bad = sum(v for row in counts.values() for k, v in row.items() if k.startswith("bad:"))
    return StepResult(
        f"{len(summary.records)} images ({bad} bad), {len(summary.rejections)} rejected "
        f"draws -> {data}"
    )


NORM_PRESET, NORM_T_MM = "iso5817-2014-C", 3.0
NORM_CALIBRATION = {"pixel_mm": 0.1, "height_range_mm": [0.0, 8.0]}
"""The calibration the demo assumes for its (uncalibrated) samples in the norm step."""


def _norm_pair(out: Path) -> StepResult:
    """One defect drawn acceptable and rejectable on the same weld under ISO 5817 C, the
    two side by side in ``out/norm`` with their measures, verdicts and the rule."""
    from weldsynth.geometry import locate
    from weldsynth.io.calibration import calibration_from_mapping
    from weldsynth.io.heightmap import read_heightmap
    from weldsynth.synth.norm_pair import draw_pair, render_pair
    from weldsynth.synth.recipe import recipe_for_topology, recipe_from_dict

    data = recipe_for_topology(int(DEMO_TOPOLOGY)).model_dump()
    data["norm"] = {**data["norm"], "preset": NORM_PRESET, "t_mm": NORM_T_MM}
    recipe = recipe_from_dict(data, source=f"demo norm step (topology {DEMO_TOPOLOGY})")
    calibration = calibration_from_mapping(NORM_CALIBRATION, "demo", 16)
    for png in sorted((out / "good" / DEMO_TOPOLOGY).glob("*.png")):
        hm = read_heightmap(png)
        geometry = locate(hm.height)
        pair = draw_pair(hm.to_uint(), geometry, recipe, calibration, 0) if geometry.found else None
        if pair is not None:
            figure = out / "norm" / "acceptable_vs_rejectable.png"
            atomic_write_bytes(figure, render_pair(pair))
            return StepResult(f"{png.name}: {pair.line()}; figure: {figure}", pair)
    return StepResult(f"no weld of topology {DEMO_TOPOLOGY} drew both variants")


def _balance(data: Path, progress: Any = None) -> StepResult:
    from weldsynth.dataset.balance import balance

    track = progress.track("writing variants", "img") if progress is not None else None
    plan = balance(data, ratio="1:1", method="oversample", seed=0, progress=track)
    added = sum(len(t.new) for t in plan.topologies)
    return StepResult(f"{added} label-preserving good variants added", plan)


def _split(data: Path) -> StepResult:
    from weldsynth.dataset.split import split_dataset

    _before, after = split_dataset(data, val=0.2, test=0.1, seed=42)
    return StepResult("grouped by source weld, seed 42", after)


DEMO_TOPOLOGY = "3"
"""Topology of the demo's plant data and loop (a plain line weld)."""


def _demo_config():
    """WeldNet (learns from scratch, no download) at 64x176: the demo's time budget."""
    from weldsynth.train.config import TrainConfig

    return TrainConfig(
        arch="weldnet",
        epochs=20,
        batch_size=16,
        size=(64, 176),
        augment="hflip,vflip",
        weights="none",
    )


def _plant(out: Path, held: dict[str, Any]) -> StepResult:
    from weldsynth.pipelines.demo_plant import make_plant

    plant = make_plant(out / "plant", DEMO_TOPOLOGY)
    held["plant"] = plant
    return StepResult(
        f"{plant.images} images of topology {plant.topology} from procedural welds; "
        f"{len(plant.injected)} train/val labels flipped on purpose "
        f"({out / 'plant' / 'injected.csv'})"
    )


def _loop(out: Path, held: dict[str, Any], progress: Any = None) -> StepResult:
    from weldsynth.audit.run import AuditSettings
    from weldsynth.pipelines.demo_plant import audit_scores, loop_message
    from weldsynth.pipelines.loop import LoopSettings, run_loop

    plant = held["plant"]
    settings = LoopSettings(
        iterations=1,
        auto=0.95,
        audit=AuditSettings(folds=3, seeds=1, top=12, cams=False, weights="none"),
    )
    cfg = _demo_config()
    state = run_loop(
        plant.data,
        plant.topology,
        out / "loop",
        cfg,
        settings,
        progress=None if progress is None else progress.fold_models("audit: fold models"),
        progress_factory=None if progress is None else progress.epochs(cfg.batch_size, False),
    )
    suspects = out / "loop" / "iter1" / "audit" / "suspects.csv"
    scores = audit_scores(suspects, plant.injected) if suspects.is_file() else None
    changed = any(r["moved"] or r["dropped"] for r in state.rows)
    undo = f"; undo with: weldsynth relabel undo {plant.data}" if changed else ""
    report = f"; report: {suspects.parent / 'report.html'}" if scores is not None else ""
    figures = _plant_figures(out / "loop", state, plant)
    return StepResult(f"{loop_message(state, plant, scores)}{figures}{report}{undo}", state)


def _plant_figures(loop: Path, state: Any, plant: Any) -> str:
    """The last model's figures a plant lives by on the plant's test split: false alarms
    on untouched good welds of unseen sources, misses (:mod:`weldsynth.train.plant`)."""
    from weldsynth.train.checkpoint import load_checkpoint
    from weldsynth.train.evaluate import evaluate
    from weldsynth.train.plant import summary_line

    last = state.rows[-1]["iteration"] if state.rows else None
    model = loop / f"iter{last}" / "train" / plant.topology
    if last is None or not (model / "model.pt").is_file():
        return ""
    result = evaluate(load_checkpoint(model), plant.data, "test", plant.topology)
    return f"; test split: {summary_line(result.plant())}"


def _write_csv(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(path, buf.getvalue().encode())
