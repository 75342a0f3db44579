"""A located bead's width, height and length, in mm when the map is calibrated.

* **width**: the mean full width of the bead along its centreline
  (:attr:`~weldsynth.geometry.path.BeadPath.mean_width`);
* **length**: the centreline's length (a closed bead: its perimeter);
* **height**: the bead's crown above its plates: the 90th percentile of the heights on the
  bead minus the mean height of the plates beside it (area-weighted); without a plate
  (an isolated bead) above its own toe, the 5th percentile of the bead's heights.

Lengths are in mm with a (square-pixel) calibration, pixels without one; the height is in
mm when the calibration gives ``height_mm``, in grey levels otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from weldsynth.geometry.finder import WeldGeometry
from weldsynth.io.calibration import Calibration

CROWN_PERCENTILE = 90.0
"""Percentile of the bead's heights taken as its crown (robust to spatter and noise)."""
TOE_PERCENTILE = 5.0
"""Percentile of the bead's heights taken as its base when no plate is beside it."""


@dataclass(frozen=True)
class BeadDimensions:
    """Width, height and length of a located bead.

    Attributes:
        width: Mean bead width (``length_unit``).
        length: Centreline length (``length_unit``).
        height: Crown above the plates (``height_unit``).
        length_unit: "mm" (calibrated) or "px".
        height_unit: "mm" (calibrated with ``height_mm``) or "levels" (grey levels).
    """

    width: float
    length: float
    height: float
    length_unit: str
    height_unit: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``width_mm`` or ``width_px``, ``height_mm`` or
        ``height_levels``, ``length_mm`` or ``length_px``."""
        lu, hu = self.length_unit, self.height_unit
        return {
            f"width_{lu}": round(self.width, 4),
            f"height_{hu}": round(self.height, 4),
            f"length_{lu}": round(self.length, 4),
        }


def bead_height(height: np.ndarray, geo: WeldGeometry) -> float:
    """The bead's crown above its plates, in the units of ``height`` (see the module
    docstring); 0.0 when the bead has no measured pixel.

    Args:
        height: float (H, W) heights in [0, 1], 0 = no data (the map ``geo`` was found in).
        geo: Its located geometry.
    """
    on_bead = height[geo.bead_mask & (height > 0)]
    if on_bead.size == 0:
        return 0.0
    crown = float(np.percentile(on_bead, CROWN_PERCENTILE))
    area = sum(p.area for p in geo.plates)
    if area > 0:
        base = sum(p.mean_height * p.area for p in geo.plates) / area
    else:
        base = float(np.percentile(on_bead, TOE_PERCENTILE))
    return max(0.0, crown - base)


def bead_dimensions(
    height: np.ndarray,
    geo: WeldGeometry,
    bit_depth: int,
    calibration: Calibration | None = None,
) -> BeadDimensions | None:
    """Width, height and length of the bead ``geo`` found in ``height``.

    Args:
        height: float (H, W) heights in [0, 1], 0 = no data.
        geo: The located geometry (None is returned when no bead was found).
        bit_depth: Bit depth of the map's file (grey levels per unit height).
        calibration: Its calibration with square pixels (resample first), or None.

    Raises:
        CalibrationError: The calibration's pixels are not square.
    """
    if geo.path is None:
        return None
    rise = bead_height(height, geo)
    mm_per_unit = calibration.mm_per_unit(bit_depth) if calibration is not None else None
    if mm_per_unit is None:
        h, h_unit = rise * float((1 << bit_depth) - 1), "levels"
    else:
        h, h_unit = rise * mm_per_unit, "mm"
    width, length = float(geo.path.mean_width), float(geo.path.length)
    if calibration is None:
        return BeadDimensions(width, length, h, "px", h_unit)
    return BeadDimensions(
        calibration.px_to_mm(width), calibration.px_to_mm(length), h, "mm", h_unit
    )
