"""The bead mask of a centreline: pixels within half the local width of it.

One definition, used by :meth:`weldsynth.geometry.path.BeadPath.bead_mask` and by the
procedural samples (which already hold the path-coordinate maps): a pixel belongs to the bead
when its distance ``|d|`` to the centreline is at most half the width at its arc length ``s``;
for an open path, pixels beyond the two ends (more than half a pixel past the end's
perpendicular) are left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from weldsynth.geometry.path import BeadPath


def bead_mask_from_field(
    path: BeadPath, s_map: np.ndarray, d_map: np.ndarray, near: np.ndarray
) -> np.ndarray:
    """Bool bead mask from the maps of :meth:`BeadPath.field`.

    Args:
        path: The bead's centreline with widths.
        s_map: Arc length of the nearest centreline point per pixel.
        d_map: Signed distance to the centreline per pixel.
        near: Pixels where ``s_map`` and ``d_map`` are valid (within the field's reach).

    Returns:
        New bool array of ``near``'s shape.
    """
    inside = near.copy()
    inside[near] = np.abs(d_map[near]) <= 0.5 * path.width_at(s_map[near])
    if not path.closed:
        ys, xs = np.nonzero(inside)
        keep = np.ones(len(xs), dtype=bool)
        for end_s, sign in ((0.0, -1.0), (path.length, 1.0)):
            p = path.point_at(end_s)
            t = path.tangent_at(end_s)
            along = (xs - p[0]) * t[0] + (ys - p[1]) * t[1]
            keep &= sign * along <= 0.5
        inside[ys[~keep], xs[~keep]] = False
    return inside
