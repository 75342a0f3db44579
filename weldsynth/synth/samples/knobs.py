"""The generator's knobs per topology, and the draw of one weld's knobs from them.

Which topologies exist is :mod:`weldsynth.core.topology` (identity only). Here each
registered id gets the defaults the procedural generator draws from
(:class:`GeneratorKnobs`, in :data:`GENERATOR_KNOBS`); :func:`topology_spec` joins the two,
and :data:`TOPOLOGIES` is a live view of every registered topology with its knobs.
:func:`draw_knobs` draws every knob of one weld in a fixed order.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
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
