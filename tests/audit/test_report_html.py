"""``report.html``: self-contained, what it shows, and (in headless Chromium) that it works."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest

from weldsynth.audit.report import mask_overlay, render_report, stretch
from weldsynth.dataset.relabel.decisions import read_decisions
from weldsynth.dataset.relabel.journal import open_journal
from weldsynth.io.heightmap import write_heightmap
from weldsynth.io.manifest import Record, read_manifest, sha256_file, write_manifest

SHAPE = (64, 176)
QUOTED = '7/good/odd, "name".png'  # a path the CSV export must quote


def _png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)


def _ridge(seed: int) -> np.ndarray:
    rng = np.random.default_rng(np.random.SeedSequence([11, seed]))
    rows = np.arange(SHAPE[0])[:, None]
    img = 0.2 + 0.6 * np.exp(-((rows - SHAPE[0] / 2 - rng.uniform(-4, 4)) ** 2) / 60.0)
    img = img * np.ones((1, SHAPE[1])) + rng.normal(0, 0.01, SHAPE)
    img[:, :6] = 0.0  # a no-data strip
    return np.rint(np.clip(img, 0, 1) * 65535).astype(np.uint16)


@pytest.fixture
def suspects(tmp_path: Path) -> tuple[Path, list[dict]]:
    """A data set with a manifest and the audit rows of its six images (rank order)."""
    root = tmp_path / "data"
    spec = [
        ("7/bad/b0.png", "bad", "hole", "good", "relabel:good"),
        ("7/bad/b1.png", "bad", "ball", "good", "drop"),
        ("7/good/g0.png", "good", "", "bad", "relabel:bad"),
        (QUOTED, "good", "", "bad", "keep"),
        ("7/bad/b2.png", "bad", "hole", "bad", "keep"),
        ("7/good/g1.png", "good", "", "good", "keep"),
    ]
    rows, records = [], []
    for k, (path, given, defect, predicted, suggestion) in enumerate(spec):
        write_heightmap(root / path, _ridge(k))
        mask = ""
        if defect:
            mask = f"7/_masks/{Path(path).name}"
            m = np.zeros(SHAPE, np.uint8)
            m[28:36, 40 + 20 * k : 48 + 20 * k] = 255
            _png(root / mask, m)
        sha = sha256_file(root / path)
        records.append(
            Record(
                path=path,
                topology="7",
                label=given,
                defect=defect,
                mask=mask,
                sha256=sha,
                source=f"7/src{k}.png",
            )
        )
        cam = np.zeros((4, 11), np.float32)
        cam[1:3, k : k + 3] = 1.0
        rows.append(
            {
                "rank": k + 1,
                "path": path,
                "topology": "7",
                "given": given,
                "predicted": predicted,
                "p_given": [0.05, 0.2, 0.1, 0.4, 0.3, 0.45][k],
                "loss": [3.0, 2.5, 0.7, 0.9, 1.2, 0.8][k],
                "margin": -0.5 + 0.1 * k,
                "defect": defect,
                "params": json.dumps({"radius": 3.14159}) if defect else "{}",
                "source": f"7/src{k}.png",
                "mask": mask,
                "suggestion": suggestion,
                "why": "<script>alert(1)</script>",
                "cam": cam if k != 5 else None,
                "cam_in_mask": 0.1 * k,
                "sha256": sha if k != 2 else "",
            }
        )  # row 3: sha read from the file
    write_manifest(root, records)
    return root, rows


class _Page(HTMLParser):
    """Collects the cards, images, scripts and selected decisions of a report."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[dict[str, str]] = []
        self.images: list[tuple[str, str, int]] = []  # (class, src, card index)
        self.scripts: list[dict[str, str | None]] = []
        self.selected: list[str] = []
        self.options: dict[str, list[str]] = {}
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and "suspect" in (a.get("class") or ""):
            self.cards.append({k: v or "" for k, v in a.items()})
        elif tag == "img":
            self.images.append((a.get("class") or "", a.get("src") or "", len(self.cards) - 1))
        elif tag == "script":
            self.scripts.append(a)
        elif tag == "select":
            self._select = a.get("id") or "decision"
        elif tag == "option" and self._select:
            self.options.setdefault(self._select, []).append(a.get("value") or "")
            if self._select == "decision" and "selected" in a:
                self.selected.append(a.get("value") or "")


def _parse(file: Path) -> _Page:
    page = _Page()
    page.feed(file.read_text(encoding="utf-8"))
    return page


