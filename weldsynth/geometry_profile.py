"""Bead edges from cross-sections: the height profile across the bead at points of a centreline.

The bead is a convex cap whose feet meet the plates (or end where the data ends when a plate
is hidden). Along each cross-section the bead spans, from its centre outwards, the samples
that have data and stand more than a small step above the plate on that side. Used by
:mod:`weldsynth.geometry` to turn a rough centreline into exact edges, centre and width.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

STEP_ABOVE = 0.02
"""How far (height units) a sample must stand above its plate to belong to the bead."""
EDGE_BIAS = 0.0
"""Pixels added beyond the threshold crossing to reach the foot of the cap."""
CROWN_FRACTION = 0.1
"""The step above the plate is at least this fraction of the typical crown height."""
VISIBLE_FRACTION = 0.3
"""A side whose outer samples have data at least this often has a visible plate."""


@dataclass(frozen=True)
class Sections:
    """Edges found on cross-sections.

    Attributes:
        left: Distance from the centre point to the positive-offset edge (px), per section.
        right: Distance to the negative-offset edge (px), per section.
        core: True where the centre sample belongs to the bead and the section spans at
            least a quarter of the typical width.
        trusted: True where both edges were found inside the sampled span.
    """

    left: np.ndarray
    right: np.ndarray
    core: np.ndarray
    trusted: np.ndarray

    @property
    def shift(self) -> np.ndarray:
        """Offset of the bead centre from the given point (positive to the left)."""
        return 0.5 * (self.left - self.right)

    @property
    def width(self) -> np.ndarray:
        """Full bead width per section."""
        return self.left + self.right


def sample_sections(
    smooth: np.ndarray, valid: np.ndarray, points: np.ndarray, normals: np.ndarray,
    reach_left: int, reach_right: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heights along the normals of ``points``.

    Args:
        smooth: float32 (H, W) heights, 0 where there is no data.
        valid: float32 (H, W) 1 where there is data.
        points: (N, 2) centre points (x, y).
        normals: (N, 2) unit normals pointing to positive offsets.
        reach_left: Samples on the positive side (1 px apart).
        reach_right: Samples on the negative side.

    Returns:
        ``(profile, has_data, in_image)``, each (N, reach_right + 1 + reach_left); column
        ``reach_right`` is the centre point, columns grow towards positive offsets.
    """
    d = np.arange(-reach_right, reach_left + 1, dtype=np.float32)
    mx = (points[:, 0, None] + d[None, :] * normals[:, 0, None]).astype(np.float32)
    my = (points[:, 1, None] + d[None, :] * normals[:, 1, None]).astype(np.float32)
    h, w = smooth.shape
    both = cv2.remap(np.dstack([smooth, valid]), mx, my, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    num, den = both[..., 0], both[..., 1]
    has = den > 0.5
    prof = np.where(has, num / np.maximum(den, 1e-6), 0.0)
    in_image = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    return prof, has, in_image


def find_edges(
    profile: np.ndarray, has: np.ndarray, in_image: np.ndarray, centre: int,
    step_above: float = STEP_ABOVE,
) -> Sections:
    """Edges of the bead on each cross-section (see :func:`sample_sections`).

    The step a sample must stand above its plate is ``step_above`` or a tenth of the
    typical crown height above the plates, whichever is larger: plate texture is then not
    taken for bead, and the cap, steep at its feet, loses well under a pixel. The plate
    level is first the median of the outer samples of the section, then the median of the
    plate just beyond the edge found with it (so tilt and texture of the plate do not move
    the edge).
    """
    sides = []
    for sl in (slice(centre, None, -1), slice(centre, None)):
        prof, hs = profile[:, sl], has[:, sl]
        sides.append((prof, hs, _plate_level(prof, hs, in_image[:, sl])))
    levels = [lv for _, _, lv in sides if lv is not None]
    step = step_above
    if levels:
        crown = profile[:, centre] - np.max(levels, axis=0)
        up = crown > step_above
        if up.any():
            step = max(step_above, CROWN_FRACTION * float(np.median(crown[up])))
    out = []
    for prof, hs, lv in sides:
        if lv is None:
            out.append(_walk(prof, hs, None))
            continue
        edge, _, _ = _walk(prof, hs, prof - lv[:, None] - step)
        lv = _level_beyond(prof, hs, edge, lv)
        out.append(_walk(prof, hs, prof - lv[:, None] - step))
    (r_edge, r_found, r_core), (l_edge, l_found, l_core) = out
    core = l_core & r_core
    if core.any():
        # a section across the bead spans a good part of the typical width; one that only
        # touches a plate or the edge of the data (beyond the bead's ends) does not
        width = l_edge + r_edge
        core &= (width >= 0.25 * float(np.median(width[core]))) & (l_edge >= 1.0) & (
            r_edge >= 1.0)
    return Sections(left=l_edge, right=r_edge, core=core, trusted=core & l_found & r_found)


def _plate_level(prof: np.ndarray, has: np.ndarray, in_image: np.ndarray) -> np.ndarray | None:
    """Rough plate height of one side per section, or None when the side shows no plate.

    Column 0 is the centre, columns go outwards. The outer part of each section (its last
    40 % inside the image) lies beyond the bead; when those samples mostly have data the
    side shows a plate, at the median of those samples (sections without any take their
    neighbours' level).
    """
    m = prof.shape[1]
    cols = np.arange(m)[None, :]
    span = in_image.sum(axis=1)
    outer = in_image & (cols >= 0.6 * span[:, None])
    data = has & outer
    if data.sum() < VISIBLE_FRACTION * max(int(outer.sum()), 1):
        return None
    ok = data.sum(axis=1) >= 2
    if not ok.any():
        return None
    level = np.full(len(prof), np.nan)
    level[ok] = _row_median(prof[ok], data[ok])
    return _fill_nan(level)


def _level_beyond(
    prof: np.ndarray, has: np.ndarray, edge: np.ndarray, level: np.ndarray
) -> np.ndarray:
    """Median of the plate samples 2 to 8 px beyond ``edge`` (``level`` where too few)."""
    m = prof.shape[1]
    cols = np.arange(m)[None, :]
    near = has & (cols >= edge[:, None] + 2.0) & (cols <= edge[:, None] + 8.0)
    ok = near.sum(axis=1) >= 3
    if not ok.any():
        return level
    out = level.copy()
    out[ok] = _row_median(prof[ok], near[ok])
    return out


def _row_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median of each row over the entries where ``mask`` (each row has at least one)."""
    v = np.sort(np.where(mask, values, np.inf), axis=1)
    count = mask.sum(axis=1)
    rows = np.arange(len(v))
    return 0.5 * (v[rows, (count - 1) // 2] + v[rows, count // 2])


def _walk(
    prof: np.ndarray, has: np.ndarray, above: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edge distance, whether it was found, and whether the centre is bead, for one side.

    From the centre (column 0) outwards, the bead spans the samples that have data and,
    where the side shows a plate, stand above it (``above > 0``).
    """
    n, m = prof.shape
    rows = np.arange(n)
    inside = has & (above > 0) if above is not None else has
    stop = np.argmax(~inside, axis=1)
    found = ~inside[rows, stop]
    stop = np.where(found, stop, m - 1)
    core = inside[:, 0]
    k = np.maximum(stop, 1)
    edge = (k - 1).astype(np.float64) + 0.5
    if above is not None:
        a0 = above[rows, k - 1]
        a1 = above[rows, k]
        frac_step = np.clip(a0 / np.maximum(a0 - a1, 1e-9), 0.0, 1.0)
        edge = np.where(has[rows, k], (k - 1) + frac_step + EDGE_BIAS, edge)
    return edge, found, core


def _fill_nan(values: np.ndarray) -> np.ndarray:
    """Replace NaNs by linear interpolation between the nearest finite neighbours."""
    bad = np.isnan(values)
    if not bad.any():
        return values
    idx = np.arange(len(values))
    return np.interp(idx, idx[~bad], values[~bad])
