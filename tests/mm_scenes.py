"""A straight weld drawn in millimetres, rendered at any pixel pitch (x and y apart).

The bead runs along x with a slight slope, a parabolic cap across it, on a flat plate with
a strip of no data along the top edge. Rendering samples the same continuous scene at the
pixel centres, so maps of one weld at 0.05, 0.1 and 0.25 mm/px (or 0.1 x 0.3 mm) differ
only by their sampling.
"""

from __future__ import annotations

import numpy as np

FIELD_MM = (32.0, 14.0)
"""(x, y) extent of the scene, mm."""
PLATE = 0.30
"""Plate height in [0, 1]."""
CROWN = 0.25
"""Crest height of the bead above the plate."""
BEAD_WIDTH_MM = 3.0
"""Full width of the bead at its feet, mm."""
NODATA_MM = 1.5
"""Depth of the no-data strip along the top edge (y < NODATA_MM), mm."""


def centre_y_mm(x_mm: np.ndarray | float) -> np.ndarray | float:
    """y of the bead's centreline at x, mm."""
    return 7.0 + 0.08 * (np.asarray(x_mm) - FIELD_MM[0] / 2)


def render(pixel_mm_x: float, pixel_mm_y: float, bit_depth: int = 16) -> np.ndarray:
    """The scene as uint pixels sampled every ``pixel_mm_x`` x ``pixel_mm_y`` mm."""
    cols = round(FIELD_MM[0] / pixel_mm_x)
    rows = round(FIELD_MM[1] / pixel_mm_y)
    x = (np.arange(cols) + 0.5) * pixel_mm_x
    y = (np.arange(rows) + 0.5) * pixel_mm_y
    xs, ys = np.meshgrid(x, y)
    # distance across the sloped centreline
    across = (ys - centre_y_mm(xs)) / np.sqrt(1 + 0.08**2)
    cap = np.clip(1.0 - (2.0 * across / BEAD_WIDTH_MM) ** 2, 0.0, None)
    height = PLATE + CROWN * cap
    top = (1 << bit_depth) - 1
    pixels = np.rint(height * top).astype(np.uint16 if bit_depth == 16 else np.uint8)
    pixels[ys < NODATA_MM] = 0
    return pixels
