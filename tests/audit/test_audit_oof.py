"""Out-of-fold audit: grouped folds, the loss table, --probs, and one small real training."""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from pathlib import Path

import audit_fixtures as afx
import numpy as np
import pytest
import torch

from weldsynth.audit.folds import grouped_folds
from weldsynth.audit.oof import out_of_fold, read_probs, score
from weldsynth.audit.run import AuditSettings, audit_topology
from weldsynth.core.errors import WeldsynthError
from weldsynth.train.config import TrainConfig


@pytest.mark.parametrize("seed", range(5))
def test_grouped_folds_never_split_a_source_and_stay_stratified(seed: int) -> None:
    rng = np.random.default_rng(seed)
    groups, labels = [], []
    for g in range(23):
        size = int(rng.integers(1, 9))
        groups += [f"src{g}"] * size
        labels += list(rng.integers(0, 2, size))
    folds = grouped_folds(groups, labels, 5, np.random.default_rng(seed))
    per_group = defaultdict(set)
    for g, f in zip(groups, folds, strict=True):
        per_group[g].add(int(f))
    assert all(len(fs) == 1 for fs in per_group.values())
    assert set(folds.tolist()) == set(range(5))
    labels_arr = np.array(labels)
    for f in range(5):  # both classes in every fold, none with more than twice its share
        for c in (0, 1):
            share = np.mean(folds[labels_arr == c] == f)
            assert 0 < share < 0.4


def test_grouped_folds_fewer_groups_than_folds_and_refusals() -> None:
    folds = grouped_folds(["a", "a", "b", "c"], [0, 1, 0, 1], 5, np.random.default_rng(0))
    assert sorted(set(folds.tolist())) == [0, 1, 2] and folds[0] == folds[1]
    with pytest.raises(WeldsynthError, match="at least two source welds"):
        grouped_folds(["a", "a"], [0, 1], 5, np.random.default_rng(0))


def test_score_columns_by_hand() -> None:
    # two seeds, three samples, classes (bad, good)
    probs = np.array([[[0.2, 0.8], [0.9, 0.1], [0.6, 0.4]], [[0.4, 0.6], [0.7, 0.3], [0.3, 0.7]]])
    s = score(probs, np.array([0, 0, 1]))
    assert s.p_given == pytest.approx([0.3, 0.8, 0.55])
    assert s.loss == pytest.approx([-math.log(0.3), -math.log(0.8), -math.log(0.55)])
    assert s.margin == pytest.approx([-0.4, 0.6, 0.1])
    assert s.predicted.tolist() == [1, 0, 1]
    assert s.agree.tolist() == [1.0, 1.0, 0.5]  # seed 1 votes bad for the third
    assert s.p_given_min == pytest.approx([0.2, 0.7, 0.4])
    assert s.rank.tolist() == [1, 3, 2]


def test_read_probs_matches_paths_and_refuses_bad_values(tmp_path: Path) -> None:
    file = tmp_path / "p.csv"
    file.write_text("path,good,bad\na.png,2,2\nzzz.png,1,0\nb.png,0.1,0.9\n")
    probs, found, unknown = read_probs(file, ["b.png", "c.png", "a.png"], ["bad", "good"])
    assert found == [0, 2] and unknown == ["zzz.png"]
    assert np.allclose(probs, [[0.9, 0.1], [0.5, 0.5]])
    file.write_text("path,good,bad\na.png,-1,2\n")
    with pytest.raises(WeldsynthError, match=r"p.csv:2: probabilities must be"):
        read_probs(file, ["a.png"], ["bad", "good"])
    file.write_text("path,good\na.png,1\n")
    with pytest.raises(WeldsynthError, match="missing column"):
        read_probs(file, ["a.png"], ["bad", "good"])


def test_probs_audit_finds_the_flipped_labels_and_leaves_the_test_split(tmp_path: Path) -> None:
    root, flipped, truth = afx.flipped_set(tmp_path / "data", splits={19: "test"})
    probs = afx.write_probs(tmp_path / "probs.csv", truth)
    out = tmp_path / "audit"
    result = audit_topology(
        root, "7", out, TrainConfig(weights="none"), AuditSettings(probs=probs, top=10)
    )
    rows = result.rows
    assert len(rows) == 38  # 40 images, the two of source 19 are test
    assert all(r["split"] != "test" for r in rows)
    top = {r["path"] for r in rows[: len(flipped)]}
    assert top == set(flipped)
    for r in rows[: len(flipped)]:
        folder = "good" if truth[r["path"]] == "good" else "bad-hole"  # per-defect layout
        assert r["suggestion"] == f"relabel:{folder}"
        assert r["confidence"] > 0.8
    assert all(r["suggestion"] == "keep" for r in rows[len(flipped) :])
    with (out / "decisions_suggested.csv").open() as fh:
        decisions = list(csv.DictReader(fh))
    assert {d["path"] for d in decisions} == set(flipped)
    assert {d["decision"] for d in decisions} == {"move"}
    summary = json.loads((out / "audit.json").read_text())
    assert summary["flagged"] == len(flipped) and summary["audited"] == 38
    for name in (
        "suspects.csv",
        "confusion_by_defect.csv",
        "confusion_by_defect.png",
        "cam_in_mask.csv",
        "report.html",
    ):
        assert (out / name).is_file()


