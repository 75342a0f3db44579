"""``OUT/summary.html`` of ``weldsynth train``: self-contained, the per-topology table with
false alarms and misses, loss curves, confusion matrices, misclassified images, links."""

from __future__ import annotations

import base64
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest
import summary_fixtures as sf
import torch
import train_fixtures as fx

from weldsynth.train import reports
from weldsynth.train import summary_page as page
from weldsynth.train.config import TrainConfig
from weldsynth.train.run import train_topologies
from weldsynth.train.summary import write_train_summary


class Page(HTMLParser):
    """Sections, images, table cells, links, figure captions and scripts of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: list[str] = []
        self.cells: list[str] = []
        self.links: list[str] = []
        self.captions: list[str] = []
        self.scripts = 0
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a["id"] or "")
        elif tag == "img":
            self.images.append(a["src"] or "")
        elif tag == "a":
            self.links.append(a["href"] or "")
        elif tag == "script":
            self.scripts += 1
        self._in = tag

    def handle_data(self, data: str) -> None:
        if self._in == "td":
            self.cells.append(data)
        elif self._in == "figcaption":
            self.captions.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def parse(file: Path) -> Page:
    p = Page()
    p.feed(file.read_text(encoding="utf-8"))
    return p


def decoded(src: str) -> np.ndarray | None:
    head = "data:image/png;base64,"
    assert src.startswith(head), src[:40]
    return cv2.imdecode(np.frombuffer(base64.b64decode(src[len(head) :]), np.uint8), -1)


def test_false_alarms_are_good_called_bad_and_misses_bad_called_good() -> None:
    classes = ["bad-hole", "bad-pore", "good"]
    matrix = [[5, 1, 2], [0, 4, 3], [1, 6, 20]]  # rows true, columns predicted
    assert page.errors(matrix, classes) == (7, 27, 5, 15)
    assert page.errors([[3, 1], [0, 2]], ["bad", "worse"]) == (0, 0, 0, 6)


def test_the_page_holds_table_curves_matrices_and_misclassified(tmp_path: Path) -> None:
    out, data = tmp_path / "runs", tmp_path / "data"
    rows = [reports.summary_row(sf.train_run(out / t, data, t)) for t in ("3", "7")]
    reports.write_summary(out, rows)
    html_file = write_train_summary(out, ["3", "7", "9"])  # 9: no report
    assert html_file == out / "summary.html"
    got = parse(html_file)
    assert got.sections == ["results", "loss", "confusion", "misclassified", "files"]
    assert got.scripts == 0
    assert len(got.images) == 2 + 2 + 2 * 2  # loss, confusion, 2 wrong per topology
    assert all(decoded(src) is not None for src in got.images)  # every picture inlined
    assert got.cells[:9] == ["3", "weldnet", "25.00", "1 of 4", "1 of 4", "-", "8", "3", "3"]
    assert "no report yet: 9" in html_file.read_text(encoding="utf-8")
    assert any("labelled bad, predicted good (p 0.81)" in c for c in got.captions)
    for href in got.links:
        if not href.startswith("#"):
            assert (out / href).is_file(), href  # links resolve beside the page
    assert {"summary.csv", "3/report.json", "7/metrics.csv"} <= set(got.links)
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temp file


def test_unreadable_or_escaping_samples_are_named_not_fatal(tmp_path: Path) -> None:
    out, data = tmp_path / "runs", tmp_path / "data"
    report = sf.train_run(out / "7", data, "7")
    report["val"]["wrong"][0]["file"] = "../../outside.png"
    report["val"]["wrong"][1]["file"] = "7/good/<script>alert(1)</script>.png"
    reports.write_json(out / "7" / "report.json", report)
    text = write_train_summary(out, ["7"]).read_text(encoding="utf-8")
    assert "../../outside.png: cannot be read" in text
    assert "<script>" not in text and "&lt;script&gt;" in text


def test_print_style_breaks_pages_between_sections_and_keeps_rows_whole() -> None:
    css = page.CSS.replace(" ", "")
    print_css = css[css.index("@mediaprint") :]
    assert "section+section{break-before:page;}" in print_css
    assert "tr,figure,img{break-inside:avoid;}" in print_css
    assert "thead{display:table-header-group;}" in print_css


def test_train_topologies_writes_the_summary_beside_the_csv(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    data = fx.image_folder(tmp_path / "data", ("7",), n_per_class=8)
    cfg = TrainConfig(size=(32, 96), batch_size=8, epochs=1, weights="none")
    out = tmp_path / "runs"
    train_topologies(data, ["7"], out, cfg, weights=None, weights_note="", say=lambda _: None)
    got = parse(out / "summary.html")
    assert (out / "summary.csv").is_file()
    assert got.cells[0] == "7" and len(got.images) >= 2
    assert all(decoded(src) is not None for src in got.images)


@pytest.mark.parametrize("n", [0, 60])
def test_the_gallery_caps_thumbnails_and_counts_the_rest(tmp_path: Path, n: int) -> None:
    paths = sf.data_set(tmp_path, "7", n=max(n // 2, 1))
    samples = [(p, p) for p in paths][:n]
    html = page.gallery(tmp_path, samples, 24, "in report.json")
    assert html.count("<img") == min(n, 24)
    assert (f"{n - 24} more in report.json" in html) == (n > 24)
    assert ("every sample is classified as labelled" in html) == (n == 0)
