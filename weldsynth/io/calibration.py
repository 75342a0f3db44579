"""Scan calibration: what a pixel and a grey level of a height map are in millimetres.

A :class:`Calibration` holds the pixel pitch (x and y may differ: a laser line scanner's
point spacing and line pitch), the height of one grey level, the height of level 0 (the
offset), and optionally the nominal plate thickness ``t_mm``, weld thickness ``s_mm`` and
throat ``a_mm`` that norm limits refer to.

Where it comes from, first found wins (:func:`find_calibration`):

1. a sidecar ``NAME.json`` next to ``NAME.png`` holding a ``calibration`` object (or the
   calibration keys at its top level);
2. a ``scan.yaml`` in the image's folder or any parent up to the input root;
3. ``--scan FILE`` on the command line;
4. the recipe's ``scan:`` section.

Without any, weldsynth works in pixels as before. The mapping form (YAML/JSON)::

    pixel_mm: 0.1            # or [x, y], e.g. [0.1, 0.3]
    height_mm: 0.001         # mm per grey level; or height_range_mm: [0.0, 8.0] for 1..max
    height_offset_mm: 0.0    # height of grey level 0 (default 0)
    t_mm: 3                  # optional: plate thickness, weld thickness, throat
    s_mm: 3
    a_mm: 2.1
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.core.errors import WeldsynthError

SCAN_FILE = "scan.yaml"
"""Name of the folder-level calibration file."""
PIXEL_MM_RANGE = (0.0, 10.0)
"""Allowed pixel pitch in mm: above 0, at most 10."""
HEIGHT_MM_MAX = 10.0
"""Largest allowed height of one grey level in mm."""
THICKNESS_MM_MAX = 500.0
"""Largest allowed t_mm, s_mm, a_mm."""
KEYS = frozenset(
    {"pixel_mm", "height_mm", "height_range_mm", "height_offset_mm", "t_mm", "s_mm", "a_mm"}
)


class CalibrationError(WeldsynthError, ValueError):
    """A calibration is unreadable or holds a value outside its allowed range."""


@dataclass(frozen=True)
class Calibration:
    """Millimetres per pixel and per grey level of one height map.

    Attributes:
        pixel_mm_x: Pixel pitch along x (image columns), mm.
        pixel_mm_y: Pixel pitch along y (image rows), mm.
        height_mm: Height of one grey level, mm (None: heights stay in grey levels).
        height_offset_mm: Height of grey level 0, mm.
        t_mm: Nominal plate thickness, mm, or None.
        s_mm: Nominal weld (butt) thickness, mm, or None.
        a_mm: Nominal fillet throat, mm, or None.
        source: Where it was found: ``sidecar``, ``scan.yaml:<path>``, ``--scan:<path>``,
            ``recipe`` (empty when made in code).
    """

    pixel_mm_x: float
    pixel_mm_y: float
    height_mm: float | None = None
    height_offset_mm: float = 0.0
    t_mm: float | None = None
    s_mm: float | None = None
    a_mm: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        lo, hi = PIXEL_MM_RANGE
        for name in ("pixel_mm_x", "pixel_mm_y"):
            _check(name, getattr(self, name), lo, hi, self.source)
        if self.height_mm is not None:
            _check("height_mm", self.height_mm, 0.0, HEIGHT_MM_MAX, self.source)
        if not math.isfinite(self.height_offset_mm):
            raise CalibrationError(
                f"{self.source or 'calibration'}: height_offset_mm must be finite"
            )
        for name in ("t_mm", "s_mm", "a_mm"):
            value = getattr(self, name)
            if value is not None:
                _check(name, value, 0.0, THICKNESS_MM_MAX, self.source)

    @property
    def is_square(self) -> bool:
        """True when x and y pitch agree (within 0.1 %)."""
        return math.isclose(self.pixel_mm_x, self.pixel_mm_y, rel_tol=1e-3)

    @property
    def pixel_mm(self) -> float:
        """The pitch of a square pixel, mm.

        Raises:
            CalibrationError: The pixels are not square (resample first).
        """
        if not self.is_square:
            raise CalibrationError(
                f"{self.source or 'calibration'}: pixels are {self.pixel_mm_x:g} x "
                f"{self.pixel_mm_y:g} mm, not square; resample to square pixels first"
            )
        return self.pixel_mm_x

    def px_to_mm(self, length_px: float) -> float:
        """A length in (square) pixels, in mm."""
        return float(length_px) * self.pixel_mm

    def mm_to_px(self, length_mm: float) -> float:
        """A length in mm, in (square) pixels."""
        return float(length_mm) / self.pixel_mm

    def mm_per_unit(self, bit_depth: int) -> float | None:
        """mm of a height difference of 1.0 in [0, 1] units (None without ``height_mm``)."""
        if self.height_mm is None:
            return None
        return self.height_mm * float((1 << bit_depth) - 1)

    def to_dict(self) -> dict[str, Any]:
        """The mapping form (square pitch as one number), without ``source``."""
        data = asdict(self)
        data.pop("source")
        x, y = data.pop("pixel_mm_x"), data.pop("pixel_mm_y")
        out: dict[str, Any] = {"pixel_mm": x if self.is_square else [x, y]}
        out.update({k: v for k, v in data.items() if v is not None})
        return out

    def with_source(self, source: str) -> Calibration:
        """A copy that records where it came from."""
        return replace(self, source=source)


def _check(name: str, value: Any, lo: float, hi: float, where: str) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (lo < float(value) <= hi):
        raise CalibrationError(
            f"{where or 'calibration'}: {name} must be a number in ({lo:g}, {hi:g}] mm "
            f"(got {value!r})"
        )


def calibration_from_mapping(
    data: Mapping[str, Any], where: str, bit_depth: int = 16
) -> Calibration:
    """Build a calibration from its mapping form (see the module docstring).

    Args:
        data: The mapping (a sidecar's ``calibration`` object, a ``scan.yaml``, a recipe's
            ``scan:`` section).
        where: File or field named in errors and recorded as the source.
        bit_depth: Bit depth of the images, to turn ``height_range_mm`` into mm per level.

    Raises:
        CalibrationError: Unknown key, missing ``pixel_mm``, or a value out of range.
    """
    if not isinstance(data, Mapping):
        raise CalibrationError(
            f"{where}: a calibration must be a mapping, got {type(data).__name__}"
        )
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise CalibrationError(
            f"{where}: unknown calibration key(s) {unknown}; allowed: {sorted(KEYS)}"
        )
    if "pixel_mm" not in data:
        raise CalibrationError(f"{where}: pixel_mm is required (mm per pixel, or [x, y])")
    pitch = data["pixel_mm"]
    x, y = (pitch, pitch) if not isinstance(pitch, list | tuple) else _pair(pitch, where)
    height, offset = _height(data, where, bit_depth)
    return Calibration(
        pixel_mm_x=x,
        pixel_mm_y=y,
        height_mm=height,
        height_offset_mm=offset,
        t_mm=data.get("t_mm"),
        s_mm=data.get("s_mm"),
        a_mm=data.get("a_mm"),
        source=where,
    )


def _pair(value: list | tuple, where: str) -> tuple[Any, Any]:
    if len(value) != 2:
        raise CalibrationError(f"{where}: pixel_mm must be one number or [x, y] (got {value!r})")
    return value[0], value[1]


def _height(data: Mapping[str, Any], where: str, bit_depth: int) -> tuple[float | None, float]:
    offset = data.get("height_offset_mm", 0.0)
    if "height_mm" in data and "height_range_mm" in data:
        raise CalibrationError(f"{where}: give height_mm or height_range_mm, not both")
    if "height_range_mm" not in data:
        return data.get("height_mm"), float(offset)
    span = data["height_range_mm"]
    if (
        not isinstance(span, list | tuple)
        or len(span) != 2
        or not all(isinstance(v, int | float) and math.isfinite(v) for v in span)
        or span[1] <= span[0]
    ):
        raise CalibrationError(
            f"{where}: height_range_mm must be [low, high] in mm with high > low (got {span!r})"
        )
    levels = (1 << bit_depth) - 2  # grey levels 1..max map to low..high
    per_level = (float(span[1]) - float(span[0])) / levels
    return per_level, float(span[0]) - per_level


def read_sidecar(png: Path, bit_depth: int = 16) -> Calibration | None:
    """The calibration in ``NAME.json`` next to ``png``, or None (no file, or no calibration).

    A sidecar may hold other things (the procedural samples' truth); only a ``calibration``
    object, or calibration keys at the top level, count.
    """
    sidecar = png.with_suffix(".json")
    if not sidecar.is_file():
        return None
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CalibrationError(f"{sidecar}: not a readable JSON file ({exc})") from exc
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("calibration"), Mapping):
        return calibration_from_mapping(data["calibration"], str(sidecar), bit_depth).with_source(
            "sidecar"
        )
    if "pixel_mm" in data:
        found = {k: v for k, v in data.items() if k in KEYS}
        return calibration_from_mapping(found, str(sidecar), bit_depth).with_source("sidecar")
    return None


def write_sidecar(png: Path, calibration: Calibration) -> Path:
    """Write ``NAME.json`` beside ``png`` with a ``calibration`` object (atomically), the
    form :func:`read_sidecar` reads: a folder of written maps is itself calibrated input."""
    text = json.dumps({"calibration": calibration.to_dict()}, indent=1, sort_keys=True) + "\n"
    return atomic_write_bytes(png.with_suffix(".json"), text.encode("utf-8"))


def read_scan_file(path: Path, bit_depth: int = 16) -> Calibration:
    """A ``scan.yaml`` (or any YAML/JSON file given with ``--scan``)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CalibrationError(f"{path}: not a readable YAML file ({exc})") from exc
    if isinstance(data, Mapping) and isinstance(data.get("scan"), Mapping):
        data = data["scan"]
    return calibration_from_mapping(data or {}, str(path), bit_depth)


def find_calibration(
    png: Path,
    root: Path | None = None,
    scan_file: Path | None = None,
    recipe_scan: Mapping[str, Any] | None = None,
    bit_depth: int = 16,
) -> Calibration | None:
    """The calibration of ``png``, first found wins (see the module docstring).

    Args:
        png: The height map.
        root: The input root: ``scan.yaml`` is looked for from the image's folder up to it
            (only the image's own folder when None).
        scan_file: ``--scan FILE``.
        recipe_scan: The recipe's ``scan:`` section.
        bit_depth: The image's bit depth (for ``height_range_mm``).

    Returns:
        The calibration with its ``source`` set, or None when there is none.
    """
    found = read_sidecar(png, bit_depth)
    if found is not None:
        return found
    folder = png.parent
    stop = (root or folder).resolve()
    while True:
        candidate = folder / SCAN_FILE
        if candidate.is_file():
            return read_scan_file(candidate, bit_depth).with_source(f"scan.yaml:{candidate}")
        if folder.resolve() == stop or folder.parent == folder:
            break
        folder = folder.parent
    if scan_file is not None:
        return read_scan_file(scan_file, bit_depth).with_source(f"--scan:{scan_file}")
    if recipe_scan:
        return calibration_from_mapping(recipe_scan, "recipe scan", bit_depth).with_source("recipe")
    return None
