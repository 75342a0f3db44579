"""balance refuses, without --force, a ratio that would write more than a documented number
of files, saying how many files and bytes; nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from test_balance import make_dataset, snapshot

from weldsynth.cli.main import cli
from weldsynth.dataset.balance import plan as balance_plan


def test_a_ratio_writing_too_many_files_needs_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "ds"
    make_dataset(root)
    before = snapshot(root)
    monkeypatch.setattr(balance_plan, "MAX_NEW_FILES", 20)
    res = CliRunner().invoke(cli, ["balance", str(root), "--ratio", "10:1", "-q"])
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "would write" in text and "files" in text and "--force" in text and "MB" in text
    assert snapshot(root) == before
    res = CliRunner().invoke(cli, ["balance", str(root), "--ratio", "10:1", "-q", "--force"])
    assert res.exit_code == 0, res.output
    assert len(snapshot(root)) > len(before) + 20
