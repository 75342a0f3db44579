"""The relabeling loop: train → audit → apply (through the journal) → retrain, measured.

Iteration 0 trains on the data as it is. Each later iteration ``k`` audits the data as the
previous one left it, applies decisions as one relabel journal step (automatically: the
flagged suggestions whose confidence reaches ``auto``; manually: the user applies a
reviewed decisions CSV with ``weldsynth relabel apply`` and resumes), then retrains. One
row per iteration: samples in use, files moved and dropped since the previous training,
validation and test error.

**A fixed test set.** Before iteration 0 the topology's test set is carved once, grouped
by source (:func:`weldsynth.dataset.split.assign_splits`; an existing test split is kept, as with
``--keep-test``). The loop never audits it (the audit leaves the test split out) and
checks before every training that its paths, labels and file hashes are unchanged.

**Stops** after ``iterations`` audits, when nothing reaches the confidence threshold, when
the audit's models are too often wrong for their suggestions to be applied unseen, or
early when the test error is not lower than the best so far (the step that did not help
can be reverted with ``weldsynth relabel undo``). Everything a step changed is undoable.

State lives in ``OUT/loop.json`` (so a manual loop can be resumed), the table in
``OUT/loop.csv``, each iteration's run in ``OUT/iter<k>/train`` and ``OUT/iter<k>/audit``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from weldsynth.audit.folds import FoldProgress
from weldsynth.audit.outputs import write_decisions
from weldsynth.audit.run import AuditSettings, audit_topology
from weldsynth.audit.suspects import write_csv
from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.core.errors import WeldsynthError
from weldsynth.dataset.relabel.journal import open_journal, read_journal
from weldsynth.dataset.split import assign_splits
from weldsynth.io.manifest import manifest_path, read_manifest, safe_join, sha256_file
from weldsynth.io.manifest import write_manifest as _write_manifest
from weldsynth.pipelines.loop_summary import write_loop_summary
from weldsynth.train.config import TrainConfig

Say = Callable[[str], None]
STATE = "loop.json"
TABLE = "loop.csv"
COLUMNS = ("iteration", "samples", "moved", "dropped", "val_error", "test_error", "seconds", "note")


class LoopError(WeldsynthError):
    """The loop cannot start or go on (no manifest, test set changed, bad state...)."""


@dataclass
class LoopSettings:
    """How the loop runs.

    Attributes:
        iterations: Audits (each followed by apply and retrain) at most.
        auto: Confidence threshold of automatic decisions; None for ``--manual``.
        test: Fraction carved as test set when the topology has none.
        val: Validation fraction of that split.
        split_seed: Seed of that split.
        max_oof_error: Automatic decisions are applied only when the audit's out-of-fold
            error is at most this: suggestions of models that are wrong that often are
            not evidence of label errors.
        audit: Audit settings of every iteration.
    """

    iterations: int = 3
    auto: float | None = 0.95
    test: float = 0.15
    val: float = 0.2
    split_seed: int = 42
    max_oof_error: float = 0.25
    audit: AuditSettings = field(default_factory=AuditSettings)


@dataclass
class LoopState:
    """``loop.json``: where the loop stands.

    Attributes:
        topology: The topology looped on.
        test_set: Test path -> ``label:sha256`` as carved.
        rows: One table row per training done.
        journal_step: Last journal step id when the last training started.
        pending: Iteration whose audit awaits manual decisions (0: none).
        best_test: Lowest test error so far.
        finished: Why the loop ended ("" while it can go on).
    """

    topology: str
    test_set: dict[str, str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    journal_step: int = 0
    pending: int = 0
    best_test: float = 1.0
    finished: str = ""

    def save(self, out: Path) -> None:
        """Write ``loop.json``, ``loop.csv`` and ``summary.html`` atomically."""
        atomic_write_bytes(out / STATE, (json.dumps(asdict(self), indent=2) + "\n").encode())
        write_csv(out / TABLE, self.rows, COLUMNS)
        write_loop_summary(out, self.topology, self.rows, self.finished)

    @classmethod
    def load(cls, out: Path) -> LoopState:
        """Read ``loop.json``.

        Raises:
            LoopError: missing or unreadable.
        """
        file = out / STATE
        if not file.is_file():
            raise LoopError(f"{file}: no loop to resume here")
        try:
            return cls(**json.loads(file.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:
            raise LoopError(f"{file}: unreadable loop state ({exc})") from exc


def carve_test_set(
    data: Path, topology: str, test: float, val: float, seed: int
) -> tuple[dict[str, str], str]:
    """Make sure the topology has a test split, and fingerprint it.

    Only the topology's rows are split (other topologies keep theirs). An existing test
    split is kept as is; train/val are not touched then.

    Returns:
        (test path -> ``label:sha256``, a note on what was done).

    Raises:
        LoopError: no manifest, or no test row could be carved.
    """
    if not manifest_path(data).is_file():
        raise LoopError(
            f"{data}: the loop needs a manifest.csv (a data set made by "
            "weldsynth generate), so that relabeling is journaled"
        )
    records = read_manifest(data)
    mine = [r for r in records if r.topology == topology]
    note = "kept the existing test split"
    if not any(r.split == "test" and r.active for r in mine):
        new = {r.path: r for r in assign_splits(mine, val=val, test=test, seed=seed)}
        _write_manifest(data, [new.get(r.path, r) for r in records])
        note = f"carved a test set ({test:.0%}, grouped by source, seed {seed})"
    fingerprint = test_fingerprint(data, topology)
    if not fingerprint:
        raise LoopError(f"{data} topology {topology}: too few source welds to carve a test set")
    return fingerprint, note


def test_fingerprint(data: Path, topology: str) -> dict[str, str]:
    """Active test rows of a topology: path -> ``label:sha256`` of the file now."""
    out = {}
    for r in read_manifest(data):
        if r.topology == topology and r.split == "test" and r.active:
            file = safe_join(data, r.path)
            out[r.path] = f"{r.label}:{sha256_file(file) if file.is_file() else 'missing'}"
    return out


def changes_since(data: Path, step: int) -> tuple[int, int, int]:
    """Files moved and dropped by journal steps after ``step`` still in effect, and the last
    step id."""
    steps = read_journal(data)
    moved = dropped = 0
    for s in steps:
        if s.step > step and s.kind == "apply" and s.state == "committed" and s.undone_by is None:
            moved += s.count("move")
            dropped += s.count("drop")
    return moved, dropped, max((s.step for s in steps), default=0)


def run_loop(
    data: Path,
    topology: str,
    out: Path,
    cfg: TrainConfig,
    settings: LoopSettings,
    *,
    resume: bool = False,
    say: Say = lambda _l: None,
    progress: FoldProgress | None = None,
    progress_factory: Callable[[], Any] | None = None,
) -> LoopState:
    """Run (or resume) the loop until it finishes or waits for manual decisions.

    ``say`` prints one line; ``progress`` follows the audits' fold models and
    ``progress_factory`` gives the training rounds their bars (as ``train_topology``'s).

    Raises:
        LoopError: a loop already in ``out`` without ``resume``, a changed test set...
    """
    from weldsynth.train.choice import choose_run

    run = choose_run(cfg)  # --arch auto decided once: every round trains the same model
    say(run.line())
    weights, note = run.model.weights, run.model.weights_note
    say(note if weights is not None or cfg.weights == "none" else f"warning: {note}")
    cfg = run.cfg(cfg)
    if resume:
        state = LoopState.load(out)
        if state.topology != topology:
            raise LoopError(f"{out / STATE}: a loop on topology {state.topology}, not {topology}")
    else:
        if (out / STATE).exists():
            raise LoopError(f"{out}: holds a loop already; --resume it or choose another --out")
        out.mkdir(parents=True, exist_ok=True)
        fingerprint, how = carve_test_set(
            data, topology, settings.test, settings.val, settings.split_seed
        )
        say(f"test set: {len(fingerprint)} images, {how}; never audited or changed")
        state = LoopState(
            topology=topology, test_set=fingerprint, journal_step=changes_since(data, 0)[2]
        )  # earlier steps: not ours
    while not state.finished:
        k = len(state.rows)
        if k > 0 and state.pending != k:
            if k > settings.iterations:
                state.finished = f"{settings.iterations} iteration(s) done"
                break
            audited, oof_error = _audit(
                data, topology, out / f"iter{k}" / "audit", cfg, settings, say, progress
            )
            if settings.auto is None:
                state.pending = k
                state.save(out)
                _manual_instructions(data, topology, out, k, say)
                return state
            if oof_error > settings.max_oof_error:
                state.finished = (
                    f"iteration {k}: the audit's models are wrong on "
                    f"{100 * oof_error:.0f}% of the samples (more than "
                    f"{100 * settings.max_oof_error:.0f}%): their suggestions "
                    "are not applied automatically; review the report or "
                    "train longer (--epochs)"
                )
                break
            applied = _apply_auto(data, out / f"iter{k}", audited, settings.auto, say)
            if not applied:
                state.finished = (
                    f"iteration {k}: no suggestion reaches confidence "
                    f"{settings.auto:g}; nothing to change"
                )
                break
        _train_round(data, topology, out, k, cfg, state, (weights, note), say, progress_factory)
        state.pending = 0
        state.save(out)
    state.save(out)
    say(f"loop finished: {state.finished}")
    return state


def _audit(
    data: Path,
    topology: str,
    out: Path,
    cfg: TrainConfig,
    settings: LoopSettings,
    say: Say,
    progress,
) -> tuple[list[dict[str, Any]], float]:
    audit = AuditSettings(**{**asdict(settings.audit), "include_test": False, "probs": None})
    result = audit_topology(data, topology, out, cfg, audit, say=say, progress=progress)
    say(
        f"audit: {result.summary['flagged']} of {result.summary['audited']} flagged "
        f"-> {out / 'report.html'}"
    )
    return result.rows, float(result.summary["oof_error"] or 0.0)


def _apply_auto(
    data: Path, folder: Path, rows: list[dict[str, Any]], threshold: float, say: Say
) -> int:
    decisions = folder / "decisions_auto.csv"
    n = write_decisions(decisions, rows, min_confidence=threshold)
    if not n:
        return 0
    with open_journal(data) as journal:
        for line in journal.recovered:
            say(line)
        outcome = journal.apply(decisions)
    if outcome.step is None:
        return 0
    step = outcome.step
    say(
        f"applied as relabel step {step.step}: moved {step.count('move')}, dropped "
        f"{step.count('drop')} (undo: weldsynth relabel undo {data})"
    )
    return len(step.changes)


def _train_round(
    data: Path,
    topology: str,
    out: Path,
    k: int,
    cfg: TrainConfig,
    state: LoopState,
    weights: tuple[Path | None, str],
    say: Say,
    progress_factory: Callable[[], Any] | None = None,
) -> None:
    from weldsynth.train.run import prepare, train_topology

    now = test_fingerprint(data, topology)
    if now != state.test_set:
        changed = sorted(set(now.items()) ^ set(state.test_set.items()))
        raise LoopError(
            f"{data} topology {topology}: the fixed test set changed since the "
            f"loop carved it (e.g. {changed[0][0]}); the loop stops"
        )
    moved, dropped, last = changes_since(data, state.journal_step)
    state.journal_step = last
    started = time.perf_counter()
    listing = prepare(data, topology, cfg)
    report = train_topology(
        listing,
        out / f"iter{k}" / "train",
        cfg,
        weights=weights[0],
        weights_note=weights[1],
        say=say,
        progress_factory=progress_factory,
    )
    val = float(report["val"]["error_rate"])
    test = float(report["test"]["error_rate"]) if report.get("test") else float("nan")
    row = {
        "iteration": k,
        "samples": len(listing.items),
        "moved": moved,
        "dropped": dropped,
        "val_error": round(val, 4),
        "test_error": round(test, 4),
        "seconds": round(time.perf_counter() - started, 1),
        "note": "",
    }
    if k > 0 and not test < state.best_test:
        row["note"] = "test error did not improve"
        state.finished = (
            f"iteration {k}: test error {100 * test:.2f}% is not below the best "
            f"{100 * state.best_test:.2f}%; stopped early (`weldsynth relabel "
            f"undo {data}` reverts the last step)"
        )
    if test == test:  # not NaN
        state.best_test = min(state.best_test, test)
    state.rows.append(row)
    say(
        f"iteration {k}: {row['samples']} samples, moved {moved}, dropped {dropped}, "
        f"val error {100 * val:.2f}%, test error {100 * test:.2f}%"
    )


def _manual_instructions(data: Path, topology: str, out: Path, k: int, say: Say) -> None:
    audit = out / f"iter{k}" / "audit"
    say(
        f"iteration {k}: review {audit / 'report.html'} and export your decisions (or start "
        f"from {audit / 'decisions_suggested.csv'}), then apply them and resume:"
    )
    say(f"  weldsynth relabel apply {data} decisions.csv")
    say(f"  weldsynth loop {data} --topology {topology} --out {out} --resume --manual")
