"""A virtual laser line scanner: point clouds of procedural welds, with their truth.

The surface is a procedural good weld (:func:`weldsynth.synth.samples.generate_weld`, no
noise, no shadows), in mm: ``surface_pixel_mm`` per image pixel, ``height_scale_mm`` per unit
of height, the plate at about 0. Where a weld with a plate has no data (the other plate, out
of the sensor's view) the scanner measures nothing and that side casts no shadow; a bead
without a plate (an isolated bead) lies on a plate at its foot's height. In this **weld
frame** x runs along the image columns and y up the image (row 0 is the top).

The scanner projects a laser line (points every ``point_spacing_mm``) and moves it by
``line_pitch_mm`` along the feed direction (``sweep_deg`` from +x). The camera looks along
the feed at ``view_angle_deg`` from vertical, so a point is **occluded** when the surface
rises above its line of sight (the shadow behind the bead). Then Gaussian **noise**
(``noise_mm``), **spikes** (``spike_fraction`` of the points moved by 0.5-1 x ``spike_mm``
up or down) and **dropouts** (runs of ``DROPOUT_RUN`` points along a line, starting with
probability ``dropout_fraction / DROPOUT_RUN``). Finally the points go to the **robot
frame**: rotated by ``tilt_deg`` (about x, then y, then z) and moved by ``offset_mm``.

Every draw comes from :func:`weldsynth.core.seeding.rng_for` of ``(seed, "scanner",
topology, index)``. Typical use::

    scan = simulate_scan(9, seed=0)
    write_scan(scan, "scans/9/9_0000.pcd")          # or .ply, .xyz, .csv, .tif
    err = scan.height_error(robot_points)           # mm above the true surface
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from weldsynth.core.atomic import atomic_write_text
from weldsynth.core.seeding import rng_for
from weldsynth.io.scan.writers import write_points, write_tiff
from weldsynth.synth.samples import SyntheticWeld, generate_weld, sample_seed

DROPOUT_RUN = 8
"""Points lost together along a laser line by one dropout."""


@dataclass(frozen=True)
class ScannerSettings:
    """The virtual scanner (see the module docstring). Lengths in mm, angles in degrees."""

    point_spacing_mm: float = 0.1
    line_pitch_mm: float = 0.3
    view_angle_deg: float = 45.0
    sweep_deg: float = 90.0
    noise_mm: float = 0.03
    spike_fraction: float = 0.0005
    spike_mm: float = 3.0
    dropout_fraction: float = 0.01
    tilt_deg: tuple[float, float, float] = (4.0, -6.0, 30.0)
    offset_mm: tuple[float, float, float] = (250.0, -80.0, 410.0)
    surface_pixel_mm: float = 0.25
    height_scale_mm: float = 3.0


@dataclass
class SimulatedScan:
    """One simulated scan and its truth.

    Attributes:
        points: float64 (N, 3) measured points in the robot frame, mm.
        image: float32 (lines, points per line) heights in the scanner's own frame (NaN =
            nothing measured): the profile array a scanner writes, row 0 the last line.
        surface_mm: float64 (H, W) the true surface in the weld frame.
        to_robot: 4 x 4 weld frame -> robot frame.
        weld: The procedural weld (truth path in its pixels).
        settings: The scanner.
        sensor: (origin (2,), line direction (2,), feed direction (2,)) of the image grid
            in the weld frame.
        measurable: bool (H, W) where the surface can be measured (the weld's data; outside
            it :attr:`surface_mm` holds the nearest measured height).
    """

    points: np.ndarray
    image: np.ndarray
    surface_mm: np.ndarray
    to_robot: np.ndarray
    weld: SyntheticWeld
    settings: ScannerSettings
    sensor: tuple[np.ndarray, np.ndarray, np.ndarray] = field(repr=False)
    measurable: np.ndarray | None = field(default=None, repr=False)

    def surface_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """True surface height at weld-frame (x, y), mm (bilinear; edge values outside)."""
        return _surface_at(self.surface_mm, self.settings.surface_pixel_mm, x, y)

    def to_weld(self, robot_points: np.ndarray) -> np.ndarray:
        """(N, 3) robot-frame points in the weld frame."""
        rot, shift = self.to_robot[:3, :3], self.to_robot[:3, 3]
        return (np.asarray(robot_points) - shift) @ rot

    def height_error(self, robot_points: np.ndarray) -> np.ndarray:
        """Height of robot-frame points above the true surface, mm."""
        w = self.to_weld(robot_points)
        return w[:, 2] - self.surface_at(w[:, 0], w[:, 1])

    def image_to_robot(self, image_points: np.ndarray) -> np.ndarray:
        """Points of the profile image's frame (x = col * spacing, y = -row * pitch, z) in the
        robot frame (the frame ``weldsynth import`` gives a TIFF of :attr:`image`)."""
        origin, line, feed = self.sensor
        pts = np.asarray(image_points, dtype=np.float64)
        rows_top = (self.image.shape[0] - 1) * self.settings.line_pitch_mm
        xy = origin + np.outer(pts[:, 0], line) + np.outer(rows_top + pts[:, 1], feed)
        weld = np.column_stack([xy, pts[:, 2]])
        return weld @ self.to_robot[:3, :3].T + self.to_robot[:3, 3]

    def truth_path_mm(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """The truth bead centreline in the weld frame: (points (N, 2), widths (N,), closed)."""
        path = self.weld.path
        p = self.settings.surface_pixel_mm
        pts = np.column_stack(
            [path.points[:, 0] * p, (self.surface_mm.shape[0] - 1 - path.points[:, 1]) * p]
        )
        return pts, path.widths * p, path.closed


def simulate_scan(
    topology: int = 9, seed: int = 0, index: int = 0, settings: ScannerSettings | None = None
) -> SimulatedScan:
    """Scan procedural weld ``index`` of ``topology`` (see the module docstring)."""
    cfg = settings or ScannerSettings()
    weld = generate_weld(topology, sample_seed(seed, topology, index), shadows=False, noise=0.0)
    surface, measurable = _surface_mm(weld, cfg)
    rng = rng_for(seed, "scanner", topology, index)
    origin, line, feed, a, b = _sensor_grid(surface.shape, cfg)
    xy = origin + a[..., None] * line + b[..., None] * feed
    h, w = surface.shape
    extent = np.array([(w - 1), (h - 1)]) * cfg.surface_pixel_mm
    inside = np.all((xy >= 0) & (xy <= extent), axis=-1)
    z = _surface_at(surface, cfg.surface_pixel_mm, xy[..., 0], xy[..., 1])
    rows = np.rint((h - 1) - xy[..., 1] / cfg.surface_pixel_mm).astype(np.intp)
    cols = np.rint(xy[..., 0] / cfg.surface_pixel_mm).astype(np.intp)
    inside &= measurable[np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)]
    blocker = np.where(measurable, surface, float(surface[measurable].min()))
    seen = inside & ~_occluded(blocker, cfg, xy, z, feed)
    z = z + rng.normal(0.0, cfg.noise_mm, z.shape)
    spikes = rng.random(z.shape) < cfg.spike_fraction
    z = (
        z
        + spikes * rng.choice([-1.0, 1.0], z.shape) * rng.uniform(0.5, 1.0, z.shape) * cfg.spike_mm
    )
    starts = (rng.random(z.shape) < cfg.dropout_fraction / DROPOUT_RUN).astype(np.float64)
    lost = ndimage.convolve1d(starts, np.ones(DROPOUT_RUN), axis=1, mode="constant")
    measured = seen & (lost == 0)
    to_robot = _to_robot(cfg)
    weld_pts = np.column_stack([xy[measured], z[measured]])
    return SimulatedScan(
        points=weld_pts @ to_robot[:3, :3].T + to_robot[:3, 3],
        image=np.where(measured, z, np.nan).astype(np.float32)[::-1],
        surface_mm=surface,
        to_robot=to_robot,
        weld=weld,
        settings=cfg,
        sensor=(origin, line, feed),
        measurable=measurable,
    )


def write_scan(scan: SimulatedScan, path: str | Path, **options: object) -> Path:
    """Write the scan: points (``.pcd``, ``.ply``, ``.xyz``, ``.csv``, ``.txt``; options go to
    the writer, e.g. ``encoding="ascii"``) or the profile image (``.tif``/``.tiff``, with a
    ``NAME.json`` calibration sidecar giving its pitch ``[spacing, pitch]``)."""
    dest = Path(path)
    if dest.suffix.lower() in (".tif", ".tiff"):
        write_tiff(dest, scan.image)
        pitch = [scan.settings.point_spacing_mm, scan.settings.line_pitch_mm]
        sidecar = {"calibration": {"pixel_mm": pitch}, "scanner": asdict(scan.settings)}
        atomic_write_text(dest.with_suffix(".json"), json.dumps(sidecar, indent=1))
        return dest
    return write_points(dest, scan.points, **options)


def _surface_mm(weld: SyntheticWeld, cfg: ScannerSettings) -> tuple[np.ndarray, np.ndarray]:
    """The weld's heights in mm above its first plate, and where a scanner measures them.

    With a plate, the weld's no-data side is not measurable (its heights: the nearest
    measured ones, so interpolation at the edge stays on the weld); without one, the bead
    lies on a plate at its foot's height (2 % quantile), measurable everywhere.
    """
    h = weld.height.astype(np.float64)
    data = h > 0
    plates = weld.truth["plates"]
    if plates:
        a, b, c = (float(v) for v in plates[0]["plane"])
        base = float(a * (h.shape[1] // 2) + b * (h.shape[0] // 2) + c)
        near = ndimage.distance_transform_edt(~data, return_distances=False, return_indices=True)
        filled = h[near[0], near[1]]
        return (filled - base) * cfg.height_scale_mm, data
    base = float(np.quantile(h[data], 0.02))
    return (np.where(data, h, base) - base) * cfg.height_scale_mm, np.ones(h.shape, bool)


def _sensor_grid(
    shape: tuple[int, int], cfg: ScannerSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Origin, line and feed directions, and the (lines, points) grid of line/feed offsets
    covering the surface."""
    feed = np.array([math.cos(math.radians(cfg.sweep_deg)), math.sin(math.radians(cfg.sweep_deg))])
    line = np.array([feed[1], -feed[0]])
    h, w = shape
    corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]]) * cfg.surface_pixel_mm
    a_lo, a_hi = (corners @ line).min(), (corners @ line).max()
    b_lo, b_hi = (corners @ feed).min(), (corners @ feed).max()
    a = np.arange(0.0, a_hi - a_lo + 1e-9, cfg.point_spacing_mm)
    b = np.arange(0.0, b_hi - b_lo + 1e-9, cfg.line_pitch_mm)
    origin = a_lo * line + b_lo * feed
    bb, aa = np.meshgrid(b, a, indexing="ij")
    return origin, line, feed, aa, bb


