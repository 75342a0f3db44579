"""The generator's knobs per topology, and the draw of one weld's knobs from them.

Which topologies exist is :mod:`weldsynth.core.topology` (identity only). Here each
registered id gets the defaults the procedural generator draws from
(:class:`GeneratorKnobs`, in :data:`GENERATOR_KNOBS`); :func:`topology_spec` joins the two,
and :data:`TOPOLOGIES` is a live view of every registered topology with its knobs.
:func:`draw_knobs` draws every knob of one weld in a fixed order.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from weldsynth.core.topology import Topology, get_topology, topology_ids


@dataclass(frozen=True)
class GeneratorKnobs:
    """The defaults the generator draws one topology's welds from.

    Attributes:
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
_PLANE_LINE = {"length_range": (0.62, 0.8), "width_range": (26, 36)}

GENERATOR_KNOBS: dict[int, GeneratorKnobs] = {
    2: GeneratorKnobs(**_PLANE_LINE, left_visible=1.0, left_height=_UPPER, right_height=_LOWER),
    3: GeneratorKnobs(length_range=(0.58, 0.72), width_range=(24, 34)),
    4: GeneratorKnobs(
        **_PLANE_LINE,
        right_visible=1.0,
        left_height=_UPPER,
        right_height=_LOWER,
        oblique_prob=0.2,
        shadow_prob=0.25,
    ),
    5: GeneratorKnobs(
        **_PLANE_LINE,
        right_visible=1.0,
        left_height=_UPPER,
        right_height=_LOWER,
        oblique_prob=0.2,
        shadow_prob=1.0,
        shadow_coverage=(0.22, 0.4),
    ),
    7: GeneratorKnobs(
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
    8: GeneratorKnobs(
        length_range=(0.6, 0.8),
        width_range=(30, 40),
        left_visible=1.0,
        left_height=(0.46, 0.6),
        right_height=_LOWER,
        oblique_prob=0.6,
        shadow_prob=0.15,
    ),
    9: GeneratorKnobs(
        length_range=(0.26, 0.38),
        width_range=(26, 34),
        left_visible=1.0,
        left_height=_UPPER,
        right_height=_LOWER,
    ),
    10: GeneratorKnobs(length_range=(0.36, 0.48), width_range=(24, 32)),
    11: GeneratorKnobs(length_range=(0.84, 0.93), width_range=(22, 32)),
}
"""Generator knobs keyed by topology id; every registered topology needs an entry."""


@dataclass(frozen=True)
class TopologySpec:
    """A registered topology with the knobs the generator draws its welds from.

    Attributes:
        topology: Identity (:class:`weldsynth.core.topology.Topology`).
        knobs: Generator defaults.
    """

    topology: Topology
    knobs: GeneratorKnobs

    @property
    def id(self) -> int:
        """Topology number."""
        return self.topology.id

    @property
    def name(self) -> str:
        """Short name."""
        return self.topology.name

    @property
    def description(self) -> str:
        """One line, from the seed."""
        return self.topology.description

    @property
    def shape_kind(self) -> str:
        """ "line" or "closed" (square welds)."""
        return self.topology.shape_kind


def topology_spec(topology: int | str) -> TopologySpec:
    """The registered topology ``topology`` with its generator knobs.

    Raises:
        UnknownTopologyError: (a ValueError) not a registered topology.
        ValueError: registered, but :data:`GENERATOR_KNOBS` has no entry for it.
    """
    identity = get_topology(topology)
    knobs = GENERATOR_KNOBS.get(identity.id)
    if knobs is None:
        raise ValueError(
            f"topology {identity.id} ({identity.name}) has no generator knobs: add it to "
            "weldsynth.synth.samples.knobs.GENERATOR_KNOBS"
        )
    return TopologySpec(topology=identity, knobs=knobs)


class _Specs(Mapping[int, TopologySpec]):
    """Read-only mapping id -> :class:`TopologySpec` over the registered topologies."""

    def __contains__(self, key: object) -> bool:
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)):
            return False
        return int(key) in topology_ids()

    def __getitem__(self, key: int) -> TopologySpec:
        if key not in self:
            raise KeyError(key)
        return topology_spec(int(key))

    def __iter__(self) -> Iterator[int]:
        return iter(topology_ids())

    def __len__(self) -> int:
        return len(topology_ids())

    def __repr__(self) -> str:
        return f"TOPOLOGIES({', '.join(str(t) for t in self)})"


