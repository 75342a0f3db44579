"""Suggested decisions, class folders of a move, per-defect confusion, decisions CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from weldsynth.audit.oof import score
from weldsynth.audit.outputs import write_decisions
from weldsynth.audit.suspects import (
    DROP_P,
    RELABEL_P,
    Sample,
    confusion_by_defect,
    move_folder,
    plot_confusion_by_defect,
    suggest,
)

CLASSES = ["bad", "good"]


def _s(path: str, defect: str = "", source: str = "") -> Sample:
    return Sample(path=path, topology="7", defect=defect, source=source or path)


def _with_background(probs: np.ndarray, n: int = 6) -> np.ndarray:
    """Append ``n`` good samples every seed gets right (a group is mostly right)."""
    right = np.tile([[0.05, 0.95]], (probs.shape[0], n, 1))
    return np.concatenate([probs, right], axis=1)


def test_rules_relabel_drop_keep() -> None:
    # per seed (3 seeds), per sample: p(bad), p(good)
    probs = _with_background(
        np.array(
            [
                [[0.97, 0.03], [0.95, 0.05], [0.10, 0.90], [0.60, 0.40], [0.80, 0.20]],
                [[0.96, 0.04], [0.95, 0.05], [0.20, 0.80], [0.55, 0.45], [0.85, 0.15]],
                [[0.98, 0.02], [0.40, 0.60], [0.15, 0.85], [0.50, 0.50], [0.90, 0.10]],
            ]
        )
    )
    given = np.ones(11, np.int64)  # all labelled good
    samples = [_s(f"7/good/{k}.png") for k in range(11)]
    out = suggest(score(probs, given), samples, CLASSES, seeds=3)
    # sure and every seed agrees -> relabel
    assert out[0].action == "relabel:bad" and out[0].confidence > RELABEL_P
    assert "all agree" in out[0].why and "3 seeds" in out[0].why
    # p(bad) = 0.767 >= DROP_P but one seed disagrees -> drop
    assert out[1].action == "drop" and "67% agree" in out[1].why
    assert out[2].action == "keep" and "model agrees" in out[2].why
    # wrong but unsure (p(bad) = 0.55 < DROP_P) -> keep, worth a look
    assert out[3].action == "keep" and "unsure" in out[3].why
    # every seed agrees, p(bad) = 0.85: above DROP_P, below RELABEL_P -> drop
    assert DROP_P <= 0.85 < RELABEL_P and out[4].action == "drop"
    assert [o.flagged for o in out[:5]] == [True, True, False, False, True]


def test_a_defect_the_model_cannot_see_is_kept_not_relabelled() -> None:
    # six bad 'cut' samples, four predicted good with certainty; one bad 'hole' likewise
    p_bad = [0.02, 0.03, 0.01, 0.02, 0.9, 0.9, 0.02, 0.9, 0.9, 0.9, 0.9, 0.9]
    probs = np.array([[p, 1 - p] for p in p_bad])
    given = np.zeros(12, np.int64)
    samples = [_s(f"7/bad/c{k}.png", "cut") for k in range(6)]
    samples += [_s(f"7/bad/h{k}.png", "hole") for k in range(6)]
    out = suggest(score(probs, given), samples, CLASSES, seeds=1)
    assert [o.action for o in out[:4]] == ["keep"] * 4
    assert "bad/cut is predicted otherwise in 67% of its 6 samples" in out[0].why
    assert out[6].action == "relabel:good"  # 1 of 6 holes: a label error, not the defect


def test_a_whole_source_weld_taken_for_the_other_class_is_kept() -> None:
    """Label errors strike images; a model wrong on most variants of one weld is unfamiliar
    with the weld (a fold without similar welds), so nothing is relabelled."""
    p_bad = [0.99, 0.99, 0.98, 0.2, 0.01, 0.02, 0.99]
    probs = _with_background(np.array([[[p, 1 - p] for p in p_bad]]))
    given = np.ones(13, np.int64)  # all labelled good
    samples = [_s(f"7/good/a{k}.png", source="a.png") for k in range(4)]
    samples += [_s(f"7/good/b{k}.png", source="b.png") for k in range(3)]
    samples += [_s(f"7/good/c{k}.png") for k in range(6)]
    out = suggest(score(probs, given), samples, CLASSES, seeds=1)
    assert [o.action for o in out[:4]] == ["keep", "keep", "keep", "keep"]
    assert "3 of the 4 good images of source weld a.png" in out[0].why
    assert out[6].action == "relabel:bad"  # 1 of 3 images of weld b: a label error


def test_a_group_the_model_gets_wrong_is_excused_only_in_its_usual_class() -> None:
    """good/(none) mostly taken for bad: a shortcut, kept; good/ball (balls are bad): the
    minority group of a defect is never excused, so mislabelled balls are relabelled."""
    p_bad = [0.9] * 4 + [0.1] * 2 + [0.95] * 5 + [0.97] * 8
    probs = np.array([[p, 1 - p] for p in p_bad])
    given = np.array([1] * 6 + [1] * 5 + [0] * 8)
    samples = [_s(f"7/good/n{k}.png") for k in range(6)]
    samples += [_s(f"7/good/b{k}.png", "ball") for k in range(5)]
    samples += [_s(f"7/bad/b{k}.png", "ball") for k in range(8)]
    out = suggest(score(probs, given), samples, CLASSES, seeds=1)
    assert [o.action for o in out[:4]] == ["keep"] * 4
    assert "good/(none) is predicted otherwise in 67% of its 6 samples" in out[0].why
    assert [o.action for o in out[6:11]] == ["relabel:bad"] * 5


def test_move_folder_follows_the_layout() -> None:
    assert move_folder("7/good/x.png", "bad", "hole", {"good", "bad"}) == "bad"
    assert move_folder("7/good/x.png", "bad", "hole", {"good", "bad-hole", "bad-cut"}) == "bad-hole"
    assert move_folder("7/good/x.png", "bad", "", {"good", "bad-hole"}) == ""
    assert move_folder("7/bad-hole/x.png", "good", "hole", {"good", "bad-hole"}) == "good"


def test_no_folder_to_move_to_means_drop() -> None:
    probs = np.array([[0.99, 0.01]])
    out = suggest(
        score(probs, np.array([1])),
        [_s("7/good/x.png")],
        CLASSES,
        seeds=1,
        folder_of={"7/good/x.png": ""},
    )
    assert out[0].action == "drop" and "no class folder" in out[0].why


def test_confusion_by_defect_by_hand(tmp_path: Path) -> None:
    p_bad = [0.9, 0.2, 0.3, 0.8, 0.1, 0.6]
    probs = np.array([[p, 1 - p] for p in p_bad])
    given = np.array([0, 0, 0, 0, 1, 1])
    samples = [_s("a", "hole"), _s("b", "hole"), _s("c", "cut"), _s("d", "cut"), _s("e"), _s("f")]
    rows = {
        (r["given"], r["defect"]): r
        for r in confusion_by_defect(score(probs, given), samples, CLASSES)
    }
    hole = rows["bad", "hole"]
    assert hole["n"] == 2 and hole["error"] == 0.5 and hole["pred_good"] == 0.5
    assert abs(hole["mean_p_given"] - 0.55) < 1e-9
    good = rows["good", "(none)"]
    assert good["n"] == 2 and good["pred_bad"] == 0.5 and abs(good["mean_p_given"] - 0.65) < 1e-9
    png = plot_confusion_by_defect(tmp_path / "c.png", list(rows.values()), CLASSES, "t")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_decisions_maps_suggestions_and_threshold(tmp_path: Path) -> None:
    rows = [
        {"path": "7/good/a.png", "suggestion": "relabel:bad", "confidence": 0.99, "sha256": "aa"},
        {"path": "7/good/b.png", "suggestion": "drop", "confidence": 0.8, "sha256": "bb"},
        {"path": "7/bad/c.png", "suggestion": "keep", "confidence": 0.99, "sha256": "cc"},
    ]
    assert write_decisions(tmp_path / "all.csv", rows) == 2
    with (tmp_path / "all.csv").open() as fh:
        got = list(csv.DictReader(fh))
    assert got == [
        {"path": "7/good/a.png", "decision": "move", "to": "bad", "sha256": "aa"},
        {"path": "7/good/b.png", "decision": "drop", "to": "", "sha256": "bb"},
    ]
    assert write_decisions(tmp_path / "sure.csv", rows, min_confidence=0.95) == 1
