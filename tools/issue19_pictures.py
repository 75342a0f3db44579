"""Render issue 19's before/after pictures into docs/img/ (dev tool, not shipped).

"After" pictures come from the checkout; "before" ones from the package as it was at
``--before REV`` (extracted with ``git archive`` into a temporary folder and imported from
there in a child process), on the same data:

* ``issue19-overlay-{before,after}.png``: ``inspect --overlay`` of samples/7/7_0000.png
  (after: calibrated at 0.1 mm/px and 0.0001 mm per grey level, so sizes show in mm);
* ``issue19-counts-{before,after}.png``: ``info --plot`` counts of nine topologies, two
  classes;
* ``issue19-loss-{before,after}.png``: a two-epoch loss plot;
* ``issue19-by-defect-{before,after}.png``: the audit's per-defect confusion;
* ``issue19-summary.png``: the top of a train ``summary.html`` in headless Chromium.

Usage (from the repository root)::

    python tools/issue19_pictures.py --before bfaccdf
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"

DRAW = r"""
import sys
from pathlib import Path
import cv2, numpy as np
out, tag, calibrated = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
import weldsynth
print(tag, "from", Path(weldsynth.__file__).parent)
from weldsynth.data import samples_dir
from weldsynth.geometry import locate
from weldsynth.geometry.overlay import render_overlay
from weldsynth.io.heightmap import read_heightmap
hm = read_heightmap(samples_dir() / "7" / "7_0000.png")
geo = locate(hm.height)
if calibrated:
    from weldsynth.geometry.dimensions import bead_dimensions
    from weldsynth.io.calibration import Calibration
    cal = Calibration(0.1, 0.1, height_mm=0.0001, source="docs")
    img = render_overlay(hm.height, geo, dimensions=bead_dimensions(hm.height, geo, 16, cal))
else:
    img = render_overlay(hm.height, geo)
cv2.imwrite(str(out / f"issue19-overlay-{tag}.png"), img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
import matplotlib
matplotlib.use("Agg")
from weldsynth.dataset.inventory import Inventory
topos = ["2", "3", "4", "5", "7", "8", "9", "10", "11"]
counts = {(t, c): 60 + 4 * (k % 3) + (30 if c == "bad" else 0) for k, t in enumerate(topos)
          for c in ("good", "bad")}
inv = Inventory(Path("data"), counts)
try:
    from weldsynth.dataset.plots import plot_counts
except ImportError:
    from weldsynth.cli.commands.info import _plot as plot_counts
plot_counts(inv, out / f"issue19-counts-{tag}.png")
from weldsynth.train.fit import EpochRecord
from weldsynth.train.reports import plot_loss
hist = [EpochRecord(1, "head", 0.62, 0.55, 0.21, 0.79, 0.7, 1e-3, 3.0),
        EpochRecord(2, "all", 0.41, 0.38, 0.12, 0.88, 0.86, 1e-4, 3.0)]
plot_loss(out / f"issue19-loss-{tag}.png", hist, "topology 7, resnet18")
try:
    from weldsynth.audit.plots import plot_confusion_by_defect
except ImportError:
    from weldsynth.audit.suspects import plot_confusion_by_defect
rows = [{"given": "bad", "defect": "hole", "n": 24, "pred_bad": 0.92, "pred_good": 0.08},
        {"given": "good", "defect": "(none)", "n": 40, "pred_bad": 0.05, "pred_good": 0.95},
        {"given": "bad", "defect": "bead_deviation", "n": 118, "pred_bad": 0.61, "pred_good": 0.39}]
plot_confusion_by_defect(out / f"issue19-by-defect-{tag}.png", rows, ["bad", "good"],
                         "topology 7: out-of-fold predictions")
"""


def draw(package_root: Path, tag: str, calibrated: bool) -> None:
    """Run :data:`DRAW` with ``weldsynth`` imported from ``package_root``."""
    subprocess.run(
        [sys.executable, "-c", DRAW, str(OUT), tag, "1" if calibrated else "0"],
        check=True,
        env={**os.environ, "PYTHONPATH": str(package_root), "MPLBACKEND": "Agg"},
        cwd=package_root,
    )


def old_package(rev: str, into: Path) -> Path:
    """The ``weldsynth`` package at ``rev``, extracted under ``into``."""
    archive = into / "old.tar"
    with archive.open("wb") as fh:
        subprocess.run(["git", "archive", rev, "weldsynth"], cwd=ROOT, stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into


def summary_screenshot(tmp: Path) -> None:
    """The top of a train summary page (two topologies, made without training)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import summary_fixtures as sf

    from weldsynth.train import reports
    from weldsynth.train.summary import write_train_summary

    data, runs = tmp / "data", tmp / "runs"
    rows = [reports.summary_row(sf.train_run(runs / t, data, t)) for t in ("3", "7")]
    reports.write_summary(runs, rows)
    page = write_train_summary(runs, ["3", "7"])
    exe = shutil.which("chromium") or shutil.which("google-chrome")
    if exe is None:
        print("no Chromium: summary screenshot skipped")
        return
    shot = OUT / "issue19-summary.png"
    subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp / 'p'}",
         f"--screenshot={shot}", "--window-size=900,1100", "--hide-scrollbars", page.as_uri()],
        check=True, capture_output=True, timeout=90,
    )  # fmt: skip


def main() -> None:
    """Render every picture (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="git revision of the 'before' code")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        draw(old_package(args.before, Path(tmp)), "before", calibrated=False)
        draw(ROOT, "after", calibrated=True)
        summary_screenshot(Path(tmp))
    for png in sorted(OUT.glob("issue19-*.png")):
        print(f"{png.relative_to(ROOT)}  {png.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
