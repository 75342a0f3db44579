"""Rough bead detection for :func:`weldsynth.geometry.locate`: the ridge that stands out.

Works on a half-resolution copy of the map (the exact edges are found later on full-resolution
cross-sections): the ridge response is the height above a morphological opening wider than
the bead, which removes the bead and keeps flat or tilted plates; no-data pixels take no part.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CORE_LEVEL = 0.5
"""Fraction of the ridge peak that marks the bead's crest."""
EDGE_LEVEL = 0.15
"""Fraction of the ridge peak down to which the rough bead mask reaches."""
CROSS_SPAN = 0.8
"""Length of the row (column) window of a crossing bead's background, as a fraction of the
map's width (height)."""


@dataclass(frozen=True)
class Reduced:
    """A map at reduced resolution.

    Attributes:
        height: float32 heights, 0 where there is no data (2x2 means of measured pixels).
        valid: bool, True where at least half the source pixels have data.
        scale: (sx, sy) full-resolution pixels per reduced pixel.
    """

    height: np.ndarray
    valid: np.ndarray
    scale: tuple[float, float]

    def to_full(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Reduced pixel coordinates to full-resolution ones (pixel centres map to centres)."""
        sx, sy = self.scale
        return (xs + 0.5) * sx - 0.5, (ys + 0.5) * sy - 0.5


def reduce(f: np.ndarray, validf: np.ndarray) -> Reduced:
    """Half-resolution copy of a map (kept at full resolution when a side is under 100 px,
    where beads are too narrow to halve)."""
    h, w = f.shape
    if min(h, w) < 100:
        return Reduced(f, validf > 0, (1.0, 1.0))
    size = ((w + 1) // 2, (h + 1) // 2)
    num = cv2.resize(f, size, interpolation=cv2.INTER_AREA)
    den = cv2.resize(validf, size, interpolation=cv2.INTER_AREA)
    valid = den >= 0.5
    small = np.where(valid, num / np.maximum(den, 1e-6), 0.0).astype(np.float32)
    return Reduced(small, valid, (w / size[0], h / size[1]))


def noise_level(f: np.ndarray, valid: np.ndarray) -> float:
    """Pixel noise (robust std) from differences of neighbours on every 2nd row (column).

    The larger of the horizontal and vertical estimates: a scanner's lines repeated over
    the cells between them (line pitch) make one of them look noise-free.
    """
    out = 0.0
    for g, v in ((f, valid), (f.T, valid.T)):
        a, b = g[::2, 1:], g[::2, :-1]
        both = v[::2, 1:] & v[::2, :-1]
        diff = (a - b)[both]
        if diff.size < 16:
            continue
        diff = diff[:: max(1, diff.size // 8000)]
        out = max(out, 1.4826 * float(np.median(np.abs(diff))) / np.sqrt(2.0))
    return out


def quantiles(values: np.ndarray, qs: tuple[float, ...]) -> tuple[float, ...]:
    """Quantiles by partial sort of (at most ~8k of) the values."""
    v = values[:: max(1, values.size // 8000)]
    ks = [min(v.size - 1, int(q * (v.size - 1))) for q in qs]
    part = np.partition(v, ks)
    return tuple(float(part[k]) for k in ks)


def ridge_response(height: np.ndarray, valid: np.ndarray, across: int | None = None) -> np.ndarray:
    """Height above the local background (white top-hat that ignores no-data pixels).

    Args:
        height: float32 heights, 0 where there is no data.
        valid: bool, True where there is data.
        across: None for a square window of half the short side (beads narrower than that,
            any direction); 1 (0) for a row (column) window of CROSS_SPAN of the width
            (height): the background of a bead that runs along y (x), however wide.
    """
    h, w = height.shape
    vf = valid.astype(np.float32)
    num = cv2.GaussianBlur(height, (3, 3), 0.8)
    den = cv2.GaussianBlur(vf, (3, 3), 0.8)
    smooth = np.where(valid, num / np.maximum(den, 1e-6), np.float32(2.0)).astype(np.float32)
    if across is None:
        k = int(np.clip(0.5 * min(h, w), 9, 81)) | 1
        size = (k, k)
    else:
        k = int(max(9, CROSS_SPAN * (w if across == 1 else h))) | 1
        size = (k, 1) if across == 1 else (1, k)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, size)
    eroded = cv2.erode(smooth, kernel)
    eroded[eroded > 1.5] = 0.0  # windows with no data at all
    background = cv2.dilate(eroded, kernel)
    return np.where(valid, smooth - background, 0.0).astype(np.float32)
