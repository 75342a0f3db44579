"""``weldsynth audit`` / ``loop`` on the command line: help, --probs end to end, errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import audit_fixtures as afx
from click.testing import CliRunner

from weldsynth.cli.main import cli


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_help_texts_show_examples_and_key_options() -> None:
    audit = _run("audit", "--help")
    assert audit.exit_code == 0
    for text in (
        "Example",
        "--folds",
        "--seeds",
        "--probs",
        "--top",
        "--size",
        "--include-test",
        "suspects.csv",
        "report.html",
        "cam_in_mask.csv",
    ):
        assert text in audit.output, text
    loop = _run("loop", "--help")
    assert loop.exit_code == 0
    for text in (
        "Example",
        "--iterations",
        "--auto",
        "--manual",
        "--resume",
        "loop.csv",
        "relabel apply",
        "test set",
    ):
        assert text in loop.output, text


def test_audit_with_probs_writes_every_output(tmp_path: Path) -> None:
    root, flipped, truth = afx.flipped_set(tmp_path / "data")
    probs = afx.write_probs(tmp_path / "p.csv", truth)
    out = tmp_path / "audit"
    res = _run(
        "audit", str(root), "--probs", str(probs), "--top", "5", "--out", str(out), "--quiet"
    )
    assert res.exit_code == 0, res.output
    assert f"{len(flipped)} flagged" in res.output
    with (out / "suspects.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["rank"]) for r in rows] == list(range(1, 41))
    assert {r["path"] for r in rows[: len(flipped)]} == set(flipped)
    html = (out / "report.html").read_text()
    assert html.count('<section class="suspect') == 5
    for path in flipped:
        assert path in html
    summary = json.loads((out / "audit.json").read_text())
    assert summary["settings"]["probs"] == str(probs) and summary["topology"] == "7"
    # the suggested decisions are applied as they are by relabel
    res = _run("relabel", "apply", str(root), str(out / "decisions_suggested.csv"))
    assert res.exit_code == 0 and f"moved {len(flipped)}" in res.output


def test_audit_errors_are_one_line(tmp_path: Path) -> None:
    root, _flipped, _truth = afx.flipped_set(tmp_path / "data")
    bad = tmp_path / "bad.csv"
    bad.write_text("path,good\n7/good/w000.png,1\n")
    res = _run("audit", str(root), "--probs", str(bad), "--out", str(tmp_path / "a"))
    assert res.exit_code == 2 and "missing column(s) bad" in res.output
    res = _run("audit", str(root), "--topology", "9", "--out", str(tmp_path / "a"))
    assert res.exit_code == 2 and "no topology '9'" in res.output
