"""Benchmark of the scale-out engines: generate on Ray vs locally, DDP vs one process.

* generation: wall time of ``generate`` (plan, run, manifest) on the same good welds
  (``--per-topology`` procedural welds of each of the 9 topologies, the shipped recipes)
  with the local engine (1 and 2 workers) and the Ray engine on a local 2-CPU Ray started
  once. Ray's start-up (``ray.init``) and its first run (workers still importing
  weldsynth) are reported separately; ``ray_s`` is a run on started workers. Every output
  is checked byte-identical to the local 1-worker one. Target: Ray ≤ 1.2x local 2 workers.
* training: a tiny ResNet18 (``--size``, from scratch) on one topology of the generated
  set, as one process (1 and 2 torch threads) and as ``torchrun --nproc-per-node 2``
  (DDP, gloo, 1 thread each, half the batch per process: the same global batch). Reported:
  median epoch seconds (``metrics.csv``, rank 0) and the whole command's wall time.

Runs are interleaved and repeated (``--repeats``); medians are reported with every run and
the load average, as the 2-core machine may be shared.

Usage: python bench/scale.py [--per-topology 12] [--repeats 5] [--train-repeats 3]
       [--skip-train] [--out FILE]
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from weldsynth.core.topology import topology_ids  # noqa: E402
from weldsynth.dataset import generate as gen  # noqa: E402
from weldsynth.synth.recipe import recipe_for_topology  # noqa: E402
from weldsynth.synth.samples import write_samples  # noqa: E402

TOPOLOGIES = topology_ids()  # every registered topology


def run_generate(good: Path, out: Path, engine: str, workers: int) -> tuple[float, int]:
    """Seconds and images of one generate run into a new folder."""
    recipes = {t: recipe_for_topology(t) for t in TOPOLOGIES}
    start = time.perf_counter()
    gen.prepare_out(out, recipes, by_defect=False, force=False)
    tasks, rejected = gen.plan_all(good, recipes, out, by_defect=False)
    summary = gen.run(tasks, out, rejected, workers=workers, engine=engine)
    return time.perf_counter() - start, len(summary.records)


def tree(root: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file under ``root``."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def bench_generate(work: Path, per_topology: int, repeats: int) -> dict:
    import ray

    good = work / "good"
    write_samples(good, TOPOLOGIES, n=per_topology, seed=2024)
    reference: dict[str, bytes] | None = None
    runs: dict[str, list[float]] = {"local_1_s": [], "local_2_s": [], "ray_s": []}
    images = 0

    def one(key: str, engine: str, workers: int) -> float:
        nonlocal reference, images
        out = work / f"out-{key}"
        seconds, images = run_generate(good, out, engine, workers)
        files = tree(out)
        if reference is None:
            reference = files
        elif files != reference:
            raise SystemExit(f"{key}: output differs from the first run")
        shutil.rmtree(out)
        return seconds

    one("local_1_s", "local", 1)  # warm the file cache; also the reference output
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    ray_init_s = time.perf_counter() - start
    ray_first_s = one("ray_first", "ray", 2)
    try:
        for _ in range(repeats):
            for key, engine, workers in (
                ("local_1_s", "local", 1),
                ("local_2_s", "local", 2),
                ("ray_s", "ray", 2),
            ):
                runs[key].append(round(one(key, engine, workers), 3))
                print(f"  generate {key}: {runs[key][-1]:.2f} s", flush=True)
    finally:
        ray.shutdown()
    med = {k: statistics.median(v) for k, v in runs.items()}
    return {
        "sources": per_topology * len(TOPOLOGIES),
        "images": images,
        "ray_init_s": round(ray_init_s, 3),
        "ray_first_run_s": round(ray_first_s, 3),
        "runs": runs,
        "median_s": {k: round(v, 3) for k, v in med.items()},
        "images_per_s": {k.removesuffix("_s"): round(images / v, 1) for k, v in med.items()},
        "ray_over_local_2": round(med["ray_s"] / med["local_2_s"], 3),
        "ray_first_run_over_local_2": round(ray_first_s / med["local_2_s"], 3),
        "target_ray_over_local_2": 1.2,
        "identical_outputs": True,
        "note": "ray_s excludes ray.init (ray_init_s) and runs on workers that already "
        "imported weldsynth (ray_first_run_s is the first run after ray.init)",
    }


def train_once(
    data: Path, out: Path, procs: int, threads: int, batch: int, epochs: int, size: str
) -> dict:
    args = [
        "train",
        str(data),
        "--topology",
        "7",
        "--out",
        str(out),
        "--weights",
        "none",
        "--epochs",
        str(epochs),
        "--batch-size",
        str(batch),
        "--size",
        size,
        "--threads",
        str(threads),
        "--quiet",
        "--force",
    ]
    if procs == 1:
        cmd = [sys.executable, "-m", "weldsynth", *args]
    else:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            str(procs),
            "-m",
            "weldsynth",
            *args,
        ]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if res.returncode:
        raise SystemExit(f"train failed ({' '.join(cmd)}):\n{res.stderr[-3000:]}")
    with (out / "7" / "metrics.csv").open() as fh:
        epochs_s = [float(r["seconds"]) for r in csv.DictReader(fh)]
    report = json.loads((out / "7" / "report.json").read_text())
    shutil.rmtree(out)
    return {
        "wall_s": round(wall, 3),
        "epoch_s": [round(s, 3) for s in epochs_s],
        "train_images": sum(report["counts"]["train"].values()),
        "val_error": report["val"]["error_rate"],
    }


def bench_ddp(
    work: Path, per_topology: int, repeats: int, epochs: int, batch: int, size: str
) -> dict:
    good = work / "good7"
    write_samples(good, [7], n=per_topology, seed=7)
    data = work / "data7"
    run_generate_one(good, data)
    configs = {
        "1proc_1thread": (1, 1, batch),
        "1proc_2threads": (1, 2, batch),
        "ddp_2proc_1thread": (2, 1, batch // 2),
    }
    runs: dict[str, list[dict]] = {k: [] for k in configs}
    for _ in range(repeats):
        for key, (procs, threads, b) in configs.items():
            runs[key].append(train_once(data, work / f"run-{key}", procs, threads, b, epochs, size))
            print(
                f"  train {key}: {runs[key][-1]['wall_s']:.1f} s wall, epochs "
                f"{runs[key][-1]['epoch_s']}",
                flush=True,
            )
    summary = {}
    for key, rs in runs.items():
        # the first epoch also warms up (allocations, oneDNN kernels): use the later ones
        later = [s for r in rs for s in (r["epoch_s"][1:] or r["epoch_s"])]
        n_img = rs[0]["train_images"]
        summary[key] = {
            "median_epoch_s": round(statistics.median(later), 3),
            "train_images_per_s": round(n_img / statistics.median(later), 1),
            "median_wall_s": round(statistics.median(r["wall_s"] for r in rs), 3),
        }
    base = summary["1proc_1thread"]["median_epoch_s"]
    return {
        "data": f"topology 7: {per_topology} welds -> {runs['1proc_1thread'][0]['train_images']}"
        " training images",
        "arch": "resnet18",
        "size": size,
        "epochs": epochs,
        "global_batch": batch,
        "runs": runs,
        "summary": summary,
        "ddp_speedup_vs_1proc_1thread": round(
            base / summary["ddp_2proc_1thread"]["median_epoch_s"], 3
        ),
        "ddp_speedup_vs_1proc_2threads": round(
            summary["1proc_2threads"]["median_epoch_s"]
            / summary["ddp_2proc_1thread"]["median_epoch_s"],
            3,
        ),
    }


def run_generate_one(good: Path, out: Path) -> None:
    recipe = recipe_for_topology(7)
    gen.prepare_out(out, {7: recipe}, by_defect=False, force=False)
    tasks, rejected = gen.plan_topology(good / "7", recipe, out, by_defect=False)
    gen.run(tasks, out, rejected, workers=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-topology", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=5, help="generate runs per engine")
    parser.add_argument("--train-repeats", type=int, default=3)
    parser.add_argument("--train-welds", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16, help="global batch")
    parser.add_argument("--size", default="64x176")
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scale.json")
    args = parser.parse_args()

    import ray
    import torch

    result: dict = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "torch": torch.__version__,
            "ray": ray.__version__,
            "load_avg_before": os.getloadavg(),
        },
    }
    with tempfile.TemporaryDirectory(prefix="weldsynth-scale-") as tmp:
        work = Path(tmp)
        print("generate:", flush=True)
        result["generate"] = bench_generate(work, args.per_topology, args.repeats)
        if not args.skip_train:
            print("train:", flush=True)
            result["ddp"] = bench_ddp(
                work, args.train_welds, args.train_repeats, args.epochs, args.batch, args.size
            )
    result["machine"]["load_avg_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    g = result["generate"]
    print(
        f"generate {g['sources']} welds -> {g['images']} images: median local 1 "
        f"{g['median_s']['local_1_s']} s, local 2 {g['median_s']['local_2_s']} s, ray "
        f"{g['median_s']['ray_s']} s (x{g['ray_over_local_2']} of local 2; ray.init "
        f"{g['ray_init_s']} s, first run {g['ray_first_run_s']} s)"
    )
    if "ddp" in result:
        d = result["ddp"]
        print(
            "train epoch: "
            + ", ".join(f"{k} {v['median_epoch_s']} s" for k, v in d["summary"].items())
            + f"; DDP speed-up x{d['ddp_speedup_vs_1proc_1thread']} vs 1 thread, "
            f"x{d['ddp_speedup_vs_1proc_2threads']} vs 2 threads"
        )
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
