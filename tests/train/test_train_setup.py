"""The shared training setup (train.setup): seeds, balancing, batches, one recipe for both
``weldsynth train`` and the audit's fold models; early stopping in ``fit``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import train_fixtures as fx
from torch_threads import one_torch_thread  # noqa: F401 (autouse)

from weldsynth.audit.learner import small_batch, train_arrays
from weldsynth.train import fit as fit_mod
from weldsynth.train.config import TrainConfig
from weldsynth.train.images import Batches
from weldsynth.train.setup import (
    CALIBRATION_IMAGES,
    class_balance,
    deterministic,
    prepare_training,
)

CFG = TrainConfig(arch="weldnet", size=fx.SHAPE, batch_size=8, epochs=2, weights="none")


def _arrays(n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    y = np.arange(n) % 2
    x = np.stack([fx.weld(3, k, bool(y[k])) for k in range(n)])
    return x, y.astype(np.int64)


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(p, q) for p, q in zip(sa.values(), sb.values(), strict=True))


def test_same_seed_same_model_and_batch_order_other_seed_differs() -> None:
    x, y = _arrays()
    a, b, c = (prepare_training(x, y, 2, CFG, seed=s, weights=None) for s in (1, 1, 2))
    assert _same(a.model, b.model) and not _same(a.model, c.model)
    assert np.array_equal(a.train.order(), b.train.order())
    assert not np.array_equal(a.train.order(), c.train.order())
    assert a.seeds == b.seeds != c.seeds
    assert (a.mean, a.std) == (b.mean, b.std)


def test_global_torch_random_state_is_left_alone() -> None:
    x, y = _arrays()
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    prepare_training(x, y, 2, CFG, seed=7, weights=None)
    assert torch.equal(torch.rand(3), expected)


def test_no_pretrained_body_means_no_head_only_epochs_and_batch_rule_applies() -> None:
    x, y = _arrays(12)
    setup = prepare_training(
        x, y, 2, CFG.with_(freeze_epochs=3), seed=1, weights=None, batch_size=small_batch
    )
    assert setup.cfg.freeze_epochs == 0 and not setup.pretrained
    assert setup.cfg.batch_size == small_batch(12, CFG.with_(freeze_epochs=0)) < CFG.batch_size
    assert setup.train.batch_size == setup.calibration.batch_size == setup.cfg.batch_size


def test_calibration_sample_is_capped_and_unaugmented() -> None:
    x, y = _arrays(CALIBRATION_IMAGES + 10)
    setup = prepare_training(x, y, 2, CFG.with_(augment="hflip"), seed=1, weights=None)
    assert len(setup.calibration.images) == CALIBRATION_IMAGES
    assert setup.calibration.augment is None and setup.calibration.generator is None
    assert setup.train.augment is not None


def test_class_balance_weighs_the_rare_class_up() -> None:
    y = np.array([0, 0, 0, 1])
    loss_w, sample_w = class_balance(y, 2, "weights")
    assert sample_w is None and loss_w is not None
    assert torch.allclose(loss_w, torch.tensor([4 / 6, 2.0]))
    loss_w, sample_w = class_balance(y, 2, "sampler")
    assert loss_w is None and np.allclose(sample_w, [4 / 6, 4 / 6, 4 / 6, 2.0])
    assert class_balance(y, 2, "none") == (None, None)


def test_deterministic_restores_the_previous_setting_even_on_error() -> None:
    before = torch.are_deterministic_algorithms_enabled()
    with pytest.raises(RuntimeError), deterministic():
        assert torch.are_deterministic_algorithms_enabled()
        raise RuntimeError("boom")
    assert torch.are_deterministic_algorithms_enabled() == before


def test_audit_fold_model_is_the_trainer_recipe() -> None:
    """train_arrays adds only a batch-size rule and its validation images to the setup."""
    x, y = _arrays()
    fitted = train_arrays(x, y, 2, CFG, seed=4, precision="fp32")
    setup = prepare_training(x, y, 2, CFG, seed=4, weights=None, batch_size=small_batch)
    val = Batches(x[:2], y[:2], 64, setup.mean, setup.std, channels_last=CFG.channels_last)
    setup.fit(val, classes=["0", "1"], precision="fp32")
    assert _same(fitted.model, setup.model)


def test_fit_stops_after_patience_epochs_without_improvement(monkeypatch) -> None:
    x, y = _arrays()
    setup = prepare_training(x, y, 2, CFG.with_(epochs=6, patience=2), seed=1, weights=None)
    val = Batches(x[:4], y[:4], 8, setup.mean, setup.std)
    fixed = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]], np.float32)
    monkeypatch.setattr(fit_mod, "evaluate_batches", lambda *_a: (0.5, fixed))
    best: list[int] = []
    result = setup.fit(
        val, classes=["0", "1"], precision="fp32", on_best=lambda r: best.append(r.epoch)
    )
    assert result.stopped_early and len(result.history) == 3
    assert best == [1] and result.best_epoch == 1 and result.best_error == 0.25
