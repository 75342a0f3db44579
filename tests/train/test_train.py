"""``weldsynth train``: learning a separable set, reports, determinism, --all, bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
import train_fixtures as fx
from click.testing import CliRunner
from torch_threads import one_torch_thread  # noqa: F401 (autouse)

from weldsynth.cli.main import cli
from weldsynth.train import reports
from weldsynth.train.checkpoint import load_checkpoint
from weldsynth.train.config import TrainConfig
from weldsynth.train.run import prepare, train_topology

FAST = ["--size", "32x96", "--batch-size", "8", "--weights", "none", "--quiet"]


def _train(*args: str):
    return CliRunner().invoke(cli, ["train", *args], catch_exceptions=False)


def _metrics(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_all_learns_every_topology_and_writes_every_report(tmp_path: Path) -> None:
    data = fx.image_folder(tmp_path / "data", ("3", "7"), n_per_class=16)
    (data / "7" / "bad" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    out = tmp_path / "runs"
    res = _train(str(data), "--all", "--epochs", "3", "--out", str(out), *FAST)
    assert res.exit_code == 0, res.output
    with (out / "summary.csv").open() as fh:
        summary = list(csv.DictReader(fh))
    assert [r["topology"] for r in summary] == ["3", "7"]
    assert (out / "summary.md").read_text().count("\n") == 4  # header, rule, 2 rows
    for topo in ("3", "7"):
        run = out / topo
        rows = _metrics(run / "metrics.csv")
        assert list(rows[0]) == list(reports.METRIC_COLUMNS)
        assert len(rows) == 3
        assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
        report = json.loads((run / "report.json").read_text())
        assert report["val"]["error_rate"] == 0.0  # the hole is easy to see
        n_bad = 3 if topo == "3" else 2  # in 7 the broken file drew a val place, then left
        assert report["counts"]["val"] == {"bad": n_bad, "good": 3}
        with (run / "confusion.csv").open() as fh:
            confusion = list(csv.DictReader(fh))
        assert confusion == [
            {"true": "bad", "pred_bad": str(n_bad), "pred_good": "0"},
            {"true": "good", "pred_bad": "0", "pred_good": "3"},
        ]
        for png in ("loss.png", "confusion.png"):
            assert (run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        config = json.loads((run / "config.json").read_text())
        assert config["arch"] == "weldnet" and config["size"] == [32, 96]  # --arch auto
        assert config["arch_requested"] == "auto" and "weldnet" in config["arch_reason"]
        assert config["device"] == "cpu" and config["device_requested"] == "auto"
        assert config["pretrained"] is False and config["freeze_epochs"] == 0
        ckpt = load_checkpoint(run)
        assert ckpt.meta["classes"] == ["bad", "good"] and ckpt.meta["topology"] == topo
        assert ckpt.meta["input_size"] == [32, 96] and ckpt.meta["in_channels"] == 1
    skipped = json.loads((out / "7" / "report.json").read_text())["skipped"]
    assert [Path(s["file"]).name for s in skipped] == ["broken.png"]
    assert summary[1]["skipped"] == "1"
    # a second run into the same folder is refused rather than overwriting models
    again = CliRunner().invoke(cli, ["train", str(data), "--all", "--out", str(out), *FAST])
    assert again.exit_code == 2 and "--force" in again.output


def _api_run(data: Path, out: Path, seed: int, epochs: int = 2, **kw) -> dict:
    cfg = TrainConfig(size=(32, 96), batch_size=8, epochs=epochs, seed=seed, weights="none", **kw)
    return train_topology(
        prepare(data, "7", cfg), out, cfg, weights=None, weights_note="", say=lambda _: None
    )


def test_same_seed_same_metrics_and_weights(tmp_path: Path) -> None:
    data = fx.manifest_set(tmp_path / "data", n_sources=12)
    _api_run(data, tmp_path / "a", seed=5)
    _api_run(data, tmp_path / "b", seed=5)
    _api_run(data, tmp_path / "c", seed=6)

    def numbers(run: str) -> list[list[str]]:
        return [
            [v for k, v in r.items() if k != "seconds"]
            for r in _metrics(tmp_path / run / "metrics.csv")
        ]

    assert numbers("a") == numbers("b")
    assert numbers("a") != numbers("c")
    wa, wb = (
        torch.load(tmp_path / r / "model.pt", weights_only=True)["state_dict"] for r in ("a", "b")
    )
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_interrupt_keeps_the_last_good_checkpoint(tmp_path: Path, monkeypatch) -> None:
    data = fx.manifest_set(tmp_path / "data", n_sources=10)
    calls = []
    real = reports.write_metrics

    def write_then_interrupt(path, history):
        real(path, history)
        calls.append(len(history))
        if len(history) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(reports, "write_metrics", write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        _api_run(data, tmp_path / "run", seed=1, epochs=4)
    assert calls == [1, 2]
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt.meta["epoch"] in (1, 2)
    assert not list((tmp_path / "run").glob("*.tmp"))
    assert len(_metrics(tmp_path / "run" / "metrics.csv")) == 2


def test_bad_data_fails_before_training_with_one_line(tmp_path: Path) -> None:
    for k in range(4):
        fx._write(tmp_path / "one" / "7" / "good" / f"{k}.png", fx.weld(0, k, False))
    res = CliRunner().invoke(
        cli, ["train", str(tmp_path / "one"), *FAST, "--out", str(tmp_path / "r")]
    )
    assert res.exit_code == 2
    assert "only one class" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "r").exists()
    # a manifest that puts every image in val leaves nothing to train on
    fx.manifest_set(tmp_path / "m", n_sources=4, splits={0: "val", 1: "val", 2: "val", 3: "val"})
    res = CliRunner().invoke(cli, ["train", str(tmp_path / "m"), *FAST])
    assert res.exit_code == 2 and "train split is empty" in res.output
    data = fx.image_folder(tmp_path / "two", ("3", "7"), n_per_class=3)
    res = CliRunner().invoke(cli, ["train", str(data), *FAST])
    assert res.exit_code == 2 and "--topology T or --all" in res.output


def test_mlflow_missing_names_the_extra(tmp_path: Path, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    data = fx.image_folder(tmp_path / "data", ("7",), n_per_class=3)
    res = CliRunner().invoke(
        cli, ["train", str(data), "--track", "mlflow", *FAST, "--out", str(tmp_path / "r")]
    )
    assert res.exit_code == 2
    assert 'pip install "weldsynth[mlflow]"' in res.output
