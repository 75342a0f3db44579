"""Relabel journal storage: the JSON-lines file, manifest snapshots, the lock, fsyncs.

The format is described in :mod:`weldsynth.dataset.relabel.journal`, which applies and undoes
steps with these pieces. Nothing here moves data-set files.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.core.errors import WeldsynthError
from weldsynth.dataset.relabel.decisions import Change
from weldsynth.io.manifest import Record, write_manifest

STATE_DIR = ".weldsynth"
JOURNAL = f"{STATE_DIR}/journal.jsonl"
SNAPSHOTS = f"{STATE_DIR}/relabel"
LOCK = f"{STATE_DIR}/relabel.lock"
CRASH_ENV = "WELDSYNTH_TEST_CRASH_AFTER"


class JournalError(WeldsynthError):
    """The journal or the data set is in a state relabel cannot safely work from."""


@dataclass
class Step:
    """One journal step (an apply or an undo) and what became of it.

    Attributes:
        step: Its id (1, 2, ...).
        kind: "apply" or "undo".
        time: When it started (UTC, ISO 8601).
        changes: Manifest rows it changes, in the order the files are moved.
        kept: ``(path, sha256)`` recorded as reviewed and kept.
        manifest_before: SHA-256 of manifest.csv before the step.
        manifest_after: SHA-256 of manifest.csv after it.
        decisions_file: Name of the decisions CSV (apply).
        decisions_sha256: SHA-256 of the decisions CSV's bytes (apply).
        reverts: Steps it reverts, newest first (undo).
        new_dirs: Folders it creates (removed again, when empty, by undo or rollback).
        remove_dirs: Folders it removes when they end up empty (undo).
        state: "incomplete", "committed" or "rolled back".
        undone_by: The undo step that reverted it, if any.
    """

    step: int
    kind: str
    time: str
    changes: list[Change]
    kept: list[tuple[str, str]]
    manifest_before: str
    manifest_after: str
    decisions_file: str = ""
    decisions_sha256: str = ""
    reverts: list[int] = field(default_factory=list)
    new_dirs: list[str] = field(default_factory=list)
    remove_dirs: list[str] = field(default_factory=list)
    state: str = "incomplete"
    undone_by: int | None = None

    def count(self, decision: str) -> int:
        """Number of changes with this decision ("move", "drop", "undo")."""
        return sum(1 for c in self.changes if c.decision == decision)

    def describe(self) -> str:
        """A few words: what the step did."""
        if self.kind == "undo":
            return "undo of step " + ", ".join(str(s) for s in self.reverts)
        return f"apply {self.decisions_file}"

    def to_json(self) -> dict:
        """The intent line's fields."""
        return {
            "type": "intent",
            "step": self.step,
            "kind": self.kind,
            "time": self.time,
            "decisions_file": self.decisions_file,
            "decisions_sha256": self.decisions_sha256,
            "reverts": self.reverts,
            "manifest_before": self.manifest_before,
            "manifest_after": self.manifest_after,
            "new_dirs": self.new_dirs,
            "remove_dirs": self.remove_dirs,
            "kept": [list(k) for k in self.kept],
            "changes": [c.to_json() for c in self.changes],
        }

    @classmethod
    def from_json(cls, data: dict) -> Step:
        """Parse an intent line."""
        return cls(
            step=int(data["step"]),
            kind=data["kind"],
            time=data["time"],
            changes=[Change.from_json(c) for c in data["changes"]],
            kept=[(p, s) for p, s in data.get("kept", [])],
            manifest_before=data["manifest_before"],
            manifest_after=data["manifest_after"],
            decisions_file=data.get("decisions_file", ""),
            decisions_sha256=data.get("decisions_sha256", ""),
            reverts=[int(s) for s in data.get("reverts", [])],
            new_dirs=list(data.get("new_dirs", [])),
            remove_dirs=list(data.get("remove_dirs", [])),
        )


def read_journal(root: str | Path) -> list[Step]:
    """Every step of a data set's journal, oldest first, with its state.

    A torn last line (a crash while the intent was being written, so before any file was
    touched) is ignored.

    Raises:
        JournalError: a line other than the last is not valid JSON.
    """
    steps, _ = parse_journal(Path(root) / JOURNAL)
    return steps


