"""Test welds for the defect-plugin tests: a known bead path, height and geometry.

Built here from a :class:`BeadPath` (a parabolic ridge with texture beside a plate and a
shadow), so the tests know the truth exactly. When :mod:`weldsynth.synth.samples` is available the
tests also run on its procedural welds (``sample_case``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from weldsynth.geometry import WeldGeometry
from weldsynth.geometry.path import BeadPath
from weldsynth.io.heightmap import to_uint

SHAPE = (128, 352)


@dataclass(frozen=True)
class Case:
    """One test weld: its name, pixels (of the case's dtype) and exact geometry."""

    name: str
    height: np.ndarray
    geometry: WeldGeometry


def geometry_from(path: BeadPath, height: np.ndarray) -> WeldGeometry:
    """Exact geometry of a weld drawn from ``path``."""
    corners: tuple[float, ...] = ()
    if path.closed:
        corners = tuple(float(a) for a in path.arc[:-1])
    return WeldGeometry(
        shape=height.shape,
        found=True,
        reason=None,
        path=path,
        axis_angle=None,
        bead_mask=bead_mask(path),
        plate_labels=np.zeros(height.shape, dtype=np.uint8),
        plates=(),
        nodata_mask=height == 0,
        corners=corners,
    )


def signed_distance(path: BeadPath) -> tuple[np.ndarray, np.ndarray]:
    """(S, D) of every pixel; D is the signed Euclidean distance to the centreline."""
    return path.coordinate_maps(SHAPE)


def bead_mask(path: BeadPath) -> np.ndarray:
    """Pixels within half the local width of the centreline."""
    s, d = signed_distance(path)
    return np.abs(d) <= path.width_at(s) / 2


def line_path(angle: float = 0.0, curve: float = 0.0, width: float = 22.0) -> BeadPath:
    """A bead through the image centre at ``angle`` degrees (counter-clockwise on screen)."""
    h, w = SHAPE
    t = np.linspace(-1.0, 1.0, 41)
    half = 150.0 if abs(angle) < 10 else 95.0
    a = np.radians(angle)
    x = w / 2 + t * half * np.cos(a)
    y = h / 2 - t * half * np.sin(a) + curve * (1 - t**2)
    return BeadPath(points=np.stack([x, y], 1), widths=np.full(len(t), width))


def square_path(width: float = 16.0) -> BeadPath:
    """A closed rectangular bead (topology 7 style), clockwise on screen."""
    pts = np.array([[70.0, 24.0], [282.0, 24.0], [282.0, 104.0], [70.0, 104.0]])
    return BeadPath(points=pts, widths=np.full(4, width), closed=True)


def render(path: BeadPath, seed: int = 0, shadow: bool = True) -> np.ndarray:
    """Float heights in [0, 1]: plate on the left side, bead ridge, optional shadow, texture."""
    rng = np.random.default_rng(seed)
    s, d = signed_distance(path)
    half = path.width_at(s) / 2
    ridge = np.clip(1.0 - (d / half) ** 2, 0.0, None)
    plate = np.where(d > 0, 0.30, 0.0) if not path.closed else np.full(SHAPE, 0.25)
    if path.closed:
        plate = np.where(d < 0, 0.35, plate)  # inner plate higher
    height = np.maximum(plate, 0.2 + 0.45 * ridge * (np.abs(d) < half))
    height = np.where((np.abs(d) >= half) & (plate == 0), 0.0, height)
    texture = rng.normal(0.0, 0.01, SHAPE)
    height = np.where(height > 0, np.clip(height + texture, 0.02, 1.0), 0.0)
    if shadow:
        ys, xs = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
        blob = (xs - 40) ** 2 / 30.0**2 + (ys - 20) ** 2 / 12.0**2 < 1
        height = np.where(blob & (np.abs(d) > half + 2), 0.0, height)
    return height


def to_dtype(height: np.ndarray, dtype: str) -> np.ndarray:
    """Float heights to 'uint8', 'uint16' or 'float32' pixels."""
    if dtype == "uint8":
        return to_uint(height, 8)
    if dtype == "uint16":
        return to_uint(height, 16)
    return height.astype(np.float32)


@lru_cache(maxsize=64)
def make_case(kind: str, dtype: str = "uint16", angle: float = 0.0) -> Case:
    """A named test weld: kind 'line', 'curve' or 'square'."""
    if kind == "square":
        path = square_path()
    elif kind == "curve":
        path = line_path(angle, curve=18.0)
    else:
        path = line_path(angle)
    pixels = to_dtype(render(path), dtype)
    return _frozen(Case(f"{kind}{angle:+.0f}-{dtype}", pixels, geometry_from(path, pixels)))


def _frozen(case: Case) -> Case:
    """Cases are cached and shared between tests: make their arrays read-only, so a plugin
    that writes into its input fails loudly instead of corrupting later tests."""
    case.height.setflags(write=False)
    for name in ("bead_mask", "nodata_mask", "plate_labels"):
        getattr(case.geometry, name).setflags(write=False)
    return case


@lru_cache(maxsize=64)
def sample_case(
    topology: int, dtype: str = "uint16", rotation: float | None = None, index: int = 0
) -> Case:
    """A procedural weld of :mod:`weldsynth.synth.samples` with its exact truth geometry."""
    from weldsynth.synth import samples

    weld = samples.generate_weld(
        topology, samples.sample_seed(0, topology, index), rotation=rotation
    )
    pixels = to_dtype(weld.height.astype(np.float64), dtype)
    geometry = samples.truth_geometry(weld)
    geometry = geometry.__class__(**{**geometry.__dict__, "nodata_mask": pixels == 0})
    rot = "" if rotation is None else f"{rotation:+.0f}"
    return _frozen(Case(f"t{topology}{rot}-{dtype}-{index}", pixels, geometry))


FAST_CASES = (
    ("line", "uint16", 0.0),
    ("line", "uint8", 30.0),
    ("curve", "float32", -30.0),
    ("square", "uint16", 0.0),
)
"""Hand-made welds: (kind, dtype, angle) for :func:`make_case`."""

SAMPLE_CASES = (
    (2, "uint16", None),
    (3, "uint8", None),
    (4, "float32", 30.0),
    (5, "uint16", None),
    (7, "uint8", None),
    (8, "float32", None),
    (9, "uint16", -30.0),
    (10, "uint8", None),
    (11, "float32", None),
)
"""Every topology once, mixing dtypes and ±30° rotations: (topology, dtype, rotation)."""


def near_bead(geometry: WeldGeometry, grow: int = 3) -> np.ndarray:
    """Bead mask grown by ``grow`` pixels ("on or next to the bead")."""
    import cv2

    kernel = np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)
    return cv2.dilate(geometry.bead_mask.astype(np.uint8), kernel).astype(bool)


def shallow_pit_plugin() -> type:
    """A test plugin (not registered) with acceptable draws, built on ``hole``: a pit is
    acceptable up to depth 0.3, rejectable from 0.6. It names itself nowhere else, so a
    test registering it shows that generic code needs no per-plugin knowledge."""
    from weldsynth.synth.defects.hole import Hole
    from weldsynth.synth.defects.rule import ACCEPT, Thresholds

    class ShallowPit(Hole):
        name = "tmp_shallow_pit"
        description = "test plugin: a hole, acceptable while shallow"
        acceptable_variant = True

        def measure(self, params):  # type: ignore[no-untyped-def]
            return {"depth": params.depth}

        def rule(self) -> Thresholds:
            return Thresholds("depth", 0.3, 0.6)

        def for_verdict(self, verdict: str):  # type: ignore[no-untyped-def]
            return self.replace(depth=(0.2, 0.3) if verdict == ACCEPT else (0.6, 1.0))

    return ShallowPit


@contextmanager
def registered(cls: type) -> Iterator[type]:
    """Register a plugin class for the duration of a ``with`` block."""
    from weldsynth.synth.defects import registry

    registry.register_defect(cls)
    try:
        yield cls
    finally:
        registry.unregister_defect(cls.name)
