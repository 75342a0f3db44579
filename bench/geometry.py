"""Benchmark of ``weldsynth.geometry.locate``: accuracy on generated welds, and speed.

For every topology, ``--n`` welds come from ``weldsynth.synth.samples.generate_weld`` with the
generator's default variation (rotation, curvature, shadows, noise), mixed 8/16-bit, about
15 % at other sizes and, for line topologies, about 10 % vertical beads. Per topology it
reports the pass rate of each criterion and of all three together:

* axis angle error <= 3 deg (line beads; ``path.angle_difference``),
* centreline error <= 2 px: median over the truth centreline (points every 1 px) of the
  distance to the found polyline,
* width error <= 15 %: ``|found mean_width - truth mean_width| / truth mean_width``,

with error percentiles and the not-found count.

Deviated beads (``--n-deviated`` welds per topology, the same generated welds): a
``bead_deviation`` is drawn on each by the plugin (default config, fixed rng, on the truth
geometry) and ``locate`` runs on the result. The deviated truth centreline is the truth path
moved by the drawn offset ``amplitude * offset_profile(s)`` along its normals. Reported:
the median distance of the deviated truth centreline (every 1 px) to the found polyline
(pass: <= 2 px), the same median over the deviated part only (where the offset is at least
half the amplitude), and the axis angle error against the undeviated bead's chord.

Speed: median and p90 ms of ``locate`` per 352x128 map after a warm-up, with a fixed
baseline (``cv2.GaussianBlur`` 5x5 on the same map) timed in the same process, because the
machine is shared and noisy.

Layouts, perturbed and simulated-scanner welds (``--n-perturbed``, ``--n-scans``; see
``bench/geometry_scans.py``): pass rate at the same criteria and wrong closed claims.

    python bench/geometry.py [--n 200] [--n-deviated 100] [--out bench/results/geometry.json]
    python bench/geometry.py --scans-only [--n-perturbed 25] [--n-scans 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.geometry import locate
from weldsynth.geometry.path import BeadPath, angle_difference
from weldsynth.synth.defects import create_defect
from weldsynth.synth.defects.bead_deviation import BeadDeviationParams, offset_profile
from weldsynth.synth.samples import TOPOLOGIES, generate_weld, sample_seed, truth_geometry

ANGLE_MAX = 3.0
CENTRE_MAX = 2.0
WIDTH_MAX = 0.15
ODD_SHAPES = ((160, 480), (96, 200), (128, 256), (144, 400), (112, 300))
VARIANT_STREAM = 7919
"""Extra SeedSequence word for the benchmark's own draws (size, bit depth, vertical)."""
DEVIATION_STREAM = 7927
"""Extra SeedSequence word for the ``bead_deviation`` draws of the deviated section."""


def centreline_error(truth: BeadPath, found: BeadPath) -> float:
    """Median distance of the truth centreline (every 1 px) to the found polyline."""
    pts = truth.resample(1.0)
    return float(np.median(_distance_to_polyline(pts, found)))


def _distance_to_polyline(pts: np.ndarray, path: BeadPath) -> np.ndarray:
    verts = path.vertices
    a, seg = verts[:-1], np.diff(verts, axis=0)
    len2 = np.maximum(np.einsum("ij,ij->i", seg, seg), 1e-12)
    rel = pts[:, None, :] - a[None, :, :]
    t = np.clip(np.einsum("pij,ij->pi", rel, seg) / len2, 0.0, 1.0)
    diff = rel - t[..., None] * seg[None, :, :]
    return np.sqrt(np.min(np.einsum("pij,pij->pi", diff, diff), axis=1))


