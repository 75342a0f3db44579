"""Defect plugins: turn a good weld height map into a labelled defective one plus a mask.

Quick use::

    from weldsynth.synth.defects import create_defect, list_defects
    hole = create_defect("hole", radius=(2, 4))
    result = hole(height, np.random.default_rng(0), geometry)
    if result.ok:
        new_height, mask, label = result.height, result.mask, result.label

Writing a plugin: see :mod:`weldsynth.synth.defects.base`. Albumentations:
:class:`weldsynth.synth.defects.transform.DefectTransform` (imported on demand, it pulls in
albumentations).
"""

from __future__ import annotations

from weldsynth.synth.defects.base import (
    Defect,
    DefectConfig,
    DefectConfigError,
    DefectParams,
    DefectRejectedError,
    DefectResult,
    UnknownDefectError,
    param,
)
from weldsynth.synth.defects.registry import (
    ENTRY_POINT_GROUP,
    DuplicateDefectError,
    create_defect,
    get_defect,
    list_defects,
    register_defect,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Defect",
    "DefectConfig",
    "DefectConfigError",
    "DefectParams",
    "DefectRejectedError",
    "DefectResult",
    "DuplicateDefectError",
    "UnknownDefectError",
    "create_defect",
    "get_defect",
    "list_defects",
    "param",
    "register_defect",
]
