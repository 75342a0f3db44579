"""One audit of one topology, end to end: list, decode, out-of-fold, suspects, CAMs, report.

Writes into the audit folder:

* ``suspects.csv``: every audited sample with its suggestion, ranked: flagged ones
  (relabel, drop) first, then unexplained disagreements, then disagreements a group-level
  reason explains (a defect or a source weld the model mostly gets wrong), then samples
  the model agrees with, each tier by loss (``loss_rank``: by loss alone);
* ``decisions_suggested.csv``: the flagged suggestions as a decisions CSV that
  ``weldsynth relabel apply`` takes as is (review it first);
* ``confusion_by_defect.csv`` / ``.png``: how each (given class, defect) is predicted;
* ``confusion_by_defect_verdict.csv``: the same per (given class, defect, norm verdict),
  e.g. acceptable pores taken for bad (verdict ``(none)`` for rows without one);
* ``cam_in_mask.csv``: per defect, the Grad-CAM energy share inside the defect masks;
* ``report.html``: the top suspects (see :mod:`weldsynth.audit.report`);
* ``audit.json``: settings, timings and a summary.

Rows out of use (excluded, dropped) are never audited; the test split is left out unless
``include_test`` (a loop's fixed test set must stay untouched).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from weldsynth import __version__
from weldsynth.audit import suspects as sus
from weldsynth.audit.evidence import sample_evidence, with_evidence
from weldsynth.audit.folds import FoldProgress, FoldTally
from weldsynth.audit.oof import OOF, Scores, audit_seeds, out_of_fold, read_probs, score
from weldsynth.audit.outputs import (
    cam_line,
    cam_summary,
    count,
    suspect_rows,
    write_report_html,
    write_tables,
)
from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.core.errors import WeldsynthError
from weldsynth.io.manifest import manifest_path, read_manifest, sha256_file
from weldsynth.train.config import TrainConfig
from weldsynth.train.data import Item, check_classes, list_images
from weldsynth.train.setup import decode_items, run_config

Say = Callable[[str], None]
Progress = FoldProgress


@dataclass
class AuditSettings:
    """How to audit (besides the training configuration).

    Attributes:
        folds: Folds per seed.
        seeds: Seeds (repetitions with new folds and new models) averaged.
        top: Suspects shown in report.html.
        include_test: Audit the test split too.
        probs: A CSV of the user's own out-of-fold probabilities (skips training).
        cams: Compute Grad-CAMs (first seed's fold models).
        weights: "imagenet", "none" or a file (as ``weldsynth train --weights``).
    """

    folds: int = 5
    seeds: int = 3
    top: int = 50
    include_test: bool = False
    probs: Path | None = None
    cams: bool = True
    weights: str = "imagenet"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "folds": self.folds,
            "seeds": self.seeds,
            "top": self.top,
            "include_test": self.include_test,
            "probs": str(self.probs or ""),
            "cams": self.cams,
            "weights": self.weights,
        }


@dataclass
class _Predictions:
    """Probabilities of the audited items and where they came from.

    Attributes:
        oof: Per-seed out-of-fold probabilities (and CAMs).
        items: The items they belong to (unreadable or unlisted ones left out).
        weights_note: What the fold models started from, or the ``--probs`` file.
        epochs: Epochs per fold model (0 with ``--probs``).
        n_seeds: Seeds averaged.
        arch: The fold models' architecture (``--arch auto`` resolved; "" with ``--probs``).
        run: Architecture, device, precision and why (audit.json's ``train``).
    """

    oof: OOF
    items: list[Item]
    weights_note: str
    epochs: int
    n_seeds: int
    arch: str = ""
    run: dict[str, Any] = field(default_factory=dict)


@dataclass
class AuditResult:
    """What an audit found.

    Attributes:
        rows: suspects.csv rows, rank order.
        summary: The content of audit.json.
        out: The audit folder.
    """

    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    out: Path
    warnings: list[str] = field(default_factory=list)


def audit_topology(
    data: Path,
    topology: str,
    out: Path,
    cfg: TrainConfig,
    settings: AuditSettings,
    *,
    say: Say = lambda _l: None,
    progress: Progress | None = None,
) -> AuditResult:
    """Audit one topology of a data set and write the audit folder (see module docstring).

    Raises:
        WeldsynthError: no data, one class, a bad ``--probs`` file...
    """
    started = time.perf_counter()
    listing = list_images(
        data, topology, by_defect=cfg.by_defect, val_pct=cfg.val_pct, split_seed=cfg.split_seed
    )
    items = [i for i in listing.items if settings.include_test or i.split != "test"]
    where = f"{data} topology {topology}"
    check_classes(items, where + (" (test split left out)" if not settings.include_test else ""))
    classes = list(listing.classes)
    extra = _manifest_rows(data)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if settings.probs is not None:
        pred = _given_probs(items, classes, settings.probs, say)
    else:
        pred = _train_oof(items, classes, cfg, settings, say, progress, timings, data)
    timings["out_of_fold"] = round(time.perf_counter() - t0, 3)
    labels = np.array([classes.index(i.label) for i in pred.items], np.int64)
    t0 = time.perf_counter()
    samples = [_sample(i, listing.topology, extra, data) for i in pred.items]
    scores = score(pred.oof.probs, labels)
    folders = sus.class_folders([i.rel for i in listing.items])
    evidence = sample_evidence(pred.oof, samples, labels, classes, data, cfg.size)
    suggestions = with_evidence(_suggest(scores, samples, classes, pred.n_seeds, folders), evidence)
    cim = {k: (e.in_mask, e.share) for k, e in evidence.items() if classes[labels[k]] != "good"}
    rows = suspect_rows(samples, scores, suggestions, classes, pred.oof, cim)
    timings["suspects"] = round(time.perf_counter() - t0, 3)
    confusion = sus.confusion_by_defect(scores, samples, classes)
    cams = cam_summary(samples, labels, classes, cim)
    out.mkdir(parents=True, exist_ok=True)
    write_tables(out, rows, confusion, cams, classes, listing.topology)
    t0 = time.perf_counter()
    write_report_html(
        out,
        rows,
        pred.oof,
        data,
        cfg.size,
        top=settings.top,
        topology=listing.topology,
        subtitle=_subtitle(listing.topology, rows, pred, cfg, settings) + cam_line(cams),
        folders=folders,
    )
    timings["report"] = round(time.perf_counter() - t0, 3)
    timings["total"] = round(time.perf_counter() - started, 3)
    summary = {
        "data": str(data),
        "topology": listing.topology,
        "classes": classes,
        "settings": settings.to_dict(),
        "train": {**cfg.to_dict(), **pred.run},  # the architecture --arch auto took
        "weights": pred.weights_note,
        "split": listing.split_note,
        "manifest_sha256": listing.manifest_sha,
        "epochs_per_model": pred.epochs,
        **_findings(rows, scores, labels, pred.oof),
        "confusion_by_defect": confusion,
        "confusion_by_defect_verdict": _verdict_table(out, scores, samples, classes),
        "cam_in_mask": cams,
        "seconds": {**timings, **{f"oof_{k}": v for k, v in pred.oof.seconds.items()}},
        "weldsynth_version": __version__,
    }
    atomic_write_bytes(out / "audit.json", (json.dumps(summary, indent=2) + "\n").encode())
    for row in rows:
        row.pop("_index", None)
    return AuditResult(rows=rows, summary=summary, out=out)


def _given_probs(items: list[Item], classes: list[str], probs_file: Path, say: Say) -> _Predictions:
    """The user's own out-of-fold probabilities (``--probs``); items without a row are left
    out."""
    probs, kept, unknown = read_probs(probs_file, [i.rel for i in items], classes)
    if unknown:
        say(
            f"warning: {len(unknown)} path(s) of {probs_file} are not audited samples "
            f"(e.g. {unknown[0]}); ignored"
        )
    if len(kept) < len(items):
        say(
            f"warning: {len(items) - len(kept)} audited sample(s) have no row in "
            f"{probs_file}; left out"
        )
    items = [items[k] for k in kept]
    oof = OOF(probs=probs[None], folds=np.full((1, len(items)), -1, np.int64))
    return _Predictions(oof, items, f"probabilities from {probs_file}", epochs=0, n_seeds=1)


def _suggest(
    scores: Scores,
    samples: list[sus.Sample],
    classes: list[str],
    n_seeds: int,
    folders: set[str],
) -> list[sus.Suggestion]:
    """The suggestion of every sample, relabels pointing at the class folder they move to."""
    folder_of = {
        s.path: sus.move_folder(s.path, classes[int(p)], s.defect, folders)
        for s, p in zip(samples, scores.predicted, strict=True)
    }
    return sus.suggest(scores, samples, classes, n_seeds, folder_of)


def _subtitle(
    topology: str,
    rows: list[dict[str, Any]],
    pred: _Predictions,
    cfg: TrainConfig,
    settings: AuditSettings,
) -> str:
    """report.html's line under the title: what was audited, and how."""
    flagged = sum(1 for r in rows if r["suggestion"] != "keep")
    how = (
        f"{settings.folds} grouped folds × {pred.n_seeds} seed(s), {pred.arch or cfg.arch} "
        f"{cfg.size[0]}x{cfg.size[1]}, {pred.epochs} epoch(s)"
        if settings.probs is None
        else f"probabilities from {settings.probs.name}"
    )
    return f"topology {topology} · {len(rows)} samples audited, {flagged} flagged · " + how


def _findings(
    rows: list[dict[str, Any]], scores: Scores, labels: np.ndarray, oof: OOF
) -> dict[str, Any]:
    """audit.json's counts: audited, flagged, suggestions, out-of-fold and fold errors."""
    return {
        "audited": len(rows),
        "flagged": sum(1 for r in rows if r["suggestion"] != "keep"),
        "suggestions": count(r["suggestion"].split(":")[0] for r in rows),
        "oof_error": round(float(np.mean(scores.predicted != labels)), 4) if len(rows) else None,
        "fold_errors": [round(e, 4) for e in oof.fold_errors],
    }


def _train_oof(
    items: list[Item],
    classes: list[str],
    cfg: TrainConfig,
    settings: AuditSettings,
    say: Say,
    progress: Progress | None,
    timings: dict[str, float],
    data: Path | None = None,
) -> _Predictions:
    """Decode the items into the decode cache of ``data`` (one decode serves every fold
    and seed) and train the fold models (``settings.seeds`` × folds)."""
    from weldsynth.train.choice import choose_run

    if settings.seeds < 1:
        raise WeldsynthError(f"--seeds {settings.seeds}: at least 1")
    run = choose_run(cfg.with_(weights=settings.weights))
    say(run.line())
    weights, note = run.model.weights, run.model.weights_note
    say(note if weights is not None or settings.weights == "none" else f"warning: {note}")
    cfg = run.cfg(cfg)
    t0 = time.perf_counter()
    decoded = decode_items(items, cfg, say, left="left out", root=data)
    items = decoded.items
    check_classes(items, "audited images")
    timings["decode"] = round(time.perf_counter() - t0, 3)
    labels = np.array([classes.index(i.label) for i in items], np.int64)
    run_cfg = run_config(cfg, weights is not None)
    groups = [i.source or i.rel for i in items]
    n_groups = len(set(groups))
    folds = min(settings.folds, n_groups)
    if folds < settings.folds:
        say(f"warning: only {n_groups} source welds: {folds} folds instead of {settings.folds}")
    tally = FoldTally(settings.seeds, folds, run_cfg.total_epochs, progress)
    tally.start()
    oof = out_of_fold(
        decoded.images,
        labels,
        groups,
        len(classes),
        run_cfg,
        folds=folds,
        seeds=audit_seeds(cfg.seed, settings.seeds),
        precision=run.precision,
        weights=weights,
        device=run.device.device,
        good=classes.index("good") if "good" in classes else None,
        cams=settings.cams,
        on_epoch=tally.on_epoch,
    )
    used = {"arch": cfg.arch, **run.describe()}
    return _Predictions(oof, items, note, run_cfg.total_epochs, settings.seeds, cfg.arch, used)


def _verdict_table(
    out: Path, scores: Scores, samples: list[sus.Sample], classes: list[str]
) -> list[dict]:
    """Write ``confusion_by_defect_verdict.csv`` (per given class, defect and norm verdict)
    and return its rows."""
    rows = sus.confusion_by_defect(scores, samples, classes, by_verdict=True)
    sus.write_csv(out / "confusion_by_defect_verdict.csv", rows)
    return rows


def _manifest_rows(data: Path) -> dict[str, Any]:
    if not manifest_path(data).is_file():
        return {}
    return {r.path: r for r in read_manifest(data)}


def _sample(item: Item, topology: str, extra: dict[str, Any], data: Path) -> sus.Sample:
    rec = extra.get(item.rel)
    return sus.Sample(
        path=item.rel,
        topology=topology,
        defect=item.defect,
        source=item.source,
        split=item.split,
        mask=rec.mask if rec is not None else "",
        params=rec.params if rec is not None else "{}",
        sha256=sha256_file(item.path),
        verdict=item.verdict,
        seed=rec.seed if rec is not None else "",
    )
