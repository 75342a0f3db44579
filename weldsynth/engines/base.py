"""The one interface every engine offers, and the registry that finds engines by name.

An engine runs a caller's work: the caller passes a picklable top-level function and a
list of work units (small picklable descriptions), the engine yields ``fn(unit)`` for
every unit, in unit order. Engines import only :mod:`weldsynth.core` and their own
libraries; they know nothing of what the units mean.

Engines are discovered, not listed: every public module of :mod:`weldsynth.engines` is
imported, and any class it decorates with :func:`register_engine` becomes available by
name (so does a class registered by a module named in the ``weldsynth.engines`` entry-point
group of an installed package).
"""

from __future__ import annotations

import abc
import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from importlib.metadata import entry_points
from typing import Any, ClassVar, TypeVar

from weldsynth.core.errors import WeldsynthError

U = TypeVar("U")
R = TypeVar("R")
X = TypeVar("X", bound="Executor")

_ENGINES: dict[str, type[Executor]] = {}
ENTRY_POINT_GROUP = "weldsynth.engines"


class Executor(abc.ABC):
    """Runs a function over work units somewhere: here, in processes, on a cluster.

    Use it as a context manager (or call :meth:`close`): an engine may hold resources
    (a process pool, a cluster connection) between calls of :meth:`map`.

    Attributes:
        name: The name it is registered under (``--engine NAME``).
        options: Keyword options its constructor takes (``get_executor(name, **options)``).
        remote: Units may run on other machines: paths in them must be absolute, and on a
            filesystem every machine sees at the same path.
    """

    name: ClassVar[str] = ""
    options: ClassVar[tuple[str, ...]] = ()
    remote: ClassVar[bool] = False

    @property
    def in_process(self) -> bool:
        """Whether units run in this very process (then ``fn`` may hold unpicklable things,
        such as a progress bar or a process group)."""
        return False

    @property
    def cpus_per_unit(self) -> float | None:
        """CPUs one unit may use (None: the whole machine)."""
        return None

    def describe(self) -> str:
        """Where units run, in a few words (for a log line)."""
        return self.name

    @abc.abstractmethod
    def map(
        self,
        fn: Callable[[U], R],
        units: Sequence[U],
        *,
        retries: int | None = None,
        chunk: int = 0,
    ) -> Iterator[R]:
        """Yield ``fn(unit)`` for every unit, in unit order.

        Args:
            fn: A picklable top-level function (or a ``functools.partial`` of one).
            units: Picklable work units.
            retries: Reruns of units whose worker died (None: the engine's default). A unit
                that raises is not rerun: its exception is raised here, as it is.
            chunk: Units per task sent to a worker (0: the engine chooses).

        Raises:
            WeldsynthError: A worker died more than ``retries`` times.
        """

    def close(self) -> None:
        """Free what the engine holds (idempotent); nothing here."""
        return None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def register_engine(name: str) -> Callable[[type[X]], type[X]]:
    """Class decorator: make an :class:`Executor` subclass available as ``name``."""

    def decorate(cls: type[X]) -> type[X]:
        cls.name = name
        _ENGINES[name] = cls
        return cls

    return decorate


def _discover() -> None:
    """Import every public engine module (and entry points), which registers their engines."""
    package = importlib.import_module("weldsynth.engines")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{info.name}")
    for point in entry_points(group=ENTRY_POINT_GROUP):
        point.load()


def list_engines() -> list[str]:
    """Names of every engine, sorted."""
    _discover()
    return sorted(_ENGINES)


def get_executor(name: str, **options: Any) -> Executor:
    """A new executor of engine ``name``.

    Options whose value is None count as not given. Each option is named like the CLI
    option that sets it (``address`` is ``--address``).

    Raises:
        WeldsynthError: No such engine, an option the engine does not take, or the engine
            cannot run here (e.g. its library is not installed).
    """
    engines = list_engines()
    if name not in _ENGINES:
        raise WeldsynthError(f"--engine {name}: no such engine (have: {', '.join(engines)})")
    cls = _ENGINES[name]
    given = {k: v for k, v in options.items() if v is not None}
    for key in given:
        if key not in cls.options:
            takers = [n for n in engines if key in _ENGINES[n].options]
            where = f"--engine {' or --engine '.join(takers)}" if takers else "no engine"
            raise WeldsynthError(f"--{key.replace('_', '-')} is for {where}")
    return cls(**given)


# --------------------------------------------------------------------------- helpers
def run_chunk(fn: Callable[[U], R], units: Sequence[U]) -> list[R]:
    """``fn`` over a chunk of units, in a worker."""
    return [fn(unit) for unit in units]


def default_chunk(units: int, cpus: int) -> int:
    """Units per task: up to 8, and at least 4 tasks per CPU."""
    return max(1, min(8, units // (4 * max(1, cpus))))


def chunked(units: Sequence[U], size: int) -> list[list[U]]:
    """``units`` cut into lists of ``size`` (the last one shorter)."""
    return [list(units[k : k + size]) for k in range(0, len(units), max(1, size))]


def in_order(done: Iterable[tuple[int, list[R]]]) -> Iterator[R]:
    """Results of chunks that finish in any order (``(chunk index, results)``), yielded in
    chunk order; those that finish early wait in memory."""
    waiting: dict[int, list[R]] = {}
    next_out = 0
    for index, results in done:
        waiting[index] = results
        while next_out in waiting:
            yield from waiting.pop(next_out)
            next_out += 1
