"""Speed part of ``bench/norm.py``: plugin apply times, generate against the PNG I/O floor.

* apply: every registered plugin (default config, no norm) on 352x128 16-bit procedural
  welds of every topology; the draw is made outside the timing, ``apply`` alone is timed;
  median over many draws. Target <= 2 ms.
* generate: what ``generate --all --workers 2`` runs (plan, calibrate, prepare, run; in
  this process, as ``bench/generate.py`` times it, so the interpreter's start-up is not
  counted) on 126 calibrated 16-bit welds (14 per topology, a ``scan.yaml`` at 0.1 mm/px),
  with the shipped recipes and with them set to ``iso5817-2014-C`` (``--norm``), against
  the floor measured in the same run: decoding the same sources and writing the same
  number of PNG files (encode + atomic write: temp file, rename) with 2 worker processes,
  made durable as generate makes them (once per source: the files' fsyncs together, then
  the folders'); also the floor with an fsync per file (generate's durability before, the
  old floor) and with no sync at all, which say what share of each floor the syncing is.
  Target <= 1.3x. The baseline, generate with an fsync per file as before, runs in the
  same process, and both again with one worker (where no second worker's computing hides
  the waits). Runs alternate A/B so drifting load hits both alike.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from weldsynth.core.atomic import atomic_write_bytes, durable_batch  # noqa: E402
from weldsynth.core.seeding import rng_for  # noqa: E402
from weldsynth.core.topology import topology_ids  # noqa: E402
from weldsynth.core.units import from_unit  # noqa: E402
from weldsynth.dataset import generate as gen  # noqa: E402
from weldsynth.dataset.generate import worker as gen_worker  # noqa: E402
from weldsynth.io.heightmap import encode_png, read_heightmap  # noqa: E402
from weldsynth.synth.defects import create_defect, list_defects  # noqa: E402
from weldsynth.synth.recipe import recipe_for_topology, recipe_from_dict  # noqa: E402
from weldsynth.synth.samples import (  # noqa: E402
    generate_weld,
    sample_seed,
    truth_geometry,
    write_samples,
)

SCAN_YAML = "pixel_mm: 0.1\nheight_range_mm: [0.0, 8.0]\nt_mm: 3\n"


def apply_times(draws: int = 300) -> dict[str, Any]:
    """Median (and p90) apply time of every plugin, ms."""
    pool = []
    for topo in topology_ids():
        for i in range(3):
            weld = generate_weld(topo, sample_seed(5, topo, i))
            pool.append((from_unit(weld.height, np.uint16), truth_geometry(weld)))
    out: dict[str, Any] = {}
    for name in list_defects():
        plugin = create_defect(name)
        times = []
        for k in range(draws):
            pixels, geometry = pool[k % len(pool)]
            plugin._map = pixels
            params = plugin.sample(rng_for(5, name, k), geometry)
            start = time.perf_counter()
            plugin.apply(pixels, params)
            times.append(time.perf_counter() - start)
        ms = np.asarray(times) * 1e3
        out[name] = {
            "median_ms": round(float(np.median(ms)), 3),
            "p90_ms": round(float(np.percentile(ms, 90)), 3),
            "meets_2ms": bool(np.median(ms) <= 2.0),
        }
        print(f"apply {name}: {out[name]}", flush=True)
    return {"map": "352x128 uint16", "draws": draws, "target_ms": 2.0, "plugins": out}


SYNC_MODES = ("batch", "per_file", "none")
"""How the floor makes its files durable: as generate does (atomic writes made durable
together per source: :func:`weldsynth.core.atomic.durable_batch`), an fsync per file (what
generate did before), or not at all (temp file + rename only)."""


def _floor_task(args: tuple[Path, Path, int, str]) -> int:
    src, out, copies, sync = args
    pixels = read_heightmap(src).to_uint()
    with durable_batch() if sync == "batch" else contextlib.nullcontext():
        for k in range(copies):
            dest = out / f"{src.stem}_{k:02d}.png"
            data = encode_png(pixels, dest)
            if sync != "none":
                atomic_write_bytes(dest, data)
            else:
                tmp = dest.with_name(f".{dest.name}.tmp")
                tmp.write_bytes(data)
                os.replace(tmp, dest)
    return copies


def time_floor(sources: list[Path], out: Path, files: int, sync: str) -> float:
    """Decode every source and write ``files`` PNGs from them with 2 processes, made
    durable as ``sync`` says (:data:`SYNC_MODES`)."""
    per = -(-files // len(sources))
    out.mkdir(parents=True)
    os.sync()  # what earlier runs left dirty is written now, not during this one
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        list(pool.map(_floor_task, [(s, out, per, sync) for s in sources], chunksize=4))
    return time.perf_counter() - start


def _recipes(norm: bool) -> dict[int, Any]:
    """The shipped recipes, or the same set to ISO 5817 C as ``generate --norm`` does."""
    recipes = {t: recipe_for_topology(t) for t in topology_ids()}
    if not norm:
        return recipes
    out = {}
    for topo, recipe in recipes.items():
        data = recipe.model_dump()
        data["norm"] = {**data.get("norm", {}), "preset": "iso5817-2014-C"}
        out[topo] = recipe_from_dict(data, source=f"bench --norm (topology {topo})")
    return out


def time_generate(
    good: Path, out: Path, norm: bool, per_file_fsync: bool = False, workers: int = 2
) -> float:
    """Wall time of what ``generate GOOD --all --workers 2 [--norm ...]`` runs;
    ``per_file_fsync``: the baseline, every file fsynced on its own as before batches (the
    workers are forked from this process, so they inherit the switch)."""
    os.sync()  # what earlier runs left dirty is written now, not during this one
    start = time.perf_counter()
    recipes = _recipes(norm)
    tasks, rejected = gen.plan_all(good, recipes, out, False)
    tasks = gen.calibrate_tasks(tasks, good, None)
    gen.prepare_out(out, recipes, False, False, None)
    batch = gen_worker.durable_batch
    if per_file_fsync:
        gen_worker.durable_batch = contextlib.nullcontext  # type: ignore[assignment]
    try:
        gen.run(tasks, out, rejected, workers=workers)
    finally:
        gen_worker.durable_batch = batch
    return time.perf_counter() - start


def generate_vs_floor(repeats: int = 4, per_topology: int = 14) -> dict[str, Any]:
    """generate (shipped recipes; --norm) against the I/O floor, same files, same run."""
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        good = tmp / "good"
        write_samples(good, list(topology_ids()), n=per_topology, seed=3)
        (good / "scan.yaml").write_text(SCAN_YAML)
        sources = sorted(good.glob("*/*.png"))
        time_generate(good, tmp / "warm-up", norm=False)  # imports, first pool: not timed
        shutil.rmtree(tmp / "warm-up")
        for rep in range(repeats):
            for mode in ("shipped", "norm"):
                out = tmp / f"{mode}{rep}"
                old = tmp / f"before-{mode}{rep}"
                if rep % 2:  # alternate which goes first
                    before = time_generate(good, old, mode == "norm", per_file_fsync=True)
                seconds = time_generate(good, out, norm=mode == "norm")
                if not rep % 2:
                    before = time_generate(good, old, mode == "norm", per_file_fsync=True)
                files = sum(1 for _ in out.rglob("*.png"))
                order = SYNC_MODES if rep % 2 == 0 else SYNC_MODES[::-1]
                floors = {
                    sync: time_floor(sources, tmp / f"floor-{sync}-{mode}{rep}", files, sync)
                    for sync in order
                }
                for done in tmp.glob(f"*{mode}{rep}"):  # keep the disk and page cache small
                    shutil.rmtree(done)
                floor, per_file, nosync = (floors[m] for m in SYNC_MODES)
                runs.append(
                    {
                        "mode": mode,
                        "generate_s": round(seconds, 2),
                        "generate_fsync_per_file_s": round(before, 2),
                        "speedup_over_fsync_per_file": round(before / seconds, 3),
                        "floor_s": round(floor, 2),
                        "floor_fsync_per_file_s": round(per_file, 2),
                        "floor_without_fsync_s": round(nosync, 2),
                        "png_files": files,
                        "ratio": round(seconds / floor, 3),
                        "ratio_to_fsync_per_file_floor": round(seconds / per_file, 3),
                        "sync_share_of_floor": round(1 - nosync / floor, 3),
                        "fsync_per_file_share_of_that_floor": round(1 - nosync / per_file, 3),
                    }
                )
                print(f"generate {runs[-1]}", flush=True)
        one_worker = _one_worker(tmp)
    summary = {}
    for mode in ("shipped", "norm"):
        mine = [r for r in runs if r["mode"] == mode]
        summary[mode] = {
            key: float(np.median([r[key] for r in mine]))
            for key in (
                "ratio",
                "speedup_over_fsync_per_file",
                "ratio_to_fsync_per_file_floor",
                "sync_share_of_floor",
                "fsync_per_file_share_of_that_floor",
            )
        }
    return {
        "sources": len(sources),
        "input": f"352x128 16-bit procedural welds, {per_topology} per topology, scan.yaml "
        "0.1 mm/px",
        "workers": 2,
        "floor": "decode the same sources, encode and write the same number of PNG files with "
        "2 processes, made durable as generate does: atomic writes (temp + rename) synced "
        "together once per source (the files' fsyncs issued at once from a few threads, "
        "then the folders'); also with an fsync per file as it is written (generate's "
        "durability before) and with no sync at all",
        "runs": runs,
        "summary": summary,
        "one_worker": one_worker,
        "ratio_target": 1.3,
    }


def _one_worker(tmp: Path, repeats: int = 2) -> dict[str, Any]:
    """generate with one worker, batched durability against an fsync per file, A/B: the
    saving of the batches where no second worker's computing hides the waits."""
    good = tmp / "good-1w"
    write_samples(good, list(topology_ids()), n=3, seed=4)
    (good / "scan.yaml").write_text(SCAN_YAML)
    times: dict[str, list[float]] = {"batched_s": [], "fsync_per_file_s": []}
    for rep in range(repeats):
        for per_file in (False, True) if rep % 2 == 0 else (True, False):
            out = tmp / f"1w-{rep}-{per_file}"
            key = "fsync_per_file_s" if per_file else "batched_s"
            times[key].append(round(time_generate(good, out, False, per_file, workers=1), 2))
            shutil.rmtree(out)
    print(f"one worker {times}", flush=True)
    speedup = float(np.median(times["fsync_per_file_s"]) / np.median(times["batched_s"]))
    return {"sources": 27, "workers": 1, **times, "speedup_median": round(speedup, 3)}


def speed() -> dict[str, Any]:
    """Part 3 of the benchmark."""
    return {"apply": apply_times(), "generate": generate_vs_floor()}