def test_report_is_self_contained_with_one_card_per_suspect(tmp_path: Path, suspects) -> None:
    root, rows = suspects
    out = render_report(rows, tmp_path / "report.html", images_root=root, thumb_width=120)
    text = out.read_text(encoding="utf-8")
    page = _parse(out)
    assert [c["data-path"] for c in page.cards] == [r["path"] for r in rows]
    assert not re.search(r"https?://", text) and "<link" not in text
    assert page.scripts == [{}]  # one inline script, no src; the row's <script> is escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert page.images and all(
        src.startswith("data:image/png;base64,") for _, src, _ in page.images
    )
    for cls, src, _ in page.images:
        img = cv2.imdecode(
            np.frombuffer(base64.b64decode(src.split(",", 1)[1]), np.uint8), cv2.IMREAD_UNCHANGED
        )
        assert img is not None
        if cls == "base":  # a thumbnail: 176 px wide maps shrink to 120
            assert img.shape == (round(SHAPE[0] * 120 / SHAPE[1]), 120)
    kinds = [{c for c, _, i in page.images if i == k} for k in range(len(rows))]
    for row, have in zip(rows, kinds, strict=True):
        assert ("ov-mask" in have) == bool(row["mask"])
        assert ("ov-cam" in have) == (row["cam"] is not None)
    assert [c["data-sha256"] for c in page.cards] == [sha256_file(root / r["path"]) for r in rows]


def test_decisions_are_preselected_from_the_suggestions(tmp_path: Path, suspects) -> None:
    root, rows = suspects
    page = _parse(render_report(rows, tmp_path / "r.html", images_root=root))
    assert page.selected == ["move:good", "drop", "move:bad", "keep", "keep", "keep"]
    assert page.options["filter-defect"] == ["*", "", "ball", "hole"]
    assert page.options["filter-given"] == ["*", "bad", "good"]
    assert {"rank:asc", "loss:desc", "p_given:asc"} <= set(page.options["sort"])


def test_a_tiny_defect_stays_visible_in_the_thumbnail() -> None:
    mask = np.zeros((128, 352), np.uint8)
    mask[60, 200] = 1  # one pixel, far below one thumbnail pixel at 1/4 scale
    overlay = mask_overlay(mask, (88, 32))
    ys, xs = np.nonzero(overlay[..., 3] == 255)
    assert len(xs) > 0 and abs(xs.mean() - 50) <= 2 and abs(ys.mean() - 15) <= 2


def test_stretch_spreads_faint_relief_and_keeps_no_data_black() -> None:
    height = np.full((20, 30), 0.5, np.float32)
    height[:, 15:] = 0.51
    valid = np.ones_like(height, bool)
    valid[:, :3] = False
    height[~valid] = 0.0
    img = stretch(height, valid)
    assert (img[:, :3] == 0).all()
    assert img[:, 3:15].max() == 40 and img[:, 15:].min() == 255


def _seed_sized(root: Path, n_files: int, repeat: int) -> list[dict]:
    rng = np.random.default_rng(np.random.SeedSequence([3, 0]))
    rows = []
    for k in range(n_files):
        path = f"7/bad/w{k}.png"
        img = cv2.resize(_ridge(k), (352, 128))
        write_heightmap(root / path, img)
        m = np.zeros((128, 352), np.uint8)
        m[50:70, 100:130] = 255
        _png(root / f"7/_masks/w{k}.png", m)
        rows += [
            {
                "path": path,
                "mask": f"7/_masks/w{k}.png",
                "given": "bad",
                "cam": rng.random((4, 11)),
                "sha256": "0" * 64,
            }
            for _ in range(repeat)
        ]
    return rows


def test_seed_sized_suspects_stay_within_50_kb_each(tmp_path: Path) -> None:
    rows = _seed_sized(tmp_path / "data", 10, 1)  # 200 of them: at most ~10 MB
    out = render_report(rows, tmp_path / "r.html", images_root=tmp_path / "data")
    assert out.stat().st_size <= len(rows) * 50 * 1024


@pytest.mark.slow
def test_two_hundred_seed_sized_suspects_stay_within_10_mb(tmp_path: Path) -> None:
    rows = _seed_sized(tmp_path / "data", 20, 10)
    out = render_report(rows, tmp_path / "big.html", images_root=tmp_path / "data")
    assert len(_parse(out).cards) == 200
    assert out.stat().st_size <= 10 * 2**20


