"""The plate plane of a point cloud, fitted so that the bead and outliers cannot tilt it.

:func:`fit_plane` is a least-quantile-of-squares search followed by a trimmed total least
squares refit:

1. ``HYPOTHESES`` planes through 3 random points (seeded with
   :func:`weldsynth.core.seeding.rng_for`) are scored on a subsample by the ``QUANTILE``
   quantile of their absolute residuals; the best wins. A plane through the plate keeps a
   quarter of the points within the scanner noise; one through the bead crest or a spike
   cannot. So the plate needs to hold at least ``QUANTILE`` of the points, the bead and
   outliers may hold the rest.
2. ``REFITS`` times: the points within ``TRIM`` robust sigmas (1.4826 x the median absolute
   residual of the previous inliers) are refitted by total least squares (the smallest
   principal axis of their covariance).
3. The normal points to +z (source z is up) unless the other side clearly holds the bead:
   when the ``SIDE_QUANTILE`` extreme of the distances below the plane is more than
   ``SIDE_RATIO`` times the one above (and beyond ``SIDE_SIGMAS`` sigmas), it is reversed. A
   quantile, not the maximum, so that spikes do not decide; a ratio, so that a region a
   little below the plate (a lower plate, a root side) does not.

:func:`plane_frame` gives the orthonormal frame (x along the source x axis projected onto
the plane, z the normal) in which heights are measured above the plate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from weldsynth.core.seeding import rng_for
from weldsynth.io.scan.errors import ScanError

HYPOTHESES = 256
QUANTILE = 0.25
TRIM = 2.5
REFITS = 6
SUBSAMPLE = 20_000
SIDE_SIGMAS = 4.0
SIDE_QUANTILE = 0.98
SIDE_RATIO = 2.0
_SIGMA_OF_QUANTILE = 0.3186  # |N(0, 1)| quantile 0.25


@dataclass(frozen=True)
class Plane:
    """A plane ``normal . p = offset`` with the spread of the plate points around it.

    Attributes:
        normal: Unit normal (3,), pointing to the side the bead stands out on.
        offset: ``normal . p`` of the plane's points, mm.
        sigma_mm: Robust standard deviation of the plate points' distances, mm.
        inlier_fraction: Share of all points within ``TRIM`` sigmas.
    """

    normal: np.ndarray
    offset: float
    sigma_mm: float
    inlier_fraction: float

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Signed distance of (N, 3) points above the plane, mm."""
        return points @ self.normal - self.offset

    @property
    def tilt_deg(self) -> float:
        """Angle between the normal and the source +z axis, degrees."""
        return math.degrees(math.acos(float(np.clip(abs(self.normal[2]), 0.0, 1.0))))

    def to_dict(self) -> dict[str, object]:
        """JSON form for the sidecar."""
        return {
            "normal": [round(float(v), 8) for v in self.normal],
            "offset_mm": round(float(self.offset), 6),
            "tilt_deg": round(self.tilt_deg, 4),
            "sigma_mm": round(float(self.sigma_mm), 6),
            "inlier_fraction": round(float(self.inlier_fraction), 4),
        }


