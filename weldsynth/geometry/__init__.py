"""Bead geometry: where the bead runs in a height map (its path), its plates and no-data.

:func:`locate` is the entry point; :mod:`weldsynth.geometry.path` holds the path type and
its coordinates (arc length ``s``, signed offset ``d``), found for pixels by
:mod:`~weldsynth.geometry.path_pixels` on a densified centreline
(:mod:`~weldsynth.geometry.dense`); the fitting strategies live in
:mod:`~weldsynth.geometry.line` (with the robust fits of :mod:`~weldsynth.geometry.smoothing`),
:mod:`~weldsynth.geometry.closed` and :mod:`~weldsynth.geometry.ridge`.
"""

from weldsynth.geometry.finder import (
    PLATE_LEFT,
    PLATE_NONE,
    PLATE_RIGHT,
    Plate,
    WeldGeometry,
    locate,
)

__all__ = ["PLATE_LEFT", "PLATE_NONE", "PLATE_RIGHT", "Plate", "WeldGeometry", "locate"]
