"""Procedural good welds: plausible scanner height maps of the nine topologies, with exact truth.

The plant's real height maps cannot be shipped, so tests, benchmarks, the gallery and the
bundled ``samples/`` folder use these. Each weld comes with its **truth**: the bead path
(centreline, width at each vertex, see :mod:`weldsynth.geometry.path`), the plates and every
knob the generator drew, so ``geometry.locate`` and the defect plugins can be checked against it.

Typical use::

    rng = sample_seed(0, 7, 12)            # the only way samples are seeded
    weld = generate_weld(7, rng)           # weld.height, weld.truth
    geom = truth_geometry(weld)            # a WeldGeometry without running locate
    write_samples("good", [2, 7], n=20, seed=0)
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from weldsynth.geometry import PLATE_LEFT, PLATE_RIGHT, Plate, WeldGeometry
from weldsynth.geometry.path import BeadPath, axis_angle
from weldsynth.io.heightmap import (
    SUPPORTED_BIT_DEPTHS,
    atomic_write_bytes,
    read_heightmap,
    to_float,
    to_uint,
    write_heightmap,
)
from weldsynth.synth.samples.render import (
    bead_mask_from_coordinates,
    left_side,
)
from weldsynth.synth.samples.shapes import draw_knobs, render_weld

DEFAULT_SHAPE = (128, 352)
"""(H, W) of the seed's height maps: 352 x 128 px, bead along the long side."""
MIN_SHAPE = 32
"""Smallest side generate_weld accepts (smaller images cannot hold a bead and its plates)."""
VERTEX_STEP = 4.0
"""Spacing of the truth path vertices in pixels (at most)."""


@dataclass(frozen=True)
class TopologySpec:
    """One topology of the seed (section 6.2) and the defaults its generator draws from.

    Attributes:
        id: Topology number (2, 3, 4, 5, 7, 8, 9, 10, 11).
        name: Short name.
        description: One line, from the seed.
        shape_kind: "line" or "closed" (square welds).
        length_range: Line beads: length as a fraction of the chord through the image centre
            along the bead axis. Closed beads: rectangle width as a fraction of image width.
        width_range: Full bead width in pixels for a 128 px short image side (scaled).
        top_range: Height of the bead crown.
        left_visible: Probability that the plate on the positive-offset side (north of a
            left-to-right bead; outside of a square weld) is visible (else its pixels are 0).
        right_visible: Same for the negative-offset side (south; inside of a square weld).
        left_height: Range of the left plate's height (where hidden: the height the bead's
            foot still has on that side).
        right_height: Same for the right plate.
        oblique_prob: Probability that a visible plate is oblique (tilted) rather than flat.
        tilt_range: Height change of an oblique plate across the image's long side.
        shadow_prob: Probability of shadow (zero) zones.
        shadow_coverage: Fraction of the non-bead material blanked when shadows are on.
        rotation_sigma: Typical bead rotation in degrees (normal spread).
        rotation_max: Largest rotation in degrees.
        curved_prob: Probability of a gently curved centreline.
        sagitta_max: Largest bow of a curved bead in pixels (at 128 px short side).
    """

    id: int
    name: str
    description: str
    shape_kind: str
    length_range: tuple[float, float]
    width_range: tuple[float, float]
    top_range: tuple[float, float] = (0.76, 0.9)
    left_visible: float = 0.0
    right_visible: float = 0.0
    left_height: tuple[float, float] = (0.2, 0.3)
    right_height: tuple[float, float] = (0.2, 0.3)
    oblique_prob: float = 0.0
    tilt_range: tuple[float, float] = (0.08, 0.2)
    shadow_prob: float = 0.1
    shadow_coverage: tuple[float, float] = (0.02, 0.06)
    rotation_sigma: float = 3.0
    rotation_max: float = 30.0
    curved_prob: float = 0.35
    sagitta_max: float = 5.0


_UPPER = (0.42, 0.56)
_LOWER = (0.16, 0.28)

