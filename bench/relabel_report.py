"""Benchmark of the review page and the relabel journal.

* report: time to render ``report.html`` for 200 suspects made from the shipped 352x128
  16-bit samples (each with a defect mask and a 4x11 Grad-CAM), the file size and the size
  per suspect. Target: ≤ ~10 MB for 200 suspects.
* relabel: on a data set of ``--rows`` images (copies of the samples), time to apply a
  decisions file of ``--decisions`` rows (1/2 move, 1/4 drop, 1/4 keep), to re-apply it
  (idempotent no-op) and to undo it, and whether the undo restored the manifest byte for
  byte.

Usage: python bench/relabel_report.py [--rows 2000] [--decisions 200] [--out FILE]
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from weldsynth.audit.report import render_report  # noqa: E402
from weldsynth.dataset.relabel.journal import open_journal  # noqa: E402
from weldsynth.io.heightmap import write_png  # noqa: E402
from weldsynth.io.manifest import Record, sha256_file, write_manifest  # noqa: E402


def make_dataset(root: Path, rows: int) -> list[Record]:
    """``rows`` copies of the shipped samples, half good and half bad, with masks."""
    samples = sorted((ROOT / "samples").glob("*/*.png"))
    records = []
    for k in range(rows):
        src = samples[k % len(samples)]
        topo = src.parent.name
        label = "good" if k % 2 == 0 else "bad"
        rel = f"{topo}/{label}/{src.stem}_{k:05d}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, root / rel)
        mask = ""
        if label == "bad":
            mask = f"{topo}/_masks/{src.stem}_{k:05d}.png"
            m = np.zeros((128, 352), np.uint8)
            m[50:64, 100 + k % 200 : 120 + k % 200] = 255
            write_png(root / mask, m)
        records.append(
            Record(
                path=rel,
                topology=topo,
                label=label,
                mask=mask,
                defect="hole" if label == "bad" else "",
                source=f"{topo}/{src.name}",
                sha256=sha256_file(root / rel),
            )
        )
    write_manifest(root, records)
    return records


def bench_report(root: Path, records: list[Record], out_dir: Path) -> dict:
    rng = np.random.default_rng(np.random.SeedSequence([2024, 7]))
    rows = []
    for k, r in enumerate(records[:200]):
        rows.append(
            {
                "rank": k + 1,
                "path": r.path,
                "topology": r.topology,
                "given": r.label,
                "predicted": "good" if r.label == "bad" else "bad",
                "p_given": float(rng.uniform(0, 0.5)),
                "loss": float(rng.uniform(0.7, 5)),
                "margin": float(rng.uniform(-1, 0)),
                "defect": r.defect,
                "params": "{}",
                "source": r.source,
                "mask": r.mask,
                "sha256": r.sha256,
                "suggestion": "relabel:good" if r.label == "bad" else "keep",
                "cam": rng.random((4, 11)),
                "cam_in_mask": float(rng.uniform(0, 1)),
            }
        )
    start = time.perf_counter()
    out = render_report(rows, out_dir / "report.html", images_root=root)
    seconds = time.perf_counter() - start
    size = out.stat().st_size
    return {
        "suspects": len(rows),
        "seconds": round(seconds, 3),
        "mb": round(size / 2**20, 2),
        "kb_per_suspect": round(size / 1024 / len(rows), 1),
    }


def bench_relabel(root: Path, records: list[Record], n: int, out_dir: Path) -> dict:
    decisions = out_dir / "decisions.csv"
    with decisions.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "decision", "to", "sha256"])
        for k, r in enumerate(records[:n]):
            kind = ("move", "move", "drop", "keep")[k % 4]
            to = ("bad" if r.label == "good" else "good") if kind == "move" else ""
            writer.writerow([r.path, kind, to, r.sha256])
    manifest_before = (root / "manifest.csv").read_bytes()
    timings = {}
    for name, action in (
        ("apply", lambda j: j.apply(decisions)),
        ("reapply_noop", lambda j: j.apply(decisions)),
        ("undo", lambda j: j.undo()),
    ):
        start = time.perf_counter()
        with open_journal(root) as journal:
            action(journal)
        timings[f"{name}_seconds"] = round(time.perf_counter() - start, 3)
    exact = (root / "manifest.csv").read_bytes() == manifest_before
    return {"rows": len(records), "decisions": n, **timings, "undo_byte_exact": exact}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--decisions", type=int, default=200)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "relabel_report.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        records = make_dataset(root, args.rows)
        report = bench_report(root, records, Path(tmp))
        relabel = bench_relabel(root, records, args.decisions, Path(tmp))
    result = {
        "machine": {"python": platform.python_version(), "cpu": platform.machine()},
        "report": report,
        "relabel": relabel,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
