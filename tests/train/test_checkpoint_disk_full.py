"""A checkpoint save on a full disk (issue 17): one line saying which checkpoint is kept;
the last good one is intact and no temporary file is left."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from weldsynth.core import atomic
from weldsynth.core.errors import WeldsynthError
from weldsynth.train.checkpoint import load_checkpoint, save_checkpoint
from weldsynth.train.models import build_model

META = {"arch": "weldnet", "classes": ["bad", "good"], "in_channels": 1}
META |= {"input_size": [32, 64], "mean": 0.5, "std": 0.2}


def _full(fd: int) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_keeps_the_last_good_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "7" / "model.pt"
    model = build_model("weldnet", 2, 1)
    save_checkpoint(path, model, {**META, "epoch": 3})
    good = path.read_bytes()
    monkeypatch.setattr(atomic.os, "fsync", _full)
    with pytest.raises(WeldsynthError) as info:
        save_checkpoint(path, model, {**META, "epoch": 4})
    assert str(info.value) == (
        f"{path}: No space left on device; the last good checkpoint (epoch 3) is kept"
    )
    monkeypatch.undo()
    assert path.read_bytes() == good and load_checkpoint(path).meta["epoch"] == 3
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.pt"]


def test_a_full_disk_before_any_checkpoint_says_none_was_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.pt"
    monkeypatch.setattr(atomic.os, "fsync", _full)
    with pytest.raises(WeldsynthError, match="no checkpoint was kept"):
        save_checkpoint(path, build_model("weldnet", 2, 1), {**META, "epoch": 1})
    assert list(tmp_path.iterdir()) == []
