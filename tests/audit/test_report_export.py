"""report.html's export: every decision, also of the suspects hidden by the filters, and
the button says so."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from test_report_html import _run_in_chromium, suspects  # noqa: F401  (the fixture)

from weldsynth.audit.report import render_report

PROBE = """<script>
window.addEventListener("load", async () => {
  const $ = (id) => document.getElementById(id);
  $("filter-defect").value = "hole";
  $("filter-defect").dispatchEvent(new Event("change"));
  const out = { shown: Array.from(document.querySelectorAll(".suspect"))
    .filter((c) => !c.hidden).length, label: $("export").textContent };
  out.csv = window.weldsynthReport.decisionsCsv();
  const pre = document.createElement("pre");
  pre.id = "selftest";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script></body>"""


def test_export_holds_every_decision_whatever_the_filters(
    tmp_path: Path,
    suspects: tuple[Path, list[dict]],  # noqa: F811
) -> None:
    root, rows = suspects
    out = render_report(rows, tmp_path / "report.html", images_root=root)
    probe = tmp_path / "probe.html"
    probe.write_text(out.read_text(encoding="utf-8").replace("</body>", PROBE, 1), "utf-8")
    result = _run_in_chromium(probe, tmp_path / "profile")
    assert result["shown"] == 2  # the filter hides four of six
    exported = list(csv.reader(io.StringIO(result["csv"])))
    assert sorted(r[0] for r in exported[1:]) == sorted(r["path"] for r in rows)
    assert "all" in result["label"].lower()
