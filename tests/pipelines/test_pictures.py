"""Every picture reads at a glance: no two texts overlap, no text leaves the figure, no
legend covers the data, on edge-case data (``tests/plot_cases.py``, one list of every
plotting function, checked against the functions found in the package)."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest
from plot_cases import CASES, PlotCase

import weldsynth

TOLERANCE = 0.5
"""Pixels two text boxes may share (anti-aliasing), or a text may pass the figure edge."""


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> list:
    """Figures the code under test closes, kept open for inspection."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kept: list = []
    real_close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: kept.append(fig))
    yield kept
    for fig in kept:
        real_close(fig)


def plotting_functions() -> set[str]:
    """``module.function`` of every function in the package that makes a matplotlib
    figure (calls ``subplots`` or ``figure``)."""
    root = Path(weldsynth.__file__).parent
    found = set()
    for file in sorted(root.rglob("*.py")):
        module = ".".join(("weldsynth", *file.relative_to(root).with_suffix("").parts))
        for node in ast.parse(file.read_text(encoding="utf-8")).body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for call in ast.walk(node):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr in ("subplots", "figure", "subplot_mosaic")
                ):
                    found.add(f"{module}.{node.name}")
    return found


def test_every_plotting_function_has_an_edge_case() -> None:
    found = plotting_functions()
    assert "weldsynth.train.reports.plot_loss" in found  # the discovery works
    missing = found - {c.function for c in CASES}
    assert not missing, f"add edge cases to tests/plot_cases.py for: {sorted(missing)}"
    stale = {c.function for c in CASES} - found
    assert not stale, f"tests/plot_cases.py names functions that draw nothing: {sorted(stale)}"


def drawn_texts(fig) -> list:
    """The texts a draw of ``fig`` shows: visible, not empty, tick labels only of the
    ticks inside the view."""
    from matplotlib.text import Text

    ticks, shown = set(), set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                ticks.update((id(tick.label1), id(tick.label2)))
            if not (ax.axison and axis.get_visible()):
                continue
            for tick in axis._update_ticks():
                shown.update(id(t) for t in (tick.label1, tick.label2) if t.get_visible())
    texts = []
    for text in fig.findobj(Text):
        if not text.get_visible() or not text.get_text().strip():
            continue
        if id(text) in ticks and id(text) not in shown:
            continue
        if text.axes is not None and not text.axes.get_visible():
            continue
        texts.append(text)
    return texts


def overlap(a, b, tol: float = TOLERANCE) -> bool:
    """Two display boxes share more than ``tol`` pixels each way."""
    return min(a.x1, b.x1) - max(a.x0, b.x0) > tol and min(a.y1, b.y1) - max(a.y0, b.y0) > tol


def check_figure(fig) -> list[str]:
    """What is wrong with a drawn figure (empty when it reads well)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    problems = []
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in drawn_texts(fig)]
    for text, box in boxes:
        if (
            box.x0 < page.x0 - TOLERANCE
            or box.y0 < page.y0 - TOLERANCE
            or box.x1 > page.x1 + TOLERANCE
            or box.y1 > page.y1 + TOLERANCE
        ):
            problems.append(f"{text!r} leaves the figure ({box.bounds} in {page.bounds})")
    for (ta, a), (tb, b) in itertools.combinations(boxes, 2):
        if overlap(a, b):
            problems.append(f"{ta!r} overlaps {tb!r}")
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)
    for legend in legends:
        frame = legend.get_window_extent(renderer)
        for ax in fig.axes:
            for patch in ax.patches:
                if overlap(frame, patch.get_window_extent(renderer), 1.0):
                    problems.append("the legend covers a bar")
            for line in ax.lines:
                points = line.get_transform().transform(line.get_xydata())
                if any(frame.contains(x, y) for x, y in points):
                    problems.append(f"the legend covers a point of {line.get_label()!r}")
    return problems


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_picture_reads_at_a_glance(case: PlotCase, figures: list, tmp_path: Path) -> None:
    out = tmp_path / "plot.png"
    case.draw(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(figures) == 1
    problems = check_figure(figures[0])
    assert not problems, "\n".join(problems)


def test_the_checks_see_an_overlap_a_text_outside_and_a_covered_bar(figures: list) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.6, 2))
    ax.bar([0, 1], [5, 5], label="a bar")
    ax.set_xticks([0, 1], ["predicted bad", "predicted good"])  # run together at 1.6 in
    ax.legend(loc="center")
    fig.text(0.9, 0.5, "this sentence runs off the right edge")
    problems = check_figure(fig)
    plt.close(fig)
    assert any("overlaps" in p and "predicted bad" in p for p in problems)
    assert any("leaves the figure" in p for p in problems)
    assert "the legend covers a bar" in problems


def test_loss_epochs_are_whole_numbers(figures: list, tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == "loss-2-epochs")
    case.draw(tmp_path / "loss.png")
    ax = figures[0].axes[0]
    figures[0].canvas.draw()
    lo, hi = ax.get_xlim()
    shown = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert shown == [1.0, 2.0]
