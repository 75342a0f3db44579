"""One procedural good weld: its random source, the generator, and its exact truth geometry.

:func:`generate_weld` draws the knobs (:mod:`~weldsynth.synth.samples.knobs`), renders them
(:mod:`~weldsynth.synth.samples.shapes`) and quantises the heights; :func:`truth_geometry`
turns the truth into a :class:`WeldGeometry` without running ``locate``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from weldsynth.core.seeding import rng_for
from weldsynth.geometry import PLATE_LEFT, PLATE_RIGHT, Plate, WeldGeometry
from weldsynth.geometry.bead_mask import bead_mask_from_field
from weldsynth.geometry.path import BeadPath, axis_angle
from weldsynth.io.heightmap import SUPPORTED_BIT_DEPTHS, to_float, to_uint
from weldsynth.synth.samples.clutter import apply_clutter
from weldsynth.synth.samples.knobs import ClutterKnobs, clutter_knobs, draw_knobs, topology_spec
from weldsynth.synth.samples.render import left_side
from weldsynth.synth.samples.shapes import Rendered, render_weld

DEFAULT_SHAPE = (128, 352)
"""(H, W) of the seed's height maps: 352 x 128 px, bead along the long side."""
MIN_SHAPE = 32
"""Smallest side generate_weld accepts (smaller images cannot hold a bead and its plates)."""
VERTEX_STEP = 4.0
"""Spacing of the truth path vertices in pixels (at most)."""


@dataclass
class SyntheticWeld:
    """A generated good weld.

    Attributes:
        height: float32 (H, W) in [0, 1], quantised to ``bit_depth`` (what the PNG reads back).
        bit_depth: 8 or 16.
        topology: Topology number.
        truth: Ground truth (also the JSON sidecar); see :func:`generate_weld`.
        bead_mask: bool (H, W) bead pixels from the generator (None after a plain JSON load;
            :func:`truth_geometry` recomputes it from the path then).
        left_side: bool (H, W) pixels on the positive-offset side of the bead (same remark).
    """

    height: np.ndarray
    bit_depth: int
    topology: int
    truth: dict[str, Any]
    bead_mask: np.ndarray | None = field(default=None, repr=False, compare=False)
    left_side: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def path(self) -> BeadPath:
        """The truth bead path."""
        return BeadPath.from_dict(self.truth["path"])


def sample_seed(seed: int, topology: int, index: int) -> np.random.Generator:
    """The random source of sample ``index`` of ``topology`` under ``seed``.

    Uses ``np.random.SeedSequence([seed, topology, index])``, so every sample is reproducible
    on its own, whatever else is generated.
    """
    for name, value in (("seed", seed), ("topology", topology), ("index", index)):
        if int(value) < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(topology), int(index)]))


def generate_weld(
    topology: int,
    rng: np.random.Generator,
    *,
    shape: tuple[int, int] | None = None,
    bit_depth: int = 16,
    rotation: float | None = None,
    curvature: float | None = None,
    shadows: bool | None = None,
    noise: float | None = None,
    clutter: str = "none",
) -> SyntheticWeld:
    """Generate one good weld height map with its truth.

    Every knob is drawn from the topology's defaults in a fixed order whatever is overridden,
    so overriding one knob (e.g. ``rotation=90``) keeps the others as they were drawn.

    Args:
        topology: A registered topology with generator knobs (see ``TOPOLOGIES``).
        rng: Random source (see :func:`sample_seed`).
        shape: (H, W); default (128, 352). Bead sizes scale with the short side.
        bit_depth: 8 or 16; ``height`` is quantised to it. Does not change the draws.
        rotation: Bead axis angle in degrees, counter-clockwise on screen (90 = vertical).
        curvature: Signed centreline curvature in 1/px (line beads; 0 = straight).
        shadows: Force shadow (zero) zones on or off.
        noise: Standard deviation of the scanner noise (height units).
        clutter: "none" (the clean weld), "realistic" or "heavy" (:mod:`.clutter`: drawn
            from a stream of its own, over the clean weld).

    Returns:
        The :class:`SyntheticWeld`. ``truth`` holds ``topology``, ``bit_depth``, ``shape``,
        ``path`` (:meth:`BeadPath.to_dict`), ``axis_angle`` (line beads, else None),
        ``corners`` (arc lengths, closed beads), ``plates`` (visible ones: side, kind, height
        at the image centre, plane ``[a, b, c]`` of ``h = a*x + b*y + c``) and
        ``generator`` (every drawn knob); with clutter, ``clutter`` (what was drawn).
    """
    spec = topology_spec(topology)
    if bit_depth not in SUPPORTED_BIT_DEPTHS:
        raise ValueError(f"bit_depth must be one of {SUPPORTED_BIT_DEPTHS}, got {bit_depth}")
    shape = _check_shape(DEFAULT_SHAPE if shape is None else shape)
    knobs = draw_knobs(spec.knobs, rng, shape)
    if rotation is not None:
        knobs["rotation"] = float(rotation)
    if curvature is not None:
        knobs["curvature"] = float(curvature)
        knobs["curvature_given"] = True
    if shadows is not None:
        knobs["shadows"] = bool(shadows)
    if noise is not None:
        if not (0.0 <= noise < 0.2):
            raise ValueError(f"noise must be in [0, 0.2), got {noise}")
        knobs["noise"] = float(noise)
    cknobs = clutter_knobs(spec.id, clutter)  # an unknown level fails before the render
    out = render_weld(spec, knobs, shape, VERTEX_STEP)
    drawn_clutter = _clutter(out, cknobs, int(knobs["field_seed"]))
    height = to_float(to_uint(out.height, bit_depth))
    path_dict = out.path.to_dict()
    truth: dict[str, Any] = {
        "topology": spec.id,
        "bit_depth": bit_depth,
        "shape": [shape[0], shape[1]],
        "path": path_dict,
        "axis_angle": None
        if out.path.closed
        else round(axis_angle(out.path.end - out.path.start), 4),
        "corners": [round(c, 3) for c in out.corners],
        "plates": out.plates,
        "generator": _jsonable(out.generator),
    }
    if drawn_clutter is not None:
        truth["clutter"] = _jsonable({"level": clutter, **drawn_clutter})
    return SyntheticWeld(
        height=height,
        bit_depth=bit_depth,
        topology=spec.id,
        truth=truth,
        bead_mask=out.bead_mask,
        left_side=out.left_side,
    )


