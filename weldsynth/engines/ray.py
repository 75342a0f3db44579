"""The Ray engine: work units as Ray tasks, on a local Ray or a cluster.

Only the units travel (descriptions: file paths, options), and the function to run on
them, by reference: every node must have weldsynth installed, and see the files the units
name at the same absolute paths (a shared filesystem). Units go in chunks (one Ray task
per chunk), at most a window of tasks in flight; results come back in unit order. A task
whose worker died (killed, out of memory, node lost) is rerun by Ray, whole.

Ray is imported lazily: without the ``ray`` extra only ``--engine ray`` fails, with a
message naming it.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from weldsynth.core.errors import WeldsynthError
from weldsynth.engines.base import (
    Executor,
    chunked,
    default_chunk,
    in_order,
    register_engine,
    run_chunk,
)

U = TypeVar("U")
R = TypeVar("R")
RAY_MISSING = '--engine ray needs Ray, which is not installed: pip install "weldsynth[ray]"'
MAX_RETRIES = 3
"""Times Ray reruns, by default, a task whose worker died (killed, out of memory, node lost)."""


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


_ADDRESS = re.compile(
    r"(?:ray://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):(?P<port>\d+)"
)


def check_address(address: str | None) -> None:
    """Check the form of ``--address`` before any work (it is not contacted here).

    Raises:
        WeldsynthError: Not ``auto``, ``local``, ``HOST:PORT`` or ``ray://HOST:PORT`` with a
            port in [1, 65535].
    """
    if not address or address in ("auto", "local"):
        return
    match = _ADDRESS.fullmatch(address.strip())
    if match is None or not 1 <= int(match["port"]) <= 65535:
        raise WeldsynthError(
            f"--address {address!r}: expected auto, HOST:PORT or ray://HOST:PORT "
            "(port in [1, 65535]), e.g. 10.0.0.5:6379"
        )


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


@register_engine("ray")
class RayExecutor(Executor):
    """Ray tasks, each on ``ray_cpus_per_task`` CPUs (and ``ray_resource`` resources).

    The Ray session starts with the first :meth:`map` and ends with :meth:`close`; a Ray
    already initialised in this process is used as it is and left running.

    Args:
        workers: CPUs of the local Ray started when there is no ``address`` (None: all).
        address: A running cluster (``host:port`` or ``auto``).
        ray_cpus_per_task: CPUs Ray reserves per task.
        ray_resource: Other Ray resources per task: ``NAME=AMOUNT`` strings or a dict
            (``GPU`` asks for GPUs).

    Raises:
        WeldsynthError: Ray is not installed, or a resource is not ``NAME=AMOUNT``.
    """

    options = ("workers", "address", "ray_cpus_per_task", "ray_resource")
    remote = True

    def __init__(
        self,
        *,
        workers: int | None = None,
        address: str | None = None,
        ray_cpus_per_task: float = 1.0,
        ray_resource: Sequence[str] | Mapping[str, float] = (),
    ) -> None:
        check_address(address)
        require_ray()  # before the caller writes anything
        self.address = address
        self.num_cpus = None if address else workers
        self.cpus_per_task = float(ray_cpus_per_task)
        extra = (
            dict(ray_resource)
            if isinstance(ray_resource, Mapping)
            else parse_resources(ray_resource)
        )
        self.gpus = extra.pop("GPU", 0)
        self.resources = extra
        self._stack: contextlib.ExitStack | None = None

    @property
    def cpus_per_unit(self) -> float | None:
        """The CPUs Ray reserves per task."""
        return self.cpus_per_task

    def _ray(self):
        if self._stack is None:
            self._stack = contextlib.ExitStack()
            self._ray_module = self._stack.enter_context(session(self.address, self.num_cpus))
        return self._ray_module

    def describe(self) -> str:
        """``Ray tasks, N CPU each, on M CPUs`` (connects to Ray)."""
        cpus = self._ray().cluster_resources().get("CPU", 0)
        return f"Ray tasks, {self.cpus_per_task:g} CPU each, on {cpus:g} CPUs"

    def map(
        self,
        fn: Callable[[U], R],
        units: Sequence[U],
        *,
        retries: int | None = None,
        chunk: int = 0,
    ) -> Iterator[R]:
        """Yield ``fn(unit)`` for every unit, in unit order (see :meth:`Executor.map`).

        ``retries`` defaults to :data:`MAX_RETRIES`; a retried chunk runs all its units
        again (a unit that skips work already on disk makes that cheap).
        """
        units = list(units)
        if not units:
            return
        retries = MAX_RETRIES if retries is None else retries
        ray = self._ray()
        remote = ray.remote(run_chunk).options(
            num_cpus=self.cpus_per_task,
            num_gpus=self.gpus,
            resources=self.resources or None,
            max_retries=retries,
        )
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        chunks = chunked(units, chunk or default_chunk(len(units), cpus))
        calls = [(lambda c=c: remote.remote(fn, c)) for c in chunks]
        yield from in_order(run_remote(ray, calls, _window(ray, self.cpus_per_task), retries))

    def close(self) -> None:
        """End the Ray session started here, if any."""
        if self._stack is not None:
            stack, self._stack = self._stack, None
            stack.close()


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
