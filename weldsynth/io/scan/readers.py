"""Read a scan file into millimetre points: PCD, PLY, XYZ/CSV/TXT, NPY/NPZ, TIFF, PNG.

Every reader returns a :class:`ScanData`: an (N, 3) float64 array of finite x, y, z points
in mm (rows with a NaN or infinite coordinate are dropped and counted: organised clouds
mark missing points that way). Height grids (a 2-D NPY/NPZ array, a TIFF, a calibrated PNG)
become one point per measured cell: x = column * pitch_x, y = -row * pitch_y (row 0 at the
top, as the image is seen), z = height.

* PCD (ascii, binary, binary_compressed): pypcd4; fields ``x``, ``y``, ``z`` required.
* PLY (ascii, binary little/big endian): plyfile; a ``vertex`` element with ``x, y, z``.
* XYZ/CSV/TXT: x y z columns (up to MAX_POINT_COLUMNS; more are ignored), an optional
  header line (``x,y,z`` names pick the columns), the delimiter detected (comma, semicolon,
  tab or blanks); ``#`` lines are comments. A file with MIN_PROFILE_COLUMNS or more values
  per row and no header naming x, y, z is a **profile grid**: one laser profile per row,
  heights in mm (``nan`` or an empty field = no data), pitch as for a 2-D NPY grid. Between
  the two (10-31 values per row, no such header) the file is refused as ambiguous.
* NPY/NPZ: an (N, 3) point array, or a 2-D height grid in mm (NaN = no data) whose pitch
  comes from a calibration sidecar ``NAME.json`` / ``scan.yaml`` or ``--pixel-mm``. In an
  NPZ, the array named ``points``, ``xyz``, ``height`` or ``heights``, else the only one.
* TIFF: a 32/64-bit float height image in mm (NaN = no data), or an 8/16-bit one in grey
  levels (0 = no data) with a calibration giving ``height_mm``. The pitch: a calibration
  sidecar / ``scan.yaml``, else ``--pixel-mm``, else the TIFF's XResolution / YResolution
  with ResolutionUnit (inch, cm, or tifffile's mm / um; not the 72 or 96 dpi that image
  libraries write by default, nor unit NONE). Unequal pitches are anisotropic pixels: the
  cells become points and the import rasterises them on a square grid.
* PNG: a weldsynth height map with a calibration (sidecar or ``scan.yaml``); anisotropic
  pixels are resampled to square ones first (:func:`weldsynth.io.resample.resample_calibrated`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from weldsynth.core.errors import WeldsynthError
from weldsynth.io.calibration import Calibration, find_calibration
from weldsynth.io.scan.errors import ScanError, require

NPZ_KEYS = ("points", "xyz", "height", "heights")
"""Array names looked for in an NPZ file, in this order."""
MAX_POINT_COLUMNS = 9
"""Values per text row that are still points without a header naming x, y, z (x y z, then
e.g. intensity, normals or colour)."""
MIN_PROFILE_COLUMNS = 32
"""Values per text row from which a file without such a header is a profile grid."""
TIFF_UNIT_MM = {2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}
"""Millimetres per TIFF ResolutionUnit: inch, centimetre, and tifffile's mm and um."""
DEFAULT_DPI = (72.0, 96.0)
"""Resolutions (per inch) that image libraries write by default: not a scanner's pitch."""
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(nan|inf)$", re.IGNORECASE)


@dataclass(frozen=True)
class ScanData:
    """Points read from one file.

    Attributes:
        points: float64 (N, 3) finite x, y, z in mm.
        format: Short format name (``pcd``, ``ply``, ``xyz``, ``npy``, ``tiff``, ``png``).
        dropped: Rows dropped for a non-finite coordinate.
        grid_pitch_mm: (x, y) pitch of the source grid for grid inputs, else None.
        pitch_from: Where that pitch came from (``sidecar``, ``scan.yaml``, ``--pixel-mm``,
            ``tiff tags``), else None.
    """

    points: np.ndarray
    format: str
    dropped: int = 0
    grid_pitch_mm: tuple[float, float] | None = None
    pitch_from: str | None = None


