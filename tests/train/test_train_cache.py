"""The decode cache: RAM when the images fit, a memory-mapped file on disk when they do not
(forced with a tiny --cache-gb); hits, misses, invalidation, relabel moves, refusals."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import train_fixtures as fx
from torch_threads import one_torch_thread  # noqa: F401 (autouse)

from weldsynth.core.errors import WeldsynthError
from weldsynth.train import diskcache
from weldsynth.train import images as images_mod
from weldsynth.train.cache import ImageView, cache_dir, load_images, subset
from weldsynth.train.config import TrainConfig
from weldsynth.train.images import decode_all
from weldsynth.train.run import prepare, train_topology

TINY = 1e-9
"""--cache-gb that no image fits in: the disk cache is used."""


@pytest.fixture
def decodes(monkeypatch) -> list[Path]:
    """Every file the decoder reads, in order."""
    seen: list[Path] = []
    real = images_mod.read_height

    def counting(path: Path) -> np.ndarray:
        seen.append(Path(path))
        return real(path)

    monkeypatch.setattr(images_mod, "read_height", counting)
    return seen


def _files(root: Path, n: int = 6) -> list[Path]:
    files = []
    for k in range(n):
        file = root / "7" / ("bad" if k % 2 else "good") / f"w{k}.png"
        fx._write(file, fx.weld(1, k, bool(k % 2)))
        files.append(file)
    return files


def _load(root: Path, files: list[Path], gb: float = TINY):
    rels = [f.relative_to(root).as_posix() for f in files]
    return load_images(files, fx.SHAPE, root=root, rels=rels, cache_gb=gb, threads=1)


def test_ram_when_it_fits_disk_when_not_with_the_same_pixels(tmp_path: Path) -> None:
    files = _files(tmp_path)
    ram = _load(tmp_path, files, gb=1.0)
    assert ram.where == "ram" and isinstance(ram.images, np.ndarray)
    assert not (tmp_path / ".weldsynth").exists()
    disk = _load(tmp_path, files)
    assert disk.where == str(cache_dir(tmp_path, fx.SHAPE)) and isinstance(disk.images, ImageView)
    assert np.array_equal(np.asarray(disk.images), ram.images)
    assert np.array_equal(disk.images[[4, 1]], ram.images[[4, 1]])
    part = subset(disk.images, np.array([5, 0, 3]))
    assert np.array_equal(part[:], ram.images[[5, 0, 3]]) and part.shape == (3, *fx.SHAPE)
    assert np.array_equal(part[1:, 0, :3], ram.images[[0, 3], 0, :3])
    assert (cache_dir(tmp_path, fx.SHAPE) / "images.u16").stat().st_size == 6 * 32 * 96 * 2


def test_hits_misses_relabel_moves_and_edited_files(tmp_path: Path, decodes) -> None:
    files = _files(tmp_path)
    first = _load(tmp_path, files)
    assert first.decoded == 6 and len(decodes) == 6
    assert _load(tmp_path, files).decoded == 0 and len(decodes) == 6  # hit: stats only
    moved = tmp_path / "7" / "bad" / "w0.png"  # a relabel moves good/w0 to bad/
    shutil.move(files[0], moved)
    files[0] = moved
    again = _load(tmp_path, files)
    assert again.decoded == 0 and len(decodes) == 6  # same bytes, same row
    assert np.array_equal(np.asarray(again.images), np.asarray(first.images))
    fx._write(files[3], fx.weld(9, 99, True))  # an edited file gets a new hash
    edited = _load(tmp_path, files)
    assert edited.decoded == 1 and decodes[-1] == files[3]
    assert np.array_equal(edited.images[3], decode_all([files[3]], fx.SHAPE).images[0])
    assert np.array_equal(edited.images[[0, 1, 2, 4, 5]], np.asarray(first.images)[[0, 1, 2, 4, 5]])


def test_unreadable_files_are_listed_and_a_corrupt_index_starts_afresh(tmp_path: Path) -> None:
    files = _files(tmp_path, 4)
    (tmp_path / "7" / "bad" / "x.png").write_bytes(b"not a png")
    files += [tmp_path / "7" / "bad" / "x.png", tmp_path / "7" / "bad" / "gone.png"]
    got = _load(tmp_path, files)
    assert got.kept == [0, 1, 2, 3] and [Path(f).name for f, _ in got.failures] == [
        "x.png",
        "gone.png",
    ]
    assert all(reason for _, reason in got.failures)
    (cache_dir(tmp_path, fx.SHAPE) / "index.json").write_text("{broken")
    again = _load(tmp_path, files[:4])
    assert again.decoded == 4 and np.array_equal(np.asarray(again.images), np.asarray(got.images))


def test_a_cache_that_would_not_fit_on_the_disk_is_refused_before_writing(
    tmp_path: Path, monkeypatch
) -> None:
    files = _files(tmp_path)
    monkeypatch.setattr(
        diskcache.shutil, "disk_usage", lambda _p: shutil._ntuple_diskusage(1, 1, 1)
    )
    with pytest.raises(WeldsynthError, match=r"need .* GB .* free"):
        _load(tmp_path, files)
    assert not (cache_dir(tmp_path, fx.SHAPE) / "images.u16").exists()
    with pytest.raises(WeldsynthError, match="no data-set folder"):
        load_images(files, fx.SHAPE, root=None, cache_gb=TINY)


def _metrics(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(fh)]


def test_training_from_the_disk_cache_equals_training_from_ram(tmp_path: Path, decodes) -> None:
    data = fx.manifest_set(tmp_path / "data", n_sources=10)
    cfg = TrainConfig(arch="weldnet", size=fx.SHAPE, batch_size=8, epochs=2, weights="none")
    reports = {}
    for name, gb in (("ram", 0.0), ("disk", TINY), ("disk2", TINY)):
        reports[name] = train_topology(
            prepare(data, "7", cfg.with_(cache_gb=gb)),
            tmp_path / name,
            cfg.with_(cache_gb=gb),
            weights=None,
            weights_note="none",
            say=lambda _l: None,
        )
    assert len(decodes) == 2 * 20  # RAM decodes all, the disk cache once, its reuse none
    assert _metrics(tmp_path / "ram" / "metrics.csv") == _metrics(tmp_path / "disk" / "metrics.csv")
    assert reports["ram"]["val"] == reports["disk2"]["val"]
    config = json.loads((tmp_path / "disk" / "config.json").read_text())
    assert config["cache_gb"] == TINY
