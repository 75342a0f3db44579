"""Data-parallel training under torchrun: sharded epochs, DDP-wrapped models, rank 0 writes."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import train_fixtures as fx
from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.train import distributed
from weldsynth.train.checkpoint import load_checkpoint
from weldsynth.train.distributed import ShardedBatches
from weldsynth.train.model import build_model, freeze_body, param_groups

ROOT = Path(__file__).resolve().parents[2]


def _shards(n: int, world: int, batch: int, seed: int = 5, epochs: int = 2):
    """Per rank: the indices of each epoch, and the number of batches len() promised."""
    images = np.arange(n, dtype=np.uint16)[:, None, None].repeat(4, 1).repeat(4, 2)
    labels = np.arange(n) % 2
    out = []
    for rank in range(world):
        b = ShardedBatches(
            images, labels, batch, 0.0, 1.0, rank=rank, world_size=world, shuffle_seed=seed
        )
        epochs_seen = []
        for _ in range(epochs):
            seen = [np.rint(x[:, 0, 0, 0].numpy() * 65535).astype(int) for x, _ in b]
            epochs_seen.append(seen)
        out.append((epochs_seen, len(b)))
    return out


def test_each_rank_trains_on_its_own_shard_with_equal_step_counts() -> None:
    n, world, batch = 23, 2, 4
    shards = _shards(n, world, batch)
    for epoch in range(2):
        per_rank = [np.concatenate(seen[epoch]) for seen, _ in shards]
        assert len(per_rank[0]) == len(per_rank[1]) == 12  # 23 padded to 24
        assert set(per_rank[0]) | set(per_rank[1]) == set(range(n))  # every image, one pad
        assert len(set(per_rank[0]) & set(per_rank[1])) <= 1
    for seen, promised in shards:
        assert [len(s) for s in seen] == [promised, promised]  # what OneCycleLR is told
        assert not np.array_equal(np.concatenate(seen[0]), np.concatenate(seen[1]))
    assert _shards(n, world, batch)[0][0][0][0].tolist() == shards[0][0][0][0].tolist()


def test_a_lone_last_image_is_not_a_batch() -> None:
    # 18 images over 2 ranks: 9 each, batches of 4 -> 4, 4 and a lone image dropped
    (seen, promised), _ = _shards(18, 2, 4, epochs=1)
    assert promised == 2 and [len(s) for s in seen[0]] == [4, 4]


def test_parameter_groups_and_freezing_look_through_a_ddp_wrapper() -> None:
    class Wrapper(torch.nn.Module):  # what DistributedDataParallel looks like from outside
        def __init__(self, module: torch.nn.Module) -> None:
            super().__init__()
            self.module = module

    model = build_model("resnet18", 2)
    wrapped = Wrapper(model)
    assert [len(g) for g in param_groups(wrapped)] == [len(g) for g in param_groups(model)]
    assert [
        p is q
        for p, q in zip(param_groups(wrapped)[2], [model.fc.weight, model.fc.bias], strict=True)
    ] == [True, True]
    freeze_body(wrapped, True)
    assert model.fc.weight.requires_grad and not model.conv1.weight.requires_grad
    assert model.bn1.weight.requires_grad


def test_not_under_torchrun_there_is_no_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    assert not distributed.launched()
    assert distributed.from_env() is None
    assert not hasattr(distributed, "current")  # the job is passed down, not kept here


def test_engine_ray_is_refused_under_torchrun(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = fx.image_folder(tmp_path / "data", ("7",), n_per_class=3)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    res = CliRunner().invoke(
        cli, ["train", str(data), "--engine", "ray", "--out", str(tmp_path / "runs")]
    )
    assert res.exit_code == 2 and "torchrun" in res.output


@pytest.mark.slow
def test_torchrun_two_processes_on_cpu(tmp_path: Path) -> None:
    data = fx.image_folder(tmp_path / "data", ("7",), n_per_class=12)
    out = tmp_path / "runs"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TMPDIR": str(tmp_path)}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "weldsynth",
        "train",
        str(data),
        "--out",
        str(out),
        "--size",
        "32x96",
        "--batch-size",
        "4",
        "--weights",
        "none",
        "--epochs",
        "2",
        "--quiet",
    ]
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    run = out / "7"
    assert sorted(p.name for p in run.iterdir()) == [
        "config.json",
        "confusion.csv",
        "confusion.png",
        "loss.png",
        "metrics.csv",
        "model.pt",
        "report.json",
    ]
    assert sorted(p.name for p in out.iterdir()) == [
        "7",
        "summary.csv",
        "summary.html",
        "summary.md",
    ]
    config = json.loads((run / "config.json").read_text())
    assert config["distributed"]["world_size"] == 2
    assert config["distributed"]["backend"] == "gloo"
    with (run / "metrics.csv").open() as fh:
        assert [r["epoch"] for r in csv.DictReader(fh)] == ["1", "2"]
    report = json.loads((run / "report.json").read_text())
    assert report["counts"]["train"] == {"bad": 10, "good": 10}  # the whole set, not a shard
    assert load_checkpoint(run).meta["topology"] == "7"
    assert not list(tmp_path.glob("weldsynth-rank*"))  # rank 1's scratch folder is gone
