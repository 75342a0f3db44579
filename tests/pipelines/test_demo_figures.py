"""The demo's loop line ends with the last model's plant figures on the test split."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import torch
import train_fixtures as fx

from weldsynth.pipelines.demo import _plant_figures
from weldsynth.train.config import TrainConfig
from weldsynth.train.run import prepare, train_topology


def test_plant_figures_of_the_last_loop_model(tmp_path: Path) -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    data = fx.manifest_set(tmp_path / "data", n_sources=10, splits={0: "test", 1: "test"})
    cfg = TrainConfig(size=(32, 96), batch_size=8, epochs=1, seed=0, weights="none")
    loop = tmp_path / "loop"
    train_topology(
        prepare(data, "7", cfg),
        loop / "iter1" / "train" / "7",
        cfg,
        weights=None,
        weights_note="",
        say=lambda _: None,
    )
    torch.set_num_threads(before)
    plant = SimpleNamespace(topology="7", data=data)
    line = _plant_figures(loop, SimpleNamespace(rows=[{"iteration": 1}]), plant)
    assert line.startswith("; test split: false alarms ")
    assert "misses" in line and "of 2 bad" in line  # the two test sources' bad variants
    assert _plant_figures(loop, SimpleNamespace(rows=[]), plant) == ""
    assert _plant_figures(loop, SimpleNamespace(rows=[{"iteration": 2}]), plant) == ""
