"""``OUT/summary.html`` of ``weldsynth train``: the page to open (or print) after a run.

Built from what the run left in ``OUT`` (each ``OUT/<topology>/report.json``,
``loss.png`` and ``confusion.png``): the per-topology table (the error tables of the
seed, with false alarms, good welds called bad, and misses, bad welds called good), the
loss curves, the confusion matrices, a gallery of the misclassified validation and test
images, and links to the run's other files. :func:`run_sections` is shared with the loop's
page (:mod:`weldsynth.pipelines.loop_summary`), one run per iteration.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from weldsynth.train import summary_page as page

WRONG_LIMIT = 24
"""Misclassified images shown per run (the rest are counted; all are in report.json)."""
RUN_FILES = ("report.json", "metrics.csv", "confusion.csv", "config.json")


def write_train_summary(out: Path, topologies: Sequence[str], title: str = "") -> Path:
    """Write ``out/summary.html`` for the runs ``out/<topology>`` (atomically).

    Args:
        out: The training output folder (holds ``summary.csv``).
        topologies: The topologies trained, in table order.
        title: The page title (default: "weldsynth train: <out>").

    Returns:
        The page written.
    """
    runs = [(t, out / t) for t in topologies]
    sections = run_sections(runs, out, "topology")
    sections[-1] = page.Section(
        sections[-1].id,
        sections[-1].title,
        page.links([("summary.csv", "summary.csv"), ("summary.md", "summary.md")])
        + sections[-1].body,
    )
    n = len(topologies)
    subtitle = f"{n} topolog{'y' if n == 1 else 'ies'}; validation figures of each best model"
    return page.write_page(
        out / page.SUMMARY_HTML, title or f"weldsynth train: {out.name}", subtitle, sections
    )


def read_report(run: Path) -> dict[str, Any] | None:
    """A run folder's ``report.json``, or None when it is missing or unreadable."""
    try:
        return json.loads((run / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def result_row(name: str, report: dict[str, Any]) -> list[object]:
    """One table row: name, arch, val error, false alarms, misses, test error, images,
    epochs, best epoch."""
    classes = report["classes"]
    val = report["val"]
    fa, good, miss, bad = page.errors(val["confusion"], classes)
    test = report.get("test") or {}
    return [
        name,
        report.get("arch", ""),
        f"{100 * val['error_rate']:.2f}",
        f"{fa} of {good}",
        f"{miss} of {bad}",
        f"{100 * test['error_rate']:.2f}" if test else "-",
        val.get("images", good + bad),
        report.get("epochs_run", ""),
        report.get("best_epoch", ""),
    ]


RESULT_COLUMNS = (
    "run",
    "arch",
    "val error %",
    "false alarms (good called bad)",
    "misses (bad called good)",
    "test error %",
    "val images",
    "epochs",
    "best epoch",
)


def run_sections(runs: Sequence[tuple[str, Path]], page_dir: Path, kind: str) -> list[page.Section]:
    """The sections of training runs: results, loss curves, confusion matrices,
    misclassified images, files.

    Args:
        runs: (name, run folder) of each run, in order.
        page_dir: The folder of the page (links are relative to it).
        kind: What a run is called in the table ("topology", "iteration").
    """
    reports = [(name, run, read_report(run)) for name, run in runs]
    done = [(n, r, rep) for n, r, rep in reports if rep is not None]
    missing = [n for n, _, rep in reports if rep is None]
    rows = [result_row(n, rep) for n, _, rep in done]
    note = f'<p class="note">no report yet: {page.esc(", ".join(missing))}</p>' if missing else ""
    columns = (kind, *RESULT_COLUMNS[1:])
    results = page.table(columns, rows, numeric=2) + note
    loss = "".join(page.file_figure(r / "loss.png", f"{kind} {n}: loss") for n, r, _ in done)
    conf = "".join(
        page.file_figure(r / "confusion.png", f"{kind} {n}: validation confusion")
        for n, r, _ in done
    )
    wrong = "".join(_wrong(n, rep, kind) for n, _, rep in done)
    hrefs = [_rel(r / f, page_dir) for _, r, _ in done for f in RUN_FILES]
    return [
        page.Section("results", "Results per " + kind, results),
        page.Section("loss", "Loss curves", f'<div class="pictures">{loss}</div>'),
        page.Section("confusion", "Confusion matrices", f'<div class="pictures">{conf}</div>'),
        page.Section("misclassified", "Misclassified samples", wrong),
        page.Section("files", "Reports and files", page.links((h, h) for h in hrefs)),
    ]


def _wrong(name: str, report: dict[str, Any], kind: str) -> str:
    """The gallery of one run's misclassified validation (and test) images."""
    samples = []
    for split in ("val", "test"):
        for w in (report.get(split) or {}).get("wrong", []):
            caption = (
                f"{w['file']} ({split}): labelled {w['label']}, predicted {w['predicted']}"
                f" (p {float(w['probability']):.2f})"
            )
            samples.append((w["file"], caption))
    root = Path(report.get("data", "."))
    more = "in report.json"
    return f"<h3>{page.esc(kind)} {page.esc(name)}</h3>" + page.gallery(
        root, samples, WRONG_LIMIT, more
    )


def _rel(file: Path, base: Path) -> str:
    """``file`` relative to ``base`` (POSIX), or its absolute path when not below it."""
    try:
        return file.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return file.resolve().as_uri()
