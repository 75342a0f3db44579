"""The baseline of ``bench/norm.py``'s bead_deviation apply time: the apply as it was before
issue 13's speed-up (path coordinates and texture over the whole local piece's box, three
2-D-indexed texture look-ups, the material test on every pixel), timed against today's in
the same process, draws interleaved (which runs first alternates), so the load hits both
alike; their outputs must be byte-identical (the speed-up changes no pixel).

Usage: python bench/norm.py --parts speed.bead_deviation_vs_before --merge
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from weldsynth.core.seeding import rng_for  # noqa: E402
from weldsynth.core.topology import topology_ids  # noqa: E402
from weldsynth.core.units import from_unit  # noqa: E402
from weldsynth.geometry.path import BeadPath  # noqa: E402
from weldsynth.synth.defects import create_defect  # noqa: E402
from weldsynth.synth.defects import functional as F  # noqa: E402
from weldsynth.synth.defects._path_functional import (  # noqa: E402
    TextureSampler,
    edit_pixels,
    unit_floor,
)
from weldsynth.synth.defects.bead_deviation import (  # noqa: E402
    BEAD_TOLERANCE,
    MIN_SHIFT,
    BeadDeviationParams,
    _despeckle,
    apply_bead_deviation,
    offset_profile,
)
from weldsynth.synth.samples import generate_weld, sample_seed, truth_geometry  # noqa: E402


def apply_before(height: np.ndarray, p: BeadDeviationParams) -> tuple[np.ndarray, np.ndarray]:
    """``apply_bead_deviation`` as it was before (the whole local piece's box)."""
    pts = np.asarray(p.points, dtype=np.float64)
    wid = np.asarray(p.widths, dtype=np.float64)
    amp = float(p.amplitude)
    big_r = float(wid.max()) / 2 * (1 + p.margin)
    reach = big_r + abs(amp) + 1.0
    box = F.clip_box(F.bounds_of(pts, 2 * big_r + abs(amp) + 2.0), height.shape)
    floor = unit_floor(height.dtype)
    local = BeadPath(pts, wid)

    def edit(unit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        def band(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            dl = amp * offset_profile(s, p.kind, p.s0, p.s1, p.ramp)
            on = np.abs(dl) > MIN_SHIFT
            lo = np.where(on, np.minimum(-big_r, dl - big_r), np.inf)
            return lo, np.where(on, np.maximum(big_r, dl + big_r), -np.inf)

        f = local.pixels(box, reach, band)  # type: ignore[arg-type]
        delta = amp * offset_profile(f.s, p.kind, p.s0, p.s1, p.ramp)
        half = local.width_at(f.s) / 2
        r = half * (1 + p.margin)
        moved = (np.abs(delta) > MIN_SHIFT) & (f.beyond <= r)
        new_foot = moved & (np.abs(f.e - delta) <= r)
        old_foot = moved & (np.abs(f.e) <= r)
        sel = new_foot | old_foot
        if not sel.any():
            return f.iy[sel], f.ix[sel], np.zeros(0)
        sample = TextureSampler(unit, floor)
        x, y = f.x[sel] - box[0], f.y[sel] - box[1]  # type: ignore[index]
        nx, ny, e, dl, beyond = f.nx[sel], f.ny[sel], f.e[sel], delta[sel], f.beyond[sel]
        rr = r[sel]
        # outward direction past an open end (zero elsewhere)
        out_len = np.maximum(beyond, 1e-9)
        ox = np.where(beyond > 0, (x + box[0] - f.fx[sel] - e * nx) / out_len, 0.0)  # type: ignore[index]
        oy = np.where(beyond > 0, (y + box[1] - f.fy[sel] - e * ny) / out_len, 0.0)  # type: ignore[index]

        def bare_at(offset: np.ndarray, shift: np.ndarray) -> np.ndarray:
            """The surroundings mirrored into the old footprint at ``p + shift·n`` (whose
            offset is ``offset``): across the nearer footprint edge, side or end."""
            via_end = beyond > np.abs(offset)
            side = np.where(offset >= 0, 1.0, -1.0)
            step_n = shift + np.where(via_end, 0.0, side * 2 * (rr - np.abs(offset)))
            step_t = np.where(via_end, 2 * (rr - beyond), 0.0)
            return sample(x + step_n * nx + step_t * ox, y + step_n * ny + step_t * oy)

        inside = old_foot[sel]
        bare = unit[f.iy[sel], f.ix[sel]]
        bare[inside] = bare_at(e, np.zeros_like(e))[inside]
        # the moved surface, and whether it is bead material (above the bare surface there)
        moved_val = sample(x - dl * nx, y - dl * ny)
        bare_src = bare_at(e - dl, -dl)
        core = (np.abs(e - dl) <= half[sel]) & (beyond <= 0)
        material = (
            _despeckle(f.iy[sel], f.ix[sel], moved_val > bare_src + BEAD_TOLERANCE, unit.shape)
            | core
        )
        onto = np.where(moved_val > 0, np.maximum(moved_val, bare), 0.0)
        return f.iy[sel], f.ix[sel], np.where(new_foot[sel] & material, onto, bare)

    return edit_pixels(height, box, edit)


def bead_deviation_vs_before(draws: int = 300, rounds: int = 3) -> dict[str, Any]:
    """Median apply time (ms) of bead_deviation before and now on 352x128 16-bit welds of
    every topology (default config, the draws of ``norm_speed.apply_times``), interleaved;
    the ratio of the medians, and how many outputs differ (must be 0)."""
    pool = []
    for topo in topology_ids():
        for i in range(3):
            weld = generate_weld(topo, sample_seed(5, topo, i))
            pool.append((from_unit(weld.height, np.uint16), truth_geometry(weld)))
    plugin = create_defect("bead_deviation")
    items = []
    for k in range(draws):
        pixels, geometry = pool[k % len(pool)]
        items.append((pixels, plugin.sample(rng_for(5, "bead_deviation", k), geometry)))
    before: list[float] = []
    now: list[float] = []
    differ = 0
    for round_ in range(rounds):
        for k, (pixels, params) in enumerate(items):
            # alternate which runs first: the second finds the map and params in the cache
            order = ((before, apply_before), (now, apply_bead_deviation))
            out = {}
            for times, apply in order if (k + round_) % 2 == 0 else order[::-1]:
                start = time.perf_counter()
                out[id(times)] = apply(pixels, params)
                times.append(time.perf_counter() - start)
            old, new = out[id(before)], out[id(now)]
            differ += not (np.array_equal(old[0], new[0]) and np.array_equal(old[1], new[1]))
    b, n = float(np.median(before)) * 1e3, float(np.median(now)) * 1e3
    out = {
        "map": "352x128 uint16",
        "draws": draws,
        "rounds": rounds,
        "before_median_ms": round(b, 3),
        "now_median_ms": round(n, 3),
        "ratio_now_over_before": round(n / b, 3),
        "outputs_differing": differ,
    }
    print(f"bead_deviation vs before: {out}", flush=True)
    return out