# --------------------------------------------------------------------------- Chromium
_SELFTEST = """<script>
window.addEventListener("load", async () => {
  const out = {}, $ = (id) => document.getElementById(id);
  const cards = () => Array.from(document.querySelectorAll(".suspect"));
  const shown = () => cards().filter((c) => !c.hidden).map((c) => c.dataset.path);
  const pick = (id, value) => { $(id).value = value; $(id).dispatchEvent(new Event("change")); };
  out.cards = cards().length;
  out.images = document.images.length;
  out.decoded = Array.from(document.images).filter((i) => i.complete && i.naturalWidth > 0)
    .length;
  out.controls = ["sort", "filter-defect", "filter-given", "export"].filter((id) => $(id));
  out.fetched = performance.getEntriesByType("resource").map((e) => e.name)
    .filter((n) => !n.startsWith("data:"));
  pick("sort", "loss:desc"); out.by_loss = shown();
  pick("sort", "p_given:asc"); out.by_p_given = shown();
  pick("filter-defect", "hole"); out.holes = shown(); pick("filter-defect", "*");
  pick("filter-given", "good"); out.good = shown(); pick("filter-given", "*");
  const last = cards().find((c) => c.dataset.path.endsWith("g1.png"));
  const sel = last.querySelector("select.decision");
  sel.value = "drop"; sel.dispatchEvent(new Event("change", { bubbles: true }));
  out.summary = $("summary").textContent;
  let blob = null, download = null;
  const make = URL.createObjectURL;
  URL.createObjectURL = (b) => { blob = b; return make.call(URL, b); };
  HTMLAnchorElement.prototype.click = function () { download = this.download; };
  $("export").click();
  out.download = download;
  out.blob_type = blob && blob.type;
  out.csv = blob && await blob.text();
  const pre = document.createElement("pre");
  pre.id = "selftest";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script></body>"""


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run_in_chromium(html_file: Path, profile: Path) -> dict:
    exe = _chromium()
    if exe is None:
        pytest.skip("headless test needs Chromium: apt-get install -y chromium")
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        html_file.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90, cwd=profile.parent)
    found = re.search(r'<pre id="selftest">(.*?)</pre>', proc.stdout, re.DOTALL)
    assert found, f"self-test did not finish: rc={proc.returncode} {proc.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def test_report_works_in_headless_chromium(tmp_path: Path, suspects) -> None:
    root, rows = suspects
    out = render_report(rows, tmp_path / "report.html", images_root=root)
    probe = tmp_path / "probe.html"
    probe.write_text(
        out.read_text(encoding="utf-8").replace("</body>", _SELFTEST, 1), encoding="utf-8"
    )
    result = _run_in_chromium(probe, tmp_path / "profile")
    paths = [r["path"] for r in rows]
    assert result["cards"] == 6 and result["images"] == 6 + 3 + 5
    assert result["decoded"] == result["images"]  # every data: PNG decoded
    assert result["controls"] == ["sort", "filter-defect", "filter-given", "export"]
    assert result["fetched"] == []  # nothing loaded from anywhere
    assert result["by_loss"] == [paths[i] for i in (0, 1, 4, 3, 5, 2)]
    assert result["by_p_given"] == [paths[i] for i in (0, 2, 1, 4, 3, 5)]
    assert result["holes"] == [paths[0], paths[4]]
    assert result["good"] == [paths[2], paths[3], paths[5]]
    assert result["summary"].endswith("2 keep, 2 move, 2 drop")
    assert result["download"] == "decisions.csv" and result["blob_type"] == "text/csv"
    exported = list(csv.reader(io.StringIO(result["csv"])))
    want = {
        "7/bad/b0.png": ("move", "good"),
        "7/bad/b1.png": ("drop", ""),
        "7/good/g0.png": ("move", "bad"),
        QUOTED: ("keep", ""),
        "7/bad/b2.png": ("keep", ""),
        "7/good/g1.png": ("drop", ""),
    }
    assert exported[0] == ["path", "decision", "to", "sha256"]
    assert {r[0]: (r[1], r[2]) for r in exported[1:]} == want
    assert all(r[3] == sha256_file(root / r[0]) for r in exported[1:])
    # the export is exactly what `weldsynth relabel apply` takes
    decisions = tmp_path / "decisions.csv"
    decisions.write_text(result["csv"], encoding="utf-8")
    assert len(read_decisions(decisions)[0]) == 6
    with open_journal(root) as journal:
        step = journal.apply(decisions).step
    assert step is not None and (step.count("move"), step.count("drop")) == (2, 2)
    labels = {r.path: r.label for r in read_manifest(root)}
    assert labels["7/good/b0.png"] == "good" and labels["7/bad/g0.png"] == "bad"


def test_a_missing_image_is_named_on_its_card_not_fatal(tmp_path: Path, suspects) -> None:
    root, rows = suspects
    gone = {**rows[0], "path": "7/bad/gone.png", "mask": "7/_masks/gone.png", "sha256": ""}
    out = render_report([gone, rows[1]], tmp_path / "r.html", images_root=root)
    page = _parse(out)
    assert [c["data-path"] for c in page.cards] == ["7/bad/gone.png", rows[1]["path"]]
    assert {i for _, _, i in page.images} == {1}  # no picture on the first card
    assert "image unreadable" in out.read_text(encoding="utf-8")
