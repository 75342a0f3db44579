"""Benchmark of the welding norm (issue 13): measures, verdicts, acceptable variants, speed.

1. **Measures** (``accuracy``): for every plugin with a norm measure, under
   ``iso5817-2014-C`` (t = 3 mm) at 0.05, 0.1 and 0.25 mm/px (16-bit maps, heights 0..8 mm),
   N draws (default 1,000) on procedural welds of every topology, verdict mixed 50/50:
   the size the plugin reports (``measure``) against the size seen on the map it wrote
   (:mod:`bench.norm_measure`) and against the size drawn (verdict first), errors in
   pixel equivalents (mm / pixel_mm; target <= 1 px); the share of draws per verdict; no
   draw in the guard band; how many labels the size seen on the map would flip.
2. **Value of acceptable variants** (``bench/norm_value.py``): WeldNet on topology 3
   (32 calibrated welds, 12 epochs by default) trained with and without acceptable
   variants, tested on a held-out near-limit set (sizes 15-40 % below and above each
   limit); error per defect x verdict. Target: with acceptable variants, near-limit error
   at least halved.
3. **Speed** (``bench/norm_speed.py``): every plugin's apply on a 352x128 map (median;
   target <= 2 ms), and ``generate`` wall time against the PNG I/O floor of the same
   files in the same run (decode + encode + atomic write with fsync; target <= 1.3x).

The JSON records the load average, the CPU flags and torch's precision next to timings.

Usage: python bench/norm.py [--draws 1000] [--parts accuracy,speed,value] [--merge]
       [--train-welds 32] [--epochs 12] [--out FILE]
       python bench/norm.py --parts speed.generate --merge   # generate vs the floor only
       python bench/norm.py --parts accuracy,speed.apply,speed.bead_deviation_vs_before --merge
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from norm_measure import image_size  # noqa: E402

from weldsynth.core.seeding import rng_for  # noqa: E402
from weldsynth.core.topology import topology_ids  # noqa: E402
from weldsynth.core.units import from_unit  # noqa: E402
from weldsynth.io.calibration import Calibration  # noqa: E402
from weldsynth.synth.defects import get_defect, list_defects  # noqa: E402
from weldsynth.synth.defects.norm_hooks import NormHooks  # noqa: E402
from weldsynth.synth.recipe import build_defect, recipe_from_dict  # noqa: E402
from weldsynth.synth.samples import generate_weld, sample_seed, truth_geometry  # noqa: E402

PRESET, T_MM, GUARD = "iso5817-2014-C", 3.0, 0.15
PIXEL_MM = (0.05, 0.1, 0.25)
HEIGHT_RANGE_MM = 8.0
"""Full scale of the 16-bit maps in mm (grey level 65535)."""
SEED = 13


def calibration(pixel_mm: float) -> Calibration:
    """Square pixels, 16-bit heights 0..HEIGHT_RANGE_MM, t = 3 mm."""
    return Calibration(pixel_mm, pixel_mm, height_mm=HEIGHT_RANGE_MM / 65535, t_mm=T_MM)


def bench_params(pixel_mm: float) -> dict[str, dict[str, Any]]:
    """Ranges straddling each limit: the mm ranges of ``recipe init --norm`` (lower ends
    raised to the plugins' 1 px minimum radius / length), and for the size fields in
    fractions the widest ranges that reach both verdicts; half the draws acceptable."""

    def mm(lo: float, hi: float) -> list[float]:
        return [max(lo, pixel_mm), hi]

    return {
        "ball": {"radius_mm": mm(0.2, 1.25)},
        "cut": {"length_mm": mm(0.4, 2.5)},
        "hole": {"radius_mm": mm(0.12, 0.75)},
        "bead_deviation": {"amplitude": [0.05, 0.6]},
        "excess_material": {"strength": [0.05, 0.6]},
        "missing_plate": {"depth": [0.02, 0.8]},
    }


def norm_recipe(params: dict[str, dict[str, Any]], share: float = 0.5, **extra: Any) -> Any:
    """A topology-3 recipe judged by ISO 5817 C (t = 3 mm) with these defect params."""
    defects = {
        n: {"weight": 1.0, "params": {**p, "p_acceptable": share}} for n, p in params.items()
    }
    data = {
        "topology": 3,
        "seed": SEED,
        "norm": {"preset": PRESET, "t_mm": T_MM, "guard": GUARD},
        "defects": defects,
        **extra,
    }
    return recipe_from_dict(data, source="bench/norm.py")


def weld_pool(per_topology: int) -> list[tuple[int, np.ndarray, Any]]:
    """(topology, 16-bit map, truth geometry) of procedural welds of every topology."""
    pool = []
    for topo in topology_ids():
        for i in range(per_topology):
            weld = generate_weld(topo, sample_seed(SEED, topo, i))
            pool.append((topo, from_unit(weld.height, np.uint16), truth_geometry(weld)))
    return pool


def _recording(plugin: Any) -> list[float]:
    """Make ``plugin`` record each size it draws (in its measure's unit)."""
    drawn: list[float] = []

    def draw_size(rng, bounds, geometry, per_unit, rule_id):  # type: ignore[no-untyped-def]
        size = NormHooks.draw_size(plugin, rng, bounds, geometry, per_unit, rule_id)
        drawn.append(size * per_unit)
        return size

    plugin.draw_size = draw_size
    return drawn


def _stats(errors: list[float]) -> dict[str, float] | None:
    if not errors:
        return None
    a = np.abs(np.asarray(errors))
    return {
        "max": round(float(a.max()), 3),
        "p95": round(float(np.percentile(a, 95)), 3),
        "median": round(float(np.median(a)), 3),
        "mean_signed": round(float(np.mean(errors)), 3),
    }


def accuracy_one(name: str, pixel_mm: float, pool: list, draws: int) -> dict[str, Any]:
    """N draws of one plugin at one calibration: verdicts and measure errors."""
    cal = calibration(pixel_mm)
    plugin = build_defect(norm_recipe(bench_params(pixel_mm)), name, cal)
    drawn = _recording(plugin)
    per_unit_mm = cal.mm_per_unit(16)
    rows: dict[str, dict[str, list]] = {}
    verdicts: dict[str, int] = {"accept": 0, "reject": 0, "guard": 0, "no_draw": 0}
    for k in range(draws):
        _, pixels, geometry = pool[k % len(pool)]
        drawn.clear()
        result = plugin(pixels, rng_for(SEED, name, pixel_mm.hex(), k), geometry)
        if result.rejected:
            verdicts["no_draw"] += 1
            continue
        verdicts[result.verdict] += 1
        rule_id = plugin.imperfection_of(result.params)
        row = rows.setdefault(
            rule_id, {"image": [], "drawn": [], "flips": [], "n": [], "limit": []}
        )
        row["n"].append(1)
        if plugin.norm_mode(rule_id) != "norm":
            continue
        limit = plugin.judge.limit(rule_id, geometry)
        key = limit.key
        value = result.measures[key]
        kind, seen = image_size(name, rule_id, pixels, result, geometry)
        seen_mm = seen * (pixel_mm if kind == "px" else per_unit_mm)
        row["image"].append((value - seen_mm) / pixel_mm)
        if drawn and limit.value is not None:
            row["drawn"].append((value - drawn[-1]) / pixel_mm)
        if limit.value is not None:
            row["flips"].append(limit.verdict({key: seen_mm}) != result.verdict)
            row["limit"].append(limit.value)
    out: dict[str, Any] = {"verdicts": verdicts, "guard_drawn": verdicts["guard"]}
    for rule_id, row in rows.items():
        out[rule_id] = {
            "draws": len(row["n"]),
            "measure_vs_image_px": _stats(row["image"]),
            "measure_vs_drawn_px": _stats(row["drawn"]),
            "image_size_flips_verdict": int(sum(row["flips"])),
        }
        if row["limit"]:
            lim = float(np.median(row["limit"]))
            out[rule_id]["limit_mm_median"] = round(lim, 3)
            out[rule_id]["guard_half_width_px"] = round(lim * GUARD / pixel_mm, 2)
    return out


def accuracy(draws: int) -> dict[str, Any]:
    """Part 1 over every plugin with a norm measure and every calibration."""
    pool = weld_pool(per_topology=4)
    names = [n for n in list_defects() if get_defect(n).imperfections]
    out: dict[str, Any] = {
        "norm": f"{PRESET}, t = {T_MM:g} mm, guard ±{GUARD:.0%}",
        "maps": f"{len(pool)} procedural 352x128 16-bit welds ({len(topology_ids())} "
        f"topologies), heights 0..{HEIGHT_RANGE_MM:g} mm",
        "draws_per_plugin_and_calibration": draws,
        "error_unit": "pixel equivalents: |mm difference| / pixel_mm (heights too)",
        "image_estimators": "hole/ball: largest extent of the changed pixels (+0.5 px); cut "
        "and lack of fusion: extent along the bead (+1 px); bead_deviation: shift of the "
        "cross profile where fully deviated; excess_material: largest raise; undercut: "
        "mirrored plate minus groove at mid-groove (bench/norm_measure.py)",
        "plugins": {},
    }
    for name in names:
        out["plugins"][name] = {}
        for pixel_mm in PIXEL_MM:
            start = time.perf_counter()
            res = accuracy_one(name, pixel_mm, pool, draws)
            res["seconds"] = round(time.perf_counter() - start, 1)
            out["plugins"][name][f"{pixel_mm:g} mm/px"] = res
            print(f"accuracy {name} {pixel_mm:g} mm/px: {json.dumps(res)}", flush=True)
    return out


def cpu_flags() -> dict[str, bool]:
    """The CPU flags that decide torch's CPU speed and precision."""
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return {f: f in flags for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16")}


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    import torch

    return {
        "cores": os.cpu_count(),
        "cpu_flags": cpu_flags(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_float32_matmul_precision": torch.get_float32_matmul_precision(),
        "training_precision": "see value.<run>.precision (what train chose)",
    }


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def _timed_part(run: Any) -> dict[str, Any]:
    """Run one part; its load averages and wall time go into its own result."""
    load, start = _load(), time.perf_counter()
    out = run()
    out["load_average_start"], out["load_average_end"] = load, _load()
    out["part_seconds"] = round(time.perf_counter() - start, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=1000, help="draws per plugin and calibration")
    ap.add_argument("--parts", default="accuracy,speed,value")
    ap.add_argument("--train-welds", type=int, default=32, help="value: welds to train on")
    ap.add_argument("--epochs", type=int, default=12, help="value: training epochs")
    ap.add_argument("--merge", action="store_true", help="keep the other parts of OUT")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "norm.json")
    args = ap.parse_args()
    parts = args.parts.split(",")
    result: dict[str, Any] = {}
    if args.merge and args.out.is_file():
        result = json.loads(args.out.read_text())
    result.update({"benchmark": "norm (issue 13)", "machine": machine()})
    runs = {
        "accuracy": lambda: accuracy(args.draws),
        "speed": lambda: __import__("norm_speed").speed(),
        "value": lambda: __import__("norm_value").value(args.train_welds, epochs=args.epochs),
        "speed.generate": lambda: __import__("norm_speed").generate_vs_floor(),
        "speed.apply": lambda: __import__("norm_speed").apply_times(),
        "speed.bead_deviation_vs_before": lambda: __import__(
            "norm_baseline"
        ).bead_deviation_vs_before(),
    }
    start = time.perf_counter()
    for part in parts:
        if "." in part:  # one piece of a part, e.g. speed.generate: the rest is kept
            outer, inner = part.split(".", 1)
            result.setdefault(outer, {})[inner] = _timed_part(runs[part])
            continue
        result[part] = _timed_part(runs[part])
    if any("." not in part for part in parts):  # a piece alone keeps the whole run's total
        result["seconds_total"] = round(time.perf_counter() - start, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
