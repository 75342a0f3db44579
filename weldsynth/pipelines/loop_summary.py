"""The loop folder's ``summary.html``: the page to open (or print) after ``weldsynth loop``.

The loop's table (``loop.csv``: samples, files moved and dropped, validation and test
error per iteration, and how the loop ended), then each iteration's training run as on
``train``'s page (:func:`weldsynth.train.summary.run_sections`: false alarms and misses,
loss curves, confusion matrices, misclassified samples) and links to every iteration's
audit report and summary. Rewritten with ``loop.csv`` after every iteration.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from weldsynth.train import summary_page as page
from weldsynth.train.summary import run_sections

LOOP_COLUMNS = ("iteration", "samples", "moved", "dropped", "val_error", "test_error", "note")


def write_loop_summary(
    out: Path, topology: str, rows: Sequence[dict[str, Any]], finished: str = ""
) -> Path:
    """Write ``out/summary.html`` of a loop (atomically).

    Args:
        out: The loop folder (``loop.csv``, ``iter<k>/train``, ``iter<k>/audit``).
        topology: The topology looped on.
        rows: ``loop.csv`` rows, one per training done.
        finished: Why the loop ended ("" while it can go on).

    Returns:
        The page written.
    """
    table = page.table(
        [c.replace("_", " ") for c in LOOP_COLUMNS],
        [[_cell(r.get(c, "")) for c in LOOP_COLUMNS] for r in rows],
    )
    status = f"finished: {finished}" if finished else "not finished (resume with --resume)"
    loop = f'{table}<p class="note">{page.esc(status)}</p>'
    runs = [(str(r["iteration"]), out / f"iter{r['iteration']}" / "train") for r in rows]
    sections = [page.Section("loop", "Iterations", loop), *run_sections(runs, out, "iteration")]
    audits = [
        (f"iteration {k}: {name}", f"iter{k}/audit/{name}")
        for k in range(1, len(rows) + 1)
        for name in ("report.html", page.SUMMARY_HTML, "suspects.csv")
        if (out / f"iter{k}" / "audit" / name).is_file()
    ]
    files = sections[-1]
    sections[-1] = page.Section(
        files.id,
        files.title,
        page.links([("loop.csv", "loop.csv"), ("loop.json", "loop.json"), *audits]) + files.body,
    )
    n = len(rows)
    subtitle = f"topology {topology}, {n} training{'s' if n != 1 else ''}; {status}"
    return page.write_page(
        out / page.SUMMARY_HTML, f"weldsynth loop: topology {topology}", subtitle, sections
    )


def _cell(value: Any) -> str:
    """Errors (fractions) as percentages, the rest as is."""
    if isinstance(value, float):
        return "-" if value != value else f"{100 * value:.2f} %"
    return str(value)
