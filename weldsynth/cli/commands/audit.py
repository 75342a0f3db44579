"""``weldsynth audit DATA --topology T``: out-of-fold top losses, suspects, CAMs, report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from weldsynth.cli.commands._options import (
    ARCH_HELP,
    PRECISION_HELP,
    WEIGHTS_HELP,
    run_options,
)
from weldsynth.cli.commands.train import ArchChoice
from weldsynth.cli.tables import print_table
from weldsynth.core.errors import WeldsynthError
from weldsynth.core.lock import output_lock


def model_options(func: Callable) -> Callable:
    """The training options shared by ``audit`` and ``loop`` (fold models and retraining)."""
    options = [
        click.option(
            "--arch", type=ArchChoice(), default="auto", show_default=True, help=ARCH_HELP
        ),
        click.option(
            "--epochs",
            type=click.IntRange(1),
            default=20,
            show_default=True,
            help="Epochs per model (after --freeze-epochs with pretrained weights).",
        ),
        click.option(
            "--freeze-epochs",
            type=click.IntRange(0),
            default=1,
            show_default=True,
            help="Head-only epochs first (only with pretrained weights).",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(2),
            default=16,
            show_default=True,
            help="Images per training step of each fold model.",
        ),
        click.option(
            "--lr", type=float, default=2e-3, show_default=True, help="Base learning rate."
        ),
        click.option(
            "--size",
            default="64x176",
            show_default=True,
            help="Input HEIGHTxWIDTH; maps keep their aspect and are zero-padded (half the "
            "scan size: an audit trains many small models).",
        ),
        click.option(
            "--augment",
            default="hflip,vflip",
            show_default=True,
            help="none, a list of hflip, vflip, rotate=DEG, or an albumentations .json/.yaml file.",
        ),
        click.option("--weights", default="imagenet", show_default=True, help=WEIGHTS_HELP),
        click.option(
            "--seed",
            type=int,
            default=42,
            show_default=True,
            help="Seed of folds, initialisation, shuffling and augmentation.",
        ),
        click.option(
            "--by-defect", is_flag=True, help="One class per bad-<defect> instead of 'bad'."
        ),
        click.option(
            "--precision",
            type=click.Choice(("auto", "bf16", "fp16", "fp32")),
            default="auto",
            show_default=True,
            help=PRECISION_HELP,
        ),
        click.option(
            "--threads",
            type=click.IntRange(0),
            default=0,
            show_default=True,
            help="Torch threads (0: all cores).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return run_options(func)


def make_config(
    arch: str,
    epochs: int,
    freeze_epochs: int,
    batch_size: int,
    lr: float,
    size: str,
    augment: str,
    weights: str,
    seed: int,
    by_defect: bool,
    precision: str,
    threads: int,
    device: str = "auto",
    compile: bool = False,
    cache_gb: float = 0.0,
    offline: bool = False,
    mask_loss: float | str = "auto",
    cam_loss: float | str = "auto",
):
    """A validated :class:`~weldsynth.train.config.TrainConfig` from the shared options."""
    import torch

    from weldsynth.train.config import TrainConfig, parse_size

    if threads:
        torch.set_num_threads(threads)
    return TrainConfig(
        arch=arch,
        epochs=epochs,
        freeze_epochs=freeze_epochs,
        batch_size=batch_size,
        lr=lr,
        size=parse_size(size),
        augment=augment,
        weights=weights,
        seed=seed,
        by_defect=by_defect,
        precision=precision,
        threads=threads,
        device=device,
        compile=compile,
        cache_gb=cache_gb,
        offline=offline,
        mask_loss=mask_loss,
        cam_loss=cam_loss,
    )


def pick_topology(data: Path, topology: str | None) -> str:
    """The topology asked for, or the only one in DATA."""
    from weldsynth.train.data import list_topologies

    found = list_topologies(data)
    if topology is None:
        if len(found) != 1:
            raise WeldsynthError(
                f"{data}: holds topologies {', '.join(found)}; choose one with --topology"
            )
        return found[0]
    if topology not in found:
        raise WeldsynthError(f"{data}: no topology {topology!r} (have: {', '.join(found)})")
    return topology


def progress_bar(quiet: bool, label: str, console=None):
    """Progress of the fold models (bars on a terminal, a line per fold model and every
    ``WELDSYNTH_PROGRESS_SECONDS`` otherwise): the reporter and its ``(done, total, step)``
    callback."""
    from weldsynth.cli.progress import Reporter

    reporter = Reporter(console, quiet=quiet, transient=True)
    return reporter, reporter.fold_models(label)


@click.command("audit")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--topology", "-t", default=None, help="Topology to audit (default: the only one).")
@click.option(
    "--folds",
    type=click.IntRange(2),
    default=3,
    show_default=True,
    help="Folds per seed, grouped by source weld.",
)
@click.option(
    "--seeds",
    type=click.IntRange(1),
    default=3,
    show_default=True,
    help="Repetitions (new folds, new models) averaged; more seeds, steadier ranks "
    "(each costs --folds models; --seeds 1 is three times faster).",
)
@click.option(
    "--top",
    type=click.IntRange(0),
    default=50,
    show_default=True,
    help="Suspects shown in report.html.",
)
@click.option(
    "--probs",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CSV of your own out-of-fold probabilities (path + one "
    "column per class): no training, no Grad-CAM.",
)
@click.option("--include-test", is_flag=True, help="Audit the test split too.")
@click.option("--no-cam", is_flag=True, help="Skip Grad-CAM and CAM-in-mask.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/audit"),
    show_default=True,
    help="Audit folder.",
)
@model_options
@click.option(
    "--quiet", "-q", is_flag=True, help="No progress bar or table (the summary line stays)."
)
def command(
    data: Path,
    topology: str | None,
    folds: int,
    seeds: int,
    top: int,
    probs: Path | None,
    include_test: bool,
    no_cam: bool,
    out: Path,
    quiet: bool,
    **train: object,
) -> None:
    """Rank the samples of one topology by out-of-fold loss and suggest decisions.

    For each of --seeds seeds the samples are cut into --folds folds grouped by source
    weld (a weld's variants never sit on both sides) and a model trained on the other
    folds predicts each fold; probabilities are averaged over seeds. Rows out of use
    (excluded, dropped) and, unless --include-test, the test split are not audited.

    OUT gets suspects.csv (every sample: given, predicted, p_given, loss, margin, seed
    agreement, suggestion keep / relabel:<class> / drop, confidence, why; flagged ones
    first, then by loss), decisions_suggested.csv (the flagged ones, for `weldsynth relabel apply`),
    confusion_by_defect.csv/.png, confusion_by_defect_verdict.csv (the same per norm
    verdict: acceptable imperfections taken for bad are one row), cam_in_mask.csv
    (Grad-CAM energy inside defect masks, per defect; low means a possible shortcut),
    report.html (the --top suspects), summary.html (the page to open or print: error,
    false alarms, misses, confusion matrices, misclassified samples, links) and
    audit.json (settings, timings, summary).

    \b
    Examples:
      weldsynth audit dataset/ --topology 7 --out runs/audit7
      weldsynth audit dataset/ -t 7 --folds 5 --seeds 3 --size 128x352 --device cuda
      weldsynth audit dataset/ -t 7 --probs my_oof_probs.csv --out runs/audit7
      weldsynth relabel apply dataset/ runs/audit7/decisions_suggested.csv
    """
    from rich.console import Console

    from weldsynth.audit.run import AuditSettings, audit_topology

    cfg = make_config(**train)  # type: ignore[arg-type]
    topo = pick_topology(data, topology)
    console, err = Console(), Console(stderr=True)
    settings = AuditSettings(
        folds=folds,
        seeds=seeds,
        top=top,
        include_test=include_test,
        probs=probs,
        cams=not no_cam,
        weights=cfg.weights,
    )

    def say(line: str) -> None:
        (err if line.startswith("warning:") else console).print(
            line, markup=False, highlight=False, soft_wrap=True
        )

    bar, update = progress_bar(quiet, f"topology {topo}: fold models (epochs)", console)
    with output_lock(out, "the files of an earlier audit in OUT are kept"), bar:
        result = audit_topology(data, topo, out, cfg, settings, say=say, progress=update)
    if not quiet:
        table = suspects_table(result.rows[: min(top, 10)], f"top suspects, topology {topo}")
        print_table(console, table, drop=SUSPECT_DROP)
    s = result.summary
    say(
        f"{s['audited']} samples audited, out-of-fold error {100 * (s['oof_error'] or 0):.1f}%"
        f", {s['flagged']} flagged ({_counts(s['suggestions'])}) in "
        f"{s['seconds']['total']:.0f} s -> {out / 'report.html'}, {out / 'summary.html'}"
    )


SUSPECT_DROP = ("loss", "rank", "predicted")
"""Columns of the suspects table that go first on a narrow terminal (p_given stays)."""


def suspects_table(rows: list[dict], title: str):
    """A rich table of suspects.csv rows."""
    from rich.table import Table

    table = Table(title=title)
    for name in ("rank", "path", "given", "predicted", "p_given", "loss", "suggestion"):
        table.add_column(name, justify="right" if name in ("rank", "p_given", "loss") else "left")
    for r in rows:
        table.add_row(
            str(r["rank"]),
            r["path"],
            r["given"],
            r["predicted"],
            f"{r['p_given']:.3f}",
            f"{r['loss']:.2f}",
            r["suggestion"],
        )
    return table


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{v} {k}" for k, v in counts.items())
