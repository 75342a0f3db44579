"""Every engine behind the one Executor interface: results in unit order, a failing unit's
own error, options checked by the registry, a killed local worker rerun, and engines that
never import their callers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import engines_support as support
import pytest

from weldsynth.core.errors import WeldsynthError
from weldsynth.engines import faults
from weldsynth.engines.base import Executor, get_executor, list_engines

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", params=list_engines())
def executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    """One executor per registered engine, with two workers; skipped where the engine
    cannot run here (its library missing), with its message as the reason."""
    with pytest.MonkeyPatch.context() as mp:  # Ray workers import the work functions
        mp.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
        try:
            engine = get_executor(request.param, workers=2)
        except WeldsynthError as exc:
            pytest.skip(str(exc))
        with engine:
            yield engine


def test_the_shipped_engines_are_discovered() -> None:
    assert {"local", "ray"} <= set(list_engines())


@pytest.mark.parametrize("chunk", [0, 1, 3])
def test_results_come_in_unit_order(executor: Executor, chunk: int) -> None:
    units = list(range(23))
    assert list(executor.map(support.square_late, units, chunk=chunk)) == [u * u for u in units]
    assert list(executor.map(support.square_late, [])) == []


def test_a_failing_unit_raises_its_own_error(executor: Executor) -> None:
    with pytest.raises(ValueError, match="unit 3 is bad"):
        list(executor.map(support.fail_on_three, range(8), chunk=2))
    assert list(executor.map(support.fail_on_three, [1, 2])) == [1, 2]  # still usable


def test_one_local_worker_runs_units_here() -> None:
    with get_executor("local") as here:
        assert here.in_process and not here.remote and here.cpus_per_unit is None
        with pytest.raises(ValueError, match="unit 3 is bad"):  # raised here, traceback intact
            list(here.map(support.fail_on_three, range(5)))
    assert not get_executor("local", workers=2).in_process


def test_options_are_checked_by_name() -> None:
    with pytest.raises(WeldsynthError, match="no such engine"):
        get_executor("spark")
    with pytest.raises(WeldsynthError, match="--address is for --engine ray"):
        get_executor("local", address="auto")
    with pytest.raises(WeldsynthError, match="--ray-cpus-per-task is for --engine ray"):
        get_executor("local", ray_cpus_per_task=2.0)
    assert get_executor("local", address=None, workers=3).workers == 3  # None: not given


def test_a_killed_local_worker_is_rerun_or_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(faults.FAULT_ENV, str(tmp_path))  # forked workers see it
    (tmp_path / "unit5").write_text("1")  # unit 5's worker dies before its 2nd write
    with get_executor("local", workers=2) as pool:
        assert list(pool.map(support.write_twice, range(12), retries=1)) == list(range(12))
    assert (tmp_path / "unit5.killed").exists() and not (tmp_path / "unit5").exists()
    assert int((tmp_path / "unit5.killed").read_text()) != os.getpid()
    (tmp_path / "unit2").write_text("0")
    with get_executor("local", workers=2) as pool, pytest.raises(WeldsynthError, match="died"):
        list(pool.map(support.write_twice, range(12), retries=0))


def test_engines_never_import_their_callers() -> None:
    code = (
        "import sys, weldsynth.engines as e\n"
        "import weldsynth.engines.base, weldsynth.engines.local, weldsynth.engines.ray\n"
        "import weldsynth.engines.faults\n"
        "e.list_engines(); e.get_executor('local', workers=2)\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('weldsynth'))))\n"
        "print('ray' in sys.modules)\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    names, ray_loaded = res.stdout.splitlines()
    loaded = names.split()
    assert "weldsynth.engines.ray" in loaded
    outside = [
        m
        for m in loaded
        if m != "weldsynth" and not m.startswith(("weldsynth.core", "weldsynth.engines"))
    ]
    assert outside == [], f"engines import {outside}"
    assert ray_loaded == "False"  # nor Ray itself until an executor needs it
