"""The demo's plant data: labels flipped on purpose through the journal, and the audit's
precision and recall on them."""

from __future__ import annotations

import csv
from pathlib import Path

import train_fixtures as fx

from weldsynth.dataset.relabel.journal import read_journal
from weldsynth.io.manifest import read_manifest
from weldsynth.pipelines.demo_plant import audit_scores, flip_labels, seed_figure


def _plant(root: Path, n: int, split: str) -> Path:
    """A manifest data set with good/ and bad/ folders (distinct names), all in ``split``."""
    rows = []
    for k in range(n):
        label = "bad" if k % 2 else "good"
        rel = f"7/{label}/w{k:03d}.png"
        fx._write(root / rel, fx.weld(0, k, label == "bad"))
        row = dict.fromkeys(fx.COLUMNS, "")
        row.update(path=rel, topology="7", label=label, source=f"s{k}", params="{}", split=split)
        rows.append(row)
    with (root / "manifest.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(fx.COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_flipped_labels_are_one_undoable_step_and_listed(tmp_path: Path) -> None:
    data = _plant(tmp_path / "data", 40, "train")
    before = {r.path: r.label for r in read_manifest(data)}
    flipped = flip_labels(data, tmp_path / "injected.csv", share=0.1)
    assert len(flipped) == 4
    after = {r.path: r.label for r in read_manifest(data)}
    for path in flipped:
        old = path.replace("/bad/", "/x/").replace("/good/", "/bad/").replace("/x/", "/good/")
        assert after[path] != before[old] and (data / path).is_file()
    assert [s.kind for s in read_journal(data)] == ["apply"]
    listed = (tmp_path / "injected.csv").read_text().split()
    assert listed == ["path", *flipped]
    assert "0.61% → 0.10%" in seed_figure("3")


def test_audit_scores_count_flagged_hits_and_top_k(tmp_path: Path) -> None:
    rows = [
        ("7/bad/a.png", "relabel:good", 1),
        ("7/good/b.png", "keep", 2),
        ("7/bad/c.png", "drop", 3),
        ("7/good/d.png", "keep", 4),
    ]
    file = tmp_path / "suspects.csv"
    with file.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["path", "suggestion", "loss_rank"])
        out.writerows(rows)
    scores = audit_scores(file, ["7/bad/a.png", "7/good/d.png"])
    assert scores == {
        "injected": 2,
        "flagged": 2,
        "found": 1,
        "precision": 0.5,
        "recall": 0.5,
        "precision_at_k": 0.5,
    }
