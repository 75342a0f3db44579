"""Which ridge is the bead: candidates, beads that cross the map, several beads, enclosures.

Used by :func:`weldsynth.geometry.locate`. A map may hold more than one ridge (a T of two
beads, two parallel walls, a bead beside a plate edge) or a bead wider than the map is long
(a butt-weld cap scanned over a short section). These rules keep the finder from merging
them into one shape or taking the crest of a wide bead for a closed one:

* every ridge with a good share of the main one's crest is a candidate, fitted on its own;
  when two of them fit as beads and neither has DOMINANCE times the other's crest, no bead
  is reported; otherwise the main one is, with a ``several beads`` warning;
* crest left beside the main bead's band (the stem of a T) is a branch: warned about;
* a ridge that touches two opposite borders crosses the map and is a line along them;
* a closed bead needs an enclosed region that the bead separates from the map's border
  on every side (:func:`enclosure_problem`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from weldsynth.geometry.closed import ClosedFit
from weldsynth.geometry.path import BeadPath
from weldsynth.geometry.ridge import CORE_LEVEL, EDGE_LEVEL, Reduced, quantiles, ridge_response

GAP = 2
"""Runs of up to 2 * GAP reduced pixels without data do not split a ridge."""
NOISE_MARGIN = 1.5
"""The rough ridge reaches down to this many times the noise floor of the ridge response."""
MIN_SHARE = 0.25
"""A ridge with at least this share of the main ridge's crest pixels is fitted as well."""
DOMINANCE = 1.6
"""The main bead's crest must have this many times the crest of every other bead fitted."""
BRANCH_SHARE = 0.12
"""Crest outside the main bead's band, as a share of its crest, that makes a branch."""
CROSS_GAIN = 1.5
"""A row (column) background must show the ridge this many times higher than the square
window before a bead is taken to be wider than that window (it crosses the map)."""
MIN_BEAD_SUPPORT = 0.7
"""Smallest fraction of a closed bead's cross-sections that must cross a bead."""
MAX_OPEN = 0.15
"""Longest run of a closed bead without bead, as a fraction of its length (a cut)."""
MIN_INSIDE = 0.6
"""Smallest enclosed region beside the bead: its inscribed radius over the bead width."""
MAX_BORDER = 0.3
"""A bead running along the map's border over more than this fraction of its length is
cut by it: found, with a warning, and never preferred to a bead measured whole."""


@dataclass(frozen=True)
class Candidate:
    """One ridge of the reduced map.

    Attributes:
        mask: bool, the ridge above EDGE_LEVEL of the peak (connected).
        crest: Number of its pixels above CORE_LEVEL of the peak.
        along: 0 when it touches the left and right borders (it runs along x), 1 for top
            and bottom, None when it crosses the map neither way.
    """

    mask: np.ndarray
    crest: int
    along: int | None


def crossing_axis(mask: np.ndarray) -> int | None:
    """0 when ``mask`` touches the left and right borders, 1 for top and bottom, else None
    (both: the axis of the longer extent relative to the map)."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    along_x = bool(xs.min() == 0 and xs.max() == w - 1)
    along_y = bool(ys.min() == 0 and ys.max() == h - 1)
    if along_x and along_y:
        return 0 if (ys.max() - ys.min()) / h <= (xs.max() - xs.min()) / w else 1
    return 0 if along_x else (1 if along_y else None)


def candidates(
    ridge: np.ndarray, peak: float, valid: np.ndarray, floor: float = 0.0
) -> list[Candidate]:
    """The ridges that may be a bead, the one with the most crest first.

    A ridge is a connected part above ``EDGE_LEVEL * peak``, joined across short runs of
    pixels without data (a lost scan line does not split a bead in two); it counts when its
    crest (pixels above ``CORE_LEVEL * peak``) is bead-sized and at least MIN_SHARE of the
    largest crest. ``floor`` is the ridge response that noise alone reaches: the ridge
    reaches down to NOISE_MARGIN times it when that is higher than ``EDGE_LEVEL * peak``.
    """
    above = ridge > max(EDGE_LEVEL * peak, NOISE_MARGIN * floor)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * GAP + 1, 2 * GAP + 1))
    joined = cv2.morphologyEx(above.astype(np.uint8), cv2.MORPH_CLOSE, kernel) > 0
    mask = (above | (joined & ~valid)).astype(np.uint8)
    n, labels = cv2.connectedComponents(mask, connectivity=8)
    if n <= 1:
        return []
    crest = np.bincount(labels[ridge > CORE_LEVEL * peak], minlength=n)
    crest[0] = 0
    order = np.argsort(-crest, kind="stable")
    top = int(crest[order[0]])
    if top < max(8, 0.002 * ridge.size):
        return []
    out = []
    for i in order:
        if crest[i] < MIN_SHARE * top or crest[i] == 0:
            break
        m = (labels == i) & above
        out.append(Candidate(m, int(crest[i]), crossing_axis(m)))
    return out


def crossing_ridge(
    small: Reduced, peak: float, floor: float = 0.0
) -> tuple[np.ndarray, float, int] | None:
    """The ridge of a bead wider than the square window that crosses the map, if any.

    The background is taken along rows (columns) over most of the map's width (height), so
    a bead running along y (x) stands out whatever its width; it is used when it stands
    CROSS_GAIN times higher than in the square window, its ridge touches both borders it
    runs to and its crest neither border beside it.

    Returns:
        (ridge response, its peak, axis the bead runs along: 0 = x, 1 = y), or None.
    """
    best = None
    for across in (1, 0):
        r = ridge_response(small.height, small.valid, across=across)
        (p,) = quantiles(r[small.valid], (0.995,))
        if p < CROSS_GAIN * peak or (best is not None and p <= best[1]):
            continue
        found = candidates(r, p, small.valid, floor)
        if not found or found[0].along != across:
            continue
        if not _on_side_border(found[0].mask & (r > CORE_LEVEL * p), across):
            best = (r, p, across)
    return best


def _on_side_border(mask: np.ndarray, along: int) -> bool:
    """Whether a crest running along ``along`` touches a border beside it: a long window cut
    by the border makes a tilted plate rise there (a real bead there is cut, and found by
    the square window)."""
    side = mask.any(axis=0) if along == 1 else mask.any(axis=1)
    return bool(side[0] or side[-1])


def dominant(crests: list[int]) -> bool:
    """Whether the first of the fitted beads' crests dominates all the others."""
    return all(crests[0] >= DOMINANCE * c for c in crests[1:])