def make_case(topology: int, index: int, seed: int) -> tuple[dict, object]:
    """One generated weld with the benchmark's size/depth/orientation variation."""
    vr = np.random.default_rng(np.random.SeedSequence([seed, topology, index, VARIANT_STREAM]))
    u_shape, u_depth, u_vert, pick = vr.random(), vr.random(), vr.random(), vr.integers(1 << 30)
    shape = ODD_SHAPES[pick % len(ODD_SHAPES)] if u_shape < 0.15 else None
    depth = 8 if u_depth < 0.5 else 16
    rotation = None
    line = TOPOLOGIES[topology].shape_kind == "line"
    if line and u_vert < 0.1:
        base = shape or (128, 352)
        shape = (base[1], base[0])
        rotation = 90.0 + float(np.clip(vr.normal(0.0, 3.0), -10.0, 10.0))
    weld = generate_weld(
        topology,
        sample_seed(seed, topology, index),
        shape=shape,
        bit_depth=depth,
        rotation=rotation,
    )
    meta = {
        "index": index,
        "shape": list(weld.height.shape),
        "bit_depth": depth,
        "vertical": rotation is not None,
    }
    return meta, weld


def evaluate(topology: int, n: int, seed: int) -> dict:
    """Accuracy of locate on ``n`` generated welds of one topology."""
    rows = []
    for index in range(n):
        meta, weld = make_case(topology, index, seed)
        truth = weld.path
        geo = locate(weld.height)
        row = dict(meta, found=geo.found, reason=geo.reason)
        if geo.found and geo.path is not None:
            if truth.closed:
                row["angle_error"] = 0.0 if geo.axis_angle is None else 90.0
            else:
                row["angle_error"] = (
                    90.0
                    if geo.axis_angle is None
                    else angle_difference(weld.truth["axis_angle"], geo.axis_angle)
                )
            row["centre_error"] = centreline_error(truth, geo.path)
            row["width_error"] = abs(geo.path.mean_width - truth.mean_width) / truth.mean_width
            row["closed_ok"] = geo.path.closed == truth.closed
            if truth.closed:
                row["corners"] = len(geo.corners)
        rows.append(row)
    return summarise(topology, rows)


def deviated_centreline(path: BeadPath, p: BeadDeviationParams) -> tuple[np.ndarray, np.ndarray]:
    """Centreline of the deviated bead every 1 px, and the drawn offset there.

    The plugin moves the surface at arc length ``s`` by ``amplitude * offset_profile`` along
    the normal of its local piece, which starts at arc length ``p.s`` of the whole path
    (closed paths: the rest of the loop lies before the piece).
    """
    s = np.arange(0.0, path.length + 1e-9, 1.0)
    local = s - p.s
    if path.closed:
        local = np.mod(local, path.length)
        local = np.where(local > (p.s1 + path.length) / 2, local - path.length, local)
    off = p.amplitude * offset_profile(local, p.kind, p.s0, p.s1, p.ramp)
    return path.to_image(s, off), off


