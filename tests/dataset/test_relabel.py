"""``weldsynth relabel``: journaled decisions, byte-exact undo, refusals, crash recovery."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from weldsynth.cli.main import cli
from weldsynth.dataset.relabel.journal import CRASH_ENV, JOURNAL, JournalError, open_journal
from weldsynth.io.heightmap import write_heightmap
from weldsynth.io.manifest import read_manifest, sha256_file

ROOT = Path(__file__).resolve().parents[2]
HEADER = "path,topology,label,defect,source,params,seed,mask,sha256,split,status"


def _image(path: Path, k: int) -> str:
    rng = np.random.default_rng(np.random.SeedSequence([7, k]))
    write_heightmap(path, rng.integers(1, 65535, size=(16, 24), dtype=np.uint16))
    return sha256_file(path)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """Topology 7 with good/ and bad/ folders, topology 3 with per-defect folders.

    The manifest is written by hand with CRLF line ends and rows out of order, so only a
    byte-exact restore (not a rewrite by ``write_manifest``) gives its bytes back.
    """
    root = tmp_path / "data"
    rows = []
    files = [
        ("7/good/g0.png", "good", ""),
        ("7/good/g1.png", "good", ""),
        ("7/bad/b0.png", "bad", "hole"),
        ("7/bad/b1.png", "bad", "ball"),
        ("3/good/h0.png", "good", ""),
        ("3/bad-hole/h1.png", "bad", "hole"),
    ]
    for k, (rel, label, defect) in enumerate(files):
        sha = _image(root / rel, k)
        topo, name = rel.split("/")[0], rel.rsplit("/", 1)[1]
        mask = ""
        if label == "bad":
            mask = f"{topo}/_masks/{name}"
            write_heightmap(root / mask, np.full((16, 24), 255, np.uint8))
        params = '"{""r"": 3}"' if defect else "{}"
        rows.append(
            f"{rel},{topo},{label},{defect},{topo}/src{k}.png,{params},{k},{mask},{sha},train,"
        )
    rows.reverse()
    (root / "manifest.csv").write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode())
    return root


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every file's bytes and every folder (None), outside the journal's state folder."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in root.rglob("*")
        if ".weldsynth" not in p.relative_to(root).parts
    }


def _decisions(
    root: Path,
    rows: list[tuple[str, str, str]],
    name: str = "decisions.csv",
    sha: dict[str, str] | None = None,
) -> Path:
    out = root.parent / name
    with out.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "decision", "to", "sha256"])
        for path, decision, to in rows:
            digest = (sha or {}).get(path) or sha256_file(root / path)
            writer.writerow([path, decision, to, digest])
    return out


def _relabel(*args: str | Path):
    return CliRunner().invoke(cli, ["relabel", *map(str, args)])


def _steps_in_journal(root: Path) -> int:
    file = root / JOURNAL
    if not file.exists():
        return 0
    return sum(1 for line in file.read_text().splitlines() if '"intent"' in line)


DECIDE = [
    ("7/good/g0.png", "move", "bad"),
    ("7/bad/b1.png", "move", "good"),
    ("7/bad/b0.png", "drop", ""),
    ("7/good/g1.png", "keep", ""),
    ("3/bad-hole/h1.png", "move", "bad-ball"),
]


def test_apply_moves_drops_and_updates_the_manifest(data: Path) -> None:
    before = _tree(data)
    res = _relabel("apply", data, _decisions(data, DECIDE))
    assert res.exit_code == 0, res.output
    assert "step 1: moved 3, dropped 1, kept 1" in res.output
    rows = {r.path: r for r in read_manifest(data)}
    assert set(rows) == {
        "7/bad/g0.png",
        "7/good/b1.png",
        "_quarantine/7/bad/b0.png",
        "7/good/g1.png",
        "3/good/h0.png",
        "3/bad-ball/h1.png",
    }
    assert rows["7/bad/g0.png"].label == "bad" and rows["7/bad/g0.png"].defect == ""
    assert rows["7/good/b1.png"].label == "good" and rows["7/good/b1.png"].defect == "ball"
    assert rows["3/bad-ball/h1.png"].defect == "ball"
    assert rows["_quarantine/7/bad/b0.png"].status == "dropped"
    assert rows["7/good/g1.png"].status == ""
    after = _tree(data)
    # nothing deleted: the same file contents, only at new paths; masks untouched
    images = lambda tree: sorted(v for k, v in tree.items() if k.endswith(".png"))  # noqa: E731
    assert images(after) == images(before)
    for r in rows.values():
        assert sha256_file(data / r.path) == r.sha256
        assert not r.mask or (data / r.mask).is_file()
    assert after["_quarantine/7/bad/b0.png"] == before["7/bad/b0.png"]
    assert "7/bad/b0.png" not in after


def test_apply_then_undo_restores_files_and_manifest_byte_for_byte(data: Path) -> None:
    before = _tree(data)
    assert _relabel("apply", data, _decisions(data, DECIDE)).exit_code == 0
    assert _tree(data) != before
    res = _relabel("undo", data)
    assert res.exit_code == 0, res.output
    assert "undo of step 1" in res.output and "byte for byte" in res.output
    assert _tree(data) == before  # files, folders (new ones removed) and CRLF manifest
    assert _steps_in_journal(data) == 2  # the undo is a step; nothing erased


def test_undo_to_reverts_several_steps_including_a_move_back(data: Path) -> None:
    before = _tree(data)
    assert _relabel("apply", data, _decisions(data, DECIDE[:1], "a.csv")).exit_code == 0
    second = _decisions(
        data, [("7/bad/g0.png", "move", "good"), ("7/good/g1.png", "drop", "")], "b.csv"
    )
    assert _relabel("apply", data, second).exit_code == 0
    assert _relabel("undo", data, "--to", "0").exit_code == 0
    assert _tree(data) == before
    assert _relabel("undo", data).exit_code == 2  # nothing left to undo


def test_undo_keeps_other_manifest_changes_when_the_manifest_was_rewritten(data: Path) -> None:
    assert _relabel("apply", data, _decisions(data, DECIDE[:1])).exit_code == 0
    rows = read_manifest(data)
    text = (data / "manifest.csv").read_text().replace(",train,", ",val,")
    (data / "manifest.csv").write_text(text)  # e.g. a later `weldsynth split`
    res = _relabel("undo", data)
    assert res.exit_code == 0, res.output
    assert "kept the rest" in res.output
    undone = {r.path: r for r in read_manifest(data)}
    assert undone["7/good/g0.png"].label == "good"
    assert {r.split for r in undone.values()} == {"val"}
    assert len(undone) == len(rows)


def test_sha_mismatch_refuses_the_whole_file_and_changes_nothing(data: Path) -> None:
    before = _tree(data)
    stale = {"7/bad/b1.png": "0" * 64}
    res = _relabel("apply", data, _decisions(data, DECIDE, sha=stale))
    assert res.exit_code == 2
    assert "7/bad/b1.png" in res.output and "sha256 changed since the audit" in res.output
    assert "nothing applied" in res.output
    assert _tree(data) == before
    assert _steps_in_journal(data) == 0


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (("7/good/nope.png", "keep", ""), "not in the manifest"),
        (("../outside.png", "drop", ""), "escapes the data-set folder"),
        (("7/good/g0.png", "delete", ""), "unknown decision 'delete'"),
        (("7/good/g0.png", "move", "ugly"), "target must be good, bad or bad-<defect>"),
        (("7/good/g0.png", "move", "bad-hole"), "has one 'bad' folder"),
        (("3/good/h0.png", "move", "bad"), "per-defect folders"),
    ],
)
def test_invalid_decisions_are_refused(data: Path, row: tuple[str, str, str], message: str) -> None:
    before = _tree(data)
    (data.parent / "outside.png").write_bytes(b"x")
    exists = (data / row[0]).is_file()
    decisions = _decisions(data, [DECIDE[1], row], sha={} if exists else {row[0]: "a" * 64})
    res = _relabel("apply", data, decisions)
    assert res.exit_code == 2, res.output
    assert message in res.output and row[0] in res.output
    assert _tree(data) == before


def test_move_to_the_current_class_counts_as_keep(data: Path) -> None:
    res = _relabel("apply", data, _decisions(data, [("7/good/g0.png", "move", "good")]))
    assert res.exit_code == 0, res.output
    assert "moved 0, dropped 0, kept 1" in res.output


def test_applying_the_same_decisions_again_changes_nothing(data: Path) -> None:
    decisions = _decisions(data, DECIDE)
    assert _relabel("apply", data, decisions).exit_code == 0
    after = _tree(data)
    res = _relabel("apply", data, decisions)  # paths now resolved through the journal
    assert res.exit_code == 0, res.output
    assert "nothing to change: all 5 decision(s) are already in effect" in res.output
    assert _tree(data) == after
    assert _steps_in_journal(data) == 1


def test_log_lists_steps_and_what_became_of_them(data: Path) -> None:
    assert _relabel("log", data).output.strip() == "no relabel steps yet"
    _relabel("apply", data, _decisions(data, DECIDE))
    _relabel("undo", data)
    res = CliRunner().invoke(cli, ["relabel", "log", str(data)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    lines = [line for line in res.output.splitlines() if "│" in line]
    assert len(lines) == 2
    assert "apply decisions.csv" in lines[0] and "undone by step 2" in lines[0]
    assert "undo of step 1" in lines[1] and "committed" in lines[1]


def test_help_shows_examples() -> None:
    for sub in ([], ["apply"], ["undo"], ["log"]):
        res = CliRunner().invoke(cli, ["relabel", *sub, "--help"])
        assert res.exit_code == 0
        assert "Example" in res.output and "weldsynth relabel" in res.output


def test_a_second_relabel_command_is_refused_while_one_runs(data: Path) -> None:
    with (
        open_journal(data),
        pytest.raises(JournalError, match="another relabel"),
        open_journal(data),
    ):
        pass


def test_a_torn_last_journal_line_is_ignored(data: Path) -> None:
    assert _relabel("apply", data, _decisions(data, DECIDE[:1])).exit_code == 0
    with (data / JOURNAL).open("a") as fh:
        fh.write('{"type": "intent", "step": 2, "ki')  # killed while writing the intent
    res = _relabel("undo", data)
    assert res.exit_code == 0, res.output
    entries = [json.loads(x) for x in (data / JOURNAL).read_text().splitlines()]
    assert [(e["type"], e["step"]) for e in entries] == [
        ("intent", 1),
        ("commit", 1),
        ("intent", 2),
        ("commit", 2),
    ]


_CRASHING_APPLY = """
import sys
from weldsynth.dataset.relabel.journal import open_journal
with open_journal(sys.argv[1]) as journal:
    journal.apply(sys.argv[2]) if len(sys.argv) > 2 else journal.undo(0)