def read_scan(path: Path, pixel_mm: float | None = None, root: Path | None = None) -> ScanData:
    """Read one scan file (format from its suffix).

    Args:
        path: The file.
        pixel_mm: Pitch of a height grid without a calibration (``--pixel-mm``).
        root: Input root: ``scan.yaml`` files are looked for up to it.

    Raises:
        ScanError: Unknown suffix, unreadable file, wrong columns, missing calibration.
    """
    suffix = path.suffix.lower()
    readers = {".pcd": _read_pcd, ".ply": _read_ply}
    if suffix in readers:
        return _guarded(path, lambda: readers[suffix](path))
    if suffix in (".xyz", ".csv", ".txt"):
        return _guarded(path, lambda: _read_text(path, pixel_mm, root))
    if suffix in (".npy", ".npz"):
        return _guarded(path, lambda: _read_numpy(path, pixel_mm, root))
    if suffix in (".tif", ".tiff"):
        return _guarded(path, lambda: _read_tiff(path, pixel_mm, root))
    if suffix == ".png":
        return _guarded(path, lambda: _read_png(path, root))
    raise ScanError(f"{path}: unknown scan format {suffix or '(no suffix)'!r}")


def _guarded(path: Path, read: Callable[[], ScanData]) -> ScanData:
    """Run a reader; third-party parse errors become one-line :class:`ScanError`."""
    try:
        return read()
    except WeldsynthError:
        raise
    except MemoryError as exc:
        raise ScanError(f"{path}: too large to read into memory") from exc
    except Exception as exc:  # the readers' libraries raise anything on a broken file
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScanError(f"{path}: not readable as {path.suffix.lower()[1:]} ({text})") from exc


