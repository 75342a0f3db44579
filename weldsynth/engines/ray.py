"""The Ray engine: generate's work units and per-topology training as Ray tasks.

Only descriptions travel: a generate task is a :class:`~weldsynth.dataset.generate.SourceTask`
(file paths, the recipe, options), a training task a topology's listing (file paths) and
the configuration. Workers read the images and write the outputs themselves, so every node
must see the data and output folders at the same absolute paths (a shared filesystem) and
have weldsynth installed. Results that come back are small: a generate task returns the
rows of its done record, a training task its ``report.json`` content.

Ray is imported lazily: without the ``ray`` extra only ``--engine ray`` fails, with a
message naming it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from weldsynth.core.errors import WeldsynthError

ENGINES = ("local", "ray")
RAY_MISSING = '--engine ray needs Ray, which is not installed: pip install "weldsynth[ray]"'
MAX_RETRIES = 3
"""Times Ray reruns a task whose worker died (killed, out of memory, node lost)."""
FAULT_ENV = "WELDSYNTH_FAULT_DIR"
"""Test hook: a folder of kill requests (see :func:`_fault_injection`)."""


def require_ray():
    """The ``ray`` module.

    Raises:
        WeldsynthError: Ray is not installed (the message names the extra to install).
    """
    try:
        import ray
    except ImportError as exc:
        raise WeldsynthError(RAY_MISSING) from exc
    return ray


@contextlib.contextmanager
def session(address: str | None = None, num_cpus: int | None = None) -> Iterator[Any]:
    """Ray, connected: to ``address`` (a running cluster), else to a new local instance
    with ``num_cpus`` CPUs. A Ray already initialised in this process is used as it is and
    left running; one started here is shut down on exit.

    Raises:
        WeldsynthError: Ray is missing, or the cluster at ``address`` cannot be reached.
    """
    ray = require_ray()
    if ray.is_initialized():
        yield ray
        return
    try:
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            ray.init(
                address="local",
                num_cpus=num_cpus,
                include_dashboard=False,
                logging_level=logging.WARNING,
            )
    except ConnectionError as exc:
        raise WeldsynthError(
            f"--address {address}: cannot connect to a Ray cluster "
            f"({exc}); start one with `ray start --head`"
        ) from exc
    try:
        yield ray
    finally:
        ray.shutdown()


def run_remote(
    ray, calls: Sequence[Callable[[], Any]], window: int, retries: int = MAX_RETRIES
) -> Iterator[tuple[int, Any]]:
    """Submit calls (each returns an ObjectRef) at most ``window`` at a time and yield
    ``(index, result)`` as they finish. A failed task raises its own exception here (a
    :class:`WeldsynthError` for a worker that died more than ``retries`` times);
    tasks not finished then are cancelled."""
    pending: dict[Any, int] = {}
    next_call = 0
    try:
        while pending or next_call < len(calls):
            while next_call < len(calls) and len(pending) < window:
                pending[calls[next_call]()] = next_call
                next_call += 1
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                index = pending.pop(ref)
                yield index, _get(ray, ref, retries)
    finally:
        for ref in pending:
            with contextlib.suppress(Exception):
                ray.cancel(ref)


def _get(ray, ref, retries: int) -> Any:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, Exception):
            raise cause from exc
        raise
    except (
        ray.exceptions.WorkerCrashedError,
        ray.exceptions.NodeDiedError,
        ray.exceptions.ObjectLostError,
    ) as exc:
        raise WeldsynthError(
            f"a Ray task failed {retries + 1} time(s) ({type(exc).__name__}); run again to resume"
        ) from exc


def _window(ray, cpus_per_task: float = 1.0) -> int:
    cpus = float(ray.cluster_resources().get("CPU", 1))
    return max(8, int(4 * cpus / max(cpus_per_task, 0.01)))


# --------------------------------------------------------------------------- generate
def generate_results(
    tasks: Sequence[Any],
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    max_retries: int = MAX_RETRIES,
    chunk: int = 0,
) -> Iterator[Any]:
    """Run :func:`weldsynth.dataset.generate.run_task` over ``tasks`` as Ray tasks.

    Yields the :class:`~weldsynth.dataset.generate.SourceResult` of every task in task order (as
    the local engine; results that finish early wait in memory, they are small). Paths are
    made absolute first, so workers started elsewhere find them.

    Args:
        tasks: The work units (``SourceTask``).
        address: A running cluster; None starts a local instance.
        num_cpus: CPUs of that local instance (None: all).
        max_retries: Reruns of a task whose worker died.
        chunk: Work units per Ray task (0: as the local engine, up to 8, at least 4
            Ray tasks per CPU). A retried chunk skips the units it had finished (their
            done records exist).
    """
    if not tasks:
        return
    with session(address, num_cpus) as ray:
        remote = ray.remote(_run_sources).options(num_cpus=1, max_retries=max_retries)
        absolute = [
            dataclasses.replace(t, file=Path(t.file).absolute(), out=Path(t.out).absolute())
            for t in tasks
        ]
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        size = chunk if chunk else max(1, min(8, len(tasks) // (4 * cpus)))
        chunks = [absolute[k : k + size] for k in range(0, len(absolute), size)]
        calls = [(lambda c=c: remote.remote(c)) for c in chunks]
        waiting: dict[int, list[Any]] = {}
        next_out = 0
        for index, results in run_remote(ray, calls, _window(ray), max_retries):
            waiting[index] = results
            while next_out in waiting:
                yield from waiting.pop(next_out)
                next_out += 1


def _run_sources(tasks: list) -> list:  # -> list[SourceResult] (runs in a Ray worker)
    from weldsynth.dataset import generate

    results = []
    for task in tasks:
        with _fault_injection(task):
            results.append(generate.run_task(task))
    return results


@contextlib.contextmanager
def _fault_injection(task) -> Iterator[None]:
    """Test hook: when ``$WELDSYNTH_FAULT_DIR/<topology>_<name>`` exists, it is removed and
    the worker process dies (``os._exit``) after N image writes, N being the file's
    content, leaving ``<topology>_<name>.killed``: a crash in the middle of a task, once.
    Without the variable, nothing."""
    folder = os.environ.get(FAULT_ENV)
    request = Path(folder) / f"{task.topology}_{task.name}" if folder else None
    try:
        after = int(request.read_text(encoding="utf-8").strip() or 0) if request else -1
        if request is not None:
            request.unlink()
    except (OSError, ValueError):
        after = -1
    if after < 0:
        yield
        return
    from weldsynth.dataset import generate

    real = generate.write_png
    written = 0

    def dying(path, pixels):
        nonlocal written
        if written >= after:
            request.with_name(request.name + ".killed").write_text(str(os.getpid()))
            os._exit(17)
        written += 1
        return real(path, pixels)

    generate.write_png = dying
    try:
        yield
    finally:
        generate.write_png = real


# --------------------------------------------------------------------------- train
def train_topologies(
    data: Path,
    topologies: list[str],
    out: Path,
    cfg,
    *,
    weights: Path | None,
    weights_note: str,
    say: Callable[[str], None],
    address: str | None = None,
    num_cpus: int | None = None,
    cpus_per_task: float = 1.0,
    resources: dict[str, float] | None = None,
    quiet: bool = False,
    max_retries: int = 1,
    progress_factory=None,
    tracker_factory=None,
) -> list[dict[str, Any]]:
    """One Ray task per topology; ``summary.csv`` / ``summary.md`` as the local engine.

    Same contract as :func:`weldsynth.train.run.train_topologies` (whose
    ``progress_factory`` / ``tracker_factory`` are accepted and unused: workers draw no
    progress bars and make their tracker from ``cfg``). Every topology is listed and
    checked here before any task starts. Torch in a task uses ``cfg.threads`` threads, or
    ``cpus_per_task`` (at least one).

    Args:
        cpus_per_task: CPUs Ray reserves per topology.
        resources: Other Ray resources per topology (``{"GPU": 1}``, custom ones).
        quiet: Workers print warnings only.

    Returns:
        The summary rows, in the order of ``topologies``.
    """
    from weldsynth.train import reports
    from weldsynth.train.run import prepare

    data, out = Path(data).absolute(), Path(out).absolute()
    listings = [prepare(data, t, cfg) for t in topologies]
    threads = cfg.threads or max(1, int(cpus_per_task))
    weights = Path(weights).absolute() if weights is not None else None
    extra = dict(resources or {})
    gpus = extra.pop("GPU", 0)
    rows: dict[str, dict[str, Any]] = {}
    with session(address, num_cpus) as ray:
        remote = ray.remote(_train_one).options(
            num_cpus=cpus_per_task, num_gpus=gpus, resources=extra or None, max_retries=max_retries
        )
        calls = [
            (
                lambda lst=lst: remote.remote(
                    lst, out / lst.topology, cfg, weights, weights_note, threads, quiet
                )
            )
            for lst in listings
        ]
        say(
            f"ray: {len(calls)} topologies as Ray tasks, {cpus_per_task:g} CPU each, on "
            f"{ray.cluster_resources().get('CPU', 0):g} CPUs"
        )
        for index, report in run_remote(ray, calls, _window(ray, cpus_per_task), max_retries):
            rows[listings[index].topology] = reports.summary_row(report)
            done = [rows[t.topology] for t in listings if t.topology in rows]
            reports.write_summary(out, done)
    return [rows[t.topology] for t in listings]


def _train_one(
    listing, out: Path, cfg, weights: Path | None, weights_note: str, threads: int, quiet: bool
) -> dict[str, Any]:
    """Train one topology in a Ray worker; returns its report."""
    import torch

    from weldsynth.train.run import train_topology
    from weldsynth.train.tracking import make_tracker

    torch.set_num_threads(threads)

    def say(line: str) -> None:
        warning = line.startswith("warning:")
        if warning or not quiet:
            print(line, file=sys.stderr if warning else sys.stdout, flush=True)

    return train_topology(
        listing,
        out,
        cfg,
        weights=weights,
        weights_note=weights_note,
        say=say,
        tracker=make_tracker(cfg.track, cfg.tracking_uri),
    )


def parse_resources(pairs: Sequence[str]) -> dict[str, float]:
    """``NAME=AMOUNT`` pairs (``--ray-resource``) as a dict.

    Raises:
        WeldsynthError: A pair is not NAME=AMOUNT with a number >= 0.
    """
    out: dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            amount = float(value)
        except ValueError:
            amount = -1.0
        if not sep or not name.strip() or amount < 0:
            raise WeldsynthError(
                f"--ray-resource {pair!r}: expected NAME=AMOUNT, e.g. GPU=1 or big_memory=1"
            )
        out[name.strip()] = amount
    return out
