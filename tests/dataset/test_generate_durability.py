"""generate makes each source's files durable together: a bounded number of fsyncs per
source (not one per file), the files synced before the source's record is written, and
output byte-identical to writing every file with its own fsync."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from fuzz_cases import tree_digest

from weldsynth.cli.main import cli
from weldsynth.core import atomic
from weldsynth.data import samples_dir
from weldsynth.dataset.generate import worker

RECIPE = """\
topology: 7
seed: 5
variants: 6
acceptable: 2
norm: {cut_accept_max: 4, cut_reject_min: 10}
defects: {hole: {weight: 1}, ball: {weight: 1}, cut: {weight: 2}}
"""
SOURCES = 3


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("good") / "7"
    folder.mkdir()
    for src in sorted((samples_dir() / "7").glob("*.png"))[:SOURCES]:
        (folder / src.name).write_bytes(src.read_bytes())
    (folder / "scan.yaml").write_text("pixel_mm: 0.1\nheight_range_mm: [0, 8]\n")  # sidecars
    return folder


def _generate(good: Path, out: Path) -> None:
    recipe = out.parent / "r.yaml"
    recipe.write_text(RECIPE)
    args = [
        "generate",
        str(good),
        "--recipe",
        str(recipe),
        "--out",
        str(out),
        "--workers",
        "1",
        "-q",
    ]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output


class _Syncs:
    """Counts os.fsync and syncfs calls, and which files were written before each."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fsyncs = 0
        self.syncfs = 0
        self.unsynced_at_record: list[int] = []
        real_fsync, real_syncfs = os.fsync, atomic._syncfs
        real_record = worker._write_record

        def fsync(fd: int) -> None:
            self.fsyncs += 1
            real_fsync(fd)

        def syncfs(folder: Path) -> bool:
            self.syncfs += 1
            return real_syncfs(folder)

        def record(path: Path, result: object) -> None:
            batch = atomic._BATCH.get()  # the source's batch is committed by now
            self.unsynced_at_record.append(len(batch.files) if batch is not None else 0)
            real_record(path, result)

        monkeypatch.setattr(atomic.os, "fsync", fsync)
        monkeypatch.setattr(atomic, "_syncfs", syncfs)
        monkeypatch.setattr(worker, "_write_record", record)


@pytest.mark.skipif(not atomic.HAS_SYNCFS, reason="one syncfs per source needs Linux")
def test_fsyncs_per_source_are_bounded_and_output_is_byte_identical(
    good: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    per_file = tmp_path / "a" / "data"
    per_file.parent.mkdir()
    with monkeypatch.context() as m:  # the old way: every file its own fsync
        m.setattr(worker, "durable_batch", contextlib.nullcontext)
        _generate(good, per_file)
    files = [p for p in per_file.rglob("*") if p.is_file() and ".weldsynth" not in p.parts]
    assert len(files) > 10 * SOURCES  # images, masks and sidecars: many files per source

    syncs = _Syncs(monkeypatch)
    batched = tmp_path / "b" / "data"
    batched.parent.mkdir()
    _generate(good, batched)
    assert syncs.syncfs == SOURCES  # one per source
    assert syncs.unsynced_at_record == [0] * SOURCES  # synced before the record is written
    # none per source (the syncfs wrote the folders' entries too; a record needs none): the
    # run's own files only (run.json, the resolved recipe, the manifest and its next copy,
    # merged.json, rejected.csv)
    assert syncs.fsyncs <= 6, syncs.fsyncs
    assert tree_digest(batched) == tree_digest(per_file)


def test_a_batch_that_raises_syncs_nothing_and_the_next_write_is_durable_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: calls.append("fsync"))
    monkeypatch.setattr(atomic, "_syncfs", lambda folder: calls.append("syncfs") or True)
    with pytest.raises(RuntimeError), atomic.durable_batch():
        atomic.atomic_write_bytes(tmp_path / "a.png", b"a")
        raise RuntimeError("draw failed")
    assert calls == [] and (tmp_path / "a.png").read_bytes() == b"a"
    atomic.atomic_write_bytes(tmp_path / "b.png", b"b")
    assert calls == ["fsync"]
    with atomic.durable_batch():
        atomic.atomic_write_bytes(tmp_path / "c" / "c.png", b"c")
        atomic.atomic_write_bytes(tmp_path / "c" / "d.png", b"d")
        assert calls == ["fsync"]
    assert calls == ["fsync", "syncfs"]  # one syncfs: data and folder entries


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names fds through /proc")
def test_without_syncfs_a_batch_fsyncs_each_file_then_each_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic, "_syncfs", lambda folder: False)
    with atomic.durable_batch():
        for name in ("x.png", "y.png"):
            atomic.atomic_write_bytes(tmp_path / name, name.encode())
    assert [Path(p).name for p in synced] == ["x.png", "y.png", tmp_path.name]


def test_a_record_a_crash_left_empty_is_redone_not_trusted(good: Path, tmp_path: Path) -> None:
    out = tmp_path / "data"
    _generate(good, out)
    whole = tree_digest(out)
    records = sorted((out / ".weldsynth" / "done").rglob("*.json"))
    assert len(records) == SOURCES
    records[1].write_bytes(b"")  # renamed into place, its content lost with the power
    (out / "manifest.csv").unlink()
    lost = sorted((out / "7").rglob(f"{records[1].stem.removesuffix('.png')}*"))
    assert lost
    for file in lost:
        file.write_bytes(b"")  # and that source's files, as if never written
    _generate(good, out)
    assert records[1].stat().st_size > 0
    redone = tree_digest(out)
    assert {p for p in whole if redone.get(p) != whole[p]} == set()
