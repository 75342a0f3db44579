"""The figures a plant lives by: false alarms on untouched good welds, misses per defect.

A line makes mostly good welds: every good weld called bad stops it or costs an
inspection (a **false alarm**), every bad weld called good ships a bad part (a **miss**).
The error rate mixes both over a data set that is mostly defects drawn on purpose, so
``evaluate``, the demo and the benchmarks report them apart:

* the false-alarm rate on **untouched good welds** — originals, not acceptable variants nor
  mirrored copies (in a manifest: label good, no defect, its own source) — counted only on
  welds whose source is not in the training split (the manifest's grouped split keeps a
  source on one side, so test and val originals are unseen welds);
* the miss rate per defect: the share of each defect's bad images called good.

Any class but "good" counts as bad (``bad-<defect>`` classes included).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

GOOD = "good"


def is_untouched(item: Any) -> bool:
    """True for an original good weld: label good, no defect, its own source (a folder
    data set has no sources: there every good image without a defect counts)."""
    return item.label == GOOD and not item.defect and (item.source or item.rel) == item.rel


def rates_from_confusion(confusion: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """False-alarm and miss rate of a confusion matrix (rows true, columns predicted).

    Returns:
        ``good`` and ``bad`` image counts, ``false_alarms`` (good called bad), ``misses``
        (bad called good) and their rates (None where there are no such images).
    """
    cm = np.asarray(confusion, np.int64)
    g = list(classes).index(GOOD)
    good_n = int(cm[g].sum())
    alarms = good_n - int(cm[g, g])
    bad_rows = [k for k in range(len(classes)) if k != g]
    bad_n = int(cm[bad_rows].sum())
    misses = int(cm[bad_rows, g].sum())
    return {
        "good": good_n,
        "false_alarms": alarms,
        "false_alarm_rate": alarms / good_n if good_n else None,
        "bad": bad_n,
        "misses": misses,
        "miss_rate": misses / bad_n if bad_n else None,
    }


def plant_rates(
    items: Sequence[Any],
    y_pred: np.ndarray,
    classes: Sequence[str],
    seen_sources: Iterable[str] = (),
) -> dict[str, Any]:
    """False alarms on untouched unseen good welds and misses per defect.

    Args:
        items: Evaluated items (``label``, ``defect``, ``source``, ``rel``).
        y_pred: Predicted class indices, same order.
        classes: Class names (model order).
        seen_sources: Sources of the training split: their originals are left out.

    Returns:
        ``untouched_good`` (unseen originals), ``false_alarms``, ``false_alarm_rate``
        (None without such welds), ``bad``, ``misses``, ``miss_rate`` over every bad image
        and ``miss_per_defect``: rows ``{defect, images, missed, miss_rate}``.
    """
    seen = set(seen_sources)
    called_good = np.asarray(y_pred) == list(classes).index(GOOD)
    untouched = [
        k for k, i in enumerate(items) if is_untouched(i) and (i.source or i.rel) not in seen
    ]
    alarms = int(sum(not called_good[k] for k in untouched))
    per: dict[str, list[int]] = {}
    for k, item in enumerate(items):
        if item.label != GOOD:
            row = per.setdefault(item.defect or "-", [0, 0])
            row[0] += 1
            row[1] += int(called_good[k])
    bad = sum(r[0] for r in per.values())
    missed = sum(r[1] for r in per.values())
    return {
        "untouched_good": len(untouched),
        "false_alarms": alarms,
        "false_alarm_rate": alarms / len(untouched) if untouched else None,
        "bad": bad,
        "misses": missed,
        "miss_rate": missed / bad if bad else None,
        "miss_per_defect": [
            {"defect": d, "images": n, "missed": m, "miss_rate": m / n}
            for d, (n, m) in sorted(per.items())
        ],
    }


def pct(rate: float | None) -> str:
    """A rate as a percentage with two decimals, "n/a" for None."""
    return "n/a" if rate is None else f"{100 * rate:.2f}%"


def summary_line(rates: dict[str, Any]) -> str:
    """One line: false alarms on untouched unseen good welds, misses, the worst defect."""
    worst = max(rates["miss_per_defect"], key=lambda r: r["miss_rate"], default=None)
    tail = f" (worst: {worst['defect']} {pct(worst['miss_rate'])})" if worst else ""
    return (
        f"false alarms {pct(rates['false_alarm_rate'])} of {rates['untouched_good']} untouched "
        f"unseen good welds; misses {pct(rates['miss_rate'])} of {rates['bad']} bad{tail}"
    )
