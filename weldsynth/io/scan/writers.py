"""Write points and height grids in the scanner formats (used by the scanner simulator).

Every writer builds the whole file in memory and writes it atomically
(:func:`weldsynth.core.atomic.atomic_write_bytes`). PCD and PLY go through the same
maintained libraries that read them (pypcd4, plyfile: the ``scan`` extra).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.io.scan.errors import ScanError, require

PCD_ENCODINGS = ("ascii", "binary", "binary_compressed")
"""PCD data encodings."""
POINT_FORMATS = ("pcd", "ply", "xyz", "csv")
"""Point-cloud formats :func:`write_points` writes (by suffix)."""


def write_pcd(path: str | Path, points: np.ndarray, encoding: str = "binary_compressed") -> Path:
    """Write (N, 3) points as a PCD file with float32 ``x y z`` fields.

    Args:
        path: Destination.
        points: (N, 3) coordinates in mm.
        encoding: ``ascii``, ``binary`` or ``binary_compressed`` (pypcd4 writes ``binary``
            when LZF cannot shrink the data, e.g. random points).
    """
    if encoding not in PCD_ENCODINGS:
        raise ScanError(f"PCD encoding must be one of {PCD_ENCODINGS}, got {encoding!r}")
    pypcd4 = require("pypcd4", "writing PCD files")
    cloud = pypcd4.PointCloud.from_xyz_points(_xyz(points).astype(np.float32))
    buffer = io.BytesIO()
    cloud.save(buffer, encoding=pypcd4.Encoding(encoding))
    return atomic_write_bytes(path, buffer.getvalue())


def write_ply(path: str | Path, points: np.ndarray, binary: bool = True) -> Path:
    """Write (N, 3) points as a PLY ``vertex`` element (float64 x, y, z).

    Args:
        path: Destination.
        points: (N, 3) coordinates in mm.
        binary: Binary little-endian (default) or ASCII.
    """
    plyfile = require("plyfile", "writing PLY files")
    xyz = _xyz(points)
    vertex = np.empty(len(xyz), dtype=[("x", "<f8"), ("y", "<f8"), ("z", "<f8")])
    vertex["x"], vertex["y"], vertex["z"] = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    element = plyfile.PlyElement.describe(vertex, "vertex")
    data = plyfile.PlyData([element], text=not binary, byte_order="<")
    buffer = io.BytesIO()
    data.write(buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def write_xyz(
    path: str | Path, points: np.ndarray, delimiter: str = " ", header: bool = False
) -> Path:
    """Write (N, 3) points as text, one ``x y z`` row per point (6 decimals, mm).

    Args:
        path: Destination.
        points: (N, 3) coordinates.
        delimiter: Column separator (``" "``, ``","``, ``";"`` or ``"\\t"``).
        header: Write an ``x<d>y<d>z`` header line first.
    """
    buffer = io.StringIO()
    np.savetxt(
        buffer,
        _xyz(points),
        fmt="%.6f",
        delimiter=delimiter,
        header=delimiter.join("xyz") if header else "",
        comments="",
    )
    return atomic_write_bytes(path, buffer.getvalue().encode("utf-8"))


def write_tiff(
    path: str | Path, grid: np.ndarray, pixel_mm: float | tuple[float, float] | None = None
) -> Path:
    """Write a 2-D height grid as a TIFF (float32 in mm with NaN = no data, or uint16).

    ``pixel_mm`` (one pitch, or (x, y)) goes into the XResolution / YResolution tags, in
    pixels per centimetre; without it the tags say unit NONE (no pitch).
    """
    tifffile = require("tifffile", "writing TIFF files")
    image = np.asarray(grid)
    if image.ndim != 2:
        raise ScanError(f"a height image is 2-D, got shape {image.shape}")
    if image.dtype.kind == "f":
        image = image.astype(np.float32)
    options: dict = {}
    if pixel_mm is not None:
        px, py = (pixel_mm, pixel_mm) if np.isscalar(pixel_mm) else pixel_mm  # type: ignore[misc]
        options = {"resolution": (10.0 / px, 10.0 / py), "resolutionunit": "CENTIMETER"}
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, image, **options)
    return atomic_write_bytes(path, buffer.getvalue())


def write_points(path: str | Path, points: np.ndarray, **options: object) -> Path:
    """Write points in the format of the file's suffix (``.pcd``, ``.ply``, ``.xyz``, ``.csv``,
    ``.txt``); ``options`` go to the format's writer (``encoding``, ``binary``, ...)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".pcd":
        return write_pcd(path, points, **options)  # type: ignore[arg-type]
    if suffix == ".ply":
        return write_ply(path, points, **options)  # type: ignore[arg-type]
    if suffix == ".csv":
        return write_xyz(path, points, **{"delimiter": ",", "header": True, **options})  # type: ignore[arg-type]
    if suffix in (".xyz", ".txt"):
        return write_xyz(path, points, **options)  # type: ignore[arg-type]
    raise ScanError(f"{path}: cannot write points as {suffix or '(no suffix)'!r}")


def _xyz(points: np.ndarray) -> np.ndarray:
    xyz = np.asarray(points, dtype=np.float64)
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise ScanError(f"expected N x 3 points, got shape {xyz.shape}")
    return xyz
