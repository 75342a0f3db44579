"""Bead geometry: where the bead runs in a height map (its path), its plates and no-data.

:func:`locate` is the entry point; :mod:`weldsynth.geometry.path` holds the path type and
its coordinates (arc length ``s``, signed offset ``d``); the fitting strategies live in
:mod:`~weldsynth.geometry.line`, :mod:`~weldsynth.geometry.closed` and
:mod:`~weldsynth.geometry.ridge`.
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
