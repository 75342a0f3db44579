"""Albumentations adapter: any registered defect as an ``A.DualTransform``.

::

    import albumentations as A
    from weldsynth.synth.defects.transform import DefectTransform

    aug = A.Compose([DefectTransform("hole", config={"radius": (2, 4)}, p=0.5)], seed=0)
    out = aug(image=height, mask=mask)            # height: (H, W) or (H, W, 1)
    out = aug(image=height, mask=mask, geometry=geometry)   # skip geometry.locate

The image may be uint8, uint16 or float32 in [0, 1] (dtype and shape are kept). The bead is
found with :func:`weldsynth.geometry.locate` unless a ``geometry`` is passed with the data.
The draw uses albumentations' seeded generator (``Compose(seed=...)``), so a seeded pipeline
is reproducible. The defect's changed pixels are OR-ed into the ``mask`` target (set to
``mask_value``). A rejected draw (no-op, or no bead found) leaves image and mask unchanged;
``transform.params["defect_result"]`` tells what happened, including the label (a cut may
be "good").

Serialisation: ``A.to_dict(aug)`` / ``A.from_dict(d)`` work once this module is imported
(albumentations finds classes by their registered full name).
"""

from __future__ import annotations

from typing import Any

import albumentations as A
import numpy as np
from albumentations.core.transforms_interface import BaseTransformInitSchema

from weldsynth.geometry import WeldGeometry
from weldsynth.synth.defects.base import DefectResult
from weldsynth.synth.defects.registry import create_defect


class DefectTransform(A.DualTransform):
    """A weldsynth defect plugin as an albumentations transform (image + mask targets).

    Args:
        defect: Registered plugin name (see ``weldsynth defects list``).
        config: Plugin config values (ranges as (min, max)); validated now.
        max_tries: Draws before a no-op is given up (plugin default when None).
        mask_value: Value written into the mask target where the defect changed pixels.
        p: Probability of applying the transform.

    Raises:
        DefectConfigError: Unknown plugin field or a value outside its allowed range.
        UnknownDefectError: No plugin of that name.
    """

    class InitSchema(BaseTransformInitSchema):
        defect: str
        config: dict[str, Any] | None = None
        max_tries: int | None = None
        mask_value: float = 1

    def __init__(
        self,
        defect: str = "hole",
        config: dict[str, Any] | None = None,
        max_tries: int | None = None,
        mask_value: float = 1,
        p: float = 1.0,
    ) -> None:
        super().__init__(p=p)
        self.plugin = create_defect(defect, max_tries=max_tries, **(config or {}))
        self.defect = defect
        self.config = self.plugin.config.to_dict()
        self.max_tries = self.plugin.max_tries
        self.mask_value = mask_value

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        """Arguments saved by ``A.to_dict``."""
        return ("defect", "config", "max_tries", "mask_value")

    @property
    def available_keys(self) -> set[str]:
        """Accept a ``geometry`` entry in the data (also under ``Compose(strict=True)``)."""
        return super().available_keys | {"geometry"}

    def get_params_dependent_on_data(
        self, params: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        """Locate the bead (unless given), draw and apply the defect once for all targets."""
        image = data["image"]
        plane = _plane(image)
        geometry = data.get("geometry")
        if geometry is None:
            from weldsynth.geometry import locate

            geometry = locate(plane)
        if not isinstance(geometry, WeldGeometry):
            raise TypeError(f"geometry must be a WeldGeometry, got {type(geometry).__name__}")
        result = self.plugin(plane, self.random_generator, geometry)
        return {"defect_result": result}

    def apply(self, img: np.ndarray, defect_result: DefectResult, **params: Any) -> np.ndarray:
        """The image with the defect (unchanged when the draw was rejected)."""
        if defect_result.rejected:
            return img
        return defect_result.height.reshape(img.shape)

    def apply_to_mask(
        self, mask: np.ndarray, defect_result: DefectResult, **params: Any
    ) -> np.ndarray:
        """The mask with the defect's changed pixels set to ``mask_value``."""
        if defect_result.rejected:
            return mask
        changed = defect_result.mask
        if mask.ndim == 3:
            changed = changed[..., None]
        value = bool(self.mask_value) if mask.dtype == bool else self.mask_value
        return np.where(changed, np.asarray(value, dtype=mask.dtype), mask)

    def apply_to_bboxes(self, bboxes: np.ndarray, **params: Any) -> np.ndarray:
        """Boxes are not moved by a local defect."""
        return bboxes

    def apply_to_keypoints(self, keypoints: np.ndarray, **params: Any) -> np.ndarray:
        """Keypoints are not moved by a local defect."""
        return keypoints


def _plane(image: np.ndarray) -> np.ndarray:
    """The 2-D height plane of an (H, W) or (H, W, 1) image."""
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[..., 0]
    raise ValueError(f"a height map has one channel; got image shape {image.shape}")
