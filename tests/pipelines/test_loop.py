"""``weldsynth loop``: fixed test set, journaled apply (undoable), table, stops, --manual.

Training is replaced by a stand-in whose "error" is the share of rows whose label differs
from the truth, and each audit uses probabilities of a model that knows the truth (the
real audit code via ``--probs``), so the loop's own logic runs in a second.
"""

from __future__ import annotations

import csv
from pathlib import Path

import audit_fixtures as afx
import pytest
from click.testing import CliRunner

import weldsynth.pipelines.loop as loop_mod
import weldsynth.train.run as train_run
from weldsynth.audit.run import audit_topology as real_audit
from weldsynth.cli.main import cli
from weldsynth.dataset.relabel.journal import open_journal, read_journal
from weldsynth.io.manifest import manifest_path, read_manifest, sha256_file
from weldsynth.pipelines.loop import LoopError, LoopSettings, carve_test_set, run_loop
from weldsynth.train.config import TrainConfig

CFG = TrainConfig(weights="none")


@pytest.fixture
def world(tmp_path: Path, monkeypatch, request):
    """Flipped data set (one flip in the test source 19), stand-in training and audit."""
    # index 19 is 7/bad-hole/w019.png, of source 19, which is test
    root, flipped, _truth = afx.flipped_set(
        tmp_path / "data", flips=(2, 7, 19, 33), splits={18: "test", 19: "test"}
    )

    def true_label(rec) -> str:  # the fixture masks exactly the bad welds; moves keep it
        return "bad" if rec.mask else "good"

    errors: list[float] = []

    def noise(split: str) -> float:
        rows = [
            r for r in read_manifest(root) if r.active and (r.split == "test") == (split == "test")
        ]
        return sum(r.label != true_label(r) for r in rows) / len(rows)

    def fake_train(listing, out, cfg, **kw):
        out.mkdir(parents=True, exist_ok=True)
        errors.append(noise("train+val"))  # a model learns the noise it is given
        return {
            "val": {"error_rate": noise("train+val")},
            "test": {"error_rate": errors[-1] if not scripted else scripted.pop(0)},
        }

    def fake_audit(data, topology, out, cfg, settings, **kw):
        rows = [r for r in read_manifest(data) if r.active]
        believed = {r.path: true_label(r) for r in rows}
        for r in rows[: int(weak * len(rows))]:  # a weak model is wrong on these
            believed[r.path] = "good" if believed[r.path] == "bad" else "bad"
        probs = afx.write_probs(tmp_path / "probs.csv", believed)
        settings.probs = probs
        audited.append(out)
        return real_audit(data, topology, out, cfg, settings, **kw)

    scripted: list[float] = []
    audited: list[Path] = []
    weak = float(getattr(request, "param", 0.0))
    monkeypatch.setattr(train_run, "train_topology", fake_train)
    monkeypatch.setattr(loop_mod, "audit_topology", fake_audit)
    return {
        "root": root,
        "flipped": flipped,
        "scripted": scripted,
        "audited": audited,
        "out": tmp_path / "loop",
    }


def _test_rows(root: Path) -> list[tuple[str, str, str]]:
    return [
        (r.path, r.label, sha256_file(root / r.path))
        for r in read_manifest(root)
        if r.split == "test"
    ]


def test_auto_loop_fixes_the_flips_through_the_journal_and_never_touches_test(world) -> None:
    root, out = world["root"], world["out"]
    test_before = _test_rows(root)
    manifest_before = manifest_path(root).read_bytes()
    lines: list[str] = []
    state = run_loop(root, "7", out, CFG, LoopSettings(iterations=3, auto=0.9), say=lines.append)
    rows = state.rows
    assert [r["iteration"] for r in rows] == [0, 1]
    assert (rows[0]["moved"], rows[0]["dropped"]) == (0, 0)
    assert (rows[1]["moved"], rows[1]["dropped"]) == (3, 0)  # the test flip is left alone
    assert rows[1]["samples"] == rows[0]["samples"] == 40
    assert "nothing to change" in state.finished  # iteration 2's audit flags nothing
    with (out / "loop.csv").open() as fh:
        assert [r["moved"] for r in csv.DictReader(fh)] == ["0", "3"]
    assert _test_rows(root) == test_before  # the flipped test image is still flipped
    for audit in world["audited"]:
        with (audit / "suspects.csv").open() as fh:
            assert all(r["split"] != "test" for r in csv.DictReader(fh))
    steps = read_journal(root)
    assert [s.kind for s in steps] == ["apply"]
    with open_journal(root) as journal:
        outcome = journal.undo()
    assert outcome.byte_exact
    assert manifest_path(root).read_bytes() == manifest_before
    assert any("relabel step 1: moved 3" in line for line in lines)


