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

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.dataset.relabel.decisions import Change, Plan, plan_decisions, read_decisions
from weldsynth.dataset.relabel.store import (
    CRASH_ENV,
    JOURNAL,
    LOCK,
    STATE_DIR,
    JournalError,
    Step,
    append_entry,
    crash_point,
    effective_steps,
    fsync_dirs,
    keep_snapshot,
    lock,
    next_step_id,
    parse_journal,
    read_journal,
    serialise_manifest,
    snapshot_file,
    utc_now,
)
from weldsynth.io.manifest import (
    Record,
    manifest_path,
    read_manifest,
    safe_join,
    sha256_file,
)

__all__ = [
    "CRASH_ENV",
    "JOURNAL",
    "STATE_DIR",
    "Journal",
    "JournalError",
    "Outcome",
    "Step",
    "effective_steps",
    "open_journal",
    "read_journal",
]

_REVERTED_FIELDS = ("path", "label", "defect", "status")


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


@contextmanager
def open_journal(root: str | Path) -> Iterator[Journal]:
    """Lock a data set for relabeling and recover an interrupted step first.

    Yields:
        A :class:`Journal`; its ``recovered`` lists one line per step rolled back.

    Raises:
        JournalError: another relabel command holds the lock.
    """
    root = Path(root)
    read_manifest(root, unfinished_ok=True)  # a clear error when DATA is not a data set
    lock_file = root / LOCK
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+b") as fh:
        lock(fh, root)
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
            after_bytes = serialise_manifest(self.root, [changed.get(r.path, r) for r in records])
        step = Step(
            step=next_step_id(steps),
            kind="apply",
            time=utc_now(),
            changes=plan.changes,
            kept=plan.kept,
            manifest_before=keep_snapshot(self.root, before_bytes),
            manifest_after=keep_snapshot(self.root, after_bytes),
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
            step=next_step_id(steps),
            kind="undo",
            time=utc_now(),
            changes=changes,
            kept=[],
            manifest_before=keep_snapshot(self.root, before_bytes),
            manifest_after=keep_snapshot(self.root, after_bytes),
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
        snap = snapshot_file(self.root, oldest_before)
        if snap.is_file():
            key = lambda r: r.path  # noqa: E731
            if sorted(read_manifest(snap), key=key) == sorted(rows, key=key):
                return snap.read_bytes(), True
        return serialise_manifest(self.root, rows), False

    # ------------------------------------------------------------------ recovery
    def recover(self) -> list[str]:
        """Roll back every interrupted step; one message per step rolled back."""
        file = self.root / JOURNAL
        steps, torn_at = parse_journal(file)
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
            _move_sidecar(here, back)  # also when the crash came between image and sidecar
        self._remove_empty(step.new_dirs)
        mfile = manifest_path(self.root)
        now = sha256_file(mfile) if mfile.is_file() else ""
        if now != step.manifest_before:
            if now not in (step.manifest_after, ""):
                raise JournalError(
                    f"{mfile}: changed by another program while step {step.step} was "
                    "interrupted; cannot roll it back safely (see .weldsynth/journal.jsonl)"
                )
            atomic_write_bytes(mfile, snapshot_file(self.root, step.manifest_before).read_bytes())
        for tmp in self.root.glob(f".{mfile.name}.*.tmp"):
            tmp.unlink()  # a half-written manifest from the killed process
        missing = [
            r.path
            for r in read_manifest(self.root, unfinished_ok=True)
            if not safe_join(self.root, r.path).is_file()
            and r.path in {c.before.path for c in step.changes}
        ]
        if missing:
            raise JournalError(f"rolling back step {step.step}: {missing[0]} is missing")
        append_entry(
            self.root,
            {"type": "rollback", "step": step.step, "time": utc_now(), "moved_back": moved},
        )
        return (
            f"recovered: step {step.step} ({step.describe()}) was interrupted; rolled "
            f"back {moved} file move(s), the data set is as before step {step.step}"
        )

    # ------------------------------------------------------------------ running a step
    def _run(self, step: Step, after_bytes: bytes) -> None:
        """Write-ahead: intent (fsynced), file moves, manifest, commit."""
        append_entry(self.root, step.to_json())
        crash_point(0)
        try:
            for done, c in enumerate(step.changes, start=1):
                self._move(c.before.path, c.after.path)
                crash_point(done)
            fsync_dirs({safe_join(self.root, c.after.path).parent for c in step.changes})
            self._remove_empty(step.remove_dirs)
            mfile = manifest_path(self.root)
            if sha256_file(mfile) != step.manifest_after:
                atomic_write_bytes(mfile, after_bytes)
            crash_point(len(step.changes) + 1)
        except Exception:
            self._rollback(step)
            raise
        append_entry(self.root, {"type": "commit", "step": step.step, "time": utc_now()})

    def _move(self, src: str, dst: str) -> None:
        source, target = safe_join(self.root, src), safe_join(self.root, dst)
        if target.exists():
            raise JournalError(f"{dst}: already exists; {src} not moved")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(source, target)
        _move_sidecar(source, target)

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


def _move_sidecar(source: Path, target: Path) -> None:
    """An image's ``NAME.json`` sidecar (its calibration) goes where the image goes; one
    already at the target is never overwritten."""
    here, there = source.with_suffix(".json"), target.with_suffix(".json")
    if here.is_file() and not there.exists():
        os.rename(here, there)
