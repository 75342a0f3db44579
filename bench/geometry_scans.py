"""Parts of ``bench/geometry.py``: ``locate`` on welds as real scanners deliver them.

* **layouts**: the bead layouts that failed on real scans (``tests/bead_scenes.py``: a bead
  wider than the map is long, a grooved wide cap, a T, two parallel walls, a bead cut by
  the border, a bead beside a plate edge, a square weld): the kind found against the kind
  expected.
* **perturbed**: procedural welds (the benchmark's variation) with the scanner artefacts
  of ``tests/scan_artefacts.py`` (noise 0.01-0.15 mm at 0.01 mm per 8-bit grey level, line
  pitch 2-4 with per-line offsets, spikes, dropouts and lost lines; laser lines across the
  bead); pass rate at the accuracy criteria per artefact set.
* **scanner**: point clouds of ``weldsynth.synth.scanner`` (noise 0.01, 0.05 and 0.15 mm,
  line pitch 2-4 point spacings, occlusion, spikes, dropouts, tilted robot frame) imported
  by ``weldsynth.io.scan.pipeline.import_points`` at the surface's 0.25 mm/px; the truth
  centreline is carried into the imported map through the import's ``pixel_to_source``.
  Skipped (reported as such) where the scanner or the import is not installed.

Every part counts **wrong closed claims**: a closed bead reported where the truth is not
closed (target 0).
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import bead_scenes
from scan_artefacts import PRESETS, apply

from weldsynth.geometry import locate
from weldsynth.geometry.path import BeadPath, angle_difference, axis_angle

SCAN_NOISE_MM = (0.01, 0.05, 0.15)
SCAN_PITCHES = (2, 3, 4)
ARTEFACT_STREAM = 7933
"""Extra SeedSequence word for the artefact draws."""


def judge(truth: BeadPath, truth_angle: float | None, geo, limits: tuple) -> dict:
    """One row: found, kind right, the three errors, pass, wrong closed claim."""
    from geometry import centreline_error  # the benchmark's own measure

    angle_max, centre_max, width_max = limits
    row = {
        "found": geo.found,
        "reason": geo.reason,
        "warnings": list(geo.warnings),
        "wrong_closed": geo.kind == "closed" and not truth.closed,
    }
    if not geo.found or geo.path is None:
        row["pass"] = False
        return row
    row["closed_ok"] = geo.path.closed == truth.closed
    angle = 0.0
    if not truth.closed:
        angle = 90.0 if geo.axis_angle is None else angle_difference(truth_angle, geo.axis_angle)
    row["angle_error"] = angle
    row["centre_error"] = centreline_error(truth, geo.path)
    row["width_error"] = abs(geo.path.mean_width - truth.mean_width) / truth.mean_width
    row["pass"] = bool(
        row["closed_ok"]
        and angle <= angle_max
        and row["centre_error"] <= centre_max
        and row["width_error"] <= width_max
    )
    return row


def summary(rows: list[dict]) -> dict:
    """Pass rate, not found, wrong closed claims, warned rows and error percentiles."""
    found = [r for r in rows if r["found"]]

    def pct(key: str) -> dict:
        vals = np.array([r[key] for r in found if key in r], dtype=np.float64)
        if vals.size == 0:
            return {}
        out = {f"p{q}": round(float(np.percentile(vals, q)), 4) for q in (50, 95)}
        return dict(out, max=round(float(vals.max()), 4))

    return {
        "n": len(rows),
        "pass_all": round(float(np.mean([r["pass"] for r in rows])), 4) if rows else 0.0,
        "not_found": len(rows) - len(found),
        "wrong_closed": sum(r["wrong_closed"] for r in rows),
        "warned": sum(bool(r["warnings"]) for r in found),
        "not_found_reasons": sorted({str(r["reason"]) for r in rows if not r["found"]})[:5],
        "centreline_error_px": pct("centre_error"),
        "width_error_rel": pct("width_error"),
    }


LAYOUTS = {
    "wide bead over the whole height": (lambda: bead_scenes.wide_crossing_bead()[0], "line"),
    "wide bead over the whole width": (
        lambda: bead_scenes.wide_crossing_bead_horizontal()[0],
        "line",
    ),
    "grooved wide cap": (bead_scenes.grooved_cap, "line"),
    "T of two beads": (lambda: bead_scenes.t_joint()[0], "line"),
    "two parallel beads": (lambda: bead_scenes.parallel_beads()[0], "none"),
    "bead at the image edge": (lambda: bead_scenes.bead_at_edge()[0], "line"),
    "bead and a plate edge": (lambda: bead_scenes.bead_and_plate_edge()[0], "line"),
    "square weld": (lambda: bead_scenes.square_weld()[0], "closed"),
}


def layouts_section() -> dict:
    """Kind found on each layout scene against the kind expected."""
    out = {}
    for name, (make, expected) in LAYOUTS.items():
        geo = locate(make())
        out[name] = {
            "expected": expected,
            "kind": geo.kind,
            "ok": geo.kind == expected,
            "reason": geo.reason,
            "warnings": list(geo.warnings),
        }
    return out


def perturbed_section(topos: list[int], n: int, seed: int, limits: tuple) -> dict:
    """Pass rates on the benchmark's welds under each artefact set of ``PRESETS``."""
    from geometry import make_case

    t0 = time.perf_counter()
    out = {}
    for name, art in PRESETS.items():
        rows = []
        for topology in topos:
            for index in range(n):
                _, weld = make_case(topology, index, seed)
                angle = weld.truth["axis_angle"]
                lines = replace(art, axis=0 if angle is not None and abs(angle) > 45 else 1)
                ss = np.random.SeedSequence([seed, topology, index, ARTEFACT_STREAM])
                height = apply(weld.height, lines, np.random.default_rng(ss))
                rows.append(judge(weld.path, angle, locate(height), limits))
        out[name] = summary(rows)
    return {"artefacts": out, "seconds": round(time.perf_counter() - t0, 1)}


