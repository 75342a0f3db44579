"""A checkpoint's metadata is checked on load: normalisation that would give nan
probabilities (std 0, non-finite values) or a malformed input size is a one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest

from weldsynth.core.errors import WeldsynthError
from weldsynth.train.checkpoint import load_checkpoint, save_checkpoint
from weldsynth.train.model import build_model

META = {
    "arch": "resnet18",
    "classes": ["bad", "good"],
    "in_channels": 1,
    "input_size": [32, 32],
    "mean": 0.1,
    "std": 0.2,
}


@pytest.mark.parametrize(
    "change,words",
    [
        ({"std": 0.0}, "std=0.0"),
        ({"std": -0.1}, "std=-0.1"),
        ({"std": float("nan")}, "std=nan"),
        ({"mean": float("inf")}, "mean=inf"),
        ({"mean": "x"}, "mean='x'"),
        ({"input_size": [0, 32]}, "input_size=[0, 32]"),
        ({"input_size": [32]}, "input_size=[32]"),
        ({"classes": ["good"]}, "classes=['good']"),
        ({"classes": ["good", "good"]}, "classes=['good', 'good']"),
    ],
)
def test_bad_metadata_is_one_clear_error(tmp_path: Path, change: dict, words: str) -> None:
    file = tmp_path / "model.pt"
    save_checkpoint(file, build_model("resnet18", 2), {**META, **change})
    with pytest.raises(WeldsynthError) as info:
        load_checkpoint(file)
    message = str(info.value)
    assert words in message and "\n" not in message and str(file) in message


def test_good_metadata_loads(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "model.pt", build_model("resnet18", 2), META)
    assert load_checkpoint(tmp_path).meta["std"] == 0.2