def test_loop_stops_early_when_test_error_does_not_improve(world, tmp_path: Path) -> None:
    root = world["root"]
    decisions = tmp_path / "earlier.csv"  # a relabel step made before the loop started
    first = read_manifest(root)[0]
    decisions.write_text(
        f"path,decision,to,sha256\n{first.path},drop,,{sha256_file(root / first.path)}\n"
    )
    with open_journal(root) as journal:
        journal.apply(decisions)
    world["scripted"].extend([0.10, 0.12])
    state = run_loop(root, "7", world["out"], CFG, LoopSettings(iterations=3, auto=0.9))
    assert state.rows[0]["dropped"] == 0  # the earlier step is not the loop's
    assert len(state.rows) == 2 and state.rows[1]["note"] == "test error did not improve"
    assert "stopped early" in state.finished and "relabel undo" in state.finished


@pytest.mark.parametrize("world", [0.4], indirect=True)
def test_suggestions_of_weak_models_are_not_applied_automatically(world) -> None:
    root = world["root"]
    before = manifest_path(root).read_bytes()
    state = run_loop(root, "7", world["out"], CFG, LoopSettings(iterations=3, auto=0.9))
    assert "not applied automatically" in state.finished and len(state.rows) == 1
    assert manifest_path(root).read_bytes() == before and not read_journal(root)


def test_manual_loop_waits_for_decisions_and_resumes(world) -> None:
    root, out = world["root"], world["out"]
    lines: list[str] = []
    state = run_loop(root, "7", out, CFG, LoopSettings(iterations=2, auto=None), say=lines.append)
    assert state.pending == 1 and len(state.rows) == 1 and not state.finished
    text = "\n".join(lines)
    assert f"weldsynth relabel apply {root} decisions.csv" in text
    assert f"--out {out} --resume --manual" in text
    with open_journal(root) as journal:  # the user applies the suggestions as they are
        journal.apply(out / "iter1" / "audit" / "decisions_suggested.csv")
    state = run_loop(
        root, "7", out, CFG, LoopSettings(iterations=2, auto=None), resume=True, say=lines.append
    )
    assert state.rows[1]["moved"] == 3 and state.pending == 2
    with pytest.raises(LoopError, match="holds a loop already"):
        run_loop(root, "7", out, CFG, LoopSettings(auto=None))


def test_a_changed_test_set_stops_the_loop(world) -> None:
    root, out = world["root"], world["out"]
    run_loop(root, "7", out, CFG, LoopSettings(iterations=1, auto=None))
    records = read_manifest(root)
    from weldsynth.io.manifest import write_manifest

    write_manifest(root, [r.with_(label="good") if r.split == "test" else r for r in records])
    with pytest.raises(LoopError, match="fixed test set changed"):
        run_loop(root, "7", out, CFG, LoopSettings(iterations=1, auto=None), resume=True)


def test_carve_test_set_once_grouped_by_source(tmp_path: Path) -> None:
    root, _flipped, _truth = afx.flipped_set(tmp_path / "data", n_sources=20, flips=())
    assert not any(r.split for r in read_manifest(root))
    first, note = carve_test_set(root, "7", test=0.15, val=0.2, seed=1)
    assert "carved" in note and 2 <= len(first) <= 12
    test_sources = {r.source for r in read_manifest(root) if r.split == "test"}
    assert all(r.split == "test" for r in read_manifest(root) if r.source in test_sources)
    again, note = carve_test_set(root, "7", test=0.3, val=0.2, seed=2)
    assert again == first and note == "kept the existing test split"


def test_loop_needs_a_manifest(tmp_path: Path) -> None:
    import train_fixtures as fx

    root = fx.image_folder(tmp_path / "plain")
    res = CliRunner().invoke(
        cli,
        ["loop", str(root), "--topology", "7", "--weights", "none", "--out", str(tmp_path / "o")],
    )
    assert res.exit_code == 2 and "needs a manifest.csv" in res.output