def border_share(path: BeadPath, shape: tuple[int, int]) -> float:
    """Fraction of a path's length that runs along the map's border, closer to it than half
    its width (the bead is cut by the border there: only part of it is measured)."""
    s = np.arange(0.0, path.length + 1e-9, 2.0)
    pts = path.point_at(s)
    h, w = shape
    gap = np.minimum.reduce([pts[:, 0], pts[:, 1], w - 1 - pts[:, 0], h - 1 - pts[:, 1]])
    near = gap <= 0.5 * path.width_at(s) + 1.0
    if not path.closed:  # the ends of a bead that runs off the map are not along it
        near &= (s > path.mean_width) & (s < path.length - path.mean_width)
    return float(np.mean(near))


def branches(core: np.ndarray, band: np.ndarray, small: Reduced, width: float) -> tuple[int, float]:
    """Crest beside the main bead's band: (number of branches, their share of the crest).

    Args:
        core: bool crest pixels of the main ridge (reduced map).
        band: bool band of the fitted bead (full resolution).
        small: The reduced map (for its scale).
        width: Mean bead width in full-resolution pixels.
    """
    h, w = core.shape
    cover = cv2.resize(band.astype(np.uint8), (w, h), interpolation=cv2.INTER_AREA) > 0
    r = max(1, round(0.25 * width / float(np.mean(small.scale))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    cover = cv2.dilate(cover.astype(np.uint8), kernel) > 0
    rest = (core & ~cover).astype(np.uint8)
    total = max(int(core.sum()), 1)
    n, _, stats, _ = cv2.connectedComponentsWithStats(rest, connectivity=8)
    big = [
        i
        for i in range(1, n)
        if stats[i, cv2.CC_STAT_AREA] >= BRANCH_SHARE * total
        and max(stats[i, cv2.CC_STAT_WIDTH], stats[i, cv2.CC_STAT_HEIGHT]) >= 2 * r
    ]
    return len(big), float(sum(stats[i, cv2.CC_STAT_AREA] for i in big)) / total


def enclosure_problem(fit: ClosedFit, band: np.ndarray) -> str | None:
    """Why a closed fit is not a closed bead, or None when it is one.

    A closed bead encloses a region that the bead separates from the map's border on every
    side: its sections cross a bead nearly all the way round (a short cut allowed), the
    enclosed region is more than a dip in a crest and does not reach the border, and the
    bead does not cross the map.
    """
    length = fit.path.length
    if fit.support < MIN_BEAD_SUPPORT:
        return f"the ring is a bead on only {100 * fit.support:.0f}% of its length"
    if fit.open_px > MAX_OPEN * length:
        return f"the ring is open over {fit.open_px:.0f} px"
    inner = (fit.inside & ~band).astype(np.uint8)
    if not inner.any():
        return "nothing is enclosed by the ring"
    if inner[0].any() or inner[-1].any() or inner[:, 0].any() or inner[:, -1].any():
        return "the region inside the ring reaches the image border"
    radius = float(cv2.distanceTransform(inner, cv2.DIST_L2, 3).max())
    if radius < MIN_INSIDE * fit.path.mean_width:
        return f"the ring encloses only a dip ({radius:.0f} px across half)"
    if crossing_axis(band) is not None:
        return "the ring crosses the image"
    return None
