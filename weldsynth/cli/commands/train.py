"""``weldsynth train DATA``: one ResNet baseline per topology, with reports and checkpoints."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from weldsynth.cli.commands._options import (
    ARCH_HELP,
    PRECISION_HELP,
    WEIGHTS_HELP,
    run_options,
)
from weldsynth.cli.tables import print_table
from weldsynth.core.errors import WeldsynthError
from weldsynth.core.lock import output_lock
from weldsynth.engines.base import list_engines
from weldsynth.train.models import list_models

KEPT = "the last good checkpoint of each topology is kept in OUT/<topology>/model.pt"


class ArchChoice(click.Choice):
    """``--arch``: "auto" and the registered architectures
    (:func:`weldsynth.train.models.list_models`).

    Read from the registry when click first shows or checks them, so that loading the
    command line does not import torch.
    """

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        """ "auto" and the registry's names (lazy)."""
        return ("auto", *list_models())

    @choices.setter
    def choices(self, _value: object) -> None:
        """Ignored: the registry is the list."""


@click.command("train")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--topology",
    "-t",
    "topologies",
    multiple=True,
    help="Topology to train (repeatable). Default: the only one in DATA.",
)
@click.option("--all", "all_topologies", is_flag=True, help="Train every topology in DATA.")
@click.option(
    "--arch",
    type=ArchChoice(),
    default="auto",
    show_default=True,
    help=ARCH_HELP,
)
@click.option(
    "--epochs",
    type=int,
    default=10,
    show_default=True,
    help="Epochs with all layers trainable (after --freeze-epochs head-only ones).",
)
@click.option(
    "--freeze-epochs",
    type=int,
    default=1,
    show_default=True,
    help="Head-only epochs first (only with pretrained weights).",
)
@click.option(
    "--batch-size",
    type=int,
    default=32,
    show_default=True,
    help="Images per training step (per process under torchrun).",
)
@click.option("--lr", type=float, default=2e-3, show_default=True, help="Base learning rate.")
@click.option(
    "--seed",
    type=int,
    default=42,
    show_default=True,
    help="Seed of initialisation, shuffling and augmentation.",
)
@click.option(
    "--split-seed",
    type=int,
    default=42,
    show_default=True,
    help="Seed of the train/val split when one is drawn.",
)
@click.option(
    "--val-pct",
    type=float,
    default=0.2,
    show_default=True,
    help="Validation fraction when a split is drawn.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/train"),
    show_default=True,
    help="Output folder; each topology goes to OUT/<topology>/.",
)
@click.option(
    "--weights",
    default="imagenet",
    show_default=True,
    help=WEIGHTS_HELP,
)
@click.option(
    "--size",
    default="128x352",
    show_default=True,
    help="Input HEIGHTxWIDTH; images keep their aspect and are zero-padded.",
)
@click.option(
    "--augment",
    default="hflip,vflip,rotate=5",
    show_default=True,
    help="none, a list of hflip, vflip, rotate=DEG, dropout=P (zero a fraction P "
    "of pixels), or an albumentations .json/.yaml pipeline file.",
)
@click.option(
    "--balance",
    type=click.Choice(("none", "weights", "sampler")),
    default="none",
    show_default=True,
    help="Class-weighted loss or weighted sampling.",
)
@click.option(
    "--patience",
    type=int,
    default=0,
    show_default=True,
    help="Stop after this many epochs without a better validation (0: never).",
)
@click.option("--by-defect", is_flag=True, help="One class per bad-<defect> instead of 'bad'.")
@click.option(
    "--precision",
    type=click.Choice(("auto", "bf16", "fp16", "fp32")),
    default="auto",
    show_default=True,
    help=PRECISION_HELP,
)
@click.option(
    "--channels-last/--no-channels-last",
    default=True,
    show_default=True,
    help="Channels-last memory layout of the model and its batches (a speed setting).",
)
@click.option(
    "--threads", type=int, default=0, show_default=True, help="Torch threads (0: all cores)."
)
@click.option(
    "--track",
    type=click.Choice(("mlflow",)),
    default=None,
    help='Track runs with MLflow (needs pip install "weldsynth[mlflow]").',
)
@click.option("--tracking-uri", default="", help="MLflow store (default ./mlruns).")
@click.option(
    "--engine",
    type=click.Choice(list_engines()),
    default="local",
    show_default=True,
    help='ray: one Ray task per topology (pip install "weldsynth[ray]"); the summary is the same.',
)
@click.option(
    "--address",
    default=None,
    metavar="ADDR",
    help="With --engine ray: a running Ray cluster (default: a local Ray). DATA "
    "and OUT must be on a filesystem every node sees at the same path.",
)
@click.option(
    "--ray-cpus-per-task",
    type=click.FloatRange(0.01),
    default=None,
    help="CPUs Ray reserves per topology (default: 1; torch uses as many threads unless "
    "--threads).",
)
@click.option(
    "--ray-resource",
    "ray_resources",
    multiple=True,
    metavar="NAME=AMOUNT",
    help="Other Ray resources per topology, e.g. GPU=1 or big_memory=1 (repeatable).",
)
@run_options
@click.option("--force", is_flag=True, help="Overwrite runs already in OUT.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or tables.")
def command(
    data: Path,
    topologies: tuple[str, ...],
    all_topologies: bool,
    out: Path,
    engine: str,
    address: str | None,
    ray_cpus_per_task: float,
    ray_resources: tuple[str, ...],
    force: bool,
    quiet: bool,
    **settings: Any,
) -> None:
    """Train a classifier per topology of DATA, with reports.

    DATA is DATA/<topology>/<class>/*.png, with or without DATA/manifest.csv (with
    it, the split is grouped by source weld). Each topology gets OUT/<topology>/ with
    config.json, metrics.csv, loss.png, confusion.png/.csv, model.pt and report.json;
    OUT/summary.csv and summary.md hold one row per topology, and OUT/summary.html is
    the page to open or print (table, loss curves, confusion matrices, misclassified
    images, links).

    The first line says what trains where: --arch auto takes resnet18 when ImageNet
    weights can be had (torch's cache, or downloaded unless --offline), else weldnet;
    --device auto takes a CUDA GPU, then MPS, then the CPU, with mixed precision where
    it pays. Both choices and their reasons go into config.json.

    Scaling out: --engine ray trains the topologies as Ray tasks; data-parallel training
    of one topology runs under torchrun (DDP, nccl on GPUs, --batch-size per process,
    rank 0 writes): torchrun --nproc-per-node 4 -m weldsynth train dataset/ --topology 7

    \b
    Examples:
      weldsynth train dataset/ --all --out runs/all             # GPU if any, auto arch
      weldsynth train dataset/ --topology 7 --epochs 20 --out runs/t7
      weldsynth train dataset/ --all --arch resnet34 --out runs/all-r34
      weldsynth train dataset/ --all --arch weldnet --epochs 40   # no ImageNet weights
      weldsynth train dataset/ --all --weights none --track mlflow
      weldsynth train dataset/ --all --engine ray --ray-cpus-per-task 2
    """
    from rich.console import Console

    from weldsynth.engines.base import get_executor
    from weldsynth.train.batch import join_torchrun
    from weldsynth.train.data import list_topologies

    cfg = _config(settings)
    chosen = pick_topologies(list_topologies(data), topologies, all_topologies, data)
    if not force:
        taken = [t for t in chosen if (out / t / "model.pt").exists()]
        if taken:
            raise WeldsynthError(
                f"{out}: already holds a model for topology "
                f"{', '.join(taken)}; use --force or another --out"
            )
    options = {"ray_cpus_per_task": ray_cpus_per_task, "ray_resource": ray_resources or None}
    with get_executor(engine, address=address, **options) as executor:
        ddp = join_torchrun(executor, cfg.device)
        if ddp is not None and not ddp.is_writer:  # torchrun rank > 0: rank 0 writes OUT
            out, quiet, cfg = ddp.scratch(), True, cfg.with_(track="")
        console = Console(quiet=quiet)
        err = Console(stderr=True, quiet=ddp is not None and not ddp.is_writer)
        try:
            with output_lock(out, KEPT):  # the writer's OUT (other ranks: their scratch)
                _run(data, chosen, out, cfg, console, err, quiet, executor, ddp)
        finally:
            if ddp is not None:
                ddp.close()