def evaluate_deviated(topology: int, n: int, seed: int) -> dict:
    """Accuracy of locate on ``n`` welds of one topology with a drawn ``bead_deviation``."""
    plugin = create_defect("bead_deviation")
    rows = []
    for index in range(n):
        meta, weld = make_case(topology, index, seed)
        truth = truth_geometry(weld)
        rng = np.random.default_rng(
            np.random.SeedSequence([seed, topology, index, DEVIATION_STREAM])
        )
        result = plugin(weld.height, rng, truth)
        if not result.ok:
            rows.append(dict(meta, drawn=False, found=False, reason=result.reason))
            continue
        p: BeadDeviationParams = result.params  # type: ignore[assignment]
        pts, off = deviated_centreline(truth.path, p)
        geo = locate(result.height)
        row = dict(
            meta,
            drawn=True,
            found=geo.found,
            reason=geo.reason,
            kind=p.kind,
            amplitude_widths=abs(p.amplitude) / truth.path.mean_width,
        )
        if geo.found and geo.path is not None:
            dist = _distance_to_polyline(pts, geo.path)
            row["centre_error"] = float(np.median(dist))
            row["deviated_part_error"] = float(
                np.median(dist[np.abs(off) >= 0.5 * abs(p.amplitude)])
            )
            row["closed_ok"] = geo.path.closed == truth.path.closed
            if not truth.path.closed:
                row["angle_error"] = (
                    90.0
                    if geo.axis_angle is None
                    else angle_difference(weld.truth["axis_angle"], geo.axis_angle)
                )
        rows.append(row)
    drawn = [r for r in rows if r["drawn"]]
    found = [r for r in drawn if r["found"]]

    def pct(key: str) -> dict:
        vals = np.array([r[key] for r in found if key in r], dtype=np.float64)
        if vals.size == 0:
            return {}
        return {f"p{q}": round(float(np.percentile(vals, q)), 4) for q in (50, 90, 95, 99)}

    def rate(key: str) -> float:
        ok = [r["found"] and r.get("closed_ok", False) and r[key] <= CENTRE_MAX for r in drawn]
        return round(float(np.mean(ok)), 4) if ok else 0.0

    worst = sorted(found, key=lambda r: -r["deviated_part_error"])[:5]
    return {
        "topology": topology,
        "kind": TOPOLOGIES[topology].shape_kind,
        "n": n,
        "drawn": len(drawn),
        "not_found": len(drawn) - len(found),
        "pass_centreline": rate("centre_error"),
        "pass_deviated_part": rate("deviated_part_error"),
        "centreline_error_px": pct("centre_error"),
        "deviated_part_error_px": pct("deviated_part_error"),
        "angle_error_deg": pct("angle_error"),
        "worst": [
            {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in worst
        ],
    }


def summarise(topology: int, rows: list[dict]) -> dict:
    """Pass rates and error percentiles of one topology."""
    n = len(rows)
    found = [r for r in rows if r["found"]]

    def ok(r: dict, key: str, lim: float) -> bool:
        return r["found"] and r.get("closed_ok", False) and r[key] <= lim

    angle = [ok(r, "angle_error", ANGLE_MAX) for r in rows]
    centre = [ok(r, "centre_error", CENTRE_MAX) for r in rows]
    width = [ok(r, "width_error", WIDTH_MAX) for r in rows]
    both = [a and c and w for a, c, w in zip(angle, centre, width, strict=True)]

    def pct(key: str) -> dict:
        vals = np.array([r[key] for r in found], dtype=np.float64)
        if vals.size == 0:
            return {}
        return {f"p{q}": round(float(np.percentile(vals, q)), 4) for q in (50, 90, 95, 99)}

    worst = sorted(
        found,
        key=lambda r: (
            -max(
                r["centre_error"] / CENTRE_MAX,
                r["width_error"] / WIDTH_MAX,
                r["angle_error"] / ANGLE_MAX,
            )
        ),
    )[:5]
    out = {
        "topology": topology,
        "kind": TOPOLOGIES[topology].shape_kind,
        "n": n,
        "not_found": n - len(found),
        "not_found_reasons": sorted({str(r["reason"]) for r in rows if not r["found"]}),
        "pass_angle": round(float(np.mean(angle)), 4),
        "pass_centreline": round(float(np.mean(centre)), 4),
        "pass_width": round(float(np.mean(width)), 4),
        "pass_all": round(float(np.mean(both)), 4),
        "angle_error_deg": pct("angle_error"),
        "centreline_error_px": pct("centre_error"),
        "width_error_rel": pct("width_error"),
        "worst": [
            {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in worst
        ],
    }
    if TOPOLOGIES[topology].shape_kind == "closed":
        counts = [r.get("corners", 0) for r in found]
        out["corner_counts"] = {str(c): counts.count(c) for c in sorted(set(counts))}
    return out


def speed(seed: int, maps: int = 60, repeats: int = 5) -> dict:
    """Median/p90 ms of locate per 352x128 map, with a fixed cv2 baseline in the same run."""
    heights = []
    for i in range(maps):
        topo = list(TOPOLOGIES)[i % len(TOPOLOGIES)]
        heights.append(generate_weld(topo, sample_seed(seed + 1, topo, i)).height)
    for h in heights[:10]:
        locate(h)  # warm-up
    times, base = [], []
    for _ in range(repeats):
        for h in heights:
            t0 = time.perf_counter()
            locate(h)
            times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for _ in range(10):
                cv2.GaussianBlur(h, (5, 5), 1.0)
            base.append((time.perf_counter() - t0) / 10)
    t = np.array(times) * 1e3
    b = np.array(base) * 1e3
    return {
        "maps": maps,
        "calls": int(t.size),
        "shape": [128, 352],
        "locate_ms_median": round(float(np.median(t)), 3),
        "locate_ms_p90": round(float(np.percentile(t, 90)), 3),
        "baseline": "cv2.GaussianBlur 5x5 float32 on the same map",
        "baseline_ms_median": round(float(np.median(b)), 4),
        "ratio_median": round(float(np.median(t) / np.median(b)), 1),
        "cv2_threads": cv2.getNumThreads(),
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def _print_speed(s: dict) -> None:
    print(
        f"speed: locate median {s['locate_ms_median']:.2f} ms, p90 {s['locate_ms_p90']:.2f}"
        f" ms per 352x128 map; baseline {s['baseline_ms_median']:.3f} ms "
        f"(ratio {s['ratio_median']:.0f}x); load average {s['load_average_1min']}"
    )


def _deviated_section(topos: list[int], n: int, seed: int) -> dict:
    """Measure and print the deviated-bead accuracy of every topology."""
    t0 = time.perf_counter()
    results = [evaluate_deviated(t, n, seed) for t in topos]
    print(
        f"deviated: {'topo':>4} {'n':>4} {'miss':>4} {'centre':>6} {'part':>6} | "
        f"{'cl p50':>6} {'cl p95':>6} {'pt p50':>6} {'pt p95':>6} {'ang p50':>7}"
    )
    for r in results:
        cl, pt, ang = r["centreline_error_px"], r["deviated_part_error_px"], r["angle_error_deg"]
        print(
            f"          {r['topology']:>4} {r['drawn']:>4} {r['not_found']:>4} "
            f"{r['pass_centreline']:>6.3f} {r['pass_deviated_part']:>6.3f} | "
            f"{cl.get('p50', np.nan):>6.2f} {cl.get('p95', np.nan):>6.2f} "
            f"{pt.get('p50', np.nan):>6.2f} {pt.get('p95', np.nan):>6.2f} "
            f"{ang.get('p50', np.nan):>7.2f}"
        )
    return {
        "defect": "bead_deviation (default config)",
        "criterion_px": CENTRE_MAX,
        "results": results,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _scans_sections(topos: list[int], args: argparse.Namespace) -> dict:
    """The layouts, perturbed and scanner parts (bench/geometry_scans.py), printed."""
    import geometry_scans as gs

    limits = (ANGLE_MAX, CENTRE_MAX, WIDTH_MAX)
    out: dict = {"layouts": gs.layouts_section()}
    for name, r in out["layouts"].items():
        print(f"layout {name:34s} {r['kind']:7s} (expected {r['expected']}) {r['warnings']}")
    parts = (
        ("perturbed", args.n_perturbed, gs.perturbed_section, "artefacts"),
        ("scanner", args.n_scans, gs.scanner_section, "noise"),
    )
    for key, n, section, table in parts:
        if n <= 0:
            continue
        out[key] = dict(section(topos, n, args.seed, limits), n_per_topology=n)
        for name, r in out[key].get(table, {}).items():
            print(
                f"{key} {name:14s} n {r['n']:4d} pass {r['pass_all']:.3f} miss "
                f"{r['not_found']:3d} wrong closed {r['wrong_closed']} warned {r['warned']}"
            )
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a table, write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="welds per topology")
    ap.add_argument(
        "--n-deviated",
        type=int,
        default=100,
        help="welds per topology with a bead_deviation (0: skip)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--topologies", type=str, default="", help="comma list (default: all)")
    ap.add_argument("--out", type=Path, default=Path("bench/results/geometry.json"))
    ap.add_argument("--no-speed", action="store_true", help="skip the timing")
    ap.add_argument(
        "--speed-only",
        action="store_true",
        help="time again and update the speed of an existing --out file",
    )
    ap.add_argument(
        "--deviated-only",
        action="store_true",
        help="measure deviated beads only and update that part of --out",
    )
    ap.add_argument(
        "--n-perturbed", type=int, default=25, help="welds per topology and artefact set (0: skip)"
    )
    ap.add_argument(
        "--n-scans", type=int, default=4, help="simulated scans per topology and noise (0: skip)"
    )
    ap.add_argument(
        "--scans-only",
        action="store_true",
        help="measure layouts, perturbed and scanner welds only and update those parts of --out",
    )
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    topos = [int(t) for t in args.topologies.split(",") if t] or list(TOPOLOGIES)
    if args.scans_only:
        report = json.loads(args.out.read_text(encoding="utf-8"))
        report.update(_scans_sections(topos, args))
        if not args.no_write:
            atomic_write_bytes(args.out, (json.dumps(report, indent=2) + "\n").encode("utf-8"))
            print(f"wrote {args.out}")
        return 0
    if args.deviated_only:
        report = json.loads(args.out.read_text(encoding="utf-8"))
        report["deviated"] = _deviated_section(topos, args.n_deviated, args.seed)
        if not args.no_write:
            atomic_write_bytes(args.out, (json.dumps(report, indent=2) + "\n").encode("utf-8"))
            print(f"wrote {args.out}")
        return 0
    if args.speed_only:
        report = json.loads(args.out.read_text(encoding="utf-8"))
        report["speed"] = speed(args.seed)
        _print_speed(report["speed"])
        if not args.no_write:
            atomic_write_bytes(args.out, (json.dumps(report, indent=2) + "\n").encode("utf-8"))
            print(f"wrote {args.out}")
        return 0
    t0 = time.perf_counter()
    results = [evaluate(t, args.n, args.seed) for t in topos]
    print(
        f"{'topo':>4} {'kind':>6} {'n':>4} {'miss':>4} {'angle':>6} {'centre':>6} "
        f"{'width':>6} {'all':>6} | {'cl p95':>6} {'w p95':>6} {'ang p95':>7}"
    )
    for r in results:
        print(
            f"{r['topology']:>4} {r['kind']:>6} {r['n']:>4} {r['not_found']:>4} "
            f"{r['pass_angle']:>6.3f} {r['pass_centreline']:>6.3f} {r['pass_width']:>6.3f} "
            f"{r['pass_all']:>6.3f} | {r['centreline_error_px'].get('p95', float('nan')):>6.2f} "
            f"{r['width_error_rel'].get('p95', float('nan')):>6.3f} "
            f"{r['angle_error_deg'].get('p95', float('nan')):>7.2f}"
        )
    report = {
        "benchmark": "geometry.locate",
        "seed": args.seed,
        "criteria": {
            "angle_deg": ANGLE_MAX,
            "centreline_px": CENTRE_MAX,
            "width_rel": WIDTH_MAX,
            "target_pass_rate": 0.95,
        },
        "accuracy": results,
        "accuracy_seconds": round(time.perf_counter() - t0, 1),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "machine": platform.machine(),
    }
    if args.n_deviated > 0:
        report["deviated"] = _deviated_section(topos, args.n_deviated, args.seed)
    report.update(_scans_sections(topos, args))
    if not args.no_speed:
        report["speed"] = speed(args.seed)
        _print_speed(report["speed"])
    if not args.no_write:
        text = json.dumps(report, indent=2) + "\n"
        atomic_write_bytes(args.out, text.encode("utf-8"))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
