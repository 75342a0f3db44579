"""``summary.html`` of ``train``, ``audit`` and ``loop`` in headless Chromium: every
picture decodes, nothing is fetched, every table fits an A4 page's width, and printed,
each section starts a page of its own."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import summary_fixtures as sf
from test_report_html import _chromium, _run_in_chromium

from weldsynth.audit.plots import plot_confusion_by_defect
from weldsynth.audit.summary import confusion, write_audit_summary
from weldsynth.pipelines.loop_summary import write_loop_summary
from weldsynth.train import reports
from weldsynth.train.summary import write_train_summary

PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const width = document.documentElement.clientWidth;
  const out = {
    sections: Array.from(document.querySelectorAll("section")).map((s) => s.id),
    images: imgs.length,
    decoded: imgs.filter((i) => i.complete && i.naturalWidth > 0).length,
    fetched: performance.getEntriesByType("resource").map((e) => e.name),
    tables: document.querySelectorAll("table").length,
    too_wide: Array.from(document.querySelectorAll("table"))
      .filter((t) => t.getBoundingClientRect().right > width + 1).length,
    width: width,
  };
  const pre = document.createElement("pre");
  pre.id = "selftest";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script></body>"""


def _train_page(tmp_path: Path) -> tuple[Path, int]:
    """A train page of three topologies and how many pictures it holds."""
    data, train = tmp_path / "data", tmp_path / "train"
    rows = [reports.summary_row(sf.train_run(train / t, data, t)) for t in ("3", "7", "11")]
    reports.write_summary(train, rows)
    return write_train_summary(train, ["3", "7", "11"]), 3 + 3 + 3 * 2


def _audit_page(tmp_path: Path) -> tuple[Path, int]:
    data, audit = tmp_path / "data", tmp_path / "audit"
    audit.mkdir()
    by_defect = [
        {"given": "bad", "defect": "hole", "n": 4, "pred_bad": 0.5, "pred_good": 0.5},
        {"given": "good", "defect": "(none)", "n": 4, "pred_bad": 0.25, "pred_good": 0.75},
    ]
    plot_confusion_by_defect(audit / "confusion_by_defect.png", by_defect, sf.CLASSES, "t")
    rows = sf.audit_rows(data, "7")
    return write_audit_summary(audit, rows, data, "7", "3 folds x 1 seed"), 2 + 3


def _loop_page(tmp_path: Path) -> tuple[Path, int]:
    data, loop = tmp_path / "data", tmp_path / "loop"
    for k in (0, 1):
        sf.train_run(loop / f"iter{k}" / "train", data, "7", epochs=2 + k)
    (loop / "iter1" / "audit").mkdir(parents=True)
    (loop / "iter1" / "audit" / "report.html").write_text("<!DOCTYPE html><p>r</p>")
    rows = [
        {"iteration": k, "samples": 8, "moved": k, "dropped": 0, "val_error": 0.25,
         "test_error": 0.2 - 0.1 * k, "note": ""}
        for k in (0, 1)
    ]  # fmt: skip
    return write_loop_summary(loop, "7", rows, "1 iteration(s) done"), 2 + 2 + 2 * 2


def _pdf_pages(html_file: Path, profile: Path) -> int:
    exe = _chromium()
    if exe is None:
        pytest.skip("headless test needs Chromium: apt-get install -y chromium")
    pdf = html_file.with_suffix(".pdf")
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--no-pdf-header-footer",
        f"--print-to-pdf={pdf}",
        html_file.as_uri(),
    ]
    subprocess.run(cmd, capture_output=True, timeout=90, cwd=profile.parent)
    assert pdf.is_file(), "Chromium printed nothing"
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf.read_bytes()))


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(_audit_page, id="audit"),
        pytest.param(_train_page, id="train", marks=pytest.mark.slow),
        pytest.param(_loop_page, id="loop", marks=pytest.mark.slow),
    ],
)
def test_summary_works_and_prints_in_headless_chromium(tmp_path: Path, build) -> None:
    html_file, pictures = build(tmp_path)
    probe = html_file.with_name("probe.html")
    text = html_file.read_text(encoding="utf-8")
    probe.write_text(text.replace("</body>", PROBE, 1), encoding="utf-8")
    result = _run_in_chromium(probe, tmp_path / "profile")
    assert result["images"] == pictures
    assert result["decoded"] == pictures  # every data: PNG decodes
    assert result["fetched"] == []  # self-contained
    assert result["tables"] >= 1 and result["too_wide"] == 0, result["width"]
    pages = _pdf_pages(html_file, tmp_path / "print")
    assert pages >= len(result["sections"]), (pages, result["sections"])


def test_the_audit_page_counts_false_alarms_and_misses(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rows = sf.audit_rows(data, "7")
    assert confusion(rows, sf.CLASSES).tolist() == [[2, 2], [1, 3]]
    text = write_audit_summary(tmp_path, rows, data, "7").read_text(encoding="utf-8")
    assert "<td>7</td>" in text and "37.50" in text  # 3 of 8 wrong
    assert "1 of 4" in text and "2 of 4" in text  # good called bad; bad called good
    assert text.count("<img") == 1 + 3  # the confusion matrix, three misclassified
    assert 'href="report.html"' in text and 'href="suspects.csv"' in text
    assert "confusion_by_defect.png missing" in text  # named, not fatal


def test_an_audit_writes_its_summary_beside_suspects_csv(tmp_path: Path) -> None:
    import audit_fixtures as afx

    from weldsynth.audit.run import AuditSettings, audit_topology
    from weldsynth.train.config import TrainConfig

    root, flipped, truth = afx.flipped_set(tmp_path / "data", flips=(0, 1))
    probs = afx.write_probs(tmp_path / "probs.csv", truth)
    out = tmp_path / "audit"
    result = audit_topology(root, "7", out, TrainConfig(weights="none"), AuditSettings(probs=probs))
    text = (out / "summary.html").read_text(encoding="utf-8")
    wrong = sum(r["given"] != r["predicted"] for r in result.rows)
    assert wrong >= len(flipped) and text.count("<img") == 2 + min(wrong, 48)
    assert f"{100 * wrong / len(result.rows):.2f}" in text