def _config(settings: dict[str, Any]):  # -> TrainConfig
    """The configuration from the command's options (named as its fields)."""
    from weldsynth.train.config import TrainConfig, parse_size

    size, track = parse_size(settings["size"]), settings["track"] or ""
    return TrainConfig(**{**settings, "size": size, "track": track})


def pick_topologies(
    found: list[str], asked: tuple[str, ...], everything: bool, data: Path
) -> list[str]:
    """The topologies to train: all, the ones asked for, or the only one."""
    if everything:
        return found
    if asked:
        missing = [t for t in asked if t not in found]
        if missing:
            raise WeldsynthError(
                f"{data}: no topology {', '.join(missing)} (have: {', '.join(found)})"
            )
        return list(dict.fromkeys(asked))
    if len(found) == 1:
        return found
    raise WeldsynthError(f"{data} has topologies {', '.join(found)}: choose --topology T or --all")


def _run(
    data: Path, chosen: list[str], out: Path, cfg, console, err, quiet: bool, executor, ddp
) -> None:
    """Train ``chosen`` on ``executor`` with progress (bars on a terminal, a line per epoch
    otherwise), then print the summary table."""
    from weldsynth.cli.progress import Reporter
    from weldsynth.train import reports
    from weldsynth.train.batch import train_all

    def say(line: str) -> None:
        target = err if line.startswith("warning:") else console
        target.print(line, markup=False, highlight=False, soft_wrap=True)

    try:
        with Reporter(console, quiet=quiet) as reporter:
            rows = train_all(
                data,
                chosen,
                out,
                cfg,
                executor,
                say=say,
                progress_factory=reporter.epochs(cfg.batch_size),
                quiet=quiet,
                ddp=ddp,
            )
    except KeyboardInterrupt:
        err.print(
            f"interrupted: the best checkpoint so far of each topology is in "
            f"{out}/<topology>/model.pt",
            markup=False,
            soft_wrap=True,
        )
        sys.exit(130)
    print_table(console, reports.summary_table(rows), drop=("s", "best", "skipped"))
    say(f"summary: {out / 'summary.html'}, {out / 'summary.csv'}, {out / 'summary.md'}")