def _clutter(out: Rendered, knobs: ClutterKnobs | None, field_seed: int) -> dict | None:
    """Clutter a rendered weld in place from its own stream ``(field seed, "clutter")``;
    returns what was drawn (None, and nothing drawn, without clutter)."""
    if knobs is None:
        return None
    crng = rng_for(field_seed, "clutter")
    out.height, drawn = apply_clutter(
        out.height, out.path, out.bead_mask, out.generator, out.plates, knobs, crng
    )
    return drawn


def truth_geometry(weld: SyntheticWeld) -> WeldGeometry:
    """The exact :class:`WeldGeometry` of a generated weld, built from its truth.

    Bead mask from the generator, plate labels on the visible plates' pixels that have data,
    no-data mask ``height == 0``, axis angle and corners from the truth.
    """
    truth = weld.truth
    shape = (int(truth["shape"][0]), int(truth["shape"][1]))
    path = BeadPath.from_dict(truth["path"])
    bead, left = weld.bead_mask, weld.left_side
    if bead is None or left is None:
        bead, left = bead_and_side(path, shape)
    valid = weld.height > 0
    labels = np.zeros(shape, np.uint8)
    plates = []
    for plate in truth["plates"]:
        code = PLATE_LEFT if plate["side"] == "left" else PLATE_RIGHT
        side = left if code == PLATE_LEFT else ~left
        pix = side & ~bead & valid
        labels[pix] = code
        mean = float(weld.height[pix].mean()) if pix.any() else 0.0
        plane = tuple(float(v) for v in plate["plane"])
        plates.append(Plate(side=code, area=int(pix.sum()), mean_height=mean, plane=plane))
    return WeldGeometry(
        shape=shape,
        found=True,
        reason=None,
        path=path,
        axis_angle=truth["axis_angle"],
        bead_mask=bead.copy(),
        plate_labels=labels,
        plates=tuple(plates),
        nodata_mask=weld.height == 0,
        corners=tuple(float(c) for c in truth["corners"]),
    )


def bead_and_side(path: BeadPath, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Bead mask and positive-offset side mask of a path, as the generator computes them."""
    reach = 0.5 * float(np.max(path.widths)) + 2.0
    s_map, d_map, near = path.field(shape, reach)
    return bead_mask_from_field(path, s_map, d_map, near), left_side(path, shape)


def _check_shape(shape: tuple[int, int]) -> tuple[int, int]:
    if len(shape) != 2:
        raise ValueError(f"shape must be (H, W), got {shape!r}")
    h, w = int(shape[0]), int(shape[1])
    if min(h, w) < MIN_SHAPE:
        raise ValueError(f"shape sides must be >= {MIN_SHAPE} px, got {h}x{w} (HxW)")
    return h, w


def _jsonable(value: Any) -> Any:
    """Plain JSON types, floats rounded to 6 significant decimals."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return round(v, 6) if math.isfinite(v) else None
    return value
