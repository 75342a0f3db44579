"""One audit of one topology, end to end: list, decode, out-of-fold, suspects, CAMs, report.

Writes into the audit folder:

* ``suspects.csv``: every audited sample with its suggestion, ranked: flagged ones
  (relabel, drop) first, then unexplained disagreements, then disagreements a group-level
  reason explains (a defect or a source weld the model mostly gets wrong), then samples
  the model agrees with, each tier by loss (``loss_rank``: by loss alone);
* ``decisions_suggested.csv``: the flagged suggestions as a decisions CSV that
  ``weldsynth relabel apply`` takes as is (review it first);
* ``confusion_by_defect.csv`` / ``.png``: how each (given class, defect) is predicted;
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
from weldsynth.audit.gradcam import LOW_LIFT, cam_in_mask, cam_to_map, png_shape, read_mask
from weldsynth.audit.oof import OOF, audit_seeds, finite, out_of_fold, read_probs, score
from weldsynth.audit.report import render_report
from weldsynth.core.errors import WeldsynthError
from weldsynth.io.heightmap import atomic_write_bytes
from weldsynth.io.manifest import manifest_path, read_manifest, safe_join, sha256_file
from weldsynth.train.config import TrainConfig
from weldsynth.train.data import Item, check_classes, list_images

Say = Callable[[str], None]
Progress = Callable[[int, int], None]


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
        probs, kept, unknown = read_probs(settings.probs, [i.rel for i in items], classes)
        if unknown:
            say(
                f"warning: {len(unknown)} path(s) of {settings.probs} are not audited samples "
                f"(e.g. {unknown[0]}); ignored"
            )
        if len(kept) < len(items):
            say(
                f"warning: {len(items) - len(kept)} audited sample(s) have no row in "
                f"{settings.probs}; left out"
            )
        items = [items[k] for k in kept]
        oof = OOF(probs=probs[None], folds=np.full((1, len(items)), -1, np.int64))
        weights_note, epochs = f"probabilities from {settings.probs}", 0
        n_seeds = 1
    else:
        oof, items, weights_note, epochs = _train_oof(
            items, classes, cfg, settings, say, progress, timings
        )
        n_seeds = settings.seeds
    timings["out_of_fold"] = round(time.perf_counter() - t0, 3)
    labels = np.array([classes.index(i.label) for i in items], np.int64)
    t0 = time.perf_counter()
    samples = [_sample(i, listing.topology, extra, data) for i in items]
    scores = score(oof.probs, labels)
    folders = sus.class_folders([i.rel for i in listing.items])
    folder_of = {
        s.path: sus.move_folder(s.path, classes[int(p)], s.defect, folders)
        for s, p in zip(samples, scores.predicted, strict=True)
    }
    suggestions = sus.suggest(scores, samples, classes, n_seeds, folder_of)
    cim = _cam_scores(oof, samples, labels, classes, data, cfg.size)
    rows = _rows(samples, scores, suggestions, classes, oof, cim)
    timings["suspects"] = round(time.perf_counter() - t0, 3)
    confusion = sus.confusion_by_defect(scores, samples, classes)
    cam_summary = _cam_summary(samples, labels, classes, cim)
    out.mkdir(parents=True, exist_ok=True)
    sus.write_csv(out / "suspects.csv", rows, sus.SUSPECT_COLUMNS)
    write_decisions(out / "decisions_suggested.csv", rows)
    sus.write_csv(out / "confusion_by_defect.csv", confusion)
    sus.plot_confusion_by_defect(
        out / "confusion_by_defect.png",
        confusion,
        classes,
        f"topology {listing.topology}: out-of-fold predictions",
    )
    sus.write_csv(
        out / "cam_in_mask.csv",
        cam_summary,
        (
            "defect",
            "n",
            "mean_cam_in_mask",
            "mean_mask_share",
            "median_lift",
            "low_lift_share",
            "flag",
        ),
    )
    t0 = time.perf_counter()
    top = rows[: max(settings.top, 0)]
    report_rows = [{**r, "cam": _cam_map(oof, r["_index"], data, r["path"], cfg.size)} for r in top]
    flagged = sum(1 for r in rows if r["suggestion"] != "keep")
    subtitle = (
        f"topology {listing.topology} · {len(rows)} samples audited, {flagged} flagged · "
        + (
            f"{settings.folds} grouped folds × {n_seeds} seed(s), {cfg.arch} "
            f"{cfg.size[0]}x{cfg.size[1]}, {epochs} epoch(s)"
            if settings.probs is None
            else f"probabilities from {settings.probs.name}"
        )
        + _cam_line(cam_summary)
    )
    render_report(
        report_rows,
        out / "report.html",
        images_root=data,
        title=f"weldsynth audit: topology {listing.topology}",
        subtitle=subtitle,
        classes=sorted(folders, key=lambda c: (c != "good", c)),
    )
    timings["report"] = round(time.perf_counter() - t0, 3)
    timings["total"] = round(time.perf_counter() - started, 3)
    summary = {
        "data": str(data),
        "topology": listing.topology,
        "classes": classes,
        "settings": settings.to_dict(),
        "train": cfg.to_dict(),
        "weights": weights_note,
        "split": listing.split_note,
        "manifest_sha256": listing.manifest_sha,
        "epochs_per_model": epochs,
        "audited": len(rows),
        "flagged": flagged,
        "suggestions": _count(r["suggestion"].split(":")[0] for r in rows),
        "oof_error": round(float(np.mean(scores.predicted != labels)), 4) if len(rows) else None,
        "fold_errors": [round(e, 4) for e in oof.fold_errors],
        "confusion_by_defect": confusion,
        "cam_in_mask": cam_summary,
        "seconds": {**timings, **{f"oof_{k}": v for k, v in oof.seconds.items()}},
        "weldsynth_version": __version__,
    }
    atomic_write_bytes(out / "audit.json", (json.dumps(summary, indent=2) + "\n").encode())
    for row in rows:
        row.pop("_index", None)
    return AuditResult(rows=rows, summary=summary, out=out)


def _train_oof(
    items: list[Item],
    classes: list[str],
    cfg: TrainConfig,
    settings: AuditSettings,
    say: Say,
    progress: Progress | None,
    timings: dict[str, float],
) -> tuple[OOF, list[Item], str, int]:
    from weldsynth.train.images import decode_all
    from weldsynth.train.model import resolve_precision, resolve_weights

    if settings.seeds < 1:
        raise WeldsynthError(f"--seeds {settings.seeds}: at least 1")
    weights, note = resolve_weights(settings.weights, cfg.arch)
    say(note if weights is not None else f"warning: {note}")
    t0 = time.perf_counter()
    decoded = decode_all([i.path for i in items], cfg.size, threads=max(cfg.threads, 2))
    if decoded.failures:
        say(
            f"warning: {len(decoded.failures)} unreadable image(s) left out, e.g. "
            f"{decoded.failures[0][0]}: {decoded.failures[0][1]}"
        )
    items = [items[k] for k in decoded.kept]
    check_classes(items, "audited images")
    timings["decode"] = round(time.perf_counter() - t0, 3)
    labels = np.array([classes.index(i.label) for i in items], np.int64)
    run_cfg = cfg if weights is not None else cfg.with_(freeze_epochs=0)
    groups = [i.source or i.rel for i in items]
    n_groups = len(set(groups))
    folds = min(settings.folds, n_groups)
    if folds < settings.folds:
        say(f"warning: only {n_groups} source welds: {folds} folds instead of {settings.folds}")
    total = settings.seeds * folds * run_cfg.total_epochs
    done = [0]

    def on_epoch(_rec) -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    if progress is not None:
        progress(0, total)
    oof = out_of_fold(
        decoded.images,
        labels,
        groups,
        len(classes),
        run_cfg,
        folds=folds,
        seeds=audit_seeds(cfg.seed, settings.seeds),
        precision=resolve_precision(cfg.precision),
        weights=weights,
        good=classes.index("good") if "good" in classes else None,
        cams=settings.cams,
        on_epoch=on_epoch,
    )
    return oof, items, note, run_cfg.total_epochs


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
    )


def _cam_scores(
    oof: OOF,
    samples: list[sus.Sample],
    labels: np.ndarray,
    classes: list[str],
    data: Path,
    size: tuple[int, int],
) -> dict[int, tuple[float, float]]:
    """Sample index -> (cam_in_mask, mask_share) for bad samples with a readable mask."""
    out: dict[int, tuple[float, float]] = {}
    if oof.cams is None:
        return out
    for k, smp in enumerate(samples):
        if not smp.mask or classes[int(labels[k])] == "good":
            continue
        try:
            mask = read_mask(safe_join(data, smp.mask))
        except WeldsynthError:
            mask = None
        if mask is None:
            continue
        out[k] = cam_in_mask(cam_to_map(oof.cams[k], size, mask.shape[:2]), mask)
    return out


def _cam_map(
    oof: OOF, index: int, data: Path, path: str, size: tuple[int, int]
) -> np.ndarray | None:
    if oof.cams is None:
        return None
    shape = png_shape(safe_join(data, path))
    return cam_to_map(oof.cams[index], size, shape) if shape else None


def _cam_summary(
    samples: list[sus.Sample],
    labels: np.ndarray,
    classes: list[str],
    cim: dict[int, tuple[float, float]],
) -> list[dict[str, Any]]:
    per: dict[str, list[tuple[float, float]]] = {}
    for k, (inside, share) in cim.items():
        if not np.isnan(inside):
            per.setdefault(samples[k].defect or "(none)", []).append((inside, share))
    rows = []
    for defect in sorted(per):
        vals = np.array(per[defect], np.float64)
        lift = vals[:, 0] / np.maximum(vals[:, 1], 1e-9)
        low = float(np.mean(lift < LOW_LIFT))
        rows.append(
            {
                "defect": defect,
                "n": len(vals),
                "mean_cam_in_mask": round(float(vals[:, 0].mean()), 4),
                "mean_mask_share": round(float(vals[:, 1].mean()), 4),
                "median_lift": round(float(np.median(lift)), 3),
                "low_lift_share": round(low, 3),
                "flag": "possible shortcut" if float(np.median(lift)) < LOW_LIFT else "",
            }
        )
    return rows


def _cam_line(cam_summary: list[dict[str, Any]]) -> str:
    if not cam_summary:
        return ""
    parts = [
        f"{r['defect']} {r['mean_cam_in_mask']:.2f} (×{r['median_lift']:.1f}"
        f"{', shortcut?' if r['flag'] else ''})"
        for r in cam_summary
    ]
    return " · CAM in mask: " + ", ".join(parts)


def _rows(
    samples: list[sus.Sample],
    scores,
    suggestions: list[sus.Suggestion],
    classes: list[str],
    oof: OOF,
    cim: dict[int, tuple[float, float]],
) -> list[dict[str, Any]]:
    rows = []
    for k, smp in enumerate(samples):
        sug = suggestions[k]
        inside, share = cim.get(k, (float("nan"), float("nan")))
        rows.append(
            {
                "_index": k,
                "rank": 0,
                "loss_rank": int(scores.rank[k]),
                "path": smp.path,
                "topology": smp.topology,
                "given": classes[int(scores.given[k])],
                "predicted": classes[int(scores.predicted[k])],
                "p_given": round(float(scores.p_given[k]), 5),
                "loss": round(float(scores.loss[k]), 5),
                "margin": round(float(scores.margin[k]), 5),
                "agree": round(float(scores.agree[k]), 3),
                "p_given_min": round(float(scores.p_given_min[k]), 5),
                "p_given_max": round(float(scores.p_given_max[k]), 5),
                "suggestion": sug.action,
                "confidence": round(sug.confidence, 5),
                "why": sug.why,
                "_tier": sug.tier,
                "defect": smp.defect,
                "source": smp.source,
                "split": smp.split,
                "fold": int(oof.folds[0, k]),
                "mask": smp.mask,
                "cam_in_mask": "" if finite(inside) is None else round(inside, 4),
                "mask_share": "" if finite(share) is None else round(share, 4),
                "params": smp.params,
                "sha256": smp.sha256,
            }
        )
    rows.sort(key=lambda r: (r["_tier"], r["loss_rank"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
        del row["_tier"]
    return rows


def write_decisions(path: Path, rows: list[dict[str, Any]], min_confidence: float = 0.0) -> int:
    """Write the flagged suggestions (confidence ≥ ``min_confidence``) as a decisions CSV.

    Returns:
        The number of decisions written.
    """
    out = []
    for r in rows:
        action = str(r["suggestion"])
        if action == "keep" or float(r["confidence"]) < min_confidence:
            continue
        if action.startswith("relabel:"):
            out.append(
                {
                    "path": r["path"],
                    "decision": "move",
                    "to": action.split(":", 1)[1],
                    "sha256": r["sha256"],
                }
            )
        elif action == "drop":
            out.append({"path": r["path"], "decision": "drop", "to": "", "sha256": r["sha256"]})
    sus.write_csv(path, out, ("path", "decision", "to", "sha256"))
    return len(out)


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))
