"""A relabel step killed half-way is seen by every command that reads the data set: it
stops with the command that rolls the step back, instead of "file not found" or "no
images"; ``relabel log`` rolls it back and the command then works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_relabel import DECIDE, _decisions, data  # noqa: F401  (the fixture)

from weldsynth.cli.main import cli
from weldsynth.dataset.relabel.journal import CRASH_ENV
from weldsynth.io.manifest import ManifestError, read_manifest

ROOT = Path(__file__).resolve().parents[2]
CRASHING_APPLY = """
import sys
from weldsynth.dataset.relabel.journal import open_journal
with open_journal(sys.argv[1]) as journal:
    journal.apply(sys.argv[2])
"""


@pytest.fixture
def interrupted(data: Path) -> Path:  # noqa: F811
    decisions = _decisions(data, DECIDE)
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_APPLY, str(data), str(decisions)],
        env={"PYTHONPATH": str(ROOT), CRASH_ENV: "2", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -9, proc.stderr  # killed after two of four file moves
    return data


@pytest.mark.parametrize(
    "argv",
    [
        ["split", "{data}"],
        ["balance", "{data}", "--ratio", "1:1", "--dry-run"],
        ["info", "{data}"],
        ["train", "{data}", "--out", "{data}/../run", "--epochs", "1"],
    ],
)
def test_commands_that_read_the_data_set_stop_with_the_fix(
    interrupted: Path, argv: list[str]
) -> None:
    res = CliRunner().invoke(cli, [a.format(data=interrupted) for a in argv])
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert f"weldsynth relabel log {interrupted}" in text and "step 1" in text


def test_relabel_log_rolls_back_and_reading_works_again(interrupted: Path) -> None:
    with pytest.raises(ManifestError, match="interrupted"):
        read_manifest(interrupted)
    res = CliRunner().invoke(cli, ["relabel", "log", str(interrupted)])
    assert res.exit_code == 0 and "recovered: step 1" in res.output, res.output
    assert len(read_manifest(interrupted)) == 6
    assert CliRunner().invoke(cli, ["split", str(interrupted)]).exit_code == 0
