"""``train`` over several topologies: one work unit per topology, handed to an engine.

The unit (:class:`TopologyUnit`) is a description: the topology's listing (file paths), its
run folder, the configuration and the weights file. :func:`train_unit` trains one; an
engine (:mod:`weldsynth.engines`) runs it here, in turn (``local``), or as Ray tasks
(``ray``), and :func:`train_all` writes ``OUT/summary.csv`` / ``summary.md`` as units
finish, in topology order. The summary rows do not depend on the engine.

Under ``torchrun`` this process is one rank of a data-parallel job: :func:`join_torchrun`
joins it once, and the :class:`~weldsynth.train.distributed.Distributed` it returns is
passed down to the trainer (the engine must then run units in this process).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weldsynth.core.errors import WeldsynthError
from weldsynth.engines.base import Executor
from weldsynth.train import distributed, reports
from weldsynth.train.choice import ModelChoice
from weldsynth.train.config import TrainConfig
from weldsynth.train.data import Listing
from weldsynth.train.summary import write_train_summary

Say = Callable[[str], None]
RETRIES = 1
"""Reruns of a topology whose worker died (training is long: once)."""


@dataclass(frozen=True)
class TopologyUnit:
    """All that one worker needs to train one topology.

    Attributes:
        listing: From :func:`weldsynth.train.run.prepare`.
        out: The run folder (``OUT/<topology>``).
        cfg: The configuration.
        weights: Pretrained weights file, or None for training from scratch.
        weights_note: What ``--weights`` resolved to.
        threads: Torch threads in a worker of its own (in this process, the caller's
            setting is kept).
        quiet: Print warnings only (in a worker of its own).
        model: How ``--arch`` was resolved (once, by the caller).
    """

    listing: Listing
    out: Path
    cfg: TrainConfig
    weights: Path | None
    weights_note: str
    threads: int = 0
    quiet: bool = False
    model: ModelChoice | None = None


@dataclass(frozen=True)
class InProcess:
    """What a unit run in this process may use: the caller's printer and progress bars,
    and the torchrun job (none of them travel to another process)."""

    say: Say
    progress_factory: Callable[[], Any] | None = None
    ddp: distributed.Distributed | None = None


def train_unit(unit: TopologyUnit, here: InProcess | None = None) -> dict[str, Any]:
    """Train one topology (in any process); returns its ``report.json`` content.

    Args:
        unit: The work.
        here: The caller's printer, progress bars and torchrun job when run in its
            process; None in a worker of its own (lines go to stdout/stderr).
    """
    import torch

    from weldsynth.train.run import train_topology
    from weldsynth.train.tracking import make_tracker

    if here is None:
        if unit.threads:
            torch.set_num_threads(unit.threads)
        here = InProcess(say=functools.partial(_print, quiet=unit.quiet))
    return train_topology(
        unit.listing,
        unit.out,
        unit.cfg,
        weights=unit.weights,
        weights_note=unit.weights_note,
        say=here.say,
        progress_factory=here.progress_factory,
        tracker=make_tracker(unit.cfg.track, unit.cfg.tracking_uri),
        ddp=here.ddp,
        model=unit.model,
    )


def _print(line: str, quiet: bool) -> None:
    warning = line.startswith("warning:")
    if warning or not quiet:
        print(line, file=sys.stderr if warning else sys.stdout, flush=True)


def join_torchrun(executor: Executor, device: str = "auto") -> distributed.Distributed | None:
    """Join the torchrun job this process belongs to (None when not under torchrun);
    ``device`` "cpu" keeps it on the CPU (gloo) even where CUDA is visible.

    Raises:
        WeldsynthError: Under torchrun with an engine that runs units elsewhere.
    """
    if not distributed.launched():
        return None
    if not executor.in_process:
        raise WeldsynthError(
            f"--engine {executor.name} does not run under torchrun; use one or the other"
        )
    return distributed.from_env(device)


def train_all(
    data: Path,
    topologies: list[str],
    out: Path,
    cfg: TrainConfig,
    executor: Executor,
    *,
    say: Say,
    progress_factory: Callable[[], Any] | None = None,
    quiet: bool = False,
    ddp: distributed.Distributed | None = None,
) -> list[dict[str, Any]]:
    """Train ``topologies`` of ``data`` into ``out/<topology>/`` on ``executor``.

    The architecture (``--arch auto``), weights, device and precision are resolved and
    printed in one line, the tracker checked and every topology listed and checked here,
    before any unit starts. Units run elsewhere use ``cfg.threads`` torch threads, or the
    engine's CPUs per unit (at least one).

    Args:
        data: The image folder.
        topologies: The topologies, in summary order.
        out: The output folder.
        cfg: The configuration.
        executor: Where units run.
        say: Prints one line (warnings start with ``warning:``).
        progress_factory: Progress bars, for units run in this process.
        quiet: Workers elsewhere print warnings only.
        ddp: The torchrun job (from :func:`join_torchrun`).

    Returns:
        The summary rows, in the order of ``topologies``.
    """
    import torch

    from weldsynth.train.choice import choose_run
    from weldsynth.train.run import prepare
    from weldsynth.train.tracking import make_tracker

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.track:
        make_tracker(cfg.track, cfg.tracking_uri)  # fail now, not after the first topology
    run = choose_run(cfg)
    say(run.line())
    weights, note = run.model.weights, run.model.weights_note
    say(note if weights is not None or cfg.weights == "none" else f"warning: {note}")
    cfg = run.cfg(cfg)
    if executor.remote:  # workers elsewhere find the files at the same absolute paths
        data, out = Path(data).absolute(), Path(out).absolute()
        weights = Path(weights).absolute() if weights is not None else None
    listings = [prepare(data, t, cfg) for t in topologies]
    threads = cfg.threads or max(1, int(executor.cpus_per_unit or 1))
    units = [
        TopologyUnit(lst, out / lst.topology, cfg, weights, note, threads, quiet, run.model)
        for lst in listings
    ]
    fn: Callable[[TopologyUnit], dict[str, Any]] = train_unit
    if executor.in_process:
        fn = functools.partial(train_unit, here=InProcess(say, progress_factory, ddp))
    else:
        say(f"{executor.name}: {len(units)} topologies as {executor.describe()}")
    rows: list[dict[str, Any]] = []
    for report in executor.map(fn, units, retries=RETRIES, chunk=1):
        rows.append(reports.summary_row(report))
        reports.write_summary(out, rows)
    write_train_summary(out, [r["topology"] for r in rows])
    return rows
