"""Grad-CAM and CAM-in-mask for the audit: the maths lives in the training layer.

:mod:`weldsynth.train.cam` (Grad-CAM, mapping a CAM back to the height map, CAM-in-mask)
and :mod:`weldsynth.train.masks` (mask files) are shared with ``predict --heatmap`` and
``evaluate``; this module keeps the audit's imports working.
"""

from __future__ import annotations

from weldsynth.train.cam import (
    DILATE_PX,
    LOW_LIFT,
    cam_in_mask,
    cam_to_map,
    gradcam,
    letterbox_box,
)
from weldsynth.train.masks import png_shape, read_mask

__all__ = [
    "DILATE_PX",
    "LOW_LIFT",
    "cam_in_mask",
    "cam_to_map",
    "gradcam",
    "letterbox_box",
    "png_shape",
    "read_mask",
]
