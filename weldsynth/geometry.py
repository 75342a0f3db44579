"""Find the bead in a height map: centreline path, widths, axis, plates, no-data zones.

``locate(height)`` returns a :class:`WeldGeometry`. Defects and reports place things in the
path coordinates of :class:`weldsynth.path.BeadPath` (arc length along, signed offset across).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from weldsynth.path import BeadPath

PLATE_NONE = 0
PLATE_LEFT = 1
"""Plate on the positive-offset side (left of travel; north for a left-to-right bead,
outside for a closed path)."""
PLATE_RIGHT = 2
"""Plate on the negative-offset side (right of travel; south, or inside for a closed path)."""


@dataclass(frozen=True)
class Plate:
    """A plate plane beside the bead.

    Attributes:
        side: ``PLATE_LEFT`` or ``PLATE_RIGHT``.
        area: Number of pixels.
        mean_height: Mean height in [0, 1].
        plane: (a, b, c) of the least-squares plane ``h = a*x + b*y + c``.
    """

    side: int
    area: int
    mean_height: float
    plane: tuple[float, float, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "side": "left" if self.side == PLATE_LEFT else "right",
            "area": int(self.area),
            "mean_height": round(float(self.mean_height), 6),
            "plane": [round(float(v), 8) for v in self.plane],
        }


@dataclass(frozen=True)
class WeldGeometry:
    """Where the bead and the plates are in one height map.

    Attributes:
        shape: (H, W) of the map.
        found: False when no bead could be located; then ``path`` is None and ``reason``
            says why. Callers must not guess a bead in that case.
        reason: Why the bead was not found (None when found).
        path: The bead centreline with widths (None when not found).
        axis_angle: Main axis in degrees (see :func:`weldsynth.path.axis_angle`) for
            line-shaped beads; None for closed (square) beads and when not found.
        bead_mask: bool (H, W), pixels of the bead.
        plate_labels: uint8 (H, W): ``PLATE_NONE``, ``PLATE_LEFT`` or ``PLATE_RIGHT``.
        plates: One :class:`Plate` per plate label present.
        nodata_mask: bool (H, W), pixels equal to 0 (shadow, noise or removed plane).
        corners: Arc lengths of the corners of a closed path (empty for line beads).
    """

    shape: tuple[int, int]
    found: bool
    reason: str | None
    path: BeadPath | None
    axis_angle: float | None
    bead_mask: np.ndarray
    plate_labels: np.ndarray
    plates: tuple[Plate, ...]
    nodata_mask: np.ndarray
    corners: tuple[float, ...] = ()

    @property
    def kind(self) -> str:
        """"line", "closed", or "none" when not found."""
        if self.path is None:
            return "none"
        return "closed" if self.path.closed else "line"

    def segments(self) -> list[tuple[float, float]]:
        """(start, end) arc lengths of the straight runs between corners.

        A line bead is one segment; a closed bead has one per side.
        """
        if self.path is None:
            return []
        if not self.corners:
            return [(0.0, self.path.length)]
        cs = sorted(self.corners)
        if self.path.closed:
            return [(cs[i], cs[(i + 1) % len(cs)] if i + 1 < len(cs) else cs[0] + self.path.length)
                    for i in range(len(cs))]
        edges = [0.0, *cs, self.path.length]
        return list(itertools.pairwise(edges))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (masks reduced to pixel counts)."""
        return {
            "shape": list(self.shape),
            "found": self.found,
            "reason": self.reason,
            "kind": self.kind,
            "axis_angle": None if self.axis_angle is None else round(self.axis_angle, 3),
            "length": None if self.path is None else round(self.path.length, 3),
            "mean_width": None if self.path is None else round(self.path.mean_width, 3),
            "path": None if self.path is None else self.path.to_dict(),
            "corners": [round(c, 3) for c in self.corners],
            "plates": [p.to_dict() for p in self.plates],
            "bead_pixels": int(self.bead_mask.sum()),
            "nodata_pixels": int(self.nodata_mask.sum()),
        }


def locate(height: np.ndarray) -> WeldGeometry:
    """Locate the bead in a height map.

    Args:
        height: 2-D array, float in [0, 1] or uint8/uint16 pixels; 0 = no data.

    Returns:
        The :class:`WeldGeometry`; ``found`` is False (with a reason) when there is no bead.
    """
    raise NotImplementedError("geometry.locate is being written")
