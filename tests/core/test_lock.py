"""core.lock: one writer per output folder; a second is told who; a dead one's lock is
taken over; a refused or empty run leaves no lock litter behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from weldsynth.core.errors import WeldsynthError
from weldsynth.core.lock import (
    FolderLockedError,
    is_bare,
    kept_note,
    lock_path,
    locked_folders,
    output_lock,
)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="flock is POSIX")


def _holder(folder: Path) -> subprocess.Popen:
    """Another process that holds the lock of ``folder`` until its stdin closes."""
    code = textwrap.dedent(
        f"""
        import sys
        from weldsynth.core.lock import output_lock
        with output_lock({str(folder)!r}):
            print("held", flush=True)
            sys.stdin.read()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_the_lock_file_names_the_holder_and_is_emptied_on_release(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / ".weldsynth").mkdir(parents=True)
    (out / ".weldsynth" / "run.json").write_text("{}")  # run state: the lock file stays
    with output_lock(out, kept="files kept") as file:
        assert file == lock_path(out)
        pid, host = file.read_text().splitlines()
        assert int(pid) == os.getpid() and host == socket.gethostname()
        assert locked_folders()[-1] == out and kept_note() == "files kept"
    assert file.read_text() == ""


def test_a_second_writer_is_refused_with_pid_and_host(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _holder(out)
    try:
        with pytest.raises(FolderLockedError) as info, output_lock(out):
            pass
        assert info.value.pid == proc.pid
        assert str(info.value) == (
            f"{out} is being written by another weldsynth (pid {proc.pid} on "
            f"{socket.gethostname()}); wait or choose another --out"
        )
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)
    with output_lock(out):  # free again once the holder has gone
        pass


def test_a_killed_holder_leaves_a_stale_lock_that_is_taken_over(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _holder(out)
    proc.kill()  # SIGKILL: no release, the pid stays in the file
    proc.wait(timeout=30)
    assert lock_path(out).read_text().startswith(f"{proc.pid}\n")
    notices: list[str] = []
    with output_lock(out, notice=notices.append):
        assert lock_path(out).read_text().startswith(f"{os.getpid()}\n")
    assert len(notices) == 1
    assert f"taking over the lock of weldsynth pid {proc.pid}" in notices[0]
    assert "no longer running" in notices[0]


def test_nested_use_in_one_process_is_reentrant(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / ".weldsynth").mkdir(parents=True)
    (out / ".weldsynth" / "run.json").write_text("{}")
    with output_lock(out):
        with output_lock(out):
            assert lock_path(out).read_text() != ""
        assert lock_path(out).read_text() != "", "the outer block still holds it"
    assert lock_path(out).read_text() == ""


def test_a_run_that_writes_nothing_leaves_no_folder_behind(tmp_path: Path) -> None:
    new = tmp_path / "new" / "deeper"
    with pytest.raises(WeldsynthError, match="refused"), output_lock(new):
        raise WeldsynthError("refused")
    assert not (tmp_path / "new").exists()
    user = tmp_path / "user"
    user.mkdir()
    (user / "mine.txt").write_text("x")
    with output_lock(user):
        assert not is_bare(user)
        (user / "result.txt").write_text("written")
    assert sorted(p.name for p in user.iterdir()) == ["mine.txt", "result.txt"]


def test_is_bare_ignores_only_the_lock(tmp_path: Path) -> None:
    with output_lock(tmp_path / "o"):
        assert is_bare(tmp_path / "o")
        (tmp_path / "o" / ".weldsynth" / "run.json").write_text("{}")
        assert not is_bare(tmp_path / "o")


def test_a_file_in_place_of_the_folder_is_one_clear_error(tmp_path: Path) -> None:
    file = tmp_path / "out"
    file.write_text("x")
    with pytest.raises(WeldsynthError, match="exists and is not a folder"), output_lock(file):
        pass
