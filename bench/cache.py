"""Benchmark of the decode cache (issue 15) -> bench/results/cache.json.

1. **Decodes per image of an audit** (``--parts audit``): a small data set of one topology
   (procedural welds -> defects -> balance) audited with 3 folds x 3 seeds, the decoder
   counted: in RAM, through the on-disk cache (a tiny ``--cache-gb``), and a second audit
   reusing that disk cache. Target: 1 decode per image (0 on reuse); decoding per fold model
   would be 9.
2. **Peak memory of train over N images** (``--parts rss``, N = ``--n``, default 100,000) at
   128x352 with the on-disk cache: N distinct 16-bit PNGs with a manifest (1 % val), then
   ``weldsynth train``'s code path in a child process with a tiny ``--cache-gb``; every
   O(N) step runs in full (listing, hashing, decoding into the cache, pixel statistics,
   the epoch order, validation, the final report) and each training epoch is cut to
   ``--steps`` batches (a training step's memory does not depend on N). The child's
   peak RSS (``ru_maxrss``) is recorded, with what the same images would take in RAM.
   Target: under 2 GB.

Usage: python bench/cache.py [--parts audit,rss] [--n 100000] [--steps 20] [--work DIR]
Timings depend on the machine and its load; the JSON records both.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "cache.json"
SIZE = (128, 352)


def count_decodes():
    """Patch the decoder to count the files it reads; returns the list it appends to."""
    from weldsynth.train import images

    seen: list[str] = []
    real = images.read_height

    def counting(path):
        seen.append(str(path))
        return real(path)

    images.read_height = counting
    return seen


def audit_decodes(work: Path, welds: int) -> dict:
    """Decoder calls per image of a 3-fold x 3-seed audit (RAM, disk, disk reused)."""
    from weldsynth.audit.run import AuditSettings, audit_topology
    from weldsynth.dataset import generate as gen
    from weldsynth.dataset.balance import balance
    from weldsynth.synth.recipe import recipe_for_topology
    from weldsynth.synth.samples import write_samples
    from weldsynth.train.config import TrainConfig

    good, data = work / "audit-good", work / "audit-data"
    if not (data / "manifest.csv").is_file():
        write_samples(good, [3], n=welds, seed=5)
        recipes = {3: recipe_for_topology(3)}
        gen.prepare_out(data, recipes, by_defect=False, force=False)
        tasks, rejected = gen.plan_all(good, recipes, data, by_defect=False)
        gen.run(tasks, data, rejected, workers=2)
        balance(data, ratio="1:1", method="oversample", seed=0)
    seen = count_decodes()
    cfg = TrainConfig(arch="weldnet", epochs=1, batch_size=8, size=(32, 88), weights="none")
    settings = AuditSettings(folds=3, seeds=3, top=5, cams=False, weights="none")
    rows = {}
    for name, gb in (("ram", 0.0), ("disk", 1e-9), ("disk_reused", 1e-9)):
        before = len(seen)
        t0 = time.perf_counter()
        result = audit_topology(data, "3", work / f"audit-{name}", cfg.with_(cache_gb=gb), settings)
        n = result.summary["audited"]
        rows[name] = {
            "images": n,
            "decodes": len(seen) - before,
            "decodes_per_image": round((len(seen) - before) / n, 3),
            "fold_models": 9,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(f"audit {name}: {rows[name]}", flush=True)
    return {"folds": 3, "seeds": 3, "size": [32, 88], "runs": rows, "target_decodes_per_image": 1}


def write_images(data: Path, n: int) -> None:
    """``n`` distinct smooth 16-bit height maps (a ridge; the index in the first row's bits)
    and a manifest (every 100th image in val)."""
    import cv2

    if (data / "manifest.csv").is_file():
        return
    h, w = SIZE
    rows = np.arange(h, dtype=np.float64)[:, None]
    base = (0.15 + 0.7 * np.exp(-((rows - h / 2) ** 2) / 200.0)) * np.ones((1, w))
    base = np.rint(base * 60000).astype(np.uint16)
    records = []
    for k in range(n):
        label = "bad" if k % 2 else "good"
        rel = f"7/{label}/w{k:06d}.png"
        img = base.copy()
        img[0, :20] = ((k >> np.arange(20)) & 1) * 1000 + 1
        if label == "bad":
            img[60:68, 100 + k % 150 : 108 + k % 150] = 0
        (data / "7" / label).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(data / rel), img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        records.append((rel, label, f"w{k:06d}", "val" if k % 100 == 0 else "train"))
        if k and k % 20000 == 0:
            print(f"  {k} images written", flush=True)
    from weldsynth.io.manifest import COLUMNS  # the manifest columns every data set has

    cols = list(COLUMNS)
    with (data / "manifest.csv").open("w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(cols)
        for rel, label, src, split in records:
            out.writerow([rel, "7", label, "", src, "{}", "0", "", "", split, ""])


def child_train(data: Path, out: Path, steps: int) -> None:
    """(In a child process) train's code path over ``data`` with the on-disk cache, each
    training epoch cut to ``steps`` batches; prints a JSON line."""
    from weldsynth.train import images
    from weldsynth.train.config import TrainConfig
    from weldsynth.train.run import prepare, train_topology

    full = images.Batches.__iter__

    def cut(self):
        for k, batch in enumerate(full(self)):
            if self.generator is not None and k >= steps:
                return
            yield batch

    images.Batches.__iter__ = cut
    cfg = TrainConfig(arch="weldnet", epochs=1, size=SIZE, weights="none", cache_gb=1e-9)
    t0 = time.perf_counter()
    listing = prepare(data, "7", cfg)
    report = train_topology(listing, out, cfg, weights=None, weights_note="none", say=print)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(
        "RESULT "
        + json.dumps(
            {
                "images": len(listing.items),
                "peak_rss_bytes": peak,
                "decode_seconds": report["decode_seconds"],
                "seconds": round(time.perf_counter() - t0, 1),
            }
        ),
        flush=True,
    )


def rss(work: Path, n: int, steps: int) -> dict:
    """Peak RSS of train over ``n`` images through the on-disk cache (twice: filling it,
    then reusing it)."""
    data = work / f"rss-{n}"
    t0 = time.perf_counter()
    write_images(data, n)
    written = round(time.perf_counter() - t0, 1)
    runs = []
    for k in range(2):
        cmd = [sys.executable, __file__, "--child", str(data), str(work / f"rss-run{k}")]
        res = subprocess.run(
            [*cmd, "--steps", str(steps)], capture_output=True, text=True, check=True
        )
        line = [x for x in res.stdout.splitlines() if x.startswith("RESULT ")][-1]
        runs.append(json.loads(line[len("RESULT ") :]))
        print(f"train over {n} images: {runs[-1]}", flush=True)
    in_ram = n * SIZE[0] * SIZE[1] * 2
    return {
        "images": n,
        "size": list(SIZE),
        "arch": "weldnet",
        "training_batches_per_epoch": steps,
        "write_seconds": written,
        "fill_cache": runs[0],
        "reuse_cache": runs[1],
        "decoded_images_in_ram_would_be_bytes": in_ram,
        "peak_rss_gb": round(max(r["peak_rss_bytes"] for r in runs) / 1e9, 3),
        "target_peak_rss_gb": 2.0,
        "meets_target": max(r["peak_rss_bytes"] for r in runs) < 2e9,
    }


def machine() -> dict:
    """What was measured on: CPU, flags, cores, versions, load."""
    import torch

    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return {
        "cpu": platform.processor() or platform.machine(),
        "cpu_flags": {f: f in flags for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16")},
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="audit,rss")
    parser.add_argument("--n", type=int, default=100_000, help="images of the RSS part")
    parser.add_argument("--steps", type=int, default=20, help="training batches per epoch")
    parser.add_argument("--welds", type=int, default=8, help="good welds of the audit part")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", nargs=2, type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_train(args.child[0], args.child[1], args.steps)
        return
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    work = args.work or Path(tempfile.mkdtemp(prefix="weldsynth-bench-cache-"))
    result = json.loads(args.out.read_text()) if args.out.is_file() else {}
    for part, run in (
        ("audit", lambda: audit_decodes(work, args.welds)),
        ("rss", lambda: rss(work, args.n, args.steps)),
    ):
        if part in parts:
            before = [round(v, 2) for v in os.getloadavg()]
            section = run()
            section["measured"] = {
                "at": time.strftime("%Y-%m-%d %H:%M"),
                "load_average_before": before,
                "machine": machine(),
            }
            result[part] = section
            args.out.parent.mkdir(parents=True, exist_ok=True)
            tmp = args.out.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(result, indent=2) + "\n")
            os.replace(tmp, args.out)
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
