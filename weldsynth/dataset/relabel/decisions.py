"""Review decisions (keep / move / drop) and the manifest changes they make.

A decisions CSV has the columns ``path, decision, to, sha256`` (what ``report.html``
exports):

======== ===========================================================================
path     the manifest path the audit showed (``7/good/x.png``)
decision ``keep`` (record that it was reviewed), ``move`` (to another class folder) or
         ``drop`` (into ``DATA/_quarantine/``, status ``dropped``; nothing is deleted)
to       for ``move``: ``good``, ``bad`` or ``bad-<defect>`` (when the set has per-defect
         folders); ignored otherwise
sha256   SHA-256 of the file when it was audited; a file that changed since is refused
======== ===========================================================================

A move changes the row's ``path`` (same file name, so its ``mask`` path stays valid) and
``label`` (``good`` for ``good``, else ``bad``); a move to ``bad-<defect>`` also sets
``defect`` so the class a per-defect trainer derives matches the folder. A drop changes
``path`` to ``_quarantine/<old path>`` and ``status`` to ``dropped``. A move to the class
the file is already in is treated as keep. A decision already in effect (its file was
moved or dropped by an earlier step; the journal's renames find it) changes nothing, so
applying the same decisions twice is a no-op.

Planning is all-or-nothing: every problem (unknown path, path escaping the data set,
unknown decision, bad target class, changed sha256, occupied target) is collected and
reported at once, naming the CSV line and the file, and nothing is applied.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from weldsynth.core.errors import WeldsynthError
from weldsynth.io.manifest import ManifestError, Record, safe_join, sha256_file

DECISIONS = ("keep", "move", "drop")
DECISION_COLUMNS = ("path", "decision", "to", "sha256")
QUARANTINE = "_quarantine"
DROPPED = "dropped"
_CLASS_RE = re.compile(r"^(good|bad|bad-[A-Za-z0-9_]+)$")
_SHOWN_PROBLEMS = 5


class DecisionError(WeldsynthError):
    """A decisions file cannot be applied; names the file, the lines and what is wrong."""


@dataclass(frozen=True)
class Decision:
    """One row of a decisions CSV (``line`` is its line number, for messages)."""

    line: int
    path: str
    decision: str
    to: str
    sha256: str


@dataclass(frozen=True)
class Change:
    """One manifest row changed by a step: the row before and after, and why."""

    decision: str
    before: Record
    after: Record
    to: str = ""
    sha256: str = ""
    """SHA-256 of the file's bytes, measured when the step was planned (the manifest's
    ``sha256`` column may be stale; this one is what undo and recovery check)."""

    def to_json(self) -> dict:
        """JSON-ready dict (the journal's per-file entry)."""
        return {
            "decision": self.decision,
            "to": self.to,
            "sha256": self.sha256,
            "before": asdict(self.before),
            "after": asdict(self.after),
        }

    @classmethod
    def from_json(cls, data: Mapping) -> Change:
        """Inverse of :meth:`to_json`."""
        return cls(
            decision=data["decision"],
            to=data.get("to", ""),
            sha256=data.get("sha256", ""),
            before=Record(**data["before"]),
            after=Record(**data["after"]),
        )

    def inverse(self) -> Change:
        """The change that reverts this one."""
        return Change(decision="undo", before=self.after, after=self.before, sha256=self.sha256)


@dataclass
class Plan:
    """What a decisions file changes.

    Attributes:
        changes: Rows to move or drop, in CSV order.
        kept: ``(path, sha256)`` of keep decisions not recorded by an earlier step.
        unchanged: Decisions already in effect (nothing to do for them).
        total: Decisions read (after removing exact duplicates).
    """

    changes: list[Change] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    unchanged: int = 0
    total: int = 0

    @property
    def empty(self) -> bool:
        """True when applying the plan would change and record nothing."""
        return not self.changes and not self.kept


def read_decisions(file: str | Path) -> tuple[list[Decision], str]:
    """Read a decisions CSV.

    Returns:
        The decisions and the SHA-256 of the file's bytes.

    Raises:
        DecisionError: missing file or column, or not text, naming the file.
    """
    file = Path(file)
    if not file.is_file():
        raise DecisionError(f"{file}: decisions file not found")
    data = file.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DecisionError(
            f"{file}: not a text CSV (byte {exc.start} is not UTF-8); expected the columns "
            f"{', '.join(DECISION_COLUMNS)}"
        ) from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in DECISION_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise DecisionError(
            f"{file}: missing column(s) {', '.join(missing)}; expected "
            f"{', '.join(DECISION_COLUMNS)}"
        )
    rows = []
    for line, row in enumerate(reader, start=2):
        values = {c: (row.get(c) or "").strip() for c in DECISION_COLUMNS}
        if not any(values.values()):
            continue
        rows.append(
            Decision(
                line=line,
                path=values["path"],
                decision=values["decision"].lower(),
                to=values["to"],
                sha256=values["sha256"].lower(),
            )
        )
    return rows, hashlib.sha256(data).hexdigest()


def class_folder(path: str) -> str:
    """The class folder of a manifest path (``7/bad-hole/x.png`` -> ``bad-hole``)."""
    return PurePosixPath(path).parent.name


def move_target(path: str, to: str) -> str:
    """Where a move puts the file: the sibling class folder ``to``, same file name."""
    p = PurePosixPath(path)
    return (p.parent.parent / to / p.name).as_posix()


def quarantine_path(path: str) -> str:
    """Where a drop puts the file."""
    return f"{QUARANTINE}/{path}"


def resolve(path: str, current: Mapping[str, Record], renames: Mapping[str, str]) -> str | None:
    """Follow the journal's renames from an audited path to the row's path now (or None)."""
    seen: set[str] = set()
    while path not in current and path in renames and path not in seen:
        seen.add(path)
        path = renames[path]
    return path if path in current else None


def plan_decisions(
    root: str | Path,
    records: Iterable[Record],
    decisions: list[Decision],
    *,
    renames: Mapping[str, str] | None = None,
    kept_before: set[tuple[str, str]] | None = None,
    source: str = "decisions",
) -> Plan:
    """Check every decision against the data set and plan the manifest changes.

    Args:
        root: The data-set root.
        records: Its manifest rows now.
        decisions: From :func:`read_decisions`.
        renames: Old path -> new path of every committed journal step, oldest first, so a
            decision on a path an earlier step moved finds its row.
        kept_before: ``(path, sha256)`` already recorded as keep by steps in effect.
        source: Name of the decisions file, for messages.

    Raises:
        DecisionError: one or more decisions are invalid (all listed; nothing planned).
    """
    root = Path(root)
    current = {r.path: r for r in records}
    renames = renames or {}
    kept_before = kept_before or set()
    layouts = _bad_layouts(current.values())
    problems: list[str] = []
    chosen: dict[str, Decision] = {}
    plan = Plan()
    for d in decisions:
        where = f"line {d.line} {d.path or '<no path>'}"
        problem, rec = _check(root, d, current, renames)
        if problem:
            problems.append(f"{where}: {problem}")
            continue
        assert rec is not None
        if rec.path in chosen:
            first = chosen[rec.path]
            if (first.decision, first.to) != (d.decision, d.to):
                said = f"{first.decision} {first.to}".strip()
                problems.append(f"{where}: conflicts with line {first.line} ({said})")
            continue
        chosen[rec.path] = d
        plan.total += 1
        problem = _plan_one(d, rec, layouts, plan, kept_before)
        if problem:
            problems.append(f"{where}: {problem}")
    problems += _target_clashes(root, current, plan.changes)
    if problems:
        shown = "; ".join(problems[:_SHOWN_PROBLEMS])
        more = len(problems) - _SHOWN_PROBLEMS
        tail = f"; and {more} more" if more > 0 else ""
        raise DecisionError(
            f"{source}: {len(problems)} decision(s) refused, nothing applied: {shown}{tail}"
        )
    return plan


def _check(
    root: Path, d: Decision, current: Mapping[str, Record], renames: Mapping[str, str]
) -> tuple[str, Record | None]:
    if not d.path:
        return "empty path", None
    try:
        safe_join(root, d.path)
    except ManifestError:
        return "path escapes the data-set folder", None
    if d.decision not in DECISIONS:
        return (f"unknown decision {d.decision!r} (allowed: {', '.join(DECISIONS)})", None)
    now = resolve(d.path, current, renames)
    if now is None:
        return "not in the manifest", None
    rec = current[now]
    if not d.sha256:
        return "no sha256 (the file's SHA-256 when it was audited is required)", None
    file = safe_join(root, rec.path)
    if not file.is_file():
        return f"file {rec.path} is missing", None
    actual = sha256_file(file)
    if actual != d.sha256:
        return (
            f"sha256 changed since the audit (decision {d.sha256[:12]}…, file {actual[:12]}…)",
            None,
        )
    return "", rec


def _plan_one(
    d: Decision,
    rec: Record,
    layouts: Mapping[str, set[str]],
    plan: Plan,
    kept_before: set[tuple[str, str]],
) -> str:
    dropped = rec.status == DROPPED
    if d.decision == "drop":
        if dropped:
            plan.unchanged += 1
        else:
            after = rec.with_(path=quarantine_path(rec.path), status=DROPPED)
            plan.changes.append(Change("drop", rec, after, sha256=d.sha256))
        return ""
    if dropped:
        return f"was dropped (now {rec.path}); undo that step first"
    if d.decision == "move":
        if not _CLASS_RE.match(d.to):
            return f"move to {d.to!r}: target must be good, bad or bad-<defect>"
        if d.to == class_folder(rec.path) and d.path != rec.path:
            plan.unchanged += 1  # an earlier step already moved it there
            return ""
        if d.to != class_folder(rec.path):
            problem = _layout_problem(rec.path, d.to, layouts)
            if problem:
                return problem
            label = "good" if d.to == "good" else "bad"
            defect = d.to[4:] if d.to.startswith("bad-") else rec.defect
            after = rec.with_(path=move_target(rec.path, d.to), label=label, defect=defect)
            plan.changes.append(Change("move", rec, after, to=d.to, sha256=d.sha256))
            return ""
    key = (rec.path, d.sha256)
    if key in kept_before:
        plan.unchanged += 1
    else:
        plan.kept.append(key)
    return ""


def _bad_layouts(records: Iterable[Record]) -> dict[str, set[str]]:
    """Per parent folder (topology), the bad class folders in use (``bad``, ``bad-x``)."""
    out: dict[str, set[str]] = {}
    for r in records:
        if r.path.startswith(f"{QUARANTINE}/"):
            continue
        p = PurePosixPath(r.path)
        if p.parent.name.startswith("bad"):
            out.setdefault(p.parent.parent.as_posix(), set()).add(p.parent.name)
    return out


def _layout_problem(path: str, to: str, layouts: Mapping[str, set[str]]) -> str:
    folders = layouts.get(PurePosixPath(path).parent.parent.as_posix(), set())
    per_defect = any(f.startswith("bad-") for f in folders)
    if to == "bad" and per_defect and "bad" not in folders:
        return (
            "move to 'bad': this topology uses per-defect folders "
            f"({', '.join(sorted(folders))}); use bad-<defect>"
        )
    if to.startswith("bad-") and "bad" in folders and not per_defect:
        return f"move to {to!r}: this topology has one 'bad' folder; use bad"
    return ""


def _target_clashes(root: Path, current: Mapping[str, Record], changes: list[Change]) -> list[str]:
    problems, seen = [], set()
    for ch in changes:
        target = ch.after.path
        if target in current or target in seen or safe_join(root, target).exists():
            problems.append(f"{ch.before.path}: target {target} already exists")
        seen.add(target)
    return problems