"""


def _killed(data: Path, after_ops: int, *args: Path) -> None:
    env = {"PYTHONPATH": str(ROOT), CRASH_ENV: str(after_ops), "PATH": ""}
    proc = subprocess.run(
        [sys.executable, "-c", _CRASHING_APPLY, str(data), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -9, proc.stderr  # SIGKILL, mid-step


@pytest.mark.parametrize("after_ops", [0, 2, 4, 5])  # 4 file moves; 5: manifest written
def test_killed_apply_is_rolled_back_by_the_next_command(data: Path, after_ops: int) -> None:
    before = _tree(data)
    decisions = _decisions(data, DECIDE)
    _killed(data, after_ops, decisions)
    if 0 < after_ops < 5:
        assert _tree(data) != before  # some files really had moved
    res = _relabel("log", data)
    assert res.exit_code == 0, res.output
    assert res.output.count("recovered: step 1") == 1
    assert _tree(data) == before
    rows = read_manifest(data)
    assert all(sha256_file(data / r.path) == r.sha256 for r in rows)
    assert "rolled back" in res.output
    redo = _relabel("apply", data, decisions)  # the same command now runs to the end
    assert redo.exit_code == 0 and "step 2: moved 3, dropped 1" in redo.output, redo.output
    assert _relabel("log", data).output.count("recovered") == 0


def test_killed_undo_is_rolled_back_to_the_state_before_the_undo(data: Path) -> None:
    # g0 goes good -> bad -> good, so undoing both steps moves it bad -> good -> ... twice
    assert _relabel("apply", data, _decisions(data, DECIDE[:2], "a.csv")).exit_code == 0
    back = _decisions(data, [("7/bad/g0.png", "move", "good")], "b.csv")
    assert _relabel("apply", data, back).exit_code == 0
    state = _tree(data)
    _killed(data, 2)  # undo --to 0 killed after two of its three file moves
    assert _tree(data) != state
    res = _relabel("log", data)
    assert "recovered: step 3 (undo of step 2, 1)" in res.output, res.output
    assert _tree(data) == state


def test_undo_refuses_when_a_moved_file_changed_since(data: Path) -> None:
    assert _relabel("apply", data, _decisions(data, DECIDE[:2])).exit_code == 0
    (data / "7/good/b1.png").write_bytes(b"edited by hand")
    state = _tree(data)
    res = _relabel("undo", data)
    assert res.exit_code == 2
    assert "7/good/b1.png: file changed since it was relabeled" in res.output
    assert _tree(data) == state and _steps_in_journal(data) == 1