def finite_points(xyz: np.ndarray, fmt: str, path: Path) -> ScanData:
    """Check an (N, 3) array and drop its non-finite rows."""
    pts = np.asarray(xyz, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ScanError(f"{path}: expected N x 3 points, got shape {pts.shape}")
    ok = np.isfinite(pts).all(axis=1)
    dropped = int(pts.shape[0] - np.count_nonzero(ok))
    return ScanData(np.ascontiguousarray(pts[ok]), fmt, dropped)


def grid_points(grid_mm: np.ndarray, pitch_x: float, pitch_y: float) -> np.ndarray:
    """One (x, y, z) point per finite cell of a height grid (row 0 at the top, y = -row)."""
    rows, cols = np.nonzero(np.isfinite(grid_mm))
    return np.column_stack([cols * float(pitch_x), -rows * float(pitch_y), grid_mm[rows, cols]])


def _read_pcd(path: Path) -> ScanData:
    pypcd4 = require("pypcd4", "reading PCD files")
    cloud = pypcd4.PointCloud.from_path(path)
    missing = [f for f in ("x", "y", "z") if f not in cloud.fields]
    if missing:
        raise ScanError(f"{path}: PCD has no field(s) {missing} (fields: {list(cloud.fields)})")
    return finite_points(cloud.numpy(("x", "y", "z")), "pcd", path)


def _read_ply(path: Path) -> ScanData:
    plyfile = require("plyfile", "reading PLY files")
    ply = plyfile.PlyData.read(str(path))
    names = [el.name for el in ply.elements]
    if "vertex" not in names:
        raise ScanError(f"{path}: PLY has no vertex element (elements: {names})")
    vertex = ply["vertex"].data
    fields = vertex.dtype.names or ()
    missing = [f for f in ("x", "y", "z") if f not in fields]
    if missing:
        raise ScanError(f"{path}: PLY vertices have no {missing} (properties: {list(fields)})")
    return finite_points(np.column_stack([vertex["x"], vertex["y"], vertex["z"]]), "ply", path)


def _read_text(path: Path, pixel_mm: float | None, root: Path | None) -> ScanData:
    skip, names, first = _text_head(path)
    if first is None:
        raise ScanError(f"{path}: no data rows (empty cloud)")
    delimiter = next((d for d in (",", ";", "\t") if d in first), None)
    width = len(_fields(first, delimiter, trailing=True))
    if not (names and all(n in names for n in ("x", "y", "z"))):
        if width >= MIN_PROFILE_COLUMNS:
            grid = _read_profiles(path, skip, delimiter, first)
            return _grid_data(grid, "profiles", path, pixel_mm, root)
        if width > MAX_POINT_COLUMNS:
            raise ScanError(
                f"{path}: {width} values per row and no header naming x, y, z: points or a "
                f"profile grid? Name the columns (x,y,z,...) for points; a grid (one laser "
                f"profile per row) needs {MIN_PROFILE_COLUMNS}+ values per row, or save it "
                "as .npy"
            )
    tokens = [t for t in (first.split(delimiter) if delimiter else first.split()) if t.strip()]
    if len(tokens) < 3:
        raise ScanError(f"{path}: {len(tokens)} column(s) per row; x y z needs 3")
    cols = (0, 1, 2)
    if names and all(n in names for n in ("x", "y", "z")):
        cols = (names.index("x"), names.index("y"), names.index("z"))
    data = np.loadtxt(path, delimiter=delimiter, skiprows=skip, usecols=cols, comments="#", ndmin=2)
    return finite_points(data, "xyz", path)


def _fields(line: str, delimiter: str | None, trailing: bool = False) -> list[str]:
    """The fields of one text row (empty ones kept; with ``trailing``, every row ends with
    one delimiter more, which is dropped)."""
    if delimiter is None:
        return line.split()
    text = line.strip()
    if trailing and text.endswith(delimiter):
        text = text[: -len(delimiter)]
    return text.split(delimiter)


def _read_profiles(path: Path, skip: int, delimiter: str | None, first: str) -> np.ndarray:
    """A text profile grid: one row per data line, as many fields as the ``first`` one
    (empty = NaN; when it ends with the delimiter, every row does)."""
    trailing = delimiter is not None and first.endswith(delimiter)
    width = len(_fields(first, delimiter, trailing))
    rows = []
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            text = line.strip()
            if number <= skip or not text or text.startswith(("#", "//")):
                continue
            fields = _fields(text, delimiter, trailing)
            if len(fields) != width:
                raise ScanError(
                    f"{path}: line {number} has {len(fields)} values, the first profile "
                    f"{width}; a profile grid needs rows of equal length"
                )
            rows.append([f.strip() or "nan" for f in fields])
    return np.array(rows, dtype=np.float64)


def _text_head(path: Path) -> tuple[int, list[str] | None, str | None]:
    """Lines to skip (comments, blank, header), header names, and the first data line."""
    skip, names = 0, None
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            text = line.strip()
            if not text or text.startswith(("#", "//")):
                skip += 1
                continue
            tokens = [t.strip().strip('"').lower() for t in re.split(r"[,;\t ]+", text)]
            if all(_NUMBER.match(t) for t in tokens if t):
                return skip, names, text
            if names is not None:
                raise ScanError(f"{path}: line {skip + 1} is not numbers: {text[:40]!r}")
            names, skip = tokens, skip + 1
    return skip, names, None


def _read_numpy(path: Path, pixel_mm: float | None, root: Path | None) -> ScanData:
    if path.suffix.lower() == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.files)
            key = next((k for k in NPZ_KEYS if k in keys), keys[0] if len(keys) == 1 else None)
            if key is None:
                raise ScanError(f"{path}: NPZ holds {keys}; name the array one of {NPZ_KEYS}")
            array = archive[key]
    else:
        array = np.load(path, allow_pickle=False)
    if array.ndim == 2 and array.shape[1] == 3:
        return finite_points(array, "npy", path)
    if array.ndim != 2 or array.dtype.kind not in "fiu":
        raise ScanError(f"{path}: expected N x 3 points or a 2-D height grid, got {array.shape}")
    return _grid_data(array.astype(np.float64), "npy", path, pixel_mm, root)


def _read_tiff(path: Path, pixel_mm: float | None, root: Path | None) -> ScanData:
    tifffile = require("tifffile", "reading TIFF files")
    with tifffile.TiffFile(str(path)) as tif:
        image = np.squeeze(tif.asarray())
        tagged = tiff_pitch(tif.pages[0].tags)
    if image.ndim != 2:
        raise ScanError(f"{path}: a height image is 2-D, got shape {image.shape}")
    if image.dtype.kind == "f":
        return _grid_data(image.astype(np.float64), "tiff", path, pixel_mm, root, tagged=tagged)
    if image.dtype not in (np.uint8, np.uint16):
        raise ScanError(f"{path}: TIFF pixels must be float, uint8 or uint16, got {image.dtype}")
    cal = _grid_calibration(path, pixel_mm, root, int(image.dtype.itemsize * 8), tagged)
    return _levels_data(image, cal, "tiff", path)


