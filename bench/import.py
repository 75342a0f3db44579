"""Benchmark of ``weldsynth import``: speed and memory per format, accuracy on simulated scans.

**Speed** (``--points``, default about 1 M): one simulated laser scan
(:mod:`weldsynth.synth.scanner`, point spacing 0.03 mm, line pitch 0.08 mm) written in every
format: PCD (ascii, binary, binary_compressed: with coordinates quantised to 1 um, as
scanners report them, so that LZF can compress them), PLY (binary little-endian, ascii), XYZ
text, CSV, NPY points, and the scanner's profile image (one laser line per row, anisotropic
pixels) as a float TIFF with a calibration sidecar, as a float TIFF with the pitch in its
resolution tags, and as a CSV with one profile per row. Per format: the read alone and the
whole import (read, plane, direction, grid at the median point spacing, spikes, gaps,
levels), in points per second (best of ``--repeat``), and the import's peak traced memory
(``tracemalloc``, a separate run). ``ru_maxrss`` of the process is recorded at the end.

**Accuracy** (``--n`` scans per topology and noise level; default scanner otherwise: spacing
0.1 mm, pitch 0.3 mm, camera 45 degrees, spikes, dropouts, tilted robot frame):

* imported at 0.1 mm/px with the defaults, the height error of every output pixel against
  the true surface (through the sidecar's ``pixel_to_source``; RMSE and p99 in mm);
* imported at 0.25 mm/px (the procedural surface's own pitch: maps of about 360 x 130 px,
  the size ``bench/geometry.py``'s pixel criteria were made for), ``locate`` on the map as
  it is when run: found rate, centreline error (median distance of the truth centreline,
  every 1 px, to the found polyline; px and mm), width error (relative, mean widths), axis
  angle error (line beads), pass (centreline <= 2 px, width <= 15 %, angle <= 3 degrees)
  and wrong closed claims. The occlusion shadow hides the toe of one flank, which moves the
  visible bead's centre by about 0.1 mm (median): real, and part of the figures.

    python bench/import.py [--points 1000000] [--n 4] [--out bench/results/import.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.geometry import locate
from weldsynth.geometry.path import BeadPath, angle_difference, axis_angle
from weldsynth.io.scan.pipeline import ImportOptions, import_file, import_points
from weldsynth.io.scan.readers import read_scan
from weldsynth.io.scan.writers import write_tiff
from weldsynth.synth.scanner import ScannerSettings, simulate_scan, write_scan

FORMATS = {
    "pcd_ascii": ("s_a.pcd", {"encoding": "ascii"}),
    "pcd_binary": ("s_b.pcd", {"encoding": "binary"}),
    "pcd_binary_compressed": ("s_c.pcd", {"encoding": "binary_compressed"}),
    "ply_binary_le": ("s_b.ply", {"binary": True}),
    "ply_ascii": ("s_a.ply", {"binary": False}),
    "xyz": ("s.xyz", {}),
    "csv": ("s.csv", {}),
    "npy": ("s.npy", None),
    "tiff_float32": ("s.tif", {}),
    "tiff_float32_resolution_tags": ("t.tif", "tags"),
    "profiles_csv": ("p.csv", "profiles"),
}
TOPOLOGIES = (2, 4, 5, 9, 7)
NOISE_MM = (0.01, 0.05, 0.15)
CENTRE_MAX, WIDTH_MAX, ANGLE_MAX = 2.0, 0.15, 3.0
HEIGHT_PIXEL_MM = 0.1
LOCATE_PIXEL_MM = 0.25


def speed(points_wanted: int, repeat: int) -> dict:
    """Read and import throughput, and import peak memory, per format."""
    # the default weld surface in mm^2, the part the scanner can measure (not the weld's
    # no-data side)
    area = 87.75 * 31.75 * float(simulate_scan(9, seed=0).measurable.mean())
    pitch = math.sqrt(area / points_wanted / (0.03 / 0.08))
    cfg = ScannerSettings(point_spacing_mm=0.375 * pitch, line_pitch_mm=pitch)
    scan = simulate_scan(9, seed=0, settings=cfg)
    scan.points = np.round(scan.points, 3)  # micrometre steps, as scanners report them
    out: dict = {"points": len(scan.points), "spacing_mm": round(cfg.point_spacing_mm, 4)}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (file, options) in FORMATS.items():
            path = _write(scan, Path(tmp) / file, options)
            n = len(read_scan(path).points)
            read_s = min(_timed(lambda p=path: read_scan(p)) for _ in range(repeat))
            import_s = min(
                _timed(lambda p=path: import_file(p, ImportOptions())) for _ in range(repeat)
            )
            tracemalloc.start()
            import_file(path, ImportOptions())
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            out[name] = {
                "points": n,
                "written_as": _encoding(path),
                "file_mb": round(path.stat().st_size / 2**20, 1),
                "read_points_per_s": round(n / read_s),
                "import_points_per_s": round(n / import_s),
                "import_s": round(import_s, 2),
                "import_peak_mb": round(peak / 2**20, 1),
            }
            print(f"{name:>22}: {out[name]}", flush=True)
    return out


def _write(scan, path: Path, options: dict | str | None) -> Path:
    """Write the scan in one of FORMATS: points, the profile image as a TIFF with resolution
    tags (``"tags"``) or a CSV of profiles with a pitch sidecar (``"profiles"``)."""
    pitch = (scan.settings.point_spacing_mm, scan.settings.line_pitch_mm)
    if options is None:
        np.save(path, scan.points)
    elif options == "tags":
        write_tiff(path, scan.image, pixel_mm=pitch)
    elif options == "profiles":
        np.savetxt(path, scan.image, delimiter=",", fmt="%.4f")
        sidecar = {"calibration": {"pixel_mm": list(pitch)}}
        path.with_suffix(".json").write_text(json.dumps(sidecar), encoding="utf-8")
    else:
        write_scan(scan, path, **options)
    return path


def _encoding(path: Path) -> str:
    """What the file really holds: a PCD's DATA line (pypcd4 writes ``binary`` when LZF
    cannot shrink noisy float32 coordinates), a PLY's format line, else the suffix."""
    head = path.read_bytes()[:400]
    for key in (b"DATA ", b"format "):
        at = head.find(b"\n" + key)
        if at >= 0:
            return head[at + 1 :].split(b"\n", 1)[0].decode("ascii", "replace")
    return path.suffix[1:]


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def accuracy(n: int, seed: int) -> dict:
    """Height error and locate's accuracy on imported simulated scans, per noise level."""
    out = {}
    for noise in NOISE_MM:
        rows = []
        for topology in TOPOLOGIES:
            for index in range(n):
                scan = simulate_scan(topology, seed, index, ScannerSettings(noise_mm=noise))
                fine = import_points(scan.points, ImportOptions(pixel_mm=HEIGHT_PIXEL_MM))
                coarse = import_points(scan.points, ImportOptions(pixel_mm=LOCATE_PIXEL_MM))
                rows.append(dict(_heights(scan, fine), **_judge(scan, coarse), topology=topology))
        out[f"noise {noise} mm"] = _summary(rows)
        print(f"noise {noise} mm: {out[f'noise {noise} mm']}", flush=True)
    return out


