"""Pixel regions of a located bead: its band, the side left of it, the plates beside it.

Used by :func:`weldsynth.geometry.locate` once a path is found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from weldsynth.geometry.path import BeadPath

MIN_PLATE_FRACTION = 0.02
"""Smallest plate, as a fraction of the map, reported as a plate."""

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


def _vertex_normals(path: BeadPath) -> np.ndarray:
    """Unit left normals at the vertices (central differences; one-sided at open ends)."""
    pts = path.points
    if path.closed:
        t = np.roll(pts, -1, axis=0) - np.roll(pts, 1, axis=0)
    else:
        t = np.gradient(pts, axis=0)
    t = t / np.maximum(np.hypot(t[:, 0], t[:, 1]), 1e-9)[:, None]
    return np.stack([t[:, 1], -t[:, 0]], axis=1)


def _fill(
    shape: tuple[int, int], polys: list[np.ndarray], value: int = 1, out: np.ndarray | None = None
) -> np.ndarray:
    """Fill polygons (float (x, y) vertices) with sub-pixel precision."""
    if out is None:
        out = np.zeros(shape, np.uint8)
    cv2.fillPoly(out, [np.rint(p * 16).astype(np.int32) for p in polys], value, cv2.LINE_8, 4)
    return out


def band(path: BeadPath, shape: tuple[int, int]) -> np.ndarray:
    """Pixels within half the local width of the centreline (polygon fill, not projection)."""
    n = _vertex_normals(path) * (0.5 * path.widths)[:, None]
    pts = path.points
    if path.closed:
        out = _fill(shape, [pts + n])
        return _fill(shape, [pts - n], 0, out) > 0
    return _fill(shape, [np.vstack([pts + n, (pts - n)[::-1]])]) > 0


def left_of(path: BeadPath, shape: tuple[int, int]) -> np.ndarray:
    """Pixels on the positive-offset side of a line path, its ends extended straight."""
    pts = path.points
    far = 4.0 * (shape[0] + shape[1])
    t0 = path.tangent_at(0.0)
    t1 = path.tangent_at(path.length)
    n0 = np.array([t0[1], -t0[0]])
    n1 = np.array([t1[1], -t1[0]])
    start, end = pts[0] - far * t0, pts[-1] + far * t1
    return _fill(shape, [np.vstack([start, pts, end, end + far * n1, start + far * n0])]) > 0


def plates_of(
    f: np.ndarray, valid: np.ndarray, bead: np.ndarray, left: np.ndarray
) -> tuple[np.ndarray, tuple[Plate, ...]]:
    """Plate labels and plane fits of the measured pixels on either side of the bead."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))
    free = valid & (cv2.dilate(bead.astype(np.uint8), kernel) == 0)
    labels = np.zeros(f.shape, np.uint8)
    plates = []
    for side, sel in ((PLATE_LEFT, free & left), (PLATE_RIGHT, free & ~left)):
        idx = np.flatnonzero(sel)
        if len(idx) < MIN_PLATE_FRACTION * f.size:
            continue
        labels.ravel()[idx] = side
        z = f.ravel()[idx]
        sub = idx[:: max(1, len(idx) // 3000)]
        ys, xs = np.divmod(sub, f.shape[1])
        a = np.stack([xs, ys, np.ones(len(sub))], axis=1).astype(np.float64)
        coef = np.linalg.lstsq(a, f.ravel()[sub].astype(np.float64), rcond=None)[0]
        plates.append(
            Plate(side, len(idx), float(z.mean()), (float(coef[0]), float(coef[1]), float(coef[2])))
        )
    return labels, tuple(plates)


def close_mask(mask: np.ndarray, k: int) -> np.ndarray:
    """Morphological closing of a bool mask with a k x k ellipse."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, kernel) > 0
