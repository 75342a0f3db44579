"""Defect masks for training: read, letterboxed like their images, down-sampled, and the loss.

A generated data set has one mask PNG per variant (the manifest's ``mask`` column,
``<topology>/_masks/<name>.png``; non-zero = the pixels the defect changed). Training
keeps them next to the decoded images (:class:`~weldsynth.train.cache.ImageView`'s
``masks``), at :data:`MASK_STRIDE` times less resolution than the input (704 bytes per image
at 128×352), as uint8 0/255: a cell is 255 when any pixel of the defect falls in it. The
mask goes through the same letterbox as its image (:func:`weldsynth.train.images.letterbox`)
and, in each batch, the same flips and rotations (:class:`~weldsynth.train.augment.BatchAugment`).

Only bad images carry a mask: good images (originals and acceptable variants, whose masks
mark an imperfection the norm accepts) get an empty one, and :func:`mask_loss` is zero on
them: the classification loss decides good or bad, the mask loss teaches the model *where*
a defect is from the bad images' defect pixels (positives) and the rest of each bad image
(negatives).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from weldsynth.train.images import letterbox

if TYPE_CHECKING:
    import torch

    from weldsynth.train.data import Item

MASK_STRIDE = 8
"""Input pixels per mask cell (each side) in the decode cache."""
DICE_EPS = 1.0
"""Smoothing of the soft Dice term (in feature cells)."""
CAM_EPS = 1e-6
"""Floor of a class activation map's total energy (an all-zero map has no share outside)."""


def mask_size(size: tuple[int, int]) -> tuple[int, int]:
    """(h, w) of the cached masks for an input ``size`` (H, W): ``ceil(size / MASK_STRIDE)``."""
    return math.ceil(size[0] / MASK_STRIDE), math.ceil(size[1] / MASK_STRIDE)


def read_mask(path: Path) -> np.ndarray | None:
    """A mask PNG as a 2-D array (channels collapsed), or None when unreadable."""
    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED) if Path(path).is_file() else None
    if mask is None:
        return None
    return mask if mask.ndim == 2 else mask.max(axis=2)


def png_shape(path: Path) -> tuple[int, int] | None:
    """(height, width) from a PNG's header, without decoding it (None: not a PNG)."""
    try:
        with Path(path).open("rb") as fh:
            head = fh.read(24)
    except OSError:
        return None
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return int(height), int(width)


def mask_to_cache(
    mask: np.ndarray, size: tuple[int, int], shape: tuple[int, int] | None = None
) -> np.ndarray:
    """A defect mask as the cache keeps it: letterboxed like its image, down-sampled.

    Args:
        mask: (h, w), non-zero = defect.
        size: The model's input (H, W).
        shape: Its image's (height, width) when the mask's differs (it is resized to it).

    Returns:
        uint8 :func:`mask_size` array: 255 where a cell holds a defect pixel, else 0.
    """
    binary = (np.asarray(mask) > 0).astype(np.float32)
    if shape is not None and binary.shape != tuple(shape):
        binary = cv2.resize(binary, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    boxed = letterbox(binary, size)
    enlarged = min(size[0] / binary.shape[0], size[1] / binary.shape[1]) > 1
    boxed = boxed >= 0.5 if enlarged else boxed > 0  # bilinear edges; thin defects kept
    h, w = mask_size(size)
    padded = np.zeros((h * MASK_STRIDE, w * MASK_STRIDE), bool)
    padded[: size[0], : size[1]] = boxed
    cells = padded.reshape(h, MASK_STRIDE, w, MASK_STRIDE).max(axis=(1, 3))
    return np.where(cells > 0, 255, 0).astype(np.uint8)


def carries_mask(item: Item) -> bool:
    """True when ``item`` is trained with its mask: a bad image with a mask file."""
    return item.mask is not None and item.label.startswith("bad")


def load_masks(
    items: Sequence[Item], size: tuple[int, int], threads: int = 2
) -> tuple[np.ndarray | None, int]:
    """The cached masks of ``items`` (empty for good images and unreadable masks).

    Returns:
        (uint8 (N, h, w) masks, number of non-empty ones); (None, 0) when no item names a
        mask file (a plain ImageFolder: train as without masks).
    """
    if not any(i.mask is not None for i in items):
        return None, 0
    h, w = mask_size(size)

    def one(item: Item) -> np.ndarray:
        raw = read_mask(item.mask) if carries_mask(item) else None  # type: ignore[arg-type]
        if raw is None:
            return np.zeros((h, w), np.uint8)
        return mask_to_cache(raw, size, png_shape(item.path))

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        masks = list(pool.map(one, items))
    stack = np.stack(masks) if masks else np.zeros((0, h, w), np.uint8)
    return stack, int(stack.reshape(len(stack), -1).any(axis=1).sum())


def mask_targets(masks: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Masks (N, 1, h, w) in [0, 1] at the segmentation head's ``shape``: a cell is the
    maximum of the mask cells it covers."""
    import torch.nn.functional as F

    if tuple(masks.shape[-2:]) == tuple(shape):
        return masks
    return F.adaptive_max_pool2d(masks, shape)


def mask_loss(seg_logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy plus soft Dice of the head's map against the defect masks,
    averaged over the images whose mask is not empty (zero when none is).

    Args:
        seg_logits: (N, 1, h, w) logits of the mask head.
        masks: (N, 1, mh, mw) cached masks in [0, 1] (after augmentation).
    """
    import torch
    import torch.nn.functional as F

    logits = seg_logits.float()
    target = mask_targets(masks.float().to(logits.device), tuple(logits.shape[-2:]))
    target = target.clamp(0.0, 1.0)
    weight = (target.flatten(1).amax(dim=1) > 0.25).to(logits.dtype)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).mean(1)
    prob = torch.sigmoid(logits).flatten(1)
    flat = target.flatten(1)
    dice = 1 - (2 * (prob * flat).sum(1) + DICE_EPS) / (prob.sum(1) + flat.sum(1) + DICE_EPS)
    return ((bce + dice) * weight).sum() / weight.sum().clamp_min(1.0)


def cam_loss(cams: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Share of each class activation map's energy outside the defect mask, averaged over
    the images whose mask is not empty (zero when none is): pulls the evidence for a
    defect class onto the defect's pixels (the CAM-in-mask of :mod:`weldsynth.train.cam`).

    Args:
        cams: (N, h, w) non-negative maps (:meth:`WeldModel.class_map` of the true class).
        masks: (N, 1, mh, mw) cached masks in [0, 1] (after augmentation).
    """
    cams = cams.float()
    target = mask_targets(masks.float().to(cams.device), tuple(cams.shape[-2:]))[:, 0]
    target = target.clamp(0.0, 1.0)
    weight = (target.flatten(1).amax(dim=1) > 0.25).to(cams.dtype)
    total = cams.flatten(1).sum(1)
    outside = (cams * (1.0 - target)).flatten(1).sum(1)
    share = outside / total.clamp_min(CAM_EPS)
    return (share * weight).sum() / weight.sum().clamp_min(1.0)