def _heights(scan, imported) -> dict:
    """Height error of every output pixel against the true surface."""
    m = np.asarray(imported.info["pixel_to_source"])
    r, c = np.nonzero(imported.valid)
    cells = np.stack([c, r, imported.heights_mm[r, c], np.ones_like(c)]).astype(float)
    error = scan.height_error((m @ cells).T)
    return {
        "rmse_mm": float(np.sqrt(np.mean(error**2))),
        "p99_mm": float(np.quantile(np.abs(error), 0.99)),
    }


def _judge(scan, imported) -> dict:
    """locate on the imported map against the truth carried into its pixels."""
    m = np.asarray(imported.info["pixel_to_source"])
    pixel = float(imported.info["pixel_mm"])
    pts, widths, closed = scan.truth_path_mm()
    robot = np.column_stack([pts, scan.surface_at(pts[:, 0], pts[:, 1])])
    robot = robot @ scan.to_robot[:3, :3].T + scan.to_robot[:3, 3]
    crh = np.linalg.solve(m[:, :3], (robot - m[:, 3]).T).T
    truth = BeadPath(crh[:, :2], widths / pixel, closed=closed)
    geo = locate(imported.pixels)
    row = {
        "found": bool(geo.found),
        "wrong_closed": bool(geo.found and geo.path.closed and not closed),
    }
    if not geo.found or geo.path is None:
        return dict(row, passed=False)
    centre = float(np.median(_distance(truth.resample(1.0), geo.path)))
    width = abs(geo.path.mean_width - truth.mean_width) / truth.mean_width
    angle = 0.0
    if not closed:
        found_angle = geo.axis_angle
        angle = (
            90.0
            if found_angle is None
            else angle_difference(axis_angle(truth.end - truth.start), found_angle)
        )
    passed = centre <= CENTRE_MAX and width <= WIDTH_MAX and angle <= ANGLE_MAX
    return dict(
        row,
        centre_px=centre,
        centre_mm=centre * pixel,
        width_rel=width,
        angle_deg=angle,
        passed=passed,
    )


