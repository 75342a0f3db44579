"""Draw a located geometry over its height map, for people to check it by eye."""

from __future__ import annotations

import cv2
import numpy as np

from weldsynth.core.units import from_unit
from weldsynth.geometry import PLATE_LEFT, PLATE_RIGHT, WeldGeometry
from weldsynth.geometry.dimensions import BeadDimensions

# BGR colours (OpenCV order)
NODATA = (90, 30, 20)
PLATE_TINT = {PLATE_LEFT: (60, 160, 60), PLATE_RIGHT: (40, 140, 220)}
CENTRELINE = (40, 40, 255)
EDGE = (0, 230, 255)
AXIS = (255, 200, 0)
START = (60, 220, 60)
END = (60, 60, 255)
CORNER = (255, 60, 255)
BAND = (38, 38, 38)
"""Background of the label and legend bands (text is drawn once, no shadow)."""
INK = (255, 255, 255)
FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE = 0.45
TEXT_H = 17
"""Height of a text line's box in pixels (cap height plus descenders at FONT_SCALE)."""
BASELINE = 4
LINE_H = TEXT_H + 6
PAD = 6
GAP = 16
SWATCH = 18


def render_overlay(
    height: np.ndarray,
    geometry: WeldGeometry,
    scale: int = 3,
    dimensions: BeadDimensions | None = None,
) -> np.ndarray:
    """Colour picture of the map with the bead, plates and no-data zones drawn on it.

    No-data pixels are dark blue, plates tinted green (left/positive side) and orange
    (right/negative side); the centreline is red, the bead edges yellow, the main axis
    light blue, the start a green dot, the end a red dot and corners magenta. A dark band
    above the map holds the label (shape, width, length, axis; in mm as well when
    ``dimensions`` are calibrated), one below it the legend of the colours drawn; both are
    wrapped to the picture's width and never cover the map.

    Args:
        height: 2-D map (float in [0, 1] or uint8/uint16).
        geometry: What :func:`weldsynth.geometry.locate` found for it.
        scale: Integer upscaling so thin lines stay visible.
        dimensions: The bead's sizes (:func:`~weldsynth.geometry.dimensions.bead_dimensions`);
            in mm they are added to the label.

    Returns:
        uint8 BGR image ``W*scale`` wide: label band, the map (``H*scale`` rows), legend
        band; ready for ``cv2.imwrite``.
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
        text = [f"bead not found: {geometry.reason}"]
        return _framed(img, text, _legend_entries(geometry))
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
    return _framed(img, label_parts(geometry, dimensions), _legend_entries(geometry))


def label_parts(geometry: WeldGeometry, dimensions: BeadDimensions | None = None) -> list[str]:
    """The overlay's label, one part per quantity (a part is never split across lines).

    Args:
        geometry: A found geometry (``path`` set).
        dimensions: Its sizes; in mm (calibrated) they come first, pixels in brackets.
    """
    path = geometry.path
    assert path is not None
    width, length = f"width {path.mean_width:.1f} px", f"length {path.length:.0f} px"
    parts = [geometry.kind, width, length]
    if dimensions is not None and dimensions.length_unit == "mm":
        parts[1] = f"width {dimensions.width:.2f} mm ({path.mean_width:.1f} px)"
        parts[2] = f"length {dimensions.length:.1f} mm ({path.length:.0f} px)"
    if dimensions is not None and dimensions.height_unit == "mm":
        parts.append(f"height {dimensions.height:.2f} mm")
    if geometry.axis_angle is not None:
        parts.append(f"axis {geometry.axis_angle:+.1f} deg")
    return parts


def _legend_entries(geometry: WeldGeometry) -> list[tuple[str, tuple[int, int, int], str]]:
    """(name, colour, swatch kind) of what the picture can show: "line", "dot" or "fill"."""
    entries: list[tuple[str, tuple[int, int, int], str]] = []
    path = geometry.path if geometry.found else None
    if path is not None:
        entries += [("bead edges", EDGE, "line"), ("centreline", CENTRELINE, "line")]
        if geometry.axis_angle is not None:
            entries.append(("axis", AXIS, "line"))
        entries.append(("start", START, "dot"))
        if not path.closed:
            entries.append(("end", END, "dot"))
        if geometry.corners:
            entries.append(("corners", CORNER, "dot"))
    grey = np.full(3, 128.0)
    for name, side in (("plate left (+)", PLATE_LEFT), ("plate right (-)", PLATE_RIGHT)):
        tint = 0.6 * grey + 0.4 * np.array(PLATE_TINT[side], np.float64)
        entries.append((name, tuple(int(v) for v in np.rint(tint)), "fill"))  # type: ignore[misc]
    entries.append(("no data", NODATA, "fill"))
    return entries


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


def text_boxes(
    parts: list[str], width: int, gap: int, lead: int = 0
) -> list[tuple[int, int, int, int]]:
    """Where each text part goes, wrapped to ``width``: (x, y_top, w, h) boxes.

    Args:
        parts: Texts, each kept whole on one line.
        width: The picture's width in pixels.
        gap: Pixels between parts on a line.
        lead: Pixels before each part's text (a legend's swatch).
    """
    boxes, x, y = [], PAD, PAD
    for part in parts:
        (w, _), _ = cv2.getTextSize(part, FONT, FONT_SCALE, 1)
        w += lead
        if x > PAD and x + w > width - PAD:
            x, y = PAD, y + LINE_H
        boxes.append((x, y, w, TEXT_H))
        x += w + gap
    return boxes


def fit_words(text: str, width: int) -> list[str]:
    """``text`` cut at spaces into lines at most ``width`` pixels wide; a word wider than
    that alone is shortened and ends with "..."."""
    lines: list[str] = []
    for word in text.split(" "):
        joined = f"{lines[-1]} {word}" if lines else word
        if lines and _text_width(joined) <= width:
            lines[-1] = joined
            continue
        while _text_width(word) > width and len(word) > 4:
            word = word[:-4] + "..."
        lines.append(word)
    return lines


def _text_width(text: str) -> int:
    return cv2.getTextSize(text, FONT, FONT_SCALE, 1)[0][0]


def _band(texts: list[str], width: int, lead: int = 0) -> tuple[np.ndarray, list]:
    """A dark band holding ``texts`` wrapped to ``width``, and the boxes they occupy."""
    if not lead:
        texts = [line for text in texts for line in fit_words(text, width - 2 * PAD)]
    boxes = text_boxes(texts, width, GAP, lead)
    rows = max(y for _, y, _, _ in boxes) + TEXT_H + PAD if boxes else 0
    band = np.full((rows, width, 3), BAND, np.uint8)
    for text, (x, y, _, _) in zip(texts, boxes, strict=True):
        origin = (x + lead, y + TEXT_H - BASELINE)
        cv2.putText(band, text, origin, FONT, FONT_SCALE, INK, 1, cv2.LINE_AA)
    return band, boxes


def _framed(
    img: np.ndarray, label: list[str], legend: list[tuple[str, tuple[int, int, int], str]]
) -> np.ndarray:
    """``img`` with the label band above it and the legend band below it."""
    width = img.shape[1]
    top, _ = _band(label, width)
    bottom, boxes = _band([name for name, _, _ in legend], width, lead=SWATCH + 5)
    for (_, colour, kind), (x, y, _, _) in zip(legend, boxes, strict=True):
        mid = y + TEXT_H // 2
        if kind == "line":
            cv2.line(bottom, (x, mid), (x + SWATCH, mid), colour, 2, cv2.LINE_AA)
        elif kind == "dot":
            cv2.circle(bottom, (x + SWATCH // 2, mid), 4, colour, -1, cv2.LINE_AA)
        else:
            cv2.rectangle(bottom, (x, mid - 5), (x + SWATCH, mid + 5), colour, -1)
    return np.vstack([top, img, bottom])
