"""Benchmark of the defect plugins: apply speed, and rejection rate on the shipped samples.

Speed: for every registered plugin, ``--draws`` params are drawn on 16-bit 352x128 welds
(cycling through the nine topologies of ``weldsynth.synth.samples``), then ``apply`` alone is
timed (geometry and sampling excluded), reporting median and p90 ms. A fixed baseline
(``cv2.GaussianBlur`` 5x5 on the same map) is timed in the same process, because the
machine is shared and noisy; ``ratio`` = plugin median / baseline median. The full call
(sample + apply + no-op check) is timed too.

Rejections: on every shipped sample (``samples/<topology>/*.png`` with its truth sidecar),
``--per-sample`` calls per plugin with the default config; a call is rejected when all its
draws were no-ops. Reports the rejected share per plugin per topology (target < 5 %) and the
share of calls that needed a redraw. With ``geometry.locate`` available the same is done
with the located geometry instead of the truth.

    python bench/defects.py [--draws 300] [--per-sample 50] [--out bench/results/defects.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.io.heightmap import to_uint
from weldsynth.synth.defects import create_defect, list_defects
from weldsynth.synth.samples import (
    TOPOLOGIES,
    generate_weld,
    read_sample,
    sample_seed,
    truth_geometry,
)

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 2.0
TARGET_REJECTED = 0.05
BENCH_STREAM = 4242
"""Extra SeedSequence word for the benchmark's own draws."""


def _timed(fn, repeat: int = 1) -> float:
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat * 1000.0


def speed(draws: int, seed: int) -> dict:
    """Median/p90 apply time per plugin on 16-bit 352x128 maps, with a baseline."""
    welds = []
    for topology in TOPOLOGIES:
        weld = generate_weld(topology, sample_seed(seed, topology, 0), bit_depth=16)
        welds.append((to_uint(weld.height, 16), truth_geometry(weld)))
    base_img = welds[0][0]
    baseline = [_timed(lambda: cv2.GaussianBlur(base_img, (5, 5), 0), 20) for _ in range(30)]
    out: dict = {
        "baseline": {
            "op": "cv2.GaussianBlur 5x5 on a 352x128 uint16 map",
            "median_ms": round(float(np.median(baseline)), 4),
        }
    }
    plugins = {}
    for name in list_defects():
        plugin = create_defect(name)
        rng = np.random.default_rng(np.random.SeedSequence([seed, BENCH_STREAM, len(name)]))
        apply_ms, call_ms = [], []
        for i in range(draws):
            height, geometry = welds[i % len(welds)]
            params = plugin.sample(rng, geometry)
            plugin.apply(height, params)  # warm
            t0 = time.perf_counter()
            for _ in range(3):
                plugin.apply(height, params)
            apply_ms.append((time.perf_counter() - t0) / 3 * 1000.0)
            t0 = time.perf_counter()
            plugin(height, rng, geometry)
            call_ms.append((time.perf_counter() - t0) * 1000.0)
        med = float(np.median(apply_ms))
        plugins[name] = {
            "apply_median_ms": round(med, 4),
            "apply_p90_ms": round(float(np.percentile(apply_ms, 90)), 4),
            "call_median_ms": round(float(np.median(call_ms)), 4),
            "ratio_to_baseline": round(med / out["baseline"]["median_ms"], 2),
            "meets_target": med <= TARGET_MS,
        }
    out["plugins"] = plugins
    out["draws"] = draws
    out["target_ms"] = TARGET_MS
    return out


def rejections(per_sample: int, seed: int, use_locate: bool) -> dict:
    """Rejected share per plugin per topology on the shipped samples."""
    locate = None
    if use_locate:
        from weldsynth.geometry import locate
    files = sorted((ROOT / "samples").glob("*/*.png"))
    if not files:
        raise SystemExit("no shipped samples under samples/")
    table: dict = {}
    for name in list_defects():
        plugin = create_defect(name)
        per_topology: dict = {}
        for file in files:
            weld = read_sample(file)
            height = to_uint(weld.height, weld.bit_depth)
            geometry = locate(height) if locate is not None else truth_geometry(weld)
            row = per_topology.setdefault(
                str(weld.topology), {"calls": 0, "rejected": 0, "redrawn": 0, "not_found": 0}
            )
            if not geometry.found:
                row["not_found"] += 1
            for i in range(per_sample):
                rng = np.random.default_rng(
                    np.random.SeedSequence(
                        [seed, BENCH_STREAM, weld.topology, int(file.stem.split("_")[-1]), i]
                    )
                )
                result = plugin(height, rng, geometry)
                row["calls"] += 1
                row["rejected"] += int(result.rejected)
                row["redrawn"] += int(result.tries > 1)
        for row in per_topology.values():
            row["rejected_rate"] = round(row["rejected"] / row["calls"], 4)
            row["redraw_rate"] = round(row["redrawn"] / row["calls"], 4)
        worst = max(r["rejected_rate"] for r in per_topology.values())
        table[name] = {
            "topologies": dict(sorted(per_topology.items(), key=lambda kv: int(kv[0]))),
            "worst_rejected_rate": worst,
            "meets_target": worst < TARGET_REJECTED,
        }
    return {
        "geometry": "locate" if use_locate else "truth",
        "per_sample": per_sample,
        "samples": len(files),
        "target_rejected_rate": TARGET_REJECTED,
        "plugins": table,
    }


def _locate_works() -> bool:
    from weldsynth.geometry import locate

    weld = generate_weld(3, sample_seed(0, 3, 0))
    try:
        return bool(locate(weld.height).found)
    except NotImplementedError:
        return False


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write its JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=300)
    ap.add_argument("--per-sample", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "defects.json")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    result = {
        "benchmark": "defects",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "seed": args.seed,
        "speed": speed(args.draws, args.seed),
        "rejections_truth": rejections(args.per_sample, args.seed, use_locate=False),
    }
    result["rejections_locate"] = (
        rejections(args.per_sample, args.seed, use_locate=True) if _locate_works() else None
    )
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    text = json.dumps(result, indent=2) + "\n"
    atomic_write_bytes(args.out, text.encode("utf-8"))
    sp = result["speed"]
    print(f"baseline {sp['baseline']['median_ms']:.3f} ms")
    for name, row in sp["plugins"].items():
        rt = result["rejections_truth"]["plugins"][name]["worst_rejected_rate"]
        rl = result["rejections_locate"]
        rl_txt = "" if rl is None else f", locate {rl['plugins'][name]['worst_rejected_rate']:.1%}"
        print(
            f"{name:16s} apply {row['apply_median_ms']:.3f} ms (p90 {row['apply_p90_ms']:.3f}, "
            f"x{row['ratio_to_baseline']:.1f} baseline)  worst rejected: truth {rt:.1%}{rl_txt}"
        )
    print(f"written to {args.out} in {result['wall_s']} s", file=sys.stderr)


if __name__ == "__main__":
    main()
