"""The CLI's error boundary: one line and the exit status of the README's table, for user
errors (2), file system errors (2, naming the path), bugs (3 with a crash report) and
Ctrl-C (130, temporary files removed); --debug shows the traceback."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from weldsynth.cli import boundary
from weldsynth.cli.main import cli
from weldsynth.core import atomic, lock
from weldsynth.data import samples_dir

ROOT = Path(__file__).resolve().parents[2]


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_exit_status_table_is_the_readme_s() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Errors and exit status", 1)[1].split("\n\n")[2]
    codes = [int(row.split("|")[1]) for row in table.splitlines()[2:]]
    assert codes == sorted(boundary.EXIT_CODES), "the README's exit status table"


def test_disk_full_is_one_line_naming_the_file_and_no_temp_is_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "fsync", full)
    out = tmp_path / "my.yaml"
    res = CliRunner().invoke(cli, ["recipe", "init", "--topology", "7", "--out", str(out)])
    assert res.exit_code == 2
    assert _lines(res.output) == [f"error: {out}: No space left on device"]
    assert list(tmp_path.iterdir()) == [], "no half-written file, no temp file"


def test_a_bug_is_one_line_with_a_crash_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import weldsynth.synth.recipe_template as template

    def boom(topology: int) -> str:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(template, "starter_recipe", boom)
    monkeypatch.setattr(lock, "_LAST", [])  # no folder locked earlier in this process
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    res = CliRunner().invoke(cli, ["recipe", "init", "-t", "7", "--out", str(tmp_path / "r")])
    assert res.exit_code == 3
    (line,) = _lines(res.output)
    assert line.startswith("error: internal error (ZeroDivisionError: a bug); crash report: ")
    assert "Traceback" not in res.output
    (report,) = (tmp_path / "cache" / "weldsynth").glob("crash-*.txt")
    assert str(report) in line
    text = report.read_text()
    assert "Traceback (most recent call last)" in text and "ZeroDivisionError: a bug" in text
    assert "weldsynth: " in text and "numpy: " in text and "python: " in text


def test_a_crash_report_goes_to_the_output_folder_it_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from weldsynth.dataset import generate

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug in the run")

    monkeypatch.setattr(generate, "run", boom)
    out = tmp_path / "data"
    res = CliRunner().invoke(
        cli,
        [
            *("generate", str(samples_dir() / "7"), "--recipe", str(ROOT / "recipes" / "7.yaml")),
            *("--out", str(out), "--workers", "1", "-q"),
        ],
    )
    assert res.exit_code == 3, res.output
    (report,) = (out / ".weldsynth").glob("crash-*.txt")
    assert str(report) in res.output and "bug in the run" in report.read_text()


@pytest.mark.parametrize("how", ["--debug", "env"])
def test_debug_shows_the_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    missing = str(tmp_path / "missing.png")
    plain = CliRunner().invoke(cli, ["inspect", missing])
    assert plain.exit_code == 2 and "Traceback" not in plain.output
    if how == "env":
        monkeypatch.setenv("WELDSYNTH_DEBUG", "1")
    res = CliRunner().invoke(
        cli, ["--debug", "inspect", missing] if how == "--debug" else ["inspect", missing]
    )
    assert res.exit_code == 2
    assert "Traceback (most recent call last)" in res.output
    assert f"error: {missing}: file not found" in res.output


def test_interrupt_removes_the_temp_files_being_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stray = tmp_path / ".x.png.abc.tmp"  # one created just before the interrupt
    stray.write_bytes(b"half")
    monkeypatch.setattr(atomic, "_LIVE", {str(stray)})
    assert boundary.handle(KeyboardInterrupt(), ["weldsynth"], debug=False) == 130
    assert not stray.exists() and atomic.live_temp_files() == []


def test_the_module_and_the_checkout_shim_go_through_it(tmp_path: Path) -> None:
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(bytes(range(256)))
    for argv in ([sys.executable, "-m", "weldsynth"], [sys.executable, str(ROOT / "cli.py")]):
        res = subprocess.run(
            [*argv, "recipe", "check", str(binary)], capture_output=True, text=True, cwd=tmp_path
        )
        assert res.returncode == 1, res.stderr
        assert _lines(res.stderr) == [
            f"error: {binary}: not a text file (byte 128 is not UTF-8); a recipe is YAML"
        ]


@pytest.mark.skipif(os.name != "posix", reason="SIGINT to a process")
def test_ctrl_c_during_generate_exits_130_and_leaves_no_temp_file(tmp_path: Path) -> None:
    out = tmp_path / "data"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "weldsynth", "generate", str(samples_dir()), "--all"),
            *("--out", str(out), "--workers", "1", "-q"),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not list(out.glob("*/good/*.png")) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and _lines(err)[-1].startswith("interrupted")
    assert list(out.rglob("*.tmp")) == []


def test_what_was_kept_is_said_only_for_files_of_the_locked_folder(tmp_path: Path) -> None:
    from weldsynth.core.lock import output_lock

    out = tmp_path / "data"
    with output_lock(out, kept="finished sources are kept"):
        pass
    full = errno.ENOSPC, os.strerror(errno.ENOSPC)
    inside = boundary.os_error_line(OSError(*full, str(out / "7" / "a.png")))
    assert inside == f"error: {out / '7' / 'a.png'}: No space left on device; " + (
        "finished sources are kept"
    )
    elsewhere = boundary.os_error_line(OSError(*full, str(tmp_path / "x.yaml")))
    assert elsewhere == f"error: {tmp_path / 'x.yaml'}: No space left on device"
