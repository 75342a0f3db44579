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
MIN_SPAN = 0.4
"""A side of a section with fewer samples inside the image than this fraction of its reach
shows no plate (the bead runs off the image there)."""
BRIDGE = 3
"""Longest run of samples without data inside a bead that does not end it (dropouts)."""
FLANK = 0.5
"""A section side whose data end before the section does, on samples that still come down
outwards faster than this fraction of the mean descent from the section's top to them, ends
on the bead's flank, not on a plate (a hidden plate in a map cropped close to the bead)."""
FLANK_SAMPLES = 6
"""How many of the last samples with data the flank slope is fitted to."""
FLANK_T = 3.0
"""How many standard errors (from the samples' noise) a flank's slope must stand out by."""


@dataclass(frozen=True)
class Sections:
    """Edges found on cross-sections.

    Attributes:
        left: Distance from the centre point to the positive-offset edge (px), per section.
        right: Distance to the negative-offset edge (px), per section.
        core: True where the section crosses the bead (at its centre or at its highest
            sample near it) over at least a quarter of the typical width.
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
    smooth: np.ndarray,
    valid: np.ndarray,
    points: np.ndarray,
    normals: np.ndarray,
    reach_left: int,
    reach_right: int,
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
    both = cv2.remap(
        np.dstack([smooth, valid]),
        mx,
        my,
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )
    num, den = both[..., 0], both[..., 1]
    has = den > 0.5
    prof = np.where(has, num / np.maximum(den, 1e-6), 0.0)
    in_image = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    return prof, has, in_image


def find_edges(
    profile: np.ndarray,
    has: np.ndarray,
    in_image: np.ndarray,
    centre: int,
    step_above: float = STEP_ABOVE,
) -> Sections:
    """Edges of the bead on each cross-section (see :func:`sample_sections`).

    The step a sample must stand above its plate is ``step_above`` or a tenth of the
    typical crown height above the plates, whichever is larger: plate texture is then not
    taken for bead, and the cap, steep at its feet, loses well under a pixel. The plate
    level is first the median of the outer samples of the section, then the median of the
    plate just beyond the edge found with it (so tilt and texture of the plate do not move
    the edge). A section whose centre misses the bead, or lies on its edge, starts from its
    highest sample within half the reach instead (when that stands above every plate), so a
    rough centreline a few pixels off still finds the bead.
    """
    n, m = profile.shape
    cols = np.arange(m)[None, :]
    noise = _noise(profile, has)
    right = _plate_level(profile[:, centre::-1], has[:, centre::-1], in_image[:, centre::-1], noise)
    left = _plate_level(profile[:, centre:], has[:, centre:], in_image[:, centre:], noise)
    shown = [lv for lv in (left, right) if lv is not None]
    step = step_above
    if shown:
        crown = profile[:, centre] - np.max(shown, axis=0)
        up = crown > step_above
        if up.any():
            step = max(step_above, CROWN_FRACTION * float(np.median(crown[up])))
    level = _level_rows(left, right, centre, n, m)
    inside = _bridge(has & (profile - level > step), has)
    k = max(2, min(centre, m - 1 - centre) // 2)
    window = has & (np.abs(cols - centre) <= k)
    highest = np.argmax(np.where(window, profile, -np.inf), axis=1)
    rows = np.arange(n)
    top = np.max(shown, axis=0) if shown else np.full(n, -10.0)
    crest = profile[rows, highest] - top > step  # stands above every plate it could be on
    # the centre only starts the walk when it lies in the bead, not on its very edge (a bead
    # that bends away from the rough centreline passes it at its edge)
    in_bead = inside[:, centre - 1] & inside[:, centre] & inside[:, centre + 1]
    start = np.where(in_bead | ~crest, centre, highest)
    lo, hi, lo_found, hi_found = _walk(profile, has, inside, profile - level - step, start)
    if shown:  # level again, just beyond the edges found
        if left is not None:
            left = _level_near(
                profile, has, (cols >= hi[:, None] + 2) & (cols <= hi[:, None] + 8), left
            )
        if right is not None:
            right = _level_near(
                profile, has, (cols <= lo[:, None] - 2) & (cols >= lo[:, None] - 8), right
            )
        level = _level_rows(left, right, centre, n, m)
        inside = _bridge(has & (profile - level > step), has)
        lo, hi, lo_found, hi_found = _walk(profile, has, inside, profile - level - step, start)
    core = inside[rows, start] & (hi - start >= 1.0) & (start - lo >= 1.0)
    width = hi - lo
    if core.any():
        # a section across the bead spans a good part of the typical width; one that only
        # touches a plate or the edge of the data (beyond the bead's ends) does not
        core &= width >= 0.25 * float(np.median(width[core]))
    return Sections(
        left=hi - centre, right=centre - lo, core=core, trusted=core & lo_found & hi_found
    )


def _level_rows(
    left: np.ndarray | None, right: np.ndarray | None, centre: int, n: int, m: int
) -> np.ndarray:
    """Plate level under every sample: the left level from the centre on, the right one
    before it; far below any height on a side without plate (there only the data ends the
    bead)."""
    lv = np.full(n, -10.0) if left is None else left
    rv = np.full(n, -10.0) if right is None else right
    return np.where(np.arange(m)[None, :] >= centre, lv[:, None], rv[:, None])


def _walk(
    profile: np.ndarray,
    has: np.ndarray,
    inside: np.ndarray,
    above: np.ndarray,
    start: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sub-pixel column of the bead's edge on each side of ``start`` and whether found.

    From ``start`` the bead spans the samples that are ``inside``; where it stops at a
    sample with data (the profile came down to its plate) the edge is interpolated on
    ``above``, where it stops at a sample without data it lies half-way.
    """
    n, m = inside.shape
    rows = np.arange(n)
    cols = np.arange(m)[None, :]
    out = ~inside
    j_hi = np.where(out & (cols > start[:, None]), cols, m).min(axis=1)
    j_lo = np.where(out & (cols < start[:, None]), cols, -1).max(axis=1)
    hi_found, lo_found = j_hi < m, j_lo >= 0
    jh, jl = np.minimum(j_hi, m - 1), np.maximum(j_lo, 0)
    a_in, a_out = above[rows, np.maximum(jh - 1, 0)], above[rows, jh]
    frac = np.clip(a_in / np.maximum(a_in - a_out, 1e-9), 0.0, 1.0)
    hi = np.where(has[rows, jh], jh - 1 + frac + EDGE_BIAS, jh - 0.5)
    a_in, a_out = above[rows, np.minimum(jl + 1, m - 1)], above[rows, jl]
    frac = np.clip(a_in / np.maximum(a_in - a_out, 1e-9), 0.0, 1.0)
    lo = np.where(has[rows, jl], jl + 1 - frac - EDGE_BIAS, jl + 0.5)
    hi = np.where(hi_found, hi, m - 1.0)
    lo = np.where(lo_found, lo, 0.0)
    return lo, hi, lo_found, hi_found


