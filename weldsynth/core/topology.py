"""Topology identity: which weld topologies exist, what they are called, what shape they have.

A topology is a kind of weld seam (section 6.2 of the seed): a straight or gently curved
bead with some plates visible ("line"), or a bead run around a rectangle ("closed"). This
registry holds **identity only** — id, name, shape kind, one-line description. What each
layer does with a topology lives in that layer, keyed by the id: the procedural generator's
knobs in :mod:`weldsynth.synth.samples`, the shipped recipe in
``weldsynth.data.recipes_dir()/<id>.yaml``, the shipped good welds in
``weldsynth.data.samples_dir()/<id>/``. A test checks that every registered topology has
all of them.

Typical use::

    from weldsynth.core.topology import get_topology, list_topologies, topology_ids

    topology_ids()                 # (2, 3, 4, 5, 7, 8, 9, 10, 11)
    get_topology(7).shape_kind     # "closed"
"""

from __future__ import annotations

from dataclasses import dataclass

from weldsynth.core.errors import WeldsynthError

SHAPE_KINDS = ("line", "closed")
"""Allowed shape kinds: a bead with two ends, or a bead that runs around."""


class UnknownTopologyError(WeldsynthError, ValueError):
    """A topology id that is not registered; the message lists the registered ones."""


@dataclass(frozen=True)
class Topology:
    """Identity of one weld topology.

    Attributes:
        id: Topology number (a positive int, as in file and folder names).
        name: Short name (lower case, dashes).
        shape_kind: "line" (a bead with two ends) or "closed" (a bead run around a rectangle).
        description: One line, from the seed.
    """

    id: int
    name: str
    shape_kind: str
    description: str


_REGISTRY: dict[int, Topology] = {}


def register_topology(
    id: int, name: str, shape_kind: str, description: str, *, replace: bool = False
) -> Topology:
    """Register a topology (identity only) and return it.

    Args:
        id: Topology number, > 0.
        name: Short name, unique among the registered topologies.
        shape_kind: One of :data:`SHAPE_KINDS`.
        description: One line.
        replace: Allow replacing an already registered id (tests, plugins).

    Raises:
        ValueError: bad id, shape kind or empty name; id or name already taken.
    """
    if isinstance(id, bool) or not isinstance(id, int) or id <= 0:
        raise ValueError(f"topology id must be a positive int, got {id!r}")
    if shape_kind not in SHAPE_KINDS:
        raise ValueError(f"shape_kind must be one of {SHAPE_KINDS}, got {shape_kind!r}")
    if not name or not description:
        raise ValueError(f"topology {id}: name and description must not be empty")
    if id in _REGISTRY and not replace:
        raise ValueError(f"topology {id} is already registered ({_REGISTRY[id].name})")
    taken = {t.name: t.id for t in _REGISTRY.values() if t.id != id}
    if name in taken:
        raise ValueError(f"topology name {name!r} is already used by topology {taken[name]}")
    topology = Topology(id=id, name=name, shape_kind=shape_kind, description=description)
    _REGISTRY[id] = topology
    return topology


def unregister_topology(id: int) -> None:
    """Remove a registered topology (for tests that register a temporary one)."""
    _REGISTRY.pop(int(id), None)


def get_topology(id: int | str) -> Topology:
    """The registered topology ``id`` (an int, or its decimal string).

    Raises:
        UnknownTopologyError: not registered; the message lists the allowed ids.
    """
    try:
        return _REGISTRY[int(id)]
    except (KeyError, TypeError, ValueError):
        allowed = ", ".join(str(t) for t in topology_ids())
        raise UnknownTopologyError(f"unknown topology {id!r}; allowed: {allowed}") from None


def list_topologies() -> tuple[Topology, ...]:
    """Every registered topology, by id."""
    return tuple(_REGISTRY[i] for i in sorted(_REGISTRY))


def topology_ids() -> tuple[int, ...]:
    """The registered topology ids, ascending."""
    return tuple(sorted(_REGISTRY))


def topology_table_markdown() -> str:
    """Markdown table of the registered topologies (id, name, shape, description)."""
    lines = ["| id | name | shape | description |", "|---:|---|---|---|"]
    for t in list_topologies():
        lines.append(f"| {t.id} | {t.name} | {t.shape_kind} | {t.description} |")
    return "\n".join(lines) + "\n"


# The nine topologies of the seed (section 6.2).
for _id, _name, _kind, _description in (
    (2, "upper-plane", "line", "upper plate visible as a plane"),
    (3, "isolated", "line", "isolated bead only"),
    (4, "lower-plane", "line", "lower plane visible"),
    (5, "lower-plane-shadows", "line", "like 4 with many shadow (zero) zones"),
    (
        7,
        "square",
        "closed",
        "square weld, bead runs around a rectangle, outer plate oblique or flat",
    ),
    (8, "upper-plate", "line", "upper plate visible"),
    (9, "short-upper", "line", "short bead, upper plate visible"),
    (10, "isolated-short", "line", "like 3, shorter"),
    (11, "isolated-long", "line", "like 3, longer"),
):
    register_topology(_id, _name, _kind, _description)
del _id, _name, _kind, _description
