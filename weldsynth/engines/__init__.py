"""Engines: where work units run (this process, local processes, a Ray cluster).

Callers pass a picklable top-level function and a list of work units to an
:class:`~weldsynth.engines.base.Executor` got by name (:func:`get_executor`); engines import
only :mod:`weldsynth.core` and never their callers. :mod:`weldsynth.engines.faults` is the
test hook that kills a worker in the middle of a unit.
"""

from weldsynth.engines.base import Executor, get_executor, list_engines, register_engine

__all__ = ["Executor", "get_executor", "list_engines", "register_engine"]