def tiff_pitch(tags: Any) -> tuple[float, float] | None:
    """(x, y) pitch in mm from a TIFF page's resolution tags, or None when they give none.

    XResolution / YResolution are pixels per ResolutionUnit (absent: inch, the TIFF
    default); unit NONE, a zero resolution and the image libraries' default 72 / 96 dpi
    (equal on both axes) give no pitch.
    """
    xres, yres, unit = (tags.get(k) for k in ("XResolution", "YResolution", "ResolutionUnit"))
    if xres is None or yres is None:
        return None
    mm = TIFF_UNIT_MM.get(2 if unit is None else int(unit.value))
    per_unit = [_rational(t.value) for t in (xres, yres)]
    if mm is None or min(per_unit) <= 0 or not all(np.isfinite(per_unit)):
        return None
    if mm == 25.4 and per_unit[0] == per_unit[1] and per_unit[0] in DEFAULT_DPI:
        return None
    return (mm / per_unit[0], mm / per_unit[1])


def _rational(value: Any) -> float:
    """A TIFF RATIONAL (numerator, denominator) or a plain number as a float."""
    if isinstance(value, tuple | list):
        num, den = value[0], value[1] if len(value) > 1 else 1
        return float(num) / float(den) if den else 0.0
    return float(value)


def _read_png(path: Path, root: Path | None) -> ScanData:
    from weldsynth.io.heightmap import read_heightmap
    from weldsynth.io.resample import resample_calibrated

    found = read_heightmap(path)
    pixels = found.to_uint()
    cal = find_calibration(path, root=root, bit_depth=found.bit_depth)
    if cal is None or cal.height_mm is None:
        raise ScanError(
            f"{path}: a PNG needs a calibration with pixel_mm and height_mm "
            "(NAME.json sidecar or scan.yaml)"
        )
    pixels, cal = resample_calibrated(pixels, cal)
    return _levels_data(pixels, cal, "png", path)


def _levels_data(pixels: np.ndarray, cal: Calibration, fmt: str, path: Path) -> ScanData:
    if cal.height_mm is None:
        raise ScanError(f"{path}: grey levels need height_mm in the calibration")
    grid = np.where(pixels > 0, cal.height_offset_mm + pixels * cal.height_mm, np.nan)
    pitch = (cal.pixel_mm_x, cal.pixel_mm_y)
    return _grid_data(grid, fmt, path, None, None, pitch, source=cal.source.split(":")[0])


def _grid_data(
    grid: np.ndarray,
    fmt: str,
    path: Path,
    pixel_mm: float | None,
    root: Path | None,
    pitch: tuple[float, float] | None = None,
    tagged: tuple[float, float] | None = None,
    source: str = "sidecar",
) -> ScanData:
    if pitch is None:
        cal = _grid_calibration(path, pixel_mm, root, 16, tagged)
        pitch, source = (cal.pixel_mm_x, cal.pixel_mm_y), cal.source.split(":")[0]
    measured = int(np.count_nonzero(np.isfinite(grid)))
    points = grid_points(grid, *pitch)
    pitch = (float(pitch[0]), float(pitch[1]))
    return ScanData(points, fmt, int(grid.size - measured), pitch, source)


def _grid_calibration(
    path: Path,
    pixel_mm: float | None,
    root: Path | None,
    bit_depth: int,
    tagged: tuple[float, float] | None = None,
) -> Calibration:
    """The calibration of a height grid: its sidecar / scan.yaml, else ``--pixel-mm``, else
    the pitch of a TIFF's resolution tags (``tagged``)."""
    cal = find_calibration(path, root=root, bit_depth=bit_depth)
    if cal is not None:
        return cal
    if pixel_mm is not None:
        return Calibration(float(pixel_mm), float(pixel_mm), source="--pixel-mm")
    if tagged is not None:
        return Calibration(*tagged, source="tiff tags")
    tags = " or TIFF resolution tags" if path.suffix.lower() in (".tif", ".tiff") else ""
    raise ScanError(f"{path}: a height grid needs --pixel-mm (or a NAME.json / scan.yaml{tags})")
