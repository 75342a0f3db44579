"""The local engine: units in a pool of processes on this machine, or in this process.

``workers=1`` (the default) runs every unit here, in turn. With more workers, units go in
chunks to a :class:`~concurrent.futures.ProcessPoolExecutor`; a worker that dies (killed,
out of memory) breaks the pool: the chunks not finished then run again in a new pool, up
to ``retries`` times, after which the run stops with a one-line error. Workers exit when
the process that started them dies, even by ``kill -9`` (:func:`die_with_parent`).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

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


@register_engine("local")
class LocalExecutor(Executor):
    """Processes on this machine.

    Args:
        workers: Worker processes (1: this process, no pool).
    """

    options = ("workers",)

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, int(workers or 1))

    @property
    def in_process(self) -> bool:
        """Whether units run in this process (one worker)."""
        return self.workers <= 1

    @property
    def cpus_per_unit(self) -> float | None:
        """None in this process; else this machine's CPUs shared by the workers."""
        if self.in_process:
            return None
        return max(1.0, (os.cpu_count() or 1) / self.workers)

    def describe(self) -> str:
        """``local, N process(es)``."""
        return f"local, {self.workers} process(es)"

    def map(
        self,
        fn: Callable[[U], R],
        units: Sequence[U],
        *,
        retries: int | None = None,
        chunk: int = 0,
    ) -> Iterator[R]:
        """Yield ``fn(unit)`` for every unit, in unit order (see :meth:`Executor.map`).

        A pool is used only for more than one worker and more than one unit.
        """
        units = list(units)
        if self.workers <= 1 or len(units) <= 1:
            for unit in units:
                yield fn(unit)
            return
        size = chunk or default_chunk(len(units), self.workers)
        yield from in_order(self._chunks(fn, chunked(units, size), retries or 0))

    def _chunks(
        self, fn: Callable[[U], R], chunks: list[list[U]], retries: int
    ) -> Iterator[tuple[int, list[R]]]:
        """``(chunk index, results)`` as chunks finish; a broken pool is replaced."""
        left = dict(enumerate(chunks))
        deaths = 0
        while left:
            pool = ProcessPoolExecutor(
                max_workers=self.workers, initializer=die_with_parent, initargs=(os.getpid(),)
            )
            broken: BrokenProcessPool | None = None
            try:
                futures = {pool.submit(run_chunk, fn, c): k for k, c in left.items()}
                for future in as_completed(futures):
                    try:
                        results = future.result()
                    except BrokenProcessPool as exc:
                        broken = exc
                        continue
                    del left[futures[future]]
                    yield futures[future], results
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
            if broken is not None:
                deaths += 1
                if deaths > retries:
                    raise WeldsynthError(
                        f"a worker process died {deaths} time(s) ({broken}); run again to resume"
                    ) from broken


PR_SET_PDEATHSIG = 1
"""prctl option (linux/prctl.h): the signal this process gets when its parent dies."""


def die_with_parent(parent: int) -> None:
    """Pool initializer: end this worker when process ``parent`` is gone.

    On Linux the kernel sends SIGTERM when the parent dies (``PR_SET_PDEATHSIG``);
    elsewhere, or when that call fails, a daemon thread checks the parent every second.
    A parent already gone before this runs ends the worker at once.
    """
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent:
        os._exit(1)
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)