TOPOLOGIES: Mapping[int, TopologySpec] = _Specs()
"""Every registered topology, by id, with its generator knobs (a live view of the registry)."""


def draw_knobs(knobs: GeneratorKnobs, rng: np.random.Generator, shape: tuple[int, int]) -> dict:
    """Draw every knob of one weld from the topology's defaults, always in the same order."""
    h, w = shape
    scale = min(h, w) / 128.0
    k: dict[str, Any] = {"scale": scale}
    wide_turn, turn_u, turn_n = rng.random(), rng.uniform(-1, 1), rng.normal()
    if wide_turn < 0.12:
        rot = turn_u * knobs.rotation_max
    else:
        rot = float(np.clip(turn_n * knobs.rotation_sigma, -knobs.rotation_max, knobs.rotation_max))
    k["rotation"] = round(rot, 3)
    curved, bow = rng.random() < knobs.curved_prob, rng.uniform(-1, 1)
    k["sagitta"] = bow * knobs.sagitta_max * scale if curved else 0.0
    k["curvature"] = None
    k["curvature_given"] = False
    k["bead_width"] = rng.uniform(*knobs.width_range) * scale
    k["length_fraction"] = rng.uniform(*knobs.length_range)
    k["rect_height_fraction"] = rng.uniform(0.62, 0.82)
    # "sharp" corners keep a small radius: a polyline corner would make path.project's
    # perpendicular offset (and so BeadPath.bead_mask) grow stubs beyond the corner
    corner_u, corner_sharp = rng.uniform(0, 1), rng.random() < 0.4
    k["corner_style"] = "sharp" if corner_sharp else "rounded"
    k["corner_radius"] = (0.2 + 0.15 * corner_u if corner_sharp else 0.5 + 0.8 * corner_u) * (
        k["bead_width"]
    )
    k["top"] = rng.uniform(*knobs.top_range)
    for side, vis, rng_h in (
        ("left", knobs.left_visible, knobs.left_height),
        ("right", knobs.right_visible, knobs.right_height),
    ):
        k[f"{side}_height"] = rng.uniform(*rng_h)
        k[f"{side}_visible"] = bool(rng.random() < vis)
        k[f"{side}_oblique"] = bool(rng.random() < knobs.oblique_prob)
        k[f"{side}_tilt_direction"] = rng.uniform(0, 360)
        k[f"{side}_tilt"] = rng.uniform(*knobs.tilt_range)  # change across the long side
    k["cap_p"] = rng.uniform(1.8, 2.8)
    k["cap_q"] = rng.uniform(0.55, 0.85)
    k["crown_offset"] = rng.uniform(-0.15, 0.15)
    k["ripple_period"] = rng.uniform(4.5, 9.0) * scale
    k["ripple_amplitude"] = rng.uniform(0.008, 0.02)
    k["ripple_bend"] = rng.uniform(0.6, 1.4)
    k["width_wobble"] = rng.uniform(0.03, 0.08)
    k["height_wobble"] = rng.uniform(0.02, 0.05)
    k["taper"] = rng.uniform(0.7, 1.3)
    k["end_width"] = rng.uniform(0.3, 0.5)
    k["crater_depth"] = rng.uniform(0.2, 0.45)
    k["crater_position"] = rng.uniform(0.35, 0.6)
    k["noise"] = rng.uniform(0.002, 0.006)
    k["profile_noise"] = rng.uniform(0.0005, 0.002)
    k["texture"] = rng.uniform(0.002, 0.006)
    k["shadows"] = bool(rng.random() < knobs.shadow_prob)
    k["shadow_coverage"] = rng.uniform(*knobs.shadow_coverage)
    side_u = rng.random()
    if k["left_visible"] != k["right_visible"]:  # shadows fall on the visible plate
        k["shadow_side"] = "left" if k["left_visible"] else "right"
    else:
        k["shadow_side"] = "left" if side_u < 0.5 else "right"
    k["shift"] = [rng.uniform(-1, 1), rng.uniform(-1, 1)]
    k["field_seed"] = int(rng.integers(0, 2**62))
    return k