def _distance(pts: np.ndarray, path: BeadPath) -> np.ndarray:
    verts = path.vertices
    a, seg = verts[:-1], np.diff(verts, axis=0)
    len2 = np.maximum(np.einsum("ij,ij->i", seg, seg), 1e-12)
    rel = pts[:, None, :] - a[None, :, :]
    t = np.clip(np.einsum("pij,ij->pi", rel, seg) / len2, 0.0, 1.0)
    diff = rel - t[..., None] * seg[None, :, :]
    return np.sqrt(np.min(np.einsum("pij,pij->pi", diff, diff), axis=1))


def _summary(rows: list[dict]) -> dict:
    found = [r for r in rows if r["found"]]

    def pct(key: str, q: float) -> float | None:
        vals = [r[key] for r in found if key in r]
        return round(float(np.percentile(vals, q)), 4) if vals else None

    return {
        "scans": len(rows),
        "height_rmse_mm_median": round(float(np.median([r["rmse_mm"] for r in rows])), 4),
        "height_rmse_mm_max": round(float(np.max([r["rmse_mm"] for r in rows])), 4),
        "height_p99_mm_median": round(float(np.median([r["p99_mm"] for r in rows])), 4),
        "found_rate": round(len(found) / len(rows), 3),
        "pass_rate": round(sum(r["passed"] for r in rows) / len(rows), 3),
        "wrong_closed_claims": sum(r["wrong_closed"] for r in rows),
        "centre_px_p50": pct("centre_px", 50),
        "centre_px_p95": pct("centre_px", 95),
        "centre_px_max": pct("centre_px", 100),
        "centre_mm_p50": pct("centre_mm", 50),
        "width_rel_p50": pct("width_rel", 50),
        "width_rel_p95": pct("width_rel", 95),
        "width_rel_max": pct("width_rel", 100),
        "angle_deg_p95": pct("angle_deg", 95),
        "failed": [
            {
                "topology": r["topology"],
                **{k: r.get(k) for k in ("found", "centre_px", "width_rel")},
            }
            for r in rows
            if not r["passed"]
        ],
    }


def environment() -> dict:
    """Machine, load and CPU flags next to the timings."""
    flags = []
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                flags = sorted(have & {"sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw"})
                break
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "cpu_flags": flags,
        "float": "float64 points, float32 grids",
        "load_average_1min_start": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--n", type=int, default=4, help="scans per topology and noise level")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/import.json"))
    args = parser.parse_args(argv)
    env = environment()
    t0 = time.perf_counter()
    result = {
        "environment": env,
        "speed": speed(args.points, args.repeat),
        "accuracy": {
            "height_pixel_mm": HEIGHT_PIXEL_MM,
            "locate_pixel_mm": LOCATE_PIXEL_MM,
            "topologies": list(TOPOLOGIES),
            "criteria": {"centre_px": CENTRE_MAX, "width_rel": WIDTH_MAX, "angle_deg": ANGLE_MAX},
            "noise": accuracy(args.n, args.seed),
        },
    }
    env["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    env["ru_maxrss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    env["seconds"] = round(time.perf_counter() - t0, 1)
    atomic_write_bytes(args.out, (json.dumps(result, indent=1) + "\n").encode("utf-8"))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
