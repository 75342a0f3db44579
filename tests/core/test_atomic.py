"""core.atomic: all or nothing; a failed write leaves the old file and no temp file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from weldsynth.core import atomic
from weldsynth.core.atomic import atomic_write_bytes, atomic_write_text


def test_writes_creates_folders_and_replaces(tmp_path: Path) -> None:
    dest = tmp_path / "a" / "b" / "f.bin"
    assert atomic_write_bytes(dest, b"one") == dest
    assert dest.read_bytes() == b"one"
    atomic_write_text(dest, "twö")
    assert dest.read_text(encoding="utf-8") == "twö"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["f.bin"]


def test_mode_is_what_open_would_give(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_bytes(b"x")
    atomic_write_bytes(tmp_path / "atomic", b"x")
    assert (tmp_path / "atomic").stat().st_mode == plain.stat().st_mode


def test_failure_mid_write_keeps_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "manifest.csv"
    dest.write_bytes(b"old content")

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(dest, b"new content that never lands")
    assert dest.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.csv"]


def test_interrupt_before_rename_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "f.txt"
    dest.write_text("old")
    real_replace = os.replace

    def interrupted(src: str, dst: str) -> None:
        assert Path(src).read_bytes() == b"new", "the data is complete before the rename"
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(dest, "new")
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    assert dest.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]