def scanner_section(topos: list[int], n: int, seed: int, limits: tuple) -> dict:
    """Pass rates on simulated laser scans imported to height maps, per noise level."""
    try:
        from weldsynth.io.scan.pipeline import ImportOptions, import_points
        from weldsynth.synth.scanner import ScannerSettings, simulate_scan
    except ImportError as exc:
        return {"skipped": f"scanner or import not available ({exc})"}
    t0 = time.perf_counter()
    out = {}
    for noise in SCAN_NOISE_MM:
        rows = []
        for topology in topos:
            for index in range(n):
                pitch = SCAN_PITCHES[index % len(SCAN_PITCHES)]
                cfg = ScannerSettings(noise_mm=noise, line_pitch_mm=0.1 * pitch)
                scan = simulate_scan(topology, seed=seed, index=index, settings=cfg)
                try:
                    imported = import_points(scan.points, ImportOptions(pixel_mm=0.25))
                except ValueError as exc:  # the import refused the cloud
                    rows.append(
                        {
                            "found": False,
                            "reason": f"import: {exc}",
                            "pass": False,
                            "wrong_closed": False,
                            "warnings": [],
                        }
                    )
                    continue
                truth = _truth_in_map(scan, imported)
                angle = None if truth.closed else axis_angle(truth.end - truth.start)
                geo = locate(imported.pixels)
                rows.append(dict(judge(truth, angle, geo, limits), topology=topology))
        out[f"noise {noise} mm"] = summary(rows)
    return {
        "pixel_mm": 0.25,
        "line_pitch_points": list(SCAN_PITCHES),
        "noise": out,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _truth_in_map(scan, imported) -> BeadPath:
    """The scan's truth centreline in the imported map's pixels (via ``pixel_to_source``)."""
    m = np.asarray(imported.info["pixel_to_source"], dtype=np.float64)
    pts, widths, closed = scan.truth_path_mm()
    z = scan.surface_at(pts[:, 0], pts[:, 1])
    rot, shift = scan.to_robot[:3, :3], scan.to_robot[:3, 3]
    robot = np.column_stack([pts, z]) @ rot.T + shift
    col_row_h = np.linalg.solve(m[:, :3], (robot - m[:, 3]).T).T
    pixel_mm = float(imported.info["pixel_mm"])
    return BeadPath(col_row_h[:, :2], widths / pixel_mm, closed=closed)