TOPOLOGIES: dict[int, TopologySpec] = {
    spec.id: spec
    for spec in (
        TopologySpec(
            2,
            "upper-plane",
            "upper plate visible as a plane",
            "line",
            length_range=(0.62, 0.8),
            width_range=(26, 36),
            left_visible=1.0,
            left_height=_UPPER,
            right_height=_LOWER,
        ),
        TopologySpec(
            3,
            "isolated",
            "isolated bead only",
            "line",
            length_range=(0.58, 0.72),
            width_range=(24, 34),
        ),
        TopologySpec(
            4,
            "lower-plane",
            "lower plane visible",
            "line",
            length_range=(0.62, 0.8),
            width_range=(26, 36),
            right_visible=1.0,
            left_height=_UPPER,
            right_height=_LOWER,
            oblique_prob=0.2,
            shadow_prob=0.25,
        ),
        TopologySpec(
            5,
            "lower-plane-shadows",
            "like 4 with many shadow (zero) zones",
            "line",
            length_range=(0.62, 0.8),
            width_range=(26, 36),
            right_visible=1.0,
            left_height=_UPPER,
            right_height=_LOWER,
            oblique_prob=0.2,
            shadow_prob=1.0,
            shadow_coverage=(0.22, 0.4),
        ),
        TopologySpec(
            7,
            "square",
            "square weld, bead runs around a rectangle, outer plate oblique or flat",
            "closed",
            length_range=(0.6, 0.8),
            width_range=(12, 18),
            left_visible=1.0,
            right_visible=0.5,
            left_height=(0.3, 0.45),
            right_height=(0.34, 0.52),
            oblique_prob=0.5,
            tilt_range=(0.18, 0.32),
            shadow_prob=0.2,
            rotation_sigma=1.5,
            rotation_max=6.0,
            curved_prob=0.0,
            sagitta_max=0.0,
        ),
        TopologySpec(
            8,
            "upper-plate",
            "upper plate visible",
            "line",
            length_range=(0.6, 0.8),
            width_range=(30, 40),
            left_visible=1.0,
            left_height=(0.46, 0.6),
            right_height=_LOWER,
            oblique_prob=0.6,
            shadow_prob=0.15,
        ),
        TopologySpec(
            9,
            "short-upper",
            "short bead, upper plate visible",
            "line",
            length_range=(0.26, 0.38),
            width_range=(26, 34),
            left_visible=1.0,
            left_height=_UPPER,
            right_height=_LOWER,
        ),
        TopologySpec(
            10,
            "isolated-short",
            "like 3, shorter",
            "line",
            length_range=(0.36, 0.48),
            width_range=(24, 32),
        ),
        TopologySpec(
            11,
            "isolated-long",
            "like 3, longer",
            "line",
            length_range=(0.84, 0.93),
            width_range=(22, 32),
        ),
    )
}


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
) -> SyntheticWeld:
    """Generate one good weld height map with its truth.

    Every knob is drawn from the topology's defaults in a fixed order whatever is overridden,
    so overriding one knob (e.g. ``rotation=90``) keeps the others as they were drawn.

    Args:
        topology: One of :data:`TOPOLOGIES`.
        rng: Random source (see :func:`sample_seed`).
        shape: (H, W); default (128, 352). Bead sizes scale with the short side.
        bit_depth: 8 or 16; ``height`` is quantised to it. Does not change the draws.
        rotation: Bead axis angle in degrees, counter-clockwise on screen (90 = vertical).
        curvature: Signed centreline curvature in 1/px (line beads; 0 = straight).
        shadows: Force shadow (zero) zones on or off.
        noise: Standard deviation of the scanner noise (height units).

    Returns:
        The :class:`SyntheticWeld`. ``truth`` holds ``topology``, ``bit_depth``, ``shape``,
        ``path`` (:meth:`BeadPath.to_dict`), ``axis_angle`` (line beads, else None),
        ``corners`` (arc lengths, closed beads), ``plates`` (visible ones: side, kind, height
        at the image centre, plane ``[a, b, c]`` of ``h = a*x + b*y + c``) and
        ``generator`` (every drawn knob).
    """
    spec = _spec(topology)
    if bit_depth not in SUPPORTED_BIT_DEPTHS:
        raise ValueError(f"bit_depth must be one of {SUPPORTED_BIT_DEPTHS}, got {bit_depth}")
    shape = _check_shape(DEFAULT_SHAPE if shape is None else shape)
    knobs = draw_knobs(spec, rng, shape)
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
    out = render_weld(spec, knobs, shape, VERTEX_STEP)
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
    return SyntheticWeld(
        height=height,
        bit_depth=bit_depth,
        topology=spec.id,
        truth=truth,
        bead_mask=out.bead_mask,
        left_side=out.left_side,
    )


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
    return bead_mask_from_coordinates(path, s_map, d_map, near), left_side(path, shape)


