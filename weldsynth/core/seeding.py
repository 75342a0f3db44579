"""The one way weldsynth derives seeds: from a base seed and the items a draw belongs to.

Every random draw comes from a numpy Generator seeded from ``(seed, *items)``: the base seed
the user gave and whatever identifies the work unit (topology, file name, variant index...).
The scheme:

1. Each item becomes one non-negative integer word: an integer stays as it is; a string
   becomes the first 8 bytes (big-endian) of its UTF-8 SHA-256.
2. ``numpy.random.SeedSequence([seed, *words])`` mixes them (:func:`seed_sequence`).
3. The integer seed is its first 64-bit state word shifted right by one, so it fits in a
   signed 64-bit column (:func:`derive_seed`). That integer is what a manifest records;
   ``numpy.random.default_rng(that_integer)`` replays the draw (:func:`rng_for`).

The result depends only on the inputs: not on call order, the process, the machine or
``PYTHONHASHSEED``. Different items give unrelated streams.

Typical use::

    from weldsynth.core.seeding import derive_seed, rng_for

    seed = derive_seed(recipe_seed, topology, name, variant)   # written to the manifest
    rng = rng_for(recipe_seed, topology, name, variant)        # == default_rng(seed)
"""

from __future__ import annotations

import hashlib
import numbers

import numpy as np

SeedItem = int | str
"""What may identify a draw: a non-negative integer or a string."""


def seed_word(item: SeedItem) -> int:
    """One item as a non-negative integer word (strings by SHA-256, see the module doc).

    Raises:
        ValueError: a negative integer.
        TypeError: neither an integer nor a string (floats are refused: use an index).
    """
    if isinstance(item, str):
        return int.from_bytes(hashlib.sha256(item.encode("utf-8")).digest()[:8], "big")
    if isinstance(item, bool) or not isinstance(item, numbers.Integral):
        raise TypeError(f"seed items must be integers or strings, got {type(item).__name__}")
    if item < 0:
        raise ValueError(f"seed items must be non-negative, got {item}")
    return int(item)


def seed_sequence(seed: int, *items: SeedItem) -> np.random.SeedSequence:
    """``SeedSequence([seed, *words])`` of the items (step 2 of the scheme)."""
    return np.random.SeedSequence([seed_word(seed), *(seed_word(i) for i in items)])


def derive_seed(seed: int, *items: SeedItem) -> int:
    """The integer seed of ``items`` under base ``seed``: in [0, 2**63).

    Args:
        seed: Base seed (non-negative).
        *items: What identifies the draw (integers or strings), in a fixed order.

    Returns:
        A Python int, the same for the same inputs everywhere.
    """
    state = seed_sequence(seed, *items).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


def rng_for(seed: int, *items: SeedItem) -> np.random.Generator:
    """The Generator of ``items`` under base ``seed``: ``default_rng(derive_seed(...))``."""
    return np.random.default_rng(derive_seed(seed, *items))