CLUTTER_LEVELS: tuple[str, ...] = ("none", "realistic", "heavy")
"""Clutter levels of ``weldsynth samples --clutter``; "none" draws nothing (the old output)."""


@dataclass(frozen=True)
class ClutterKnobs:
    """What a plant's *good* welds carry besides the clean bead (drawn per weld).

    Every height is in full-scale units (the map's [0, 1]), every length in pixels at a
    128 px short side (scaled like the bead). Spatter droplets stay well under the smallest
    ball a recipe draws as bad (``ball.radius`` >= 3 px), so a cluttered weld is still good.

    Attributes:
        ripple: Range of the extra scale-mark amplitude on the bead crown.
        spatter: Range of droplets per image (on the plate near the bead; on the bead's toe
            where no plate is measured).
        spatter_radius: Range of a droplet's radius.
        spatter_height: Range of a droplet's height above the surface.
        spatter_reach: How far from the bead edge droplets land, in bead widths.
        noise: Range of the extra per-pixel scanner noise (standard deviation).
        spikes: Fraction of measured pixels with an outlier of up to ``3 * noise * 10``.
        dropouts: Range of the fraction of measured pixels lost in specks (0 = no data).
        shadow_prob: Probability of a shadow band (0) along one bead edge.
        shadow_width: Range of the band's width off the bead edge.
        tilt: Largest height change of a tilted part across the image's long side.
        warp: Largest amplitude of a smooth bend of the whole part.
    """

    ripple: tuple[float, float] = (0.01, 0.025)
    spatter: tuple[int, int] = (3, 12)
    spatter_radius: tuple[float, float] = (0.6, 1.4)
    spatter_height: tuple[float, float] = (0.01, 0.04)
    spatter_reach: float = 1.2
    noise: tuple[float, float] = (0.002, 0.006)
    spikes: float = 0.0005
    dropouts: tuple[float, float] = (0.002, 0.008)
    shadow_prob: float = 0.3
    shadow_width: tuple[float, float] = (2.0, 6.0)
    tilt: float = 0.06
    warp: float = 0.02


_HEAVY = ClutterKnobs(
    ripple=(0.02, 0.04),
    spatter=(10, 30),
    spatter_radius=(0.8, 1.8),
    spatter_height=(0.02, 0.06),
    spatter_reach=1.8,
    noise=(0.005, 0.012),
    spikes=0.002,
    dropouts=(0.008, 0.025),
    shadow_prob=0.6,
    shadow_width=(3.0, 10.0),
    tilt=0.12,
    warp=0.04,
)
CLUTTER_KNOBS: dict[str, ClutterKnobs] = {"realistic": ClutterKnobs(), "heavy": _HEAVY}
"""Clutter defaults per level (every level but "none")."""
TOPOLOGY_CLUTTER: dict[int, dict[str, Any]] = {
    5: {"shadow_prob": 0.0},  # its scans are already half shadow (GENERATOR_KNOBS)
    7: {"tilt": 0.03, "warp": 0.01},  # a square part on a fixture: little room to tilt
}
"""Per-topology changes to :data:`CLUTTER_KNOBS` (applied to every level)."""


def clutter_knobs(topology: int, level: str) -> ClutterKnobs | None:
    """The clutter knobs of ``topology`` at ``level`` (None for "none").

    Raises:
        ValueError: an unknown level.
    """
    if level not in CLUTTER_LEVELS:
        raise ValueError(f"clutter must be one of {', '.join(CLUTTER_LEVELS)}, got {level!r}")
    if level == "none":
        return None
    return replace(CLUTTER_KNOBS[level], **TOPOLOGY_CLUTTER.get(int(topology), {}))