def sample_name(topology: int, index: int) -> str:
    """File stem of a sample: ``<topology>_<index:04d>``."""
    return f"{topology}_{index:04d}"


def write_weld(
    weld: SyntheticWeld, png_path: str | os.PathLike[str], extra: dict[str, Any] | None = None
) -> Path:
    """Write a weld's PNG and its ``.json`` truth sidecar (pretty, sorted keys), atomically.

    Args:
        weld: The weld.
        png_path: Destination PNG; the sidecar goes next to it with a ``.json`` suffix.
        extra: Extra top-level keys for the sidecar (e.g. ``{"sample": {...}}``).
    """
    png = Path(png_path)
    write_heightmap(png, weld.height, weld.bit_depth)
    sidecar = dict(weld.truth)
    if extra:
        sidecar.update(extra)
    text = json.dumps(sidecar, indent=2, sort_keys=True) + "\n"
    atomic_write_bytes(png.with_suffix(".json"), text.encode("utf-8"))
    return png


def read_sample(png_path: str | os.PathLike[str]) -> SyntheticWeld:
    """Read a sample written by :func:`write_samples` (PNG + JSON sidecar) back."""
    png = Path(png_path)
    hm = read_heightmap(png)
    truth = json.loads(png.with_suffix(".json").read_text(encoding="utf-8"))
    truth.pop("sample", None)
    return SyntheticWeld(
        height=hm.height, bit_depth=hm.bit_depth, topology=int(truth["topology"]), truth=truth
    )


def write_samples(
    out_dir: str | os.PathLike[str],
    topologies: Iterable[int],
    n: int,
    seed: int,
    bit_depth: int = 16,
    progress: Callable[[int, int], None] | None = None,
    *,
    start: int = 0,
) -> list[Path]:
    """Write ``n`` good welds per topology as ``OUT/<topology>/<topology>_<index:04d>.png``.

    Each PNG gets a ``.json`` truth sidecar (the truth plus ``"sample": {seed, index}``).
    Sample ``index`` is seeded by :func:`sample_seed` only, so the same seed gives
    byte-identical files, and any one sample can be regenerated alone.

    Args:
        out_dir: Output folder (created).
        topologies: Topology numbers.
        n: Samples per topology.
        seed: Base seed (>= 0).
        bit_depth: 8 or 16.
        progress: Called as ``progress(done, total)`` after each sample.
        start: First index (indices ``start .. start + n - 1``).

    Returns:
        The written PNG paths, in order.
    """
    topos = [_spec(t).id for t in topologies]
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if bit_depth not in SUPPORTED_BIT_DEPTHS:
        raise ValueError(f"bit_depth must be one of {SUPPORTED_BIT_DEPTHS}, got {bit_depth}")
    out = Path(out_dir)
    total = len(topos) * n
    written: list[Path] = []
    for topo in topos:
        for index in range(start, start + n):
            weld = generate_weld(topo, sample_seed(seed, topo, index), bit_depth=bit_depth)
            png = out / str(topo) / f"{sample_name(topo, index)}.png"
            written.append(write_weld(weld, png, {"sample": {"seed": seed, "index": index}}))
            if progress is not None:
                progress(len(written), total)
    return written


def topology_table_markdown() -> str:
    """Markdown table of the topologies (id, name, shape, description) from TOPOLOGIES."""
    lines = ["| id | name | shape | description |", "|---:|---|---|---|"]
    for spec in TOPOLOGIES.values():
        lines.append(f"| {spec.id} | {spec.name} | {spec.shape_kind} | {spec.description} |")
    return "\n".join(lines) + "\n"


def _spec(topology: int) -> TopologySpec:
    try:
        return TOPOLOGIES[int(topology)]
    except (KeyError, TypeError, ValueError):
        allowed = ", ".join(str(t) for t in TOPOLOGIES)
        raise ValueError(f"unknown topology {topology!r}; allowed: {allowed}") from None


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
