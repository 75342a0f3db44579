"""predict, evaluate and ensemble agree with each other and with the training report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import train_fixtures as fx
from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.core.errors import WeldsynthError
from weldsynth.train.checkpoint import load_checkpoint
from weldsynth.train.config import TrainConfig
from weldsynth.train.ensemble import combine, run_committee
from weldsynth.train.evaluate import evaluate
from weldsynth.train.run import prepare, train_topology


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """Two tiny, deliberately undertrained models (seeds 1, 2); the data has a test split."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("ens")
    data = fx.manifest_set(root / "data", n_sources=16, splits={0: "test", 1: "test", 2: "test"})
    runs = []
    for seed in (1, 2):
        cfg = TrainConfig(
            size=(32, 96), batch_size=8, epochs=1, seed=seed, weights="none", lr=3e-5
        )  # weak on purpose: members that make mistakes
        train_topology(
            prepare(data, "7", cfg),
            root / f"s{seed}",
            cfg,
            weights=None,
            weights_note="",
            say=lambda _: None,
        )
        runs.append(root / f"s{seed}")
    torch.set_num_threads(before)
    return {"data": data, "runs": runs}


def test_evaluate_val_reproduces_the_training_report(trained: dict) -> None:
    run = trained["runs"][0]
    report = json.loads((run / "report.json").read_text())
    result = evaluate(load_checkpoint(run), trained["data"], "val")
    assert len(result.items) == report["val"]["images"]
    assert result.error == report["val"]["error_rate"]
    assert result.confusion.tolist() == report["val"]["confusion"]
    wrong = sorted(
        i.rel for i, t, p in zip(result.items, result.y_true, result.y_pred, strict=True) if t != p
    )
    assert wrong == sorted(w["file"] for w in report["val"]["wrong"])
    test = evaluate(load_checkpoint(run), trained["data"], "test")
    assert {i.source for i in test.items} == {f"good/7/w{k:03d}.png" for k in range(3)}


def test_predict_cli_matches_evaluate_and_reports_unreadable_files(
    trained: dict, tmp_path: Path
) -> None:
    run = trained["runs"][0]
    result = evaluate(load_checkpoint(run), trained["data"], "test")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n")
    files = [str(i.path) for i in result.items]
    out = tmp_path / "p.csv"
    res = CliRunner().invoke(
        cli, ["predict", str(run / "model.pt"), *files, str(broken), "--csv", str(out), "--quiet"]
    )
    assert res.exit_code == 0, res.output
    assert "broken.png" in res.output
    with out.open() as fh:
        rows = {r["file"]: r for r in csv.DictReader(fh)}
    assert rows[str(broken)]["error"] and rows[str(broken)]["label"] == ""
    for item, probs in zip(result.items, result.probs, strict=True):
        row = rows[str(item.path)]
        assert row["label"] == result.classes[int(probs.argmax())]
        assert float(row["p_bad"]) == pytest.approx(float(probs[0]), abs=1e-6)
    res = CliRunner().invoke(cli, ["predict", str(run), str(broken)])
    assert res.exit_code == 2 and "could be read" in res.output


def test_evaluate_cli_json_has_confusion_and_per_defect(trained: dict, tmp_path: Path) -> None:
    run = trained["runs"][1]
    out = tmp_path / "e.json"
    res = CliRunner().invoke(
        cli, ["evaluate", str(run), str(trained["data"]), "--split", "test", "--json", str(out)]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    api = evaluate(load_checkpoint(run), trained["data"], "test")
    assert data["images"] == 6 and data["error_rate"] == api.error
    assert data["confusion"] == api.confusion.tolist()
    by_defect = {r["defect"]: r for r in data["per_defect"]}
    assert set(by_defect) == {"hole", "-"}
    assert by_defect["hole"]["images"] == 3
    assert by_defect["hole"]["as_good"] == by_defect["hole"]["errors"]
    assert sum(r["errors"] for r in data["per_defect"]) == data["errors"]


def test_committee_of_one_is_the_model_and_the_table_matches_evaluate(
    trained: dict, tmp_path: Path
) -> None:
    a, b = (load_checkpoint(r) for r in trained["runs"])
    alone = run_committee([a], trained["data"], "val", "mean")
    single = evaluate(a, trained["data"], "val")
    assert np.array_equal(alone.scores, single.probs)
    assert alone.committee_error() == single.error
    out = tmp_path / "c.json"
    res = CliRunner().invoke(
        cli,
        [
            "ensemble",
            *map(str, trained["runs"]),
            "--data",
            str(trained["data"]),
            "--mode",
            "vote",
            "--json",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    rows = json.loads(out.read_text())["rows"]
    assert [r["error_rate"] for r in rows[:2]] == [
        evaluate(m, trained["data"], "val").error for m in (a, b)
    ]
    both = run_committee([a, b], trained["data"], "val", "vote")
    assert rows[2]["error_rate"] == both.committee_error()
    assert "committee (vote)" in res.output


def test_combine_mean_and_vote_by_hand() -> None:
    m1 = np.array([[0.6, 0.4], [0.2, 0.8]])
    m2 = np.array([[0.3, 0.7], [0.45, 0.55]])
    m3 = np.array([[0.9, 0.1], [0.4, 0.6]])
    assert np.allclose(combine([m1, m2, m3], "mean"), [[0.6, 0.4], [0.35, 0.65]])
    assert combine([m1, m2, m3], "vote").argmax(axis=1).tolist() == [0, 1]
    # two votes for class 0 outweigh a confident vote for class 1
    confident = np.array([[0.01, 0.99]])
    weak = np.array([[0.55, 0.45]])
    assert combine([weak, weak, confident], "mean").argmax(axis=1).tolist() == [1]
    assert combine([weak, weak, confident], "vote").argmax(axis=1).tolist() == [0]
    # a 1:1 tie goes to the higher mean probability
    assert combine([np.array([[0.6, 0.4]]), np.array([[0.3, 0.7]])], "vote").argmax(
        axis=1
    ).tolist() == [1]
    with pytest.raises(WeldsynthError):
        combine([m1], "median")


def test_members_must_share_classes_and_splits_must_exist(trained: dict, tmp_path: Path) -> None:
    a = load_checkpoint(trained["runs"][0])
    other = load_checkpoint(trained["runs"][1])
    other.meta["classes"] = ["good", "bad"]
    with pytest.raises(WeldsynthError, match="share their classes"):
        run_committee([a, other], trained["data"], "val")
    plain = fx.image_folder(tmp_path / "plain", ("7",), n_per_class=4)
    with pytest.raises(WeldsynthError, match="test split of topology 7 is empty"):
        evaluate(a, plain, "test")
    by_defect = fx.image_folder(tmp_path / "bd", ("7",), n_per_class=2, bad_folder="bad-cut")
    a.meta["by_defect"] = True
    with pytest.raises(WeldsynthError, match="unknown to the model"):
        evaluate(a, by_defect, "all")