def _bridge(inside: np.ndarray, has: np.ndarray) -> np.ndarray:
    """``inside`` with runs of at most BRIDGE samples without data between inside samples
    set (dropouts in the bead do not end it; the end of the data still does)."""
    m = inside.shape[1]
    cols = np.arange(m)[None, :]
    last = np.maximum.accumulate(np.where(inside, cols, -m - BRIDGE - 2), axis=1)
    after = np.where(inside, cols, 2 * m + BRIDGE + 2)[:, ::-1]
    nxt = np.minimum.accumulate(after, axis=1)[:, ::-1]
    return inside | (~has & (nxt - last - 1 <= BRIDGE))


def _plate_level(
    prof: np.ndarray, has: np.ndarray, in_image: np.ndarray, noise: float = 0.0
) -> np.ndarray | None:
    """Rough plate height of one side per section, or None when the side shows no plate.

    Column 0 is the centre, columns go outwards. The outer part of each section (its last
    40 % inside the image) lies beyond the bead; when those samples mostly have data the
    side shows a plate, at the median of those samples (sections without any, or that
    leave the image within MIN_SPAN of their length, take their neighbours' level). Outer
    samples where the side ends on the bead's flank (:func:`_on_flank`; ``noise``: the
    samples' noise) are no plate.
    """
    m = prof.shape[1]
    cols = np.arange(m)[None, :]
    span = in_image.sum(axis=1)
    # a section that leaves the image this early shows the bead cut by the border, no plate
    seen = span >= MIN_SPAN * m
    outer = in_image & (cols >= 0.6 * span[:, None]) & seen[:, None]
    data = has & outer
    data &= ~_on_flank(prof, has, data, noise)[:, None]
    if data.sum() < VISIBLE_FRACTION * max(int(outer.sum()), 1):
        return None
    ok = data.sum(axis=1) >= 2
    if not ok.any():
        return None
    level = np.full(len(prof), np.nan)
    level[ok] = _row_median(prof[ok], data[ok])
    return _fill_nan(level)


