"""Grad-CAM on a model's last stage, mapped back to the height map, and CAM-in-mask.

Used by ``predict --heatmap`` and ``evaluate`` (:mod:`weldsynth.train.heatmap`) and by the
audit (:mod:`weldsynth.audit.gradcam` re-exports it).

Grad-CAM (Selvaraju et al. 2017): the activations ``A`` of the model's
:attr:`~weldsynth.train.models.base.WeldModel.cam_target_layer` (the last stage: stride 32
in a ResNet, 16 in WeldNet) are weighted per channel by the mean gradient of the target
logit over the feature map, summed and clipped at zero: ``relu(sum_c mean(dY/dA_c) * A_c)``.
Hooks only, no extra dependency. Each CAM is scaled to a maximum of 1 (all zeros when the
model sees no evidence).

The network sees a letterboxed copy of the map (aspect kept, zero padding, see
:func:`weldsynth.train.images.letterbox`); :func:`cam_to_map` upsamples the CAM to the input
size, crops the padding and resizes the rest to the map's own shape.

**CAM-in-mask**: for a bad sample with a defect mask, the share of the CAM's energy inside
the mask dilated by :data:`DILATE_PX` pixels. A CAM spread evenly would score the dilated
mask's share of the map (``mask_share``), so the ratio (``lift``) is the readable number: a
lift below :data:`LOW_LIFT` means the model's evidence for "bad" is not on the defect, a
sign of a shortcut (the plate, the padding, an artefact of the generator).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from weldsynth.train.device import model_device
from weldsynth.train.models.base import unwrap

DILATE_PX = 5
"""Pixels the defect mask is grown by before measuring the CAM's share inside it (the CAM
is coarse: one cell of a ResNet's last stage covers 32 input pixels)."""
LOW_LIFT = 1.5
"""CAM-in-mask below this multiple of the mask's area share flags a possible shortcut."""


def gradcam(
    model: torch.nn.Module,
    images: np.ndarray,
    targets: np.ndarray,
    mean: float,
    std: float,
    batch_size: int = 32,
) -> np.ndarray:
    """Grad-CAMs of the model's ``cam_target_layer`` for cached images, at its resolution.

    Args:
        model: A :class:`~weldsynth.train.models.base.WeldModel` (or one wrapped by DDP).
        images: uint16 (N, H, W) letterboxed cache.
        targets: Class index per image whose logit is explained.
        mean: Normalisation mean.
        std: Normalisation standard deviation.
        batch_size: Images per backward pass.

    Returns:
        float32 (N, h, w) in [0, 1], ``h, w`` = input size / the layer's stride.
    """
    model.eval()
    device = model_device(model)
    store: dict[str, torch.Tensor] = {}
    layer = unwrap(model).cam_target_layer
    hook = layer.register_forward_hook(lambda _m, _i, out: store.__setitem__("a", out))
    outs = []
    try:
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size].astype(np.float32) * np.float32(1 / 65535)
            x = torch.from_numpy((chunk - np.float32(mean)) / np.float32(std)).unsqueeze(1)
            x = x.to(device)
            x.requires_grad_(True)  # a graph exists even if every parameter is frozen
            tgt = torch.as_tensor(np.asarray(targets[start : start + batch_size], np.int64))
            tgt = tgt.to(device)
            with torch.enable_grad():
                logits = model(x).float()
                act = store["a"]
                score = logits.gather(1, tgt[:, None]).sum()
                (grad,) = torch.autograd.grad(score, act)
            weights = grad.float().mean(dim=(2, 3), keepdim=True)
            cam = torch.relu((weights * act.detach().float()).sum(dim=1))
            peak = cam.flatten(1).max(dim=1).values.clamp_min(1e-12)[:, None, None]
            cam = torch.where(peak > 1e-12, cam / peak, torch.zeros_like(cam))
            outs.append(cam.cpu().numpy().astype(np.float32))
    finally:
        hook.remove()
    if not outs:
        return np.zeros((0, 1, 1), np.float32)
    return np.concatenate(outs)


def letterbox_box(shape: tuple[int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Where a map of ``shape`` sits inside the letterboxed input of ``size``.

    Returns:
        (top, left, height, width) in input pixels (the arithmetic of ``letterbox``).
    """
    (h, w), (out_h, out_w) = shape, size
    scale = min(out_h / h, out_w / w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    return (out_h - new_h) // 2, (out_w - new_w) // 2, new_h, new_w


def cam_to_map(cam: np.ndarray, size: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """A feature-map CAM as an array of the height map's own ``shape`` (float32, [0, 1]).

    Args:
        cam: (h, w) from :func:`gradcam`.
        size: The model's input (height, width).
        shape: The original map's (height, width).
    """
    full = cv2.resize(
        np.asarray(cam, np.float32), (size[1], size[0]), interpolation=cv2.INTER_LINEAR
    )
    top, left, h, w = letterbox_box(shape, size)
    inside = full[top : top + h, left : left + w]
    out = cv2.resize(inside, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return np.clip(out, 0.0, 1.0)


def cam_in_mask(
    cam_map: np.ndarray, mask: np.ndarray, dilate: int = DILATE_PX
) -> tuple[float, float]:
    """Share of CAM energy inside the dilated mask, and the dilated mask's area share.

    Args:
        cam_map: CAM at the mask's shape (from :func:`cam_to_map`).
        mask: Defect mask (non-zero = defect), same shape.
        dilate: Pixels the mask is grown by.

    Returns:
        (cam_in_mask, mask_share); cam_in_mask is NaN when the CAM is all zero or the mask
        empty.
    """
    inside = np.asarray(mask) > 0
    if not inside.any():
        return float("nan"), 0.0
    if dilate > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1))
        inside = cv2.dilate(inside.astype(np.uint8), kernel) > 0
    total = float(cam_map.sum())
    share = float(inside.mean())
    if total <= 0:
        return float("nan"), share
    return float(cam_map[inside].sum()) / total, share
