"""Synthetic height maps of the bead layouts that real scans show and procedural welds do not.

Each scene is a plate with one or more straight beads (a parabolic cap across, the same
everywhere along) drawn with exact truth: the bead that crosses the whole image, a T of two
beads, two parallel walls, a bead cut by the image border, a bead beside a plate edge and a
square weld. Heights are float32 in [0, 1], 0 = no data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PLATE = 0.30
"""Plate level of every scene."""
CROWN = 0.25
"""Height of a bead's crest above the plate."""


@dataclass(frozen=True)
class Bead:
    """A straight bead from ``start`` to ``end`` (x, y), ``width`` px wide at its feet."""

    start: tuple[float, float]
    end: tuple[float, float]
    width: float

    def cap(self, shape: tuple[int, int]) -> np.ndarray:
        """Height of the bead above the plate at every pixel (0 off the bead)."""
        ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
        p0, p1 = np.asarray(self.start, float), np.asarray(self.end, float)
        t = p1 - p0
        length = float(np.hypot(*t))
        t /= length
        along = (xs - p0[0]) * t[0] + (ys - p0[1]) * t[1]
        across = (ys - p0[1]) * t[0] - (xs - p0[0]) * t[1]
        r = np.clip(1.0 - (2.0 * across / self.width) ** 2, 0.0, None)
        # rounded ends: the cap falls off over half a width beyond each end
        end_off = np.maximum(np.maximum(-along, along - length), 0.0)
        e = np.clip(1.0 - (2.0 * end_off / self.width) ** 2, 0.0, None)
        return CROWN * r * e


def render(
    shape: tuple[int, int], beads: list[Bead], seed: int = 0, noise: float = 0.002
) -> np.ndarray:
    """A plate with ``beads`` (where they cross, the higher one wins) and a little noise."""
    rng = np.random.default_rng(seed)
    top = np.zeros(shape)
    for bead in beads:
        top = np.maximum(top, bead.cap(shape))
    height = PLATE + top + rng.normal(0.0, noise, shape)
    return np.clip(height, 0.001, 1.0).astype(np.float32)


def wide_crossing_bead() -> tuple[np.ndarray, Bead]:
    """The real-scan failure: a vertical cap 160 px wide over the whole 149 px height."""
    bead = Bead((200.0, -20.0), (200.0, 169.0), 160.0)
    return render((149, 400), [bead], seed=1), bead


def wide_crossing_bead_horizontal() -> tuple[np.ndarray, Bead]:
    """The same bead turned: it crosses the whole width of a map shorter than it is wide."""
    bead = Bead((-20.0, 150.0), (139.0, 150.0), 140.0)
    return render((300, 120), [bead], seed=2), bead


def t_joint() -> tuple[np.ndarray, Bead, Bead]:
    """A full-width bead and a second one butting into it from below (a T)."""
    top = Bead((-20.0, 40.0), (372.0, 40.0), 30.0)
    stem = Bead((176.0, 40.0), (176.0, 150.0), 30.0)
    return render((128, 352), [top, stem], seed=3), top, stem


def parallel_beads(second_width: float = 28.0) -> tuple[np.ndarray, Bead, Bead]:
    """Two full-width parallel walls; the first is 28 px wide."""
    a = Bead((-20.0, 36.0), (372.0, 36.0), 28.0)
    b = Bead((-20.0, 92.0), (372.0, 92.0), second_width)
    return render((128, 352), [a, b], seed=4), a, b


def bead_at_edge() -> tuple[np.ndarray, Bead]:
    """A horizontal bead whose centre lies 6 px from the top border (part of it cut off)."""
    bead = Bead((-20.0, 6.0), (372.0, 6.0), 34.0)
    return render((128, 352), [bead], seed=5), bead


def bead_and_plate_edge() -> tuple[np.ndarray, Bead]:
    """A horizontal bead with a step (a plate edge) below it."""
    bead = Bead((-20.0, 50.0), (372.0, 50.0), 30.0)
    height = render((128, 352), [bead], seed=6)
    height[100:] += 0.2
    return height, bead


def square_weld() -> tuple[np.ndarray, list[Bead]]:
    """A bead run around a 200 x 70 rectangle (a real closed weld)."""
    x0, y0, x1, y1, w = 76.0, 29.0, 276.0, 99.0, 22.0
    beads = [
        Bead((x0, y0), (x1, y0), w),
        Bead((x1, y0), (x1, y1), w),
        Bead((x1, y1), (x0, y1), w),
        Bead((x0, y1), (x0, y0), w),
    ]
    return render((128, 352), beads, seed=7), beads


def grooved_cap(
    shape: tuple[int, int] = (149, 400),
    width: float = 160.0,
    length: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """A vertical cap ``width`` px wide with a groove along its crest that stops short of
    its ends (two passes side by side): the old finder took the groove for the inside of a
    square weld. ``length`` None: the cap runs over the whole map height."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    d = (xs - w / 2) / (width / 2)
    reach = h / 2 if length is None else length / 2
    yy = (ys - (h - 1) / 2) / reach
    groove = 0.08 * np.exp(-((d / 0.25) ** 2)) * np.clip(1 - (yy / 0.8) ** 8, 0.0, None)
    ends = 1.0 if length is None else np.clip(1 - np.abs(yy) ** 6, 0.0, None)
    cap = np.sqrt(np.clip(1 - d**2, 0.0, None)) * CROWN * ends - groove
    rng = np.random.default_rng(seed)
    return (PLATE + np.maximum(cap, 0.0) + rng.normal(0.0, 0.003, shape)).astype(np.float32)
