"""``--tta`` and ``--threshold`` (predict, evaluate) and evaluate's plant figures.

Not a command (the leading underscore keeps discovery away). What the options mean is
:mod:`weldsynth.train.decision`; the figures are :mod:`weldsynth.train.plant`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from weldsynth.train.decision import DEFAULT_THRESHOLD, TTA_CHOICES

TTA_HELP = (
    "flip: average the probabilities of the image and its three mirror images; "
    "none: the image as it is."
)
THRESHOLD_HELP = (
    "Call a weld bad when 1 - P(good) reaches this (0-1); tuned: the threshold training "
    "chose on the validation split (argmax for older models); argmax: the likeliest class."
)


def decision_options(func: Callable) -> Callable:
    """``--tta`` (default none) and ``--threshold`` (default
    :data:`~weldsynth.train.decision.DEFAULT_THRESHOLD`)."""
    func = click.option(
        "--threshold",
        default=None,
        metavar="T|tuned|argmax",
        help=f"{THRESHOLD_HELP} [default: {DEFAULT_THRESHOLD}]",
    )(func)
    return click.option(
        "--tta",
        type=click.Choice(TTA_CHOICES),
        default="none",
        show_default=True,
        help=TTA_HELP,
    )(func)


def plant_report(console: Any, result: Any, tta: str) -> dict[str, Any]:
    """Print evaluate's plant figures (one line and a per-defect miss table) and return
    them for the JSON: ``tta``, ``threshold`` and ``plant`` (false alarms on untouched
    unseen good welds, misses per defect)."""
    from rich.table import Table

    from weldsynth.cli.tables import print_table
    from weldsynth.train.plant import pct, summary_line

    rates = result.plant()
    how = "argmax" if result.threshold is None else f"threshold {result.threshold:.4g}"
    console.print(
        f"{summary_line(rates)} [{how}, tta {tta}]", markup=False, highlight=False, soft_wrap=True
    )
    if rates["miss_per_defect"]:
        table = Table(title="misses per defect (bad called good)")
        for col in ("defect", "images", "missed", "miss %"):
            table.add_column(col, justify="left" if col == "defect" else "right")
        for row in rates["miss_per_defect"]:
            table.add_row(
                row["defect"], str(row["images"]), str(row["missed"]), pct(row["miss_rate"])
            )
        print_table(console, table)
    return {"tta": tta, "threshold": result.threshold, "plant": rates}
