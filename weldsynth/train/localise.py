"""How well a model's heat maps find the defects of a generated data set (``evaluate``).

For every bad image with a defect mask (generated data sets), the model's heat map
(:func:`weldsynth.train.heatmap.defect_maps`: mask head or Grad-CAM) is brought to the
image's shape and compared with the true mask: the IoU of the map thresholded at
:data:`~weldsynth.train.heatmap.THRESHOLD` (:func:`~weldsynth.train.heatmap.heat_iou`), and
the CAM-in-mask energy (:func:`weldsynth.train.cam.cam_in_mask`: share of the map's energy
inside the mask grown by a few pixels; a low share flags a shortcut). Means per defect and
over all images; NaNs (an empty map) are left out of the means and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from weldsynth.train.cam import cam_in_mask
from weldsynth.train.data import Item
from weldsynth.train.heatmap import THRESHOLD, heat_iou, maps_for_heights, method_of
from weldsynth.train.masks import carries_mask, read_mask


@dataclass
class Localisation:
    """Heat map against true mask, per image and per defect.

    Attributes:
        method: "mask" (the mask head) or "gradcam".
        images: Bad images with a readable mask that were scored.
        iou: Their IoU (NaN: map and mask both empty).
        energy: Their CAM-in-mask energy (NaN: an empty map).
        defects: Defect name of each.
        threshold: Heat threshold of the IoU.
    """

    method: str
    images: list[str] = field(default_factory=list)
    iou: list[float] = field(default_factory=list)
    energy: list[float] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    threshold: float = THRESHOLD

    @property
    def mean_iou(self) -> float:
        """Mean IoU over the images (NaN when none)."""
        return _mean(self.iou)

    @property
    def mean_energy(self) -> float:
        """Mean CAM-in-mask energy over the images (NaN when none)."""
        return _mean(self.energy)

    def per_defect(self) -> list[dict[str, Any]]:
        """One row per defect: images, mean IoU, mean CAM-in-mask energy, empty maps."""
        rows = []
        for name in sorted(set(self.defects)):
            pick = [k for k, d in enumerate(self.defects) if d == name]
            iou = [self.iou[k] for k in pick]
            energy = [self.energy[k] for k in pick]
            rows.append(
                {
                    "defect": name,
                    "images": len(pick),
                    "mean_iou": _rounded(_mean(iou)),
                    "cam_in_mask": _rounded(_mean(energy)),
                    "empty_maps": int(sum(e != e for e in energy)),
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (``evaluate --json``)."""
        return {
            "method": self.method,
            "threshold": self.threshold,
            "images": len(self.images),
            "mean_iou": _rounded(self.mean_iou),
            "cam_in_mask": _rounded(self.mean_energy),
            "per_defect": self.per_defect(),
        }


def _mean(values: Sequence[float]) -> float:
    kept = [v for v in values if v == v]
    return float(np.mean(kept)) if kept else float("nan")


def _rounded(value: float) -> float | None:
    return None if value != value else round(value, 4)


def localise(
    ckpt,
    items: Sequence[Item],
    heights: Sequence[np.ndarray] | None = None,
    batch_size: int = 32,
    method: str = "auto",
) -> Localisation | None:
    """Score a :class:`~weldsynth.train.checkpoint.Checkpoint`'s heat maps on the bad
    ``items`` that have masks.

    Args:
        ckpt: The loaded model.
        items: Evaluated images (others than bad ones with a mask are skipped).
        heights: Their decoded height maps, in order (None: read them here).
        batch_size: Images per forward pass.
        method: Heat map of :func:`~weldsynth.train.heatmap.defect_maps` ("auto": the mask
            head when the model has one, else Grad-CAM).

    Returns:
        The scores, or None when no item is a bad image with a readable mask.
    """
    from weldsynth.train.predict import read_heights

    pick = [k for k, item in enumerate(items) if carries_mask(item)]
    masks = {k: read_mask(items[k].mask) for k in pick}  # type: ignore[arg-type]
    pick = [k for k in pick if masks[k] is not None]
    if not pick:
        return None
    if heights is None:
        got, kept, _ = read_heights([items[k].path for k in pick])
        pick, chosen = [pick[j] for j in kept], got
    else:
        chosen = [heights[k] for k in pick]
    out = Localisation(method=method_of(ckpt.model, method))
    maps = maps_for_heights(
        ckpt.model,
        chosen,
        ckpt.size,
        float(ckpt.meta["mean"]),
        float(ckpt.meta["std"]),
        classes=ckpt.classes,
        batch_size=batch_size,
        method=out.method,
    )
    for k, heat in zip(pick, maps, strict=True):
        mask = masks[k]
        if mask.shape != heat.shape:  # type: ignore[union-attr]
            continue
        out.images.append(items[k].rel)
        out.defects.append(items[k].defect or "-")
        out.iou.append(heat_iou(heat, mask))  # type: ignore[arg-type]
        out.energy.append(cam_in_mask(heat, mask)[0])  # type: ignore[arg-type]
    return out