def check_points(points: np.ndarray, name: str = "cloud") -> None:
    """Refuse clouds a plane cannot be fitted to: fewer than 3 points, all on one line.

    Raises:
        ScanError: empty, too few, non-finite, or collinear points.
    """
    if points.ndim != 2 or points.shape[1] != 3:
        raise ScanError(f"{name}: expected N x 3 points, got shape {points.shape}")
    if len(points) == 0:
        raise ScanError(f"{name}: empty cloud (no finite points)")
    if len(points) < 3:
        raise ScanError(f"{name}: only {len(points)} point(s); a plate needs at least 3")
    if not np.isfinite(points).all():
        raise ScanError(f"{name}: points have NaN or infinite coordinates")
    sub = points[:: max(1, len(points) // SUBSAMPLE)]
    sv = np.linalg.svd(sub - sub.mean(axis=0), compute_uv=False)
    if sv[0] == 0.0 or sv[1] <= 1e-9 * sv[0]:
        raise ScanError(f"{name}: all points lie on one line (or one spot); no surface to fit")


def fit_plane(points: np.ndarray, seed: int = 0, name: str = "cloud") -> Plane:
    """Robust plate plane of (N, 3) finite points (see the module docstring).

    Args:
        points: (N, 3) coordinates in mm.
        seed: Base seed of the random hypotheses.
        name: Name used in errors and in the seed.
    """
    check_points(points, name)
    rng = rng_for(seed, "plate-plane", name)
    sub = points if len(points) <= SUBSAMPLE else points[rng.choice(len(points), SUBSAMPLE, False)]
    centre = sub.mean(axis=0)
    normal, offset, score = _best_hypothesis(sub - centre, rng)
    sigma = max(score / _SIGMA_OF_QUANTILE, _floor(sub))
    inliers = np.ones(len(points), bool)
    for _ in range(REFITS):
        dist = (points - centre) @ normal - offset
        inliers = np.abs(dist) <= TRIM * sigma
        if np.count_nonzero(inliers) < 3:
            break
        normal, offset = _total_least_squares(points[inliers] - centre)
        dist = (points[inliers] - centre) @ normal - offset
        sigma = max(1.4826 * float(np.median(np.abs(dist))), _floor(sub))
    if normal[2] < 0:
        normal, offset = -normal, -offset
    dist = (points - centre) @ normal - offset
    if _flip(dist, sigma):
        normal, offset, dist = -normal, -offset, -dist
    fraction = float(np.count_nonzero(np.abs(dist) <= TRIM * sigma)) / len(points)
    return Plane(normal, float(offset + centre @ normal), float(sigma), fraction)


def _best_hypothesis(sub: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """Normal, offset and score of the best 3-point plane (lowest residual quantile)."""
    n = len(sub)
    kth = max(0, min(n - 1, int(QUANTILE * n)))
    triples = rng.integers(0, n, size=(HYPOTHESES, 3))
    a, b, c = sub[triples[:, 0]], sub[triples[:, 1]], sub[triples[:, 2]]
    normals = np.cross(b - a, c - a)
    length = np.linalg.norm(normals, axis=1)
    keep = length > 1e-12 * max(float(np.ptp(sub)), 1e-12) ** 2
    if not keep.any():
        normal, offset = _total_least_squares(sub)
        return normal, offset, float(np.quantile(np.abs(sub @ normal - offset), QUANTILE))
    normals = normals[keep] / length[keep, None]
    offsets = np.einsum("ij,ij->i", normals, a[keep])
    best = (np.inf, normals[0], offsets[0])
    for start in range(0, len(normals), 32):
        res = np.abs(sub @ normals[start : start + 32].T - offsets[start : start + 32])
        scores = np.partition(res, kth, axis=0)[kth]
        i = int(np.argmin(scores))
        if scores[i] < best[0]:
            best = (float(scores[i]), normals[start + i], float(offsets[start + i]))
    return best[1], best[2], best[0]


def _total_least_squares(centred: np.ndarray) -> tuple[np.ndarray, float]:
    mean = centred.mean(axis=0)
    cov = np.cov((centred - mean).T)
    _, vectors = np.linalg.eigh(cov)
    normal = vectors[:, 0]
    return normal, float(mean @ normal)


def _floor(sub: np.ndarray) -> float:
    """Smallest sigma: float precision of the coordinates (an exactly flat plate)."""
    return 1e-9 * max(float(np.abs(sub).max()), 1.0)


def _flip(dist: np.ndarray, sigma: float) -> bool:
    """True when the normal should be reversed (see the module docstring, step 3)."""
    below, above = np.quantile(dist, [1.0 - SIDE_QUANTILE, SIDE_QUANTILE])
    return bool(-below > max(SIDE_RATIO * max(above, 0.0), SIDE_SIGMAS * sigma))


@dataclass(frozen=True)
class Frame:
    """An orthonormal frame: source point = origin + u * x_axis + v * y_axis + h * z_axis."""

    origin: np.ndarray
    x_axis: np.ndarray
    y_axis: np.ndarray
    z_axis: np.ndarray

    def to_local(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) source points in this frame (u, v, h)."""
        rel = points - self.origin
        return np.column_stack([rel @ self.x_axis, rel @ self.y_axis, rel @ self.z_axis])


def plane_frame(plane: Plane, points: np.ndarray) -> Frame:
    """The frame of the plate: z along the normal, origin on the plane below the centroid,
    x along the source x axis projected onto the plane (y when the plane is nearly x-normal)."""
    n = plane.normal / np.linalg.norm(plane.normal)
    centroid = points.mean(axis=0)
    origin = centroid - (centroid @ n - plane.offset) * n
    x = np.array([1.0, 0.0, 0.0]) - n[0] * n
    if np.linalg.norm(x) < 0.1:
        x = np.array([0.0, 1.0, 0.0]) - n[1] * n
    x /= np.linalg.norm(x)
    return Frame(origin, x, np.cross(n, x), n)


def identity_frame() -> Frame:
    """The source frame itself (``--plate-plane keep``)."""
    eye = np.eye(3)
    return Frame(np.zeros(3), eye[0], eye[1], eye[2])
