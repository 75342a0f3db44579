"""split says when grouping by source makes the fractions differ from the request, and by
how much; it says nothing when they match."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.dataset.split import assign_splits, fraction_notes
from weldsynth.io.manifest import Record, write_manifest


def group_rows(topo: str, name: str, good: int, bad: int) -> list[Record]:
    """One source weld: ``good`` good rows and ``bad`` bad variants."""
    src = f"{topo}/good/{name}.png"
    labels = ["good"] * good + ["bad"] * bad
    return [
        Record(path=f"{topo}/{lab}/{name}_{k:02d}.png", topology=topo, label=lab, source=src)
        for k, lab in enumerate(labels)
    ]


def test_four_welds_cannot_give_70_20_10_and_split_says_so(tmp_path: Path) -> None:
    rows: list[Record] = []
    for i in range(4):
        rows += group_rows("7", f"w{i}", 1, 3)
    write_manifest(tmp_path, rows)
    res = CliRunner().invoke(cli, ["split", str(tmp_path), "--val", "0.2", "--test", "0.1"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "topology 7" in text and "4 source welds" in text
    assert "50/25/25 %" in text and "asked 70/20/10 %" in text
    assert "val +5" in text and "test +15" in text


def test_no_note_when_the_groups_allow_the_request() -> None:
    rows: list[Record] = []
    for i in range(10):
        rows += group_rows("7", f"w{i}", 1, 1)
    after = assign_splits(rows, 0.2, 0.1)
    assert fraction_notes(after, 0.2, 0.1) == []
