"""evaluate and predict report their progress; scoring a chunk at a time changes nothing."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import train_fixtures as fx
from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.cli.progress import EVERY_ENV
from weldsynth.train import evaluate as ev
from weldsynth.train.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("scoring")
    data = fx.image_folder(root / "d", n_per_class=10)
    args = ["--size", "32x96", "--batch-size", "8", "--weights", "none", "--epochs", "1", "-q"]
    res = CliRunner().invoke(cli, ["train", str(data), *args, "--out", str(root / "r")])
    torch.set_num_threads(before)
    assert res.exit_code == 0, res.output
    return {"data": data, "run": root / "r" / "7"}


def test_scoring_in_chunks_gives_the_same_probabilities(trained, monkeypatch) -> None:
    ckpt = load_checkpoint(trained["run"])
    whole = ev.evaluate(ckpt, trained["data"], "all")
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(ev, "CHUNK", 3)
    chunked = ev.evaluate(ckpt, trained["data"], "all", progress=lambda d, t: calls.append((d, t)))
    n = len(whole.items)
    # other batches than the one pass (3 is no multiple of 64): float noise only
    np.testing.assert_allclose(whole.probs, chunked.probs, rtol=1e-5, atol=1e-6)
    assert np.array_equal(whole.probs.argmax(1), chunked.probs.argmax(1))
    assert [i.rel for i in whole.items] == [i.rel for i in chunked.items]
    assert calls == [(min(k + 3, n), n) for k in range(0, n, 3)]


def test_evaluate_and_predict_report_progress_in_a_log(trained, monkeypatch) -> None:
    monkeypatch.setenv(EVERY_ENV, "0")
    res = CliRunner().invoke(
        cli, ["evaluate", str(trained["run"]), str(trained["data"]), "--split", "val"]
    )
    assert res.exit_code == 0, res.output
    assert re.search(r"^evaluate val, (\d+)/\1 \(100%\)", res.output, re.M), res.output
    files = sorted((trained["data"] / "7").rglob("*.png"))
    res = CliRunner().invoke(
        cli, ["predict", str(trained["run"]), *map(str, files), "--batch-size", "2", "-q"]
    )
    assert res.exit_code == 0, res.output
    assert f"predict, {len(files)}/{len(files)} (100%)" not in res.stderr  # -q: nothing
    res = CliRunner().invoke(
        cli, ["predict", str(trained["run"]), *map(str, files), "--batch-size", "2"]
    )
    assert res.exit_code == 0, res.output
    assert f"predict, 16/{len(files)} (80%)" in res.stderr  # a chunk is 8 batches of 2
    assert f"predict, {len(files)}/{len(files)} (100%)" in res.stderr
