"""One scan to one calibrated height map: plane, rotation, grid, spikes, gaps, grey levels.

:func:`import_points` does the maths on an (N, 3) array; :func:`import_file` reads a file
first. The result carries the pixels, the :class:`~weldsynth.io.calibration.Calibration`
and the provenance the sidecar records (:func:`sidecar`), including ``pixel_to_source``:
the 3 x 4 matrix that maps ``(col, row, height_mm, 1)`` of an output pixel back to the
source (robot) frame, in mm.

Grey levels: 0 is no data; levels 1..max span the height range (default: the lowest to
the highest measured cell), so ``height_mm`` per level and ``height_offset_mm`` (the
height of level 0) follow the calibration's ``height_range_mm`` rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from weldsynth.io.calibration import Calibration
from weldsynth.io.heightmap import MIN_SIDE
from weldsynth.io.scan.align import (
    MIN_ANISOTROPY,
    bead_angle,
    crest_correction,
    normalise_angle,
    rotate_xy,
)
from weldsynth.io.scan.errors import ScanError
from weldsynth.io.scan.plane import Frame, fit_plane, identity_frame, plane_frame
from weldsynth.io.scan.raster import (
    covered_cells,
    fill_gaps,
    grid_spec,
    point_spacing,
    rasterise_max,
    reference_surface,
    spike_points,
)
from weldsynth.io.scan.readers import read_scan

PLATE_PLANE_MODES = ("remove", "keep")
ALIGN_MODES = ("bead", "none")
AUTO_FILL_PITCHES = 1.5
"""Default ``fill_gaps_mm``: this many times the larger of line pitch and pixel size."""
COARSE_CELLS = 2_000_000
"""Largest coarse grid (spikes, bead direction); its pitch grows to stay below."""


@dataclass(frozen=True)
class ImportOptions:
    """What ``weldsynth import`` was asked to do (see the command's ``--help``)."""

    pixel_mm: float | None = None
    plate_plane: str = "remove"
    align: str = "bead"
    fill_gaps_mm: float | None = None
    height_range_mm: tuple[float, float] | None = None
    bit_depth: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        if self.plate_plane not in PLATE_PLANE_MODES:
            raise ScanError(f"plate_plane must be one of {PLATE_PLANE_MODES}")
        if self.align not in ALIGN_MODES:
            raise ScanError(f"align must be one of {ALIGN_MODES}")
        if self.bit_depth not in (8, 16):
            raise ScanError(f"bit depth must be 8 or 16, got {self.bit_depth}")
        span = self.height_range_mm
        if span is not None and not (math.isfinite(span[0]) and span[1] > span[0]):
            raise ScanError(f"height range must be LOW HIGH with HIGH > LOW, got {span}")


@dataclass
class ImportedMap:
    """A height map made from a scan.

    Attributes:
        pixels: uint16 (or uint8) levels, 0 = no data.
        calibration: Pixel pitch and height per level.
        heights_mm: float32 heights above the plate (0 where no data).
        valid: Measured (or gap-filled) cells.
        info: Provenance for the sidecar.
    """

    pixels: np.ndarray
    calibration: Calibration
    heights_mm: np.ndarray = field(repr=False)
    valid: np.ndarray = field(repr=False)
    info: dict[str, Any] = field(default_factory=dict)


def import_file(path: Path, options: ImportOptions, root: Path | None = None) -> ImportedMap:
    """Read one scan file and import it (:func:`import_points`)."""
    data = read_scan(path, options.pixel_mm, root)
    if len(data.points) == 0:
        total = data.dropped
        detail = f" (all {total} rows have NaN or infinite coordinates)" if total else ""
        raise ScanError(f"{path}: empty cloud{detail}")
    imported = import_points(data.points, options, name=str(path))
    imported.info.update(format=data.format, points_dropped=data.dropped)
    if data.grid_pitch_mm is not None:
        imported.info["source_pitch_mm"] = list(data.grid_pitch_mm)
        imported.info["source_pitch_from"] = data.pitch_from
    return imported


def import_points(points: np.ndarray, options: ImportOptions, name: str = "cloud") -> ImportedMap:
    """Turn (N, 3) finite points in mm into a calibrated height map (module docstring).

    Raises:
        ScanError: degenerate cloud, a grid too large for memory or smaller than
            ``MIN_SIDE`` px, a flat map.
    """
    plane = fit_plane(points, options.seed, name)
    levelled = plane_frame(plane, points)
    local = levelled.to_local(points)
    frame = levelled if options.plate_plane == "remove" else identity_frame()
    xy = local[:, :2] if options.plate_plane == "remove" else points[:, :2]
    z = local[:, 2] if options.plate_plane == "remove" else points[:, 2]
    spacing, pitch = point_spacing(xy, options.seed)
    pixel = float(options.pixel_mm) if options.pixel_mm else _round(spacing)
    spikes, angle, anisotropy = _spikes_and_direction(xy, local[:, 2], max(pitch, pixel), name)
    if options.align == "none":
        angle = 0.0
    xy, z = rotate_xy(xy[~spikes], -angle), z[~spikes]
    spec = grid_spec(xy, pixel, name)
    if min(spec.rows, spec.cols) < MIN_SIDE:
        raise ScanError(
            f"{name}: the grid is only {spec.cols} x {spec.rows} px at {pixel:g} mm/px "
            f"(at least {MIN_SIDE} a side); use a smaller --pixel-mm"
        )
    grid, valid = rasterise_max(xy, z, spec)
    fill = options.fill_gaps_mm
    fill = AUTO_FILL_PITCHES * max(pitch, pixel) if fill is None else float(fill)
    grid, valid = fill_gaps(grid, valid, fill, pixel)
    pixels, calibration, span = quantise(grid, valid, pixel, options, name)
    info: dict[str, Any] = {
        "points": len(points),
        "plate_plane": options.plate_plane,
        "plane": plane.to_dict(),
        "align": options.align,
        "rotation_deg": round(angle, 4),
        "bead_anisotropy": round(anisotropy, 4),
        "point_spacing_mm": round(spacing, 6),
        "line_pitch_mm": round(pitch, 6),
        "pixel_mm": pixel,
        "aggregate": "max",
        "fill_gaps_mm": round(fill, 6),
        "spikes_removed": int(np.count_nonzero(spikes)),
        "nodata_fraction": round(1.0 - float(np.count_nonzero(valid)) / valid.size, 6),
        "height_range_mm": [round(span[0], 6), round(span[1], 6)],
        "shape": [spec.rows, spec.cols],
        "pixel_to_source": pixel_to_source(frame, spec.x0, spec.y_top, pixel, angle).tolist(),
    }
    heights = np.where(valid, grid, 0.0).astype(np.float32)
    return ImportedMap(pixels, calibration, heights, valid, info)


def _spikes_and_direction(
    xy: np.ndarray, height: np.ndarray, pitch: float, name: str
) -> tuple[np.ndarray, float, float]:
    """Spike points, bead angle and anisotropy, from a coarse grid of the levelled heights
    (pitch: the line pitch or the pixel size, whichever is larger, so every cell holds
    points; at most ``COARSE_CELLS`` cells)."""
    area = float(np.prod(np.ptp(xy, axis=0) + pitch))
    pitch = max(pitch, math.sqrt(area / COARSE_CELLS))
    spec = grid_spec(xy, pitch, name)
    grid, valid = rasterise_max(xy, height, spec)
    reference = reference_surface(grid, valid)
    spikes = spike_points(xy, height, spec, reference)
    angle, anisotropy = bead_angle(reference, covered_cells(valid))
    if anisotropy >= MIN_ANISOTROPY:
        turned = rotate_xy(xy[~spikes], -angle)
        spec = grid_spec(turned, pitch, name)
        grid, valid = rasterise_max(turned, height[~spikes], spec)
        correction = crest_correction(reference_surface(grid, valid), covered_cells(valid))
        angle = normalise_angle(angle + (correction or 0.0))
    return spikes, angle, anisotropy


def quantise(
    grid: np.ndarray, valid: np.ndarray, pixel_mm: float, options: ImportOptions, name: str
) -> tuple[np.ndarray, Calibration, tuple[float, float]]:
    """Heights in mm to grey levels 1..max over the height range (0 = no data).

    Returns:
        (pixels, calibration, (low, high) in mm).
    """
    if not valid.any():
        raise ScanError(f"{name}: no measured cell left")
    if options.height_range_mm is not None:
        lo, hi = (float(v) for v in options.height_range_mm)
    else:
        lo, hi = float(grid[valid].min()), float(grid[valid].max())
    if not hi > lo:
        raise ScanError(f"{name}: flat map (every height is {lo:g} mm); nothing to scale")
    top = (1 << options.bit_depth) - 1
    per_level = (hi - lo) / (top - 1)
    levels = 1.0 + np.rint((grid.astype(np.float64) - lo) / per_level)
    dtype = np.uint16 if options.bit_depth == 16 else np.uint8
    pixels = np.where(valid, np.clip(levels, 1, top), 0).astype(dtype)
    calibration = Calibration(
        pixel_mm_x=pixel_mm,
        pixel_mm_y=pixel_mm,
        height_mm=per_level,
        height_offset_mm=lo - per_level,
        source="import",
    )
    return pixels, calibration, (lo, hi)


def pixel_to_source(
    frame: Frame, x0: float, y_top: float, pixel_mm: float, angle_deg: float
) -> np.ndarray:
    """3 x 4 matrix: source point = M @ (col, row, height_mm, 1).

    A pixel's centre is (x0 + col * p, y_top - row * p) in the rotated frame; rotating it
    back by ``angle_deg`` gives (u, v) in ``frame``; the point is origin + u x + v y + h z.
    """
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    e1, e2 = frame.x_axis, frame.y_axis
    m = np.empty((3, 4))
    m[:, 0] = pixel_mm * (c * e1 + s * e2)
    m[:, 1] = pixel_mm * (s * e1 - c * e2)
    m[:, 2] = frame.z_axis
    m[:, 3] = frame.origin + (c * x0 - s * y_top) * e1 + (s * x0 + c * y_top) * e2
    return m


def sidecar(imported: ImportedMap, source: str) -> dict[str, Any]:
    """The JSON sidecar: the calibration object and the import's provenance."""
    from weldsynth import __version__

    info = {"source": source, **imported.info, "weldsynth_version": __version__}
    return {"calibration": imported.calibration.to_dict(), "import": info}


def _round(value: float) -> float:
    """A measured spacing to 3 significant digits (a tidy default pixel size)."""
    if value <= 0 or not math.isfinite(value):
        raise ScanError(f"cannot derive a pixel size from a point spacing of {value}")
    digits = 2 - math.floor(math.log10(value))
    return round(value, digits)
