"""Flip test-time augmentation and the decision threshold (chosen at train time, stored,
loaded, overridden); a checkpoint without one decides by argmax as before."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import train_fixtures as fx
from click.testing import CliRunner
from torch import nn

from weldsynth.cli.main import cli
from weldsynth.core.errors import WeldsynthError
from weldsynth.train.checkpoint import load_checkpoint, save_checkpoint
from weldsynth.train.config import TrainConfig
from weldsynth.train.decision import (
    DEFAULT_THRESHOLD,
    choose_threshold,
    decide,
    resolve_threshold,
)
from weldsynth.train.evaluate import evaluate
from weldsynth.train.metrics import softmax
from weldsynth.train.model import build_model
from weldsynth.train.predict import probabilities_from_cache
from weldsynth.train.run import prepare, train_topology


class _Lopsided(nn.Module):
    """Two logits from the image's left half and top half: mirroring changes them."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.tensor(4.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        left = x[..., : w // 2].mean(dim=(1, 2, 3))
        top = x[..., : h // 2, :].mean(dim=(1, 2, 3))
        return self.gain * torch.stack([left, 0.5 * top], dim=1)


def test_flip_tta_is_the_mean_of_the_four_mirror_images() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 65535, (5, 8, 12)).astype(np.uint16)
    images[:, :, :4] //= 4  # a dark left edge: not flip-invariant
    model, mean, std = _Lopsided(), 0.3, 0.2
    plain = probabilities_from_cache(model, images, mean, std, batch_size=2)
    tta = probabilities_from_cache(model, images, mean, std, batch_size=2, tta="flip")
    views = [images, images[:, :, ::-1], images[:, ::-1, :], images[:, ::-1, ::-1]]
    by_hand = np.mean(
        [probabilities_from_cache(model, np.ascontiguousarray(v), mean, std) for v in views],
        axis=0,
    )
    assert np.allclose(tta, by_hand, atol=1e-6)
    assert not np.allclose(tta, plain, atol=1e-3)
    x = (images.astype(np.float64) / 65535 - mean) / std
    logits = 4.0 * np.stack([x[:, :, :6].mean(axis=(1, 2)), 0.5 * x[:, :4].mean(axis=(1, 2))], 1)
    assert np.allclose(plain, softmax(logits), atol=1e-5)
    with pytest.raises(WeldsynthError, match="--tta"):
        probabilities_from_cache(model, images, mean, std, tta="rotate")


def test_decide_by_threshold_and_by_argmax() -> None:
    classes = ["bad-ball", "bad-hole", "good"]
    probs = np.array([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5], [0.05, 0.05, 0.9]])
    assert decide(probs, classes, None).tolist() == [2, 2, 2]
    # bad scores 0.4, 0.5, 0.1: at 0.45 the second is bad, its most likely bad class
    assert decide(probs, classes, 0.45).tolist() == [2, 0, 2]
    assert decide(probs, classes, 0.35).tolist() == [1, 0, 2]


def test_chosen_threshold_minimises_the_balanced_error() -> None:
    classes = ["bad", "good"]
    # good welds score 0.1-0.7 bad, bad ones 0.8-0.95: argmax calls one good weld bad
    p_bad = np.array([0.1, 0.2, 0.7, 0.8, 0.85, 0.9, 0.95])
    y = np.array([1, 1, 1, 0, 0, 0, 0])
    probs = np.stack([p_bad, 1 - p_bad], axis=1)
    t = choose_threshold(probs, y, classes)
    assert 0.7 < t <= 0.8
    assert (decide(probs, classes, t) == y).all()
    assert choose_threshold(probs[y == 0], y[y == 0], classes) == 0.5  # one class: no choice


def test_threshold_resolution_and_its_errors() -> None:
    assert resolve_threshold({}, None) is None  # a model from before thresholds: argmax
    assert resolve_threshold({}, "tuned") is None
    assert resolve_threshold({"threshold": 0.7}, "tuned") == 0.7
    stored = {"threshold": 0.7}
    assert resolve_threshold(stored, None) == resolve_threshold(stored, DEFAULT_THRESHOLD)
    assert resolve_threshold({"threshold": 0.7}, "0.4") == 0.4
    assert resolve_threshold({"threshold": 0.7}, "argmax") is None
    for bad in ("1.5", "0", "x"):
        with pytest.raises(WeldsynthError, match=r"between 0 and 1 \(exclusive\), tuned or argmax"):
            resolve_threshold({}, bad)


def test_an_old_checkpoint_without_threshold_loads_and_decides_by_argmax(tmp_path: Path) -> None:
    meta = {
        "arch": "weldnet",
        "classes": ["bad", "good"],
        "in_channels": 1,
        "input_size": [32, 96],
        "mean": 0.2,
        "std": 0.2,
    }
    save_checkpoint(tmp_path / "model.pt", build_model("weldnet", 2), meta)
    ckpt = load_checkpoint(tmp_path)
    assert "threshold" not in ckpt.meta
    assert resolve_threshold(ckpt.meta, None) is None


@pytest.fixture(scope="module")
def tuned(tmp_path_factory) -> dict:
    """A tiny run: training stores the threshold it chose on the validation split."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("thr")
    data = fx.manifest_set(root / "data", n_sources=12, splits={0: "test", 1: "test"})
    cfg = TrainConfig(size=(32, 96), batch_size=8, epochs=1, seed=3, weights="none", lr=3e-5)
    train_topology(
        prepare(data, "7", cfg), root / "run", cfg, weights=None, weights_note="", say=print
    )
    torch.set_num_threads(before)
    return {"data": data, "run": root / "run"}


def test_training_stores_the_threshold_and_evaluate_uses_it(tuned: dict, tmp_path: Path) -> None:
    ckpt = load_checkpoint(tuned["run"])
    report = json.loads((tuned["run"] / "report.json").read_text())
    assert 0 < ckpt.meta["threshold"] < 1 and ckpt.meta["threshold"] == report["val"]["threshold"]
    test_plant = evaluate(ckpt, tuned["data"], "test", threshold="argmax").plant()
    assert report["test"]["plant"] == test_plant and test_plant["bad"] == 2
    val = evaluate(ckpt, tuned["data"], "val", threshold="tuned")
    assert val.threshold == ckpt.meta["threshold"]
    assert val.error == report["val"]["error_rate_at_threshold"]
    plain = evaluate(ckpt, tuned["data"], "val", threshold="argmax")
    assert plain.error == report["val"]["error_rate"]
    out = tmp_path / "e.json"
    args = ["--split", "test", "--tta", "flip", "--threshold", "0.5", "--json", str(out)]
    res = CliRunner().invoke(cli, ["evaluate", str(tuned["run"]), str(tuned["data"]), *args])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["tta"] == "flip" and data["threshold"] == 0.5
    # the fixture's good images name another source: none is an untouched original
    assert data["plant"]["untouched_good"] == 0 and data["plant"]["false_alarm_rate"] is None
    assert data["plant"]["bad"] == 2 and "false alarms n/a" in res.output
    bad = CliRunner().invoke(
        cli, ["predict", str(tuned["run"]), str(tuned["data"]), "--threshold", "2"]
    )
    assert bad.exit_code == 2 and "between 0 and 1" in bad.output