def effective_steps(steps: list[Step]) -> list[Step]:
    """Apply steps that are committed and not reverted by a committed undo, oldest first."""
    return [
        s for s in steps if s.kind == "apply" and s.state == "committed" and s.undone_by is None
    ]


def append_entry(root: Path, entry: dict) -> None:
    """Append one JSON line to the journal and fsync it (and its folder when new)."""
    file = root / JOURNAL
    fresh = not file.exists()
    with open(file, "ab") as fh:
        fh.write((json.dumps(entry, sort_keys=True) + "\n").encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())
    if fresh:
        fsync_dirs({file.parent})


def snapshot_file(root: Path, sha: str) -> Path:
    """Where the manifest bytes with this SHA-256 are kept."""
    return root / SNAPSHOTS / f"manifest-{sha}.csv"


def keep_snapshot(root: Path, data: bytes) -> str:
    """Keep manifest bytes under their SHA-256; return it."""
    sha = hashlib.sha256(data).hexdigest()
    file = snapshot_file(root, sha)
    if not file.is_file():
        atomic_write_bytes(file, data)
    return sha


def serialise_manifest(root: Path, rows: list[Record]) -> bytes:
    """Manifest bytes as :func:`write_manifest` writes them."""
    pending = root / SNAPSHOTS / "pending.csv"
    write_manifest(pending, rows)
    data = pending.read_bytes()
    pending.unlink()
    return data


def parse_journal(file: Path) -> tuple[list[Step], int | None]:
    """Steps of a journal file, and the byte offset of a torn last line (or None)."""
    if not file.is_file():
        return [], None
    data = file.read_bytes()
    steps: dict[int, Step] = {}
    offset, torn = 0, None
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        last = number == len(lines)
        if not raw.strip():
            offset += len(raw) + 1
            continue
        try:
            entry = json.loads(raw)
        except json.JSONDecodeError as exc:
            if last or (number == len(lines) - 1 and not lines[-1]):
                torn = offset
                break
            raise JournalError(f"{file}:{number}: not valid JSON ({exc.msg})") from exc
        if last:  # a complete JSON object without its newline: still torn
            torn = offset
            break
        offset += len(raw) + 1
        _record(steps, entry, file, number)
    ordered = sorted(steps.values(), key=lambda s: s.step)
    for s in ordered:
        if s.kind == "undo" and s.state == "committed":
            for r in s.reverts:
                if r in steps:
                    steps[r].undone_by = s.step
    return ordered, torn


def _record(steps: dict[int, Step], entry: dict, file: Path, number: int) -> None:
    """Add one parsed journal line to ``steps``."""
    kind = entry.get("type")
    if kind == "intent":
        steps[int(entry["step"])] = Step.from_json(entry)
    elif kind in ("commit", "rollback"):
        step = steps.get(int(entry["step"]))
        if step is None:
            raise JournalError(f"{file}:{number}: {kind} of unknown step {entry['step']}")
        step.state = "committed" if kind == "commit" else "rolled back"
    else:
        raise JournalError(f"{file}:{number}: unknown entry type {kind!r}")


def next_step_id(steps: list[Step]) -> int:
    """The id of the next step (1 for an empty journal)."""
    return max((s.step for s in steps), default=0) + 1


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def lock(fh: BinaryIO, root: Path) -> None:
    """Take the exclusive relabel lock on the open lock file ``fh`` (released on close or death).

    Raises:
        JournalError: another relabel command holds it.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory lock
        return
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        raise JournalError(
            f"{root}: another relabel command is running on this data "
            "set; try again when it has finished"
        ) from exc


def fsync_dirs(dirs: set[Path]) -> None:
    """Fsync folders so renames and new files in them survive a power cut (POSIX)."""
    if os.name != "posix":  # pragma: no cover
        return
    for d in dirs:
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def crash_point(done: int) -> None:
    """Test-only: SIGKILL this process after ``done`` operations (see the module doc)."""
    value = os.environ.get(CRASH_ENV)
    if value is not None and value.strip() == str(done):
        kill = getattr(signal, "SIGKILL", None)
        if kill is None:  # pragma: no cover
            os._exit(137)
        os.kill(os.getpid(), kill)
