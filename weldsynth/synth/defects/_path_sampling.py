"""Placement of bead sections for ``bead_deviation``, ``excess_material`` and ``missing_plate``.

A *section* is an arc-length interval of the bead path. On open (line) beads it is kept away
from the ends; on closed (square) beads it may be asked to stay on one straight side, away
from the corners. The plugin's params then carry the local piece of the centreline around
the section (:func:`local_piece`), so ``apply`` needs no geometry. Every random number comes
from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import numpy as np

from weldsynth.geometry import PLATE_LEFT, PLATE_RIGHT, WeldGeometry
from weldsynth.geometry.path import BeadPath
from weldsynth.synth.defects import functional as F
from weldsynth.synth.defects._path_functional import straight_runs
from weldsynth.synth.defects.sampling import draw_s

POINT_DECIMALS = 4
"""Local centreline points are stored rounded to 1/10000 px (short, exact JSON)."""


def place_section(
    rng: np.random.Generator,
    path: BeadPath,
    length: float,
    end_margin: float,
    guard: float = 0.0,
    straight: bool = False,
) -> tuple[float, float]:
    """Draw a section of about ``length`` px; returns its (start, end) arc lengths.

    Args:
        rng: Random source.
        path: The bead path.
        length: Wanted section length, px (shortened when the bead or side is shorter).
        end_margin: Distance kept from the ends of an open path, px.
        guard: Distance kept from the corners when ``straight`` (closed paths), px.
        straight: Closed paths only: keep the section on one straight run of the path.
    """
    if not path.closed:
        length = min(length, max(path.length - 2 * end_margin, 0.25 * path.length))
        start = draw_s(rng, path, end_margin, length)
        return start, start + length
    if not straight:
        length = min(length, path.length)
        start = float(rng.uniform(0.0, path.length))
        return start, start + length
    runs = straight_runs(path)
    room = np.array([max(b - a - 2 * guard, 0.0) for a, b in runs])
    if room.max() <= 0:  # no straight side holds the guard: use the longest side
        a, b = max(runs, key=lambda r: r[1] - r[0])
        mid, half = 0.5 * (a + b), 0.5 * min(length, b - a)
        return mid - half, mid + half
    fits = room >= length
    weights = np.where(fits, room - length + 1.0, 0.0) if fits.any() else room
    pick = int(rng.choice(len(runs), p=weights / weights.sum()))
    a, b = runs[pick]
    length = min(length, room[pick])
    start = float(rng.uniform(a + guard, b - guard - length)) if room[pick] > length else a + guard
    return start, start + length


def local_piece(
    path: BeadPath, s_from: float, s_to: float
) -> tuple[tuple[tuple[float, float], ...], tuple[float, ...], float]:
    """The centreline between two arc lengths as plain data for params.

    Returns:
        (points, widths, origin): rounded local points, their widths, and the arc length on
        the whole path of the first local point (open paths clip the interval to the bead).
    """
    points, widths = F.local_path(path, s_from, s_to)
    origin = s_from if path.closed else max(0.0, s_from)
    pts = tuple((float(x), float(y)) for x, y in np.round(points, POINT_DECIMALS))
    return pts, tuple(float(w) for w in np.round(widths, POINT_DECIMALS)), float(origin)


def whole_piece(path: BeadPath) -> tuple[tuple[tuple[float, float], ...], tuple[float, ...]]:
    """Every vertex of the path (rounded) and its widths, for defects on the whole bead."""
    pts = tuple((float(x), float(y)) for x, y in np.round(path.points, POINT_DECIMALS))
    return pts, tuple(float(w) for w in np.round(path.widths, POINT_DECIMALS))


def draw_side(
    rng: np.random.Generator,
    choice: str,
    geometry: WeldGeometry | None = None,
    plate_bias: float = 0.0,
) -> float:
    """+1 (left of travel: north, or outside a square weld) or -1 (right: south, inside).

    Args:
        rng: Random source (one draw is always made, whatever ``choice``).
        choice: "left", "right" or "any".
        geometry: With ``plate_bias`` > 0 and exactly one plate side visible, "any" picks
            that side with probability ``0.5 + plate_bias / 2``.
        plate_bias: 0 = fair coin.
    """
    u = float(rng.random())
    if choice == "left":
        return 1.0
    if choice == "right":
        return -1.0
    p_left = 0.5
    if geometry is not None and plate_bias > 0:
        sides = {p.side for p in geometry.plates if p.area > 0}
        if sides == {PLATE_LEFT}:
            p_left = 0.5 + plate_bias / 2
        elif sides == {PLATE_RIGHT}:
            p_left = 0.5 - plate_bias / 2
    return 1.0 if u < p_left else -1.0
