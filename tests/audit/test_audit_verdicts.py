"""The audit's per (given class, defect, norm verdict) confusion: acceptable imperfections
taken for bad are one row; the per-defect table keeps its columns."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import audit_fixtures as afx
import numpy as np

from weldsynth.audit.oof import score
from weldsynth.audit.run import AuditSettings, audit_topology
from weldsynth.audit.suspects import Sample, confusion_by_defect
from weldsynth.io.manifest import read_manifest, write_manifest
from weldsynth.train.config import TrainConfig

CLASSES = ["bad", "good"]


def test_confusion_by_defect_and_verdict_by_hand() -> None:
    p_bad = [0.9, 0.2, 0.8, 0.7, 0.1, 0.4]
    probs = np.array([[p, 1 - p] for p in p_bad])
    given = np.array([0, 0, 1, 1, 1, 1])
    samples = [
        Sample("a", "7", "hole", verdict="reject"),
        Sample("b", "7", "hole", verdict="reject"),
        Sample("c", "7", "hole", verdict="accept"),  # acceptable pore taken for bad
        Sample("d", "7", "hole", verdict="accept"),  # and another
        Sample("e", "7", "hole", verdict="accept"),
        Sample("f", "7"),  # an original, no verdict
    ]
    scores = score(probs, given)
    rows = {
        (r["given"], r["defect"], r["verdict"]): r
        for r in confusion_by_defect(scores, samples, CLASSES, by_verdict=True)
    }
    acceptable = rows["good", "hole", "accept"]
    assert acceptable["n"] == 3 and acceptable["pred_bad"] == round(2 / 3, 4)
    assert acceptable["error"] == round(2 / 3, 4)
    assert rows["bad", "hole", "reject"]["error"] == 0.5
    assert rows["good", "(none)", "(none)"]["error"] == 0.0
    plain = confusion_by_defect(scores, samples, CLASSES)  # as before: no verdict column
    assert all("verdict" not in r for r in plain)
    assert {(r["given"], r["defect"]) for r in plain} == {
        ("bad", "hole"),
        ("good", "hole"),
        ("good", "(none)"),
    }


def test_audit_writes_the_verdict_breakdown(tmp_path: Path) -> None:
    root, _flipped, truth = afx.flipped_set(tmp_path / "data", flips=())
    rows = read_manifest(root)
    verdicts = {r.path: ("reject" if r.label == "bad" else "") for r in rows}
    write_manifest(root, [r.with_(verdict=verdicts[r.path]) for r in rows])
    probs = afx.write_probs(tmp_path / "probs.csv", truth)
    out = tmp_path / "audit"
    audit_topology(root, "7", out, TrainConfig(weights="none"), AuditSettings(probs=probs))
    with (out / "confusion_by_defect_verdict.csv").open() as fh:
        table = {(r["given"], r["defect"], r["verdict"]): r for r in csv.DictReader(fh)}
    assert set(table) == {("bad", "hole", "reject"), ("good", "(none)", "(none)")}
    assert int(table["bad", "hole", "reject"]["n"]) == sum(v == "reject" for v in verdicts.values())
    with (out / "confusion_by_defect.csv").open() as fh:
        assert "verdict" not in (csv.DictReader(fh).fieldnames or [])
    summary = json.loads((out / "audit.json").read_text())
    assert len(summary["confusion_by_defect_verdict"]) == 2
