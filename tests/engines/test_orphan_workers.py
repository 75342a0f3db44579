"""Workers of the local engine exit when the process that started them is killed (-9)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

SCRIPT = """
import os, sys, time
from weldsynth.engines import local
from weldsynth.engines.local import LocalExecutor

if sys.argv[2] == "watchdog":
    local.PR_SET_PDEATHSIG = -1  # prctl fails: the parent-pid watchdog must do it

def hang(unit):
    with open(os.path.join(sys.argv[1], f"{os.getpid()}.pid"), "w") as fh:
        fh.write("x")
    time.sleep(600)
    return unit

if __name__ == "__main__":
    with LocalExecutor(workers=2) as ex:
        list(ex.map(hang, [1, 2, 3, 4], chunk=1))
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("how", ["pdeathsig", "watchdog"])
def test_workers_exit_after_kill_minus_9_of_their_parent(tmp_path: Path, how: str) -> None:
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(SCRIPT))
    pids = tmp_path / "pids"
    pids.mkdir()
    parent = subprocess.Popen([sys.executable, str(script), str(pids), how])
    try:
        deadline = time.monotonic() + 60
        while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = [int(p.stem) for p in pids.iterdir()]
        assert len(workers) == 2
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while any(map(_alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [w for w in workers if _alive(w)]
    finally:
        parent.kill()
        for p in pids.iterdir():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(p.stem), signal.SIGKILL)
    assert left == [], f"worker(s) {left} outlived their killed parent"