@pytest.mark.slow
def test_small_real_out_of_fold_run_ranks_the_flips_first(tmp_path: Path) -> None:
    """Tiny separable set, a flip in each class: out-of-fold models rank them on top."""
    root, flipped, _truth = afx.flipped_set(tmp_path / "data", n_sources=12, flips=(3, 16))
    torch.set_num_threads(1)
    cfg = TrainConfig(
        size=(32, 96),
        batch_size=8,
        epochs=4,
        lr=3e-3,
        weights="none",
        augment="none",
        precision="fp32",
        seed=3,
    )
    result = audit_topology(
        root, "7", tmp_path / "audit", cfg, AuditSettings(folds=3, seeds=1, top=4, weights="none")
    )
    rows = result.rows
    assert {r["path"] for r in rows[:4]} >= set(flipped)
    # a source's two images always share a fold
    fold_of = defaultdict(set)
    for r in rows:
        fold_of[r["source"]].add(r["fold"])
    assert all(len(v) == 1 for v in fold_of.values())
    html = (tmp_path / "audit" / "report.html").read_text()
    assert html.count('class="ov-cam"') == 4  # every shown suspect has its Grad-CAM
    bad_rows = [r for r in rows if r["given"] == "bad" and r["mask"]]
    assert all(0.0 <= float(r["cam_in_mask"]) <= 1.0 for r in bad_rows if r["cam_in_mask"] != "")


def test_out_of_fold_never_predicts_a_sample_with_a_model_that_saw_its_source(monkeypatch) -> None:
    """The fold models (a stand-in recording what it was trained on) never saw the samples
    they predict nor their source's siblings; every sample is predicted once per seed, and
    each seed draws new folds."""
    import weldsynth.audit.oof as oof_mod

    n = 30
    images = np.arange(n, dtype=np.uint16)[:, None, None] * np.ones((1, 4, 4), np.uint16)
    labels = np.tile([0, 1], n // 2)
    groups = [f"g{k // 3}" for k in range(n)]
    seen: list[set[int]] = []

    class Stub:
        def __init__(self, trained_on: set[int]) -> None:
            self.trained_on = trained_on

        def probabilities(self, x: np.ndarray, tta: str = "none") -> np.ndarray:
            ids = {int(v) for v in x[:, 0, 0]}
            assert not ids & self.trained_on  # predicted samples were not trained on
            sources = {groups[i] for i in ids}
            assert not sources & {groups[i] for i in self.trained_on}
            return np.full((len(x), 2), 0.5, np.float32)

    def fake_train(x, y, n_classes, cfg, **kw):
        ids = {int(v) for v in x[:, 0, 0]}
        seen.append(ids)
        return Stub(ids)

    monkeypatch.setattr(oof_mod, "train_arrays", fake_train)
    oof = out_of_fold(
        images,
        labels,
        groups,
        2,
        TrainConfig(weights="none"),
        folds=4,
        seeds=[1, 2],
        precision="fp32",
        cams=False,
    )
    assert len(seen) == 8
    assert np.allclose(oof.probs.sum(axis=2), 1.0)  # every sample predicted for each seed
    assert (oof.folds[0] != oof.folds[1]).any()  # new folds per seed
    for s in range(2):
        assert sorted(set(oof.folds[s].tolist())) == [0, 1, 2, 3]


def test_tiny_folds_get_smaller_batches_or_a_clear_refusal() -> None:
    """The one-cycle schedule breaks below a handful of steps per phase."""
    from weldsynth.audit.learner import MIN_STEPS, small_batch

    cfg = TrainConfig(weights="none", batch_size=16, epochs=1)
    assert small_batch(12, cfg) == 2 and MIN_STEPS <= (12 // 2)
    assert small_batch(1000, cfg.with_(epochs=10)) == 16  # untouched when there is room
    with pytest.raises(WeldsynthError, match="too few for"):
        small_batch(8, cfg)