def _surface_at(surface: np.ndarray, pixel_mm: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear height of the weld-frame surface at (x, y), edge values outside."""
    rows = (surface.shape[0] - 1) - np.asarray(y) / pixel_mm
    return ndimage.map_coordinates(
        surface, [rows, np.asarray(x) / pixel_mm], order=1, mode="nearest"
    )


def _occluded(
    surface: np.ndarray, cfg: ScannerSettings, xy: np.ndarray, z: np.ndarray, feed: np.ndarray
) -> np.ndarray:
    """True where the surface ahead (along the feed) rises above the camera's line of sight."""
    tan = math.tan(math.radians(cfg.view_angle_deg))
    if tan <= 0:
        return np.zeros(z.shape, bool)
    reach = float(np.ptp(surface)) * tan
    step = 0.5 * cfg.surface_pixel_mm
    blocked = np.zeros(z.shape, bool)
    for s in np.arange(step, reach + step, step):
        ahead = xy + s * feed
        height = _surface_at(surface, cfg.surface_pixel_mm, ahead[..., 0], ahead[..., 1])
        blocked |= height > z + s / tan + 1e-9
    return blocked


def _to_robot(cfg: ScannerSettings) -> np.ndarray:
    rx, ry, rz = (math.radians(v) for v in cfg.tilt_deg)
    cx, sx, cy, sy, cz, sz = (
        math.cos(rx),
        math.sin(rx),
        math.cos(ry),
        math.sin(ry),
        math.cos(rz),
        math.sin(rz),
    )
    rot_x = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    rot_y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rot_z = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    out = np.eye(4)
    out[:3, :3] = rot_z @ rot_y @ rot_x
    out[:3, 3] = cfg.offset_mm
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m weldsynth.synth.scanner``: write simulated scans of procedural welds.

    Writes OUT/<topology>/<topology>_<index>.<format> for each topology and index.
    """
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m weldsynth.synth.scanner",
        description="Simulated laser line scans of procedural welds (point clouds or TIFF).",
        epilog="example: python -m weldsynth.synth.scanner --out scans/ -t 9 -n 3 --format pcd",
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("-t", "--topology", type=int, action="append", help="repeatable")
    parser.add_argument("-n", "--count", type=int, default=1, help="scans per topology")
    parser.add_argument("--format", default="pcd", choices=["pcd", "ply", "xyz", "csv", "tif"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", type=float, default=ScannerSettings.noise_mm, help="mm")
    args = parser.parse_args(argv)
    settings = ScannerSettings(noise_mm=args.noise)
    for topology in args.topology or [9]:
        for index in range(args.count):
            scan = simulate_scan(topology, args.seed, index, settings)
            dest = args.out / str(topology) / f"{topology}_{index:04d}.{args.format}"
            write_scan(scan, dest)
            print(dest)


if __name__ == "__main__":  # pragma: no cover
    main()
