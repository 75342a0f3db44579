"""The relabel journal: apply decisions, undo steps, recover from a crash.

Every change to a data set made by ``weldsynth relabel`` is a *step* in the append-only
journal ``DATA/.weldsynth/journal.jsonl`` (JSON lines, never rewritten):

* ``{"type": "intent", "step": N, "kind": "apply"|"undo", "time", "changes": [{"decision",
  "to", "sha256", "before": {row}, "after": {row}}...], "kept", "manifest_before",
  "manifest_after", ...}`` is written and fsynced **before** any file is touched;
* then the files are renamed (never copied, never deleted), the manifest is written
  atomically, and ``{"type": "commit", "step": N}`` closes the step.

The manifest's bytes before and after each step are kept, content-addressed, in
``DATA/.weldsynth/relabel/manifest-<sha256>.csv``, so an undo restores the manifest byte for
byte (when nothing else changed the rows since; otherwise it reverts only the fields the
step changed — path, label, defect, status — and says so). An undo is itself a step that
lists the steps it ``reverts``; nothing is ever erased from the journal.

**Crash recovery rolls back.** A step with an intent but no commit was interrupted; the
next relabel command (any sub-command, under the same lock) moves back every file the step
had moved, restores the manifest from its "before" snapshot, removes the (empty) folders
the step created, appends ``{"type": "rollback", "step": N}`` and prints one line. The data
set is then exactly as before the step; running the same command again redoes it (apply
is idempotent). Rolling back rather than forward means a step takes effect only when its
command reported success.

A lock (``DATA/.weldsynth/relabel.lock``, ``flock``; released by the OS when a process
dies) keeps two relabel commands from running on one data set at once.

Test-only hook: with ``WELDSYNTH_TEST_CRASH_AFTER=N`` in the environment a step SIGKILLs its
own process after N operations (0: right after the intent is fsynced; k: after the k-th
file move; moves+1: after the manifest is written, before the commit line), so tests can
kill a real process at a controlled point.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from weldsynth.core.errors import WeldsynthError
from weldsynth.dataset.relabel.decisions import Change, Plan, plan_decisions, read_decisions
from weldsynth.io.heightmap import atomic_write_bytes
from weldsynth.io.manifest import (
    Record,
    manifest_path,
    read_manifest,
    safe_join,
    sha256_file,
    write_manifest,
)

STATE_DIR = ".weldsynth"
JOURNAL = f"{STATE_DIR}/journal.jsonl"
SNAPSHOTS = f"{STATE_DIR}/relabel"
LOCK = f"{STATE_DIR}/relabel.lock"
CRASH_ENV = "WELDSYNTH_TEST_CRASH_AFTER"
_REVERTED_FIELDS = ("path", "label", "defect", "status")


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


@dataclass
class Outcome:
    """What an apply or undo did.

    Attributes:
        step: The step written (None when there was nothing to do).
        plan: The checked decisions (apply only).
        byte_exact: Undo: the manifest was restored byte for byte.
    """

    step: Step | None
    plan: Plan | None = None
    byte_exact: bool = True


def read_journal(root: str | Path) -> list[Step]:
    """Every step of a data set's journal, oldest first, with its state.

    A torn last line (a crash while the intent was being written, so before any file was
    touched) is ignored.

    Raises:
        JournalError: a line other than the last is not valid JSON.
    """
    steps, _ = _parse(Path(root) / JOURNAL)
    return steps


def effective_steps(steps: list[Step]) -> list[Step]:
    """Apply steps that are committed and not reverted by a committed undo, oldest first."""
    return [
        s for s in steps if s.kind == "apply" and s.state == "committed" and s.undone_by is None
    ]


@contextmanager
def open_journal(root: str | Path) -> Iterator[Journal]:
    """Lock a data set for relabeling and recover an interrupted step first.

    Yields:
        A :class:`Journal`; its ``recovered`` lists one line per step rolled back.

    Raises:
        JournalError: another relabel command holds the lock.
    """
    root = Path(root)
    read_manifest(root)  # a clear error when DATA is not a data set
    lock_file = root / LOCK
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+b") as fh:
        _lock(fh, root)
        journal = Journal(root)
        journal.recovered = journal.recover()
        yield journal


class Journal:
    """Relabel operations on one locked data set (get one from :func:`open_journal`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.recovered: list[str] = []

    # ------------------------------------------------------------------ reading
    def steps(self) -> list[Step]:
        """Every step, oldest first."""
        return read_journal(self.root)

    # ------------------------------------------------------------------ apply
    def apply(self, decisions_csv: str | Path) -> Outcome:
        """Apply a decisions CSV as one step (nothing when every decision is in effect).

        Raises:
            DecisionError: a decision is invalid; nothing was applied.
        """
        decisions, decisions_sha = read_decisions(decisions_csv)
        before_bytes = manifest_path(self.root).read_bytes()
        records = read_manifest(self.root)
        steps = self.steps()
        renames = {
            c.before.path: c.after.path
            for s in steps
            if s.state == "committed"
            for c in s.changes
            if c.before.path != c.after.path
        }
        kept = {k for s in effective_steps(steps) for k in s.kept}
        plan = plan_decisions(
            self.root,
            records,
            decisions,
            renames=renames,
            kept_before=kept,
            source=Path(decisions_csv).name,
        )
        if plan.empty:
            return Outcome(None, plan)
        after_bytes = before_bytes
        if plan.changes:
            changed = {c.before.path: c.after for c in plan.changes}
            after_bytes = self._serialise([changed.get(r.path, r) for r in records])
        step = Step(
            step=_next_id(steps),
            kind="apply",
            time=_now(),
            changes=plan.changes,
            kept=plan.kept,
            manifest_before=self._snapshot(before_bytes),
            manifest_after=self._snapshot(after_bytes),
            decisions_file=Path(decisions_csv).name,
            decisions_sha256=decisions_sha,
            new_dirs=self._dirs_to_create(plan.changes),
        )
        self._run(step, after_bytes)
        return Outcome(step, plan)

    # ------------------------------------------------------------------ undo
    def undo(self, to: int | None = None) -> Outcome:
        """Revert the last step in effect, or every step in effect after step ``to``.

        Raises:
            JournalError: nothing to undo, an unknown step, or files/rows that changed
                outside relabel since (nothing undone).
        """
        steps = self.steps()
        live = effective_steps(steps)
        if to is not None and to != 0 and to not in {s.step for s in steps}:
            raise JournalError(f"{self.root}: no step {to} in the journal")
        targets = live[-1:] if to is None else [s for s in live if s.step > to]
        if not targets:
            after = "" if to is None else f" after step {to}"
            raise JournalError(f"{self.root}: nothing to undo{after}")
        targets.reverse()
        changes = [c.inverse() for s in targets for c in reversed(s.changes)]
        before_bytes = manifest_path(self.root).read_bytes()
        rows = self._reverted_rows(read_manifest(self.root), changes)
        self._check_undo_files(changes)
        after_bytes, exact = self._undo_bytes(rows, targets[-1].manifest_before)
        step = Step(
            step=_next_id(steps),
            kind="undo",
            time=_now(),
            changes=changes,
            kept=[],
            manifest_before=self._snapshot(before_bytes),
            manifest_after=self._snapshot(after_bytes),
            reverts=[s.step for s in targets],
            new_dirs=self._dirs_to_create(changes),
            remove_dirs=sorted({d for s in targets for d in s.new_dirs}),
        )
        self._run(step, after_bytes)
        return Outcome(step, byte_exact=exact)

    def _reverted_rows(self, records: list[Record], changes: list[Change]) -> list[Record]:
        by_path = {r.path: r for r in records}
        for c in changes:
            row = by_path.pop(c.before.path, None)
            if row is None:
                raise JournalError(
                    f"{c.before.path}: not in manifest.csv any more (changed "
                    "outside relabel?); nothing undone"
                )
            for name in _REVERTED_FIELDS[1:]:
                if getattr(row, name) != getattr(c.before, name):
                    raise JournalError(
                        f"{c.before.path}: {name} is {getattr(row, name)!r} in manifest.csv "
                        f"but the journal expects {getattr(c.before, name)!r} (changed "
                        "outside relabel?); nothing undone"
                    )
            new = row.with_(**{n: getattr(c.after, n) for n in _REVERTED_FIELDS})
            by_path[new.path] = new
        return list(by_path.values())

    def _check_undo_files(self, changes: list[Change]) -> None:
        """Every file is where the journal left it, unchanged, and no target is taken."""
        gone: set[str] = set()
        placed: set[str] = set()
        checked: set[str] = set()
        for c in changes:
            src, dst = c.before.path, c.after.path
            here = src in placed or (src not in gone and safe_join(self.root, src).is_file())
            if not here:
                raise JournalError(
                    f"{src}: missing (moved or deleted outside relabel?); nothing undone"
                )
            if src not in placed and src not in checked and c.sha256:
                checked.add(src)
                if sha256_file(safe_join(self.root, src)) != c.sha256:
                    raise JournalError(
                        f"{src}: file changed since it was relabeled; nothing undone"
                    )
            taken = dst in placed or (dst not in gone and safe_join(self.root, dst).exists())
            if taken:
                raise JournalError(f"{dst}: already exists, cannot move {src} back; nothing undone")
            placed.discard(src)
            gone.add(src)
            placed.add(dst)
            gone.discard(dst)

    def _undo_bytes(self, rows: list[Record], oldest_before: str) -> tuple[bytes, bool]:
        """The snapshot's bytes when the rows match it, else a fresh serialisation."""
        snap = self._snapshot_file(oldest_before)
        if snap.is_file():
            key = lambda r: r.path  # noqa: E731
            if sorted(read_manifest(snap), key=key) == sorted(rows, key=key):
                return snap.read_bytes(), True
        return self._serialise(rows), False

    # ------------------------------------------------------------------ recovery
    def recover(self) -> list[str]:
        """Roll back every interrupted step; one message per step rolled back."""
        file = self.root / JOURNAL
        steps, torn_at = _parse(file)
        if torn_at is not None:
            with open(file, "r+b") as fh:
                fh.truncate(torn_at)
                fh.flush()
                os.fsync(fh.fileno())
        return [self._rollback(s) for s in steps if s.state == "incomplete"]

    def _rollback(self, step: Step) -> str:
        moved = 0
        for c in reversed(step.changes):
            here = safe_join(self.root, c.after.path)
            back = safe_join(self.root, c.before.path)
            if here.is_file() and not back.exists():
                back.parent.mkdir(parents=True, exist_ok=True)
                os.rename(here, back)
                moved += 1
        self._remove_empty(step.new_dirs)
        mfile = manifest_path(self.root)
        now = sha256_file(mfile) if mfile.is_file() else ""
        if now != step.manifest_before:
            if now not in (step.manifest_after, ""):
                raise JournalError(
                    f"{mfile}: changed by another program while step {step.step} was "
                    "interrupted; cannot roll it back safely (see .weldsynth/journal.jsonl)"
                )
            atomic_write_bytes(mfile, self._snapshot_file(step.manifest_before).read_bytes())
        for tmp in self.root.glob(f".{mfile.name}.*.tmp"):
            tmp.unlink()  # a half-written manifest from the killed process
        missing = [
            r.path
            for r in read_manifest(self.root)
            if not safe_join(self.root, r.path).is_file()
            and r.path in {c.before.path for c in step.changes}
        ]
        if missing:
            raise JournalError(f"rolling back step {step.step}: {missing[0]} is missing")
        self._append({"type": "rollback", "step": step.step, "time": _now(), "moved_back": moved})
        return (
            f"recovered: step {step.step} ({step.describe()}) was interrupted; rolled "
            f"back {moved} file move(s), the data set is as before step {step.step}"
        )

    # ------------------------------------------------------------------ running a step
    def _run(self, step: Step, after_bytes: bytes) -> None:
        """Write-ahead: intent (fsynced), file moves, manifest, commit."""
        self._append(step.to_json())
        _crash_point(0)
        try:
            for done, c in enumerate(step.changes, start=1):
                self._move(c.before.path, c.after.path)
                _crash_point(done)
            _fsync_dirs({safe_join(self.root, c.after.path).parent for c in step.changes})
            self._remove_empty(step.remove_dirs)
            mfile = manifest_path(self.root)
            if sha256_file(mfile) != step.manifest_after:
                atomic_write_bytes(mfile, after_bytes)
            _crash_point(len(step.changes) + 1)
        except Exception:
            self._rollback(step)
            raise
        self._append({"type": "commit", "step": step.step, "time": _now()})

    def _move(self, src: str, dst: str) -> None:
        source, target = safe_join(self.root, src), safe_join(self.root, dst)
        if target.exists():
            raise JournalError(f"{dst}: already exists; {src} not moved")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(source, target)

    def _dirs_to_create(self, changes: list[Change]) -> list[str]:
        new: set[str] = set()
        for c in changes:
            parent = PurePosixPath(c.after.path).parent
            while parent.as_posix() not in ("", ".") and not (self.root / parent).exists():
                new.add(parent.as_posix())
                parent = parent.parent
        return sorted(new, key=lambda p: (p.count("/"), p))

    def _remove_empty(self, dirs: list[str]) -> None:
        for rel in sorted(dirs, key=lambda p: -p.count("/")):
            folder = safe_join(self.root, rel)
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

    def _append(self, entry: dict) -> None:
        file = self.root / JOURNAL
        fresh = not file.exists()
        with open(file, "ab") as fh:
            fh.write((json.dumps(entry, sort_keys=True) + "\n").encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        if fresh:
            _fsync_dirs({file.parent})

    def _snapshot_file(self, sha: str) -> Path:
        return self.root / SNAPSHOTS / f"manifest-{sha}.csv"

    def _snapshot(self, data: bytes) -> str:
        """Keep manifest bytes under their SHA-256; return it."""
        sha = hashlib.sha256(data).hexdigest()
        file = self._snapshot_file(sha)
        if not file.is_file():
            atomic_write_bytes(file, data)
        return sha

    def _serialise(self, rows: list[Record]) -> bytes:
        """Manifest bytes as :func:`write_manifest` writes them."""
        pending = self.root / SNAPSHOTS / "pending.csv"
        write_manifest(pending, rows)
        data = pending.read_bytes()
        pending.unlink()
        return data


def _parse(file: Path) -> tuple[list[Step], int | None]:
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


def _next_id(steps: list[Step]) -> int:
    return max((s.step for s in steps), default=0) + 1


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _lock(fh, root: Path) -> None:
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


def _fsync_dirs(dirs: set[Path]) -> None:
    if os.name != "posix":  # pragma: no cover
        return
    for d in dirs:
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _crash_point(done: int) -> None:
    """Test-only: SIGKILL this process after ``done`` operations (see the module doc)."""
    value = os.environ.get(CRASH_ENV)
    if value is not None and value.strip() == str(done):
        kill = getattr(signal, "SIGKILL", None)
        if kill is None:  # pragma: no cover
            os._exit(137)
        os.kill(os.getpid(), kill)
