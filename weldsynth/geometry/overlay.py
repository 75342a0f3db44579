"""Draw a located geometry over its height map, for people to check it by eye."""

from __future__ import annotations

import cv2
import numpy as np

from weldsynth.core.units import from_unit
from weldsynth.geometry import PLATE_LEFT, PLATE_RIGHT, WeldGeometry

# BGR colours (OpenCV order)
NODATA = (90, 30, 20)
PLATE_TINT = {PLATE_LEFT: (60, 160, 60), PLATE_RIGHT: (40, 140, 220)}
CENTRELINE = (40, 40, 255)
EDGE = (0, 230, 255)
AXIS = (255, 200, 0)
START = (60, 220, 60)
END = (60, 60, 255)
CORNER = (255, 60, 255)


def render_overlay(height: np.ndarray, geometry: WeldGeometry, scale: int = 3) -> np.ndarray:
    """Colour picture of the map with the bead, plates and no-data zones drawn on it.

    No-data pixels are dark blue, plates tinted green (left/positive side) and orange
    (right/negative side); the centreline is red, the bead edges yellow, the main axis
    light blue, the start a green dot, the end a red dot and corners magenta.

    Args:
        height: 2-D map (float in [0, 1] or uint8/uint16).
        geometry: What :func:`weldsynth.geometry.locate` found for it.
        scale: Integer upscaling so thin lines stay visible.

    Returns:
        uint8 BGR image of shape (H*scale, W*scale, 3), ready for ``cv2.imwrite``.
    """
    gray = _to_gray8(height)
    img = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR).astype(np.float32)
    for label, tint in PLATE_TINT.items():
        sel = geometry.plate_labels == label
        img[sel] = 0.6 * img[sel] + 0.4 * np.array(tint, np.float32)
    img[geometry.nodata_mask] = NODATA
    img = img.astype(np.uint8)
    img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    if not geometry.found or geometry.path is None:
        _label(img, f"bead not found: {geometry.reason}")
        return img

    path = geometry.path
    pts = path.resample(2.0)
    s = np.linspace(0.0, path.length, len(pts), endpoint=not path.closed)
    for side in (-1.0, 1.0):
        edge = path.to_image(s, side * 0.5 * path.width_at(s))
        _polyline(img, edge, EDGE, scale, path.closed)
    _polyline(img, pts, CENTRELINE, scale, path.closed, thickness=2)
    if geometry.axis_angle is not None:
        centre = path.point_at(0.5 * path.length)
        rad = np.radians(geometry.axis_angle)
        direction = np.array([np.cos(rad), -np.sin(rad)])
        half = 0.5 * path.length
        ends = np.array([centre - half * direction, centre + half * direction])
        _polyline(img, ends, AXIS, scale, False)
    for c in geometry.corners:
        _dot(img, path.point_at(c), CORNER, scale)
    _dot(img, path.start, START, scale)
    if not path.closed:
        _dot(img, path.end, END, scale)
    text = f"{geometry.kind}  width {path.mean_width:.1f}px  length {path.length:.0f}px"
    if geometry.axis_angle is not None:
        text += f"  axis {geometry.axis_angle:+.1f} deg"
    _label(img, text)
    return img


def _to_gray8(height: np.ndarray) -> np.ndarray:
    if height.dtype == np.uint8:
        return height
    if height.dtype == np.uint16:
        return (height >> 8).astype(np.uint8)
    return from_unit(height, np.uint8)


def _scaled(points: np.ndarray, scale: int) -> np.ndarray:
    return np.rint((np.asarray(points) + 0.5) * scale - 0.5).astype(np.int32)


def _polyline(
    img: np.ndarray,
    points: np.ndarray,
    colour: tuple[int, int, int],
    scale: int,
    closed: bool,
    thickness: int = 1,
) -> None:
    cv2.polylines(img, [_scaled(points, scale)], closed, colour, thickness, cv2.LINE_AA)


def _dot(img: np.ndarray, point: np.ndarray, colour: tuple[int, int, int], scale: int) -> None:
    x, y = _scaled(point, scale)
    cv2.circle(img, (int(x), int(y)), max(3, scale + 1), colour, -1, cv2.LINE_AA)


def _label(img: np.ndarray, text: str) -> None:
    cv2.putText(img, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
