"""Benchmark of `weldsynth generate`: throughput against the I/O floor, and peak memory.

* throughput: images/s of generate with 2 workers on 352x128 16-bit good welds, and its
  time ratio to the I/O floor measured in the same run: reading the same sources and
  writing the same number of PNGs (images and masks) with no geometry or defect work, also
  with 2 workers. Target: generate ≤ 1.3x the floor.
* memory: peak RSS of a `weldsynth generate` process tree producing 20,000 images
  (streaming: nothing accumulated per image). Target ≤ 500 MB.

Usage: python bench/generate.py [--sources 60] [--memory-images 20000] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from weldsynth.core.topology import topology_ids  # noqa: E402
from weldsynth.dataset import generate as gen  # noqa: E402
from weldsynth.io.heightmap import read_heightmap, write_png  # noqa: E402
from weldsynth.synth.recipe import recipe_for_topology  # noqa: E402
from weldsynth.synth.samples import write_samples  # noqa: E402

TOPOLOGIES = topology_ids()  # every registered topology


def _floor_task(args: tuple[Path, Path, int]) -> int:
    src, out, copies = args
    pixels = read_heightmap(src).to_uint()
    for k in range(copies):
        write_png(out / f"{src.stem}_{k:02d}.png", pixels)
    return copies


def time_generate(good_root: Path, out: Path, workers: int) -> tuple[float, int]:
    recipes = {t: recipe_for_topology(t) for t in TOPOLOGIES}
    start = time.perf_counter()
    gen.prepare_out(out, recipes, by_defect=False, force=False)
    tasks, rejected = gen.plan_all(good_root, recipes, out, by_defect=False)
    summary = gen.run(tasks, out, rejected, workers=workers)
    return time.perf_counter() - start, len(summary.records)


def time_floor(good_root: Path, out: Path, files_per_source: int, workers: int) -> float:
    sources = sorted(good_root.glob("*/*.png"))
    out.mkdir(parents=True)
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_floor_task, [(s, out, files_per_source) for s in sources], chunksize=4))
    return time.perf_counter() - start


def peak_memory(images: int, tmp: Path) -> dict[str, float]:
    per_source = 1 + 6 + 1  # good copy + variants + acceptable (shipped recipes)
    sources = -(-images // per_source)
    per_topology = -(-sources // len(TOPOLOGIES))
    good = tmp / "mem-good"
    write_samples(good, list(TOPOLOGIES), n=per_topology, seed=1)
    cmd = [
        sys.executable,
        str(ROOT / "cli.py"),
        "generate",
        str(good),
        "--all",
        "--out",
        str(tmp / "mem-out"),
        "--workers",
        "2",
        "--quiet",
    ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    n_images = sum(1 for _ in (tmp / "mem-out").glob("*/*/*.png")) - sum(
        1 for _ in (tmp / "mem-out").glob("*/_masks/*.png")
    )
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return {
        "images": n_images,
        "seconds": round(seconds, 1),
        "peak_rss_mb_largest_process": round(children, 1),
        "target_mb": 500.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", type=int, default=63, help="good welds (spread over topologies)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--memory-images", type=int, default=20000, help="0 to skip")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "generate.json")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        good = tmp / "good"
        write_samples(good, list(TOPOLOGIES), n=max(1, args.sources // len(TOPOLOGIES)), seed=0)
        runs = []
        for rep in range(args.repeats):  # alternate A/B so drift hits both alike
            t_gen, n_images = time_generate(good, tmp / f"gen{rep}", workers=2)
            n_files = sum(1 for p in (tmp / f"gen{rep}").rglob("*.png"))
            n_src = len(list(good.glob("*/*.png")))
            t_floor = time_floor(good, tmp / f"floor{rep}", -(-n_files // n_src), workers=2)
            runs.append(
                {
                    "generate_s": round(t_gen, 3),
                    "floor_s": round(t_floor, 3),
                    "ratio": round(t_gen / t_floor, 3),
                    "images": n_images,
                    "png_files": n_files,
                }
            )
            print(
                f"run {rep}: generate {t_gen:.2f}s floor {t_floor:.2f}s "
                f"ratio {t_gen / t_floor:.2f} ({n_images} images, {n_files} PNG files)"
            )
        ratios = sorted(r["ratio"] for r in runs)
        median = ratios[len(ratios) // 2]
        best = min(runs, key=lambda r: r["generate_s"])
        result = {
            "benchmark": "generate",
            "machine": {
                "python": platform.python_version(),
                "cpu": platform.processor() or platform.machine(),
            },
            "workers": 2,
            "input": "352x128 16-bit procedural good welds, shipped recipes (all topologies)",
            "runs": runs,
            "images_per_s": round(best["images"] / best["generate_s"], 1),
            "ratio_to_io_floor_median": median,
            "ratio_target": 1.3,
        }
        if args.memory_images:
            result["memory"] = peak_memory(args.memory_images, tmp)
            print(f"memory: {result['memory']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"median ratio to the I/O floor: {median:.2f} (target ≤ 1.3); "
        f"{result['images_per_s']} images/s -> {args.out}"
    )


if __name__ == "__main__":
    main()
