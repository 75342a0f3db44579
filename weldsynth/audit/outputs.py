"""The audit folder's files: ``suspects.csv`` rows, decisions, tables, ``report.html``.

:func:`suspect_rows` turns the scores and suggestions into ``suspects.csv`` rows in review
order; :func:`write_tables` writes the CSVs and the per-defect confusion plot,
:func:`write_report_html` the review page of the top suspects and ``summary.html``,
:func:`write_decisions` the flagged suggestions as a decisions CSV (also used by
``weldsynth loop``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from weldsynth.audit import suspects as sus
from weldsynth.audit.gradcam import LOW_LIFT, cam_to_map, png_shape
from weldsynth.audit.oof import OOF, Scores, finite
from weldsynth.audit.plots import plot_confusion_by_defect
from weldsynth.audit.report import render_report
from weldsynth.audit.summary import write_audit_summary
from weldsynth.io.manifest import safe_join

CAM_COLUMNS = (
    "defect",
    "n",
    "mean_cam_in_mask",
    "mean_mask_share",
    "median_lift",
    "low_lift_share",
    "flag",
)
"""Columns of ``cam_in_mask.csv``."""


def write_tables(
    out: Path,
    rows: list[dict[str, Any]],
    confusion: list[dict],
    cams: list[dict[str, Any]],
    classes: list[str],
    topology: str,
) -> None:
    """Write ``suspects.csv``, ``decisions_suggested.csv``, ``confusion_by_defect.csv`` /
    ``.png`` and ``cam_in_mask.csv`` into ``out`` (which exists)."""
    sus.write_csv(out / "suspects.csv", rows, sus.SUSPECT_COLUMNS)
    write_decisions(out / "decisions_suggested.csv", rows)
    sus.write_csv(out / "confusion_by_defect.csv", confusion)
    plot_confusion_by_defect(
        out / "confusion_by_defect.png",
        confusion,
        classes,
        f"topology {topology}: out-of-fold predictions",
    )
    sus.write_csv(out / "cam_in_mask.csv", cams, CAM_COLUMNS)


def write_report_html(
    out: Path,
    rows: list[dict[str, Any]],
    oof: OOF,
    data: Path,
    size: tuple[int, int],
    *,
    top: int,
    topology: str,
    subtitle: str,
    folders: set[str],
) -> None:
    """Write ``report.html`` of the ``top`` first rows, each with its CAM at map size, and
    ``summary.html`` of all rows (:mod:`weldsynth.audit.summary`).

    Args:
        out: The audit folder.
        rows: From :func:`suspect_rows` (with ``_index``).
        oof: Its CAMs (if any).
        data: The data set root (height maps are read from it).
        size: The network's input size (the CAMs' frame).
        top: Suspects shown.
        topology: The topology, for the title.
        subtitle: The line under the title.
        folders: Class folders a card may move a sample to.
    """
    shown = rows[: max(top, 0)]
    report_rows = [{**r, "cam": _cam_map(oof, r["_index"], data, r["path"], size)} for r in shown]
    render_report(
        report_rows,
        out / "report.html",
        images_root=data,
        title=f"weldsynth audit: topology {topology}",
        subtitle=subtitle,
        classes=sorted(folders, key=lambda c: (c != "good", c)),
    )
    write_audit_summary(out, rows, data, topology, subtitle)


def suspect_rows(
    samples: list[sus.Sample],
    scores: Scores,
    suggestions: list[sus.Suggestion],
    classes: list[str],
    oof: OOF,
    cim: dict[int, tuple[float, float]],
) -> list[dict[str, Any]]:
    """``suspects.csv`` rows in review order (by suggestion tier, then loss), each with
    ``_index``: the sample's position in ``samples`` (for its CAM; not a CSV column)."""
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


def count(values: Iterable[str]) -> dict[str, int]:
    """value -> occurrences, sorted by value."""
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))


def cam_summary(
    samples: list[sus.Sample],
    labels: np.ndarray,
    classes: list[str],
    cim: dict[int, tuple[float, float]],
) -> list[dict[str, Any]]:
    """``cam_in_mask.csv`` rows: per defect, the mean CAM energy inside the masks, the masks'
    mean area share, the median lift (their ratio) and a flag when it is low."""
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


def cam_line(cam_summary: list[dict[str, Any]]) -> str:
    """The report subtitle's CAM-in-mask part (empty without CAMs)."""
    if not cam_summary:
        return ""
    parts = [
        f"{r['defect']} {r['mean_cam_in_mask']:.2f} (×{r['median_lift']:.1f}"
        f"{', shortcut?' if r['flag'] else ''})"
        for r in cam_summary
    ]
    return " · CAM in mask: " + ", ".join(parts)


def _cam_map(
    oof: OOF, index: int, data: Path, path: str, size: tuple[int, int]
) -> np.ndarray | None:
    """Sample ``index``'s CAM at the size of its height map ``path``, or None."""
    if oof.cams is None:
        return None
    shape = png_shape(safe_join(data, path))
    return cam_to_map(oof.cams[index], size, shape) if shape else None
