"""generate makes each source's files durable together: a bounded number of fsyncs per
source (not one per file), the files synced before the source's record is written, and
output byte-identical to writing every file with its own fsync."""

from __future__ import annotations

import contextlib
import errno
import os
from collections import Counter
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
    """Records every sync: the batches' fsyncs (path), any fsync made while a batch is still
    being written, the batch commits, and what was left unsynced when a record is written."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.synced: list[str] = []
        self.fsyncs = 0
        self.inside_batch = 0
        self.commits = 0
        self.unsynced_at_record: list[int] = []
        real_fsync, real_path = os.fsync, atomic._fsync_path
        real_commit, real_record = atomic.DurableBatch.commit, worker._write_record

        def fsync(fd: int) -> None:
            self.fsyncs += 1
            self.inside_batch += atomic._BATCH.get() is not None  # a per-file fsync
            real_fsync(fd)

        def fsync_path(path: Path, *flags: int) -> None:
            self.synced.append(str(path))
            real_path(path, *flags)

        def commit(batch: atomic.DurableBatch) -> None:
            self.commits += 1
            real_commit(batch)

        def record(path: Path, result: object) -> None:
            batch = atomic._BATCH.get()  # the source's batch is committed by now
            self.unsynced_at_record.append(len(batch.files) if batch is not None else 0)
            real_record(path, result)

        monkeypatch.setattr(atomic.os, "fsync", fsync)
        monkeypatch.setattr(atomic, "_fsync_path", fsync_path)
        monkeypatch.setattr(atomic.DurableBatch, "commit", commit)
        monkeypatch.setattr(worker, "_write_record", record)


def test_one_sync_point_per_source_and_output_is_byte_identical(
    good: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    per_file = tmp_path / "a" / "data"
    per_file.parent.mkdir()
    with monkeypatch.context() as m:  # the old way: every file its own fsync
        m.setattr(worker, "durable_batch", contextlib.nullcontext)
        _generate(good, per_file)
    files = sorted(  # what the sources wrote: under the topology's folder
        str(p.resolve()).replace(str(per_file.resolve()), "")
        for p in (per_file / "7").rglob("*")
        if p.is_file()
    )
    assert len(files) > 10 * SOURCES  # images, masks and sidecars: many files per source

    syncs = _Syncs(monkeypatch)
    batched = tmp_path / "b" / "data"
    batched.parent.mkdir()
    _generate(good, batched)
    assert syncs.commits == SOURCES  # one sync point per source
    assert syncs.inside_batch == 0  # no file fsynced on its own while a source is written
    assert syncs.unsynced_at_record == [0] * SOURCES  # synced before the record is written
    root = str(batched.resolve())
    synced = [p.replace(root, "") for p in syncs.synced]
    assert sorted(p for p in synced if p in files) == files  # every file, exactly once
    folders = [p for p in synced if p not in files]
    assert set(Counter(folders).values()) == {SOURCES}  # each folder once per source
    assert len(set(folders)) <= 4  # good/, bad/, the masks
    # outside the batches: the run's own files only (run.json, the resolved recipe, the
    # manifest and its next copy, merged.json, rejected.csv); a record needs none
    assert syncs.fsyncs - len(synced) <= 6, syncs.fsyncs
    assert tree_digest(batched) == tree_digest(per_file)


def test_a_batch_that_raises_syncs_nothing_and_the_next_write_is_durable_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: calls.append("fsync"))
    monkeypatch.setattr(atomic, "_fsync_path", lambda path, *f: calls.append(Path(path).name))
    with pytest.raises(RuntimeError), atomic.durable_batch():
        atomic.atomic_write_bytes(tmp_path / "a.png", b"a")
        raise RuntimeError("draw failed")
    assert calls == [] and (tmp_path / "a.png").read_bytes() == b"a"
    atomic.atomic_write_bytes(tmp_path / "b.png", b"b")
    assert calls == ["fsync"]
    with atomic.durable_batch():
        atomic.atomic_write_bytes(tmp_path / "c" / "c.png", b"c")
        atomic.atomic_write_bytes(tmp_path / "c" / "d.png", b"d")
        with atomic.durable_batch():  # a nested block joins the outer batch
            atomic.atomic_write_bytes(tmp_path / "c" / "e.png", b"e")
        assert calls == ["fsync"]
    assert calls[0] == "fsync" and sorted(calls[1:4]) == ["c.png", "d.png", "e.png"]
    assert calls[4:] == ["c"]  # then the folder


def test_a_failed_sync_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(OSError) as err, atomic.durable_batch():
        atomic.atomic_write_bytes(tmp_path / "x.png", b"x")
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(tmp_path / "x.png")


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
