"""An audit decodes each image once, whatever its folds and seeds: more seeds cost training
time only."""

from __future__ import annotations

from pathlib import Path

import audit_fixtures as afx
import numpy as np

import weldsynth.audit.oof as oof_mod
from weldsynth.audit.run import AuditSettings, audit_topology
from weldsynth.train import images as images_mod
from weldsynth.train.cache import ImageView
from weldsynth.train.config import TrainConfig


class _Stub:
    """A fold model that says 50/50 about everything."""

    mean, std = 0.0, 1.0

    def probabilities(self, x, tta="none") -> np.ndarray:
        return np.full((len(x), 2), 0.5, np.float32)


def test_three_seeds_of_three_folds_decode_every_image_once(tmp_path: Path, monkeypatch) -> None:
    root, _flipped, _truth = afx.flipped_set(tmp_path / "data", n_sources=9)
    seen: list[Path] = []
    real = images_mod.read_height

    def counting(path: Path) -> np.ndarray:
        seen.append(Path(path))
        return real(path)

    bases: list[int] = []

    def fake_train(x, y, n_classes, cfg, **kw):
        assert isinstance(x, ImageView)  # a view of the cache, not a copy
        bases.append(id(x.base))
        return _Stub()

    monkeypatch.setattr(images_mod, "read_height", counting)
    monkeypatch.setattr(oof_mod, "train_arrays", fake_train)
    cfg = TrainConfig(size=(32, 96), epochs=1, weights="none", seed=1)
    settings = AuditSettings(folds=3, seeds=3, cams=False, weights="none")
    result = audit_topology(root, "7", tmp_path / "audit", cfg, settings)
    assert len(result.rows) == 18
    assert len(bases) == 9 and len(set(bases)) == 1  # 3 seeds x 3 folds, one store
    assert len(seen) == 18 and len(set(seen)) == 18  # one decode per image
