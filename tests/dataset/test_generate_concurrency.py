"""Real concurrency and a full disk for ``weldsynth generate`` (issue 17), in subprocesses.

* Two runs on one folder: the second is refused in one line naming the first's pid and
  host; the first finishes byte-identical to a run alone.
* The first killed with SIGKILL: a later run takes over its stale lock with a notice and
  ends byte-identical.
* The disk fills up (``fsync`` raising ENOSPC after some files): one line naming the file,
  no temporary or partial file left, and a rerun completes byte-identical.

A run is paused with SIGSTOP once it holds the lock, so what the second run meets does not
depend on timing.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fuzz_cases import tree_digest

from weldsynth.core.lock import lock_path
from weldsynth.data import recipes_dir, samples_dir

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals and flock")

FULL_DISK = """
import errno, os, sys
calls = [0]
real = os.fsync
def fsync(fd):
    calls[0] += 1
    if calls[0] > int(os.environ["FSYNCS_LEFT"]):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return real(fd)
os.fsync = fsync
from weldsynth.cli.main import main
main(sys.argv[1:])
"""


def _args(good: Path, out: Path) -> list[str]:
    recipe = str(recipes_dir() / "7.yaml")
    return ["generate", str(good), "--recipe", recipe, "--out", str(out), "--workers", "1", "-q"]


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "weldsynth", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run(args: list[str], cwd: Path, script: str = "", **env: str) -> subprocess.CompletedProcess:
    head = ["-c", script] if script else ["-m", "weldsynth"]
    return subprocess.run(
        [sys.executable, *head, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )


def _wait_for(condition, what: str, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _holds_lock(proc: subprocess.Popen, out: Path) -> bool:
    try:
        return lock_path(out).read_text().startswith(f"{proc.pid}\n")
    except OSError:
        return False


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("good") / "7"
    folder.mkdir()
    for src in sorted((samples_dir() / "7").glob("*.png"))[:3]:
        (folder / src.name).write_bytes(src.read_bytes())
    return folder


@pytest.fixture(scope="module")
def solo(good: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("solo") / "data"
    res = _run(_args(good, out), out.parent)
    assert res.returncode == 0, res.stderr
    return tree_digest(out)


def test_a_second_writer_is_refused_and_the_first_is_unharmed(
    good: Path, solo: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "data"
    first = _start(_args(good, out), tmp_path)
    try:
        _wait_for(lambda: _holds_lock(first, out), "the first run's lock")
        first.send_signal(signal.SIGSTOP)
        second = _run(_args(good, out), tmp_path)
    finally:
        first.send_signal(signal.SIGCONT)
    assert second.returncode == 2
    assert second.stderr.strip() == (
        f"error: {out} is being written by another weldsynth (pid {first.pid} on "
        f"{socket.gethostname()}); wait or choose another --out"
    )
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert tree_digest(out) == solo


def test_a_killed_run_s_lock_is_taken_over_and_the_result_is_identical(
    good: Path, solo: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "data"
    first = _start(_args(good, out), tmp_path)
    done = out / ".weldsynth" / "done"
    _wait_for(lambda: done.is_dir() and any(done.rglob("*.json")), "a finished source")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=60)
    assert not (out / "manifest.csv").exists(), "killed before the end"
    second = _run(_args(good, out), tmp_path)
    assert second.returncode == 0, second.stderr
    notices = [line for line in second.stderr.splitlines() if line.startswith("notice:")]
    assert notices == [
        f"notice: {out}: taking over the lock of weldsynth pid {first.pid} on "
        f"{socket.gethostname()}, which is no longer running"
    ]
    assert tree_digest(out) == solo


def test_a_full_disk_leaves_no_partial_file_and_a_rerun_completes(
    good: Path, solo: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "data"
    full = _run(_args(good, out), tmp_path, FULL_DISK, FSYNCS_LEFT="12")
    assert full.returncode == 2, full.stderr
    (line,) = full.stderr.strip().splitlines()
    assert line.startswith(f"error: {out}/") and ": No space left on device; " in line
    assert line.endswith("the sources finished are kept; run the same command again to resume")
    assert "Traceback" not in full.stderr
    left = tree_digest(out)
    assert not [p for p in left if p.endswith(".tmp")], "a temporary file was left"
    partial = {p for p in left if solo.get(p) != left[p] and not p.startswith(".weldsynth/")}
    assert not partial, f"files that differ from a full run's: {sorted(partial)[:5]}"
    assert "manifest.csv" not in left
    again = _run(_args(good, out), tmp_path)
    assert again.returncode == 0, again.stderr
    assert tree_digest(out) == solo