def _on_flank(prof: np.ndarray, has: np.ndarray, data: np.ndarray, noise: float) -> np.ndarray:
    """Sections whose side ends on the bead's flank (see FLANK).

    The data stop before the section ends (no data, or the image border), and the last
    FLANK_SAMPLES (3 or more) of the outer samples ``data`` come down outwards steeper than
    FLANK times the mean slope from the section's top to them, and by FLANK_T standard
    errors of the slope with ``noise`` (a noisy plate's slope is not a flank). Column 0 is
    the centre.
    """
    m = prof.shape[1]
    cols = np.arange(m, dtype=np.float64)[None, :]
    ends_early = np.max(np.where(has, cols, -1.0), axis=1) < m - 1
    rank = np.cumsum(data[:, ::-1], axis=1)[:, ::-1]  # 1 = the outermost sample with data
    tail = data & (rank <= FLANK_SAMPLES)
    n = tail.sum(axis=1)
    w = tail.astype(np.float64)
    xm = (w * cols).sum(axis=1) / np.maximum(n, 1)
    ym = (w * prof).sum(axis=1) / np.maximum(n, 1)
    dx = np.where(tail, cols - xm[:, None], 0.0)
    sxx = np.maximum((dx * dx).sum(axis=1), 1e-9)
    slope = (dx * (prof - ym[:, None])).sum(axis=1) / sxx
    top = np.max(np.where(has, prof, -np.inf), axis=1)
    mean_drop = (top - ym) / np.maximum(xm, 1.0)
    steep = (-slope > FLANK * mean_drop) & (-slope > FLANK_T * noise / np.sqrt(sxx))
    return ends_early & (n >= 3) & (mean_drop > 0) & steep


def _noise(profile: np.ndarray, has: np.ndarray) -> float:
    """Robust noise of the samples: from differences of neighbours with data (the bead's
    slopes, a minority of them, raise it a little)."""
    both = has[:, 1:] & has[:, :-1]
    diff = np.diff(profile, axis=1)[both]
    if diff.size < 16:
        return 0.0
    return 1.4826 * float(np.median(np.abs(diff))) / np.sqrt(2.0)


def _level_near(
    profile: np.ndarray, has: np.ndarray, zone: np.ndarray, level: np.ndarray
) -> np.ndarray:
    """Median of the samples with data in ``zone`` per section (``level`` where too few)."""
    near = has & zone
    ok = near.sum(axis=1) >= 3
    if not ok.any():
        return level
    out = level.copy()
    out[ok] = _row_median(profile[ok], near[ok])
    return out


def _row_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median of each row over the entries where ``mask`` (each row has at least one)."""
    v = np.sort(np.where(mask, values, np.inf), axis=1)
    count = mask.sum(axis=1)
    rows = np.arange(len(v))
    return 0.5 * (v[rows, (count - 1) // 2] + v[rows, count // 2])


def _fill_nan(values: np.ndarray) -> np.ndarray:
    """Replace NaNs by linear interpolation between the nearest finite neighbours."""
    bad = np.isnan(values)
    if not bad.any():
        return values
    idx = np.arange(len(values))
    return np.interp(idx, idx[~bad], values[~bad])
