"""Benchmark of `weldsynth.synth.samples.generate_weld`: milliseconds per 352x128 weld per topology.

Target: <= ~20 ms per map (benchmarks and tests generate thousands). Reports the median and
the 95th percentile over ``--n`` welds per topology (single process), and the time of
``truth_geometry`` (what defect tests call before ``locate``).

Usage: python bench/samples.py [--n 100] [--out bench/results/samples.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from weldsynth.core.atomic import atomic_write_bytes  # noqa: E402
from weldsynth.core.topology import topology_ids  # noqa: E402
from weldsynth.synth.samples import (  # noqa: E402
    generate_weld,
    sample_seed,
    truth_geometry,
)


def main() -> None:
    """Time generation per topology and write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="welds per topology")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "samples.json")
    args = parser.parse_args()
    generate_weld(2, sample_seed(0, 2, 0))  # warm up imports and caches
    per_topology = {}
    all_ms: list[float] = []
    for topo in topology_ids():
        gen_ms, truth_ms = [], []
        for i in range(args.n):
            rng = sample_seed(1, topo, i)
            t0 = time.perf_counter()
            weld = generate_weld(topo, rng)
            t1 = time.perf_counter()
            truth_geometry(weld)
            t2 = time.perf_counter()
            gen_ms.append(1000 * (t1 - t0))
            truth_ms.append(1000 * (t2 - t1))
        all_ms += gen_ms
        per_topology[str(topo)] = {
            "generate_ms_median": round(float(np.median(gen_ms)), 2),
            "generate_ms_p95": round(float(np.percentile(gen_ms, 95)), 2),
            "truth_geometry_ms_median": round(float(np.median(truth_ms)), 2),
        }
        print(f"topology {topo:>2}: {per_topology[str(topo)]}")
    result = {
        "benchmark": "samples.generate_weld",
        "shape": [128, 352],
        "n_per_topology": args.n,
        "target_ms": 20.0,
        "generate_ms_median_all": round(float(np.median(all_ms)), 2),
        "generate_ms_p95_all": round(float(np.percentile(all_ms, 95)), 2),
        "per_topology": per_topology,
        "machine": {
            "python": platform.python_version(),
            "processor": platform.machine(),
            "numpy": np.__version__,
        },
    }
    print(
        f"all: median {result['generate_ms_median_all']} ms, "
        f"p95 {result['generate_ms_p95_all']} ms (target {result['target_ms']} ms)"
    )
    atomic_write_bytes(args.out, (json.dumps(result, indent=2) + "\n").encode("utf-8"))


if __name__ == "__main__":
    main()
