"""Defect heat maps: where a model sees the defect, as a map per image, and how good it is.

:func:`defect_maps` is the one entry point (``predict --heatmap``, ``evaluate`` and the
audit use it): for a model trained with ``--mask-loss`` the map is its mask head's defect
probability per feature cell (:meth:`~weldsynth.train.models.base.WeldModel.mask_map`),
otherwise the Grad-CAM of its most likely defect class (:func:`weldsynth.train.cam.gradcam`,
scaled to a peak of 1), both brought to the input size. :func:`to_image` maps one back to
the height map's own shape (the letterbox padding cropped).

Scores of a map (on the map's own shape):

* :func:`bead_share` — the share of the map's energy on the weld bead (the bead located
  by :func:`weldsynth.geometry.locate`): evidence on the plate or the padding is a warning;
* :func:`heat_iou` — IoU between the map thresholded at :data:`THRESHOLD` and the true
  defect mask;
* :func:`weldsynth.train.cam.cam_in_mask` — the share of its energy inside the (dilated)
  true mask; a low share flags a shortcut.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.train.cam import cam_to_map, gradcam
from weldsynth.train.device import model_device
from weldsynth.train.images import to_cache
from weldsynth.train.models.base import unwrap

THRESHOLD = 0.5
"""Heat at or above which a pixel counts as "defect" for :func:`heat_iou`."""
METHODS = ("auto", "mask", "gradcam")
OVERLAY_MIN_WIDTH = 384
"""Overlays of narrower maps are enlarged (nearest) to at least this width."""


def method_of(model: torch.nn.Module, method: str = "auto") -> str:
    """The method ("mask" or "gradcam") that ``method`` ("auto": the mask head when there is
    one) means for ``model``.

    Raises:
        ValueError: Unknown method, or "mask" for a model without a mask head.
    """
    if method not in METHODS:
        raise ValueError(f"method {method!r}: choose {', '.join(METHODS)}")
    has_head = unwrap(model).has_mask_head
    if method == "mask" and not has_head:
        raise ValueError("this model has no mask head (train it with --mask-loss)")
    return "mask" if method == "auto" and has_head else ("gradcam" if method == "auto" else method)


def defect_maps(
    model: torch.nn.Module,
    images,
    mean: float,
    std: float,
    *,
    method: str = "auto",
    targets: np.ndarray | None = None,
    classes: Sequence[str] | None = None,
    batch_size: int = 32,
) -> np.ndarray:
    """Where ``model`` sees a defect in each image: (N, H, W) float32 in [0, 1].

    Deterministic for a model and its images (eval mode, no sampling).

    Args:
        model: A :class:`~weldsynth.train.models.base.WeldModel` (DDP/compile wrappers ok).
        images: uint16 (N, H, W) letterboxed to the model's input size (the decode cache:
            an array or an :class:`~weldsynth.train.cache.ImageView`).
        mean: The model's normalisation mean.
        std: Its standard deviation.
        method: "auto" (mask head when the model has one, else Grad-CAM), "mask" or
            "gradcam".
        targets: Grad-CAM: the class explained per image (default: its most probable class
            other than "good").
        classes: The model's class names (to find "good"; default: the last class is
            "good", as weldsynth orders them).
        batch_size: Images per forward pass.

    Returns:
        Maps at the input size (H, W); the padding of the letterbox is kept (crop it with
        :func:`to_image`).
    """
    n, size = len(images), tuple(images.shape[1:])
    if n == 0:
        return np.zeros((0, *size), np.float32)
    how = method_of(model, method)
    if how == "mask":
        cells = _mask_cells(model, images, mean, std, batch_size)
    else:
        if targets is None:
            targets = _defect_targets(model, images, mean, std, classes, batch_size)
        cells = gradcam(model, images, np.asarray(targets), mean, std, batch_size)
    out = np.empty((n, *size), np.float32)
    for k, cell in enumerate(cells):
        full = cv2.resize(cell.astype(np.float32), (size[1], size[0]), cv2.INTER_LINEAR)
        out[k] = np.clip(full, 0.0, 1.0)
    return out


def _normalised(images, start: int, stop: int, mean: float, std: float, device) -> torch.Tensor:
    chunk = np.asarray(images[start:stop]).astype(np.float32) * np.float32(1 / 65535)
    x = torch.from_numpy((chunk - np.float32(mean)) / np.float32(std)).unsqueeze(1)
    return x.to(device)


def _mask_cells(model, images, mean: float, std: float, batch_size: int) -> np.ndarray:
    """The mask head's defect probabilities (N, h, w) per feature cell."""
    net, device = unwrap(model), model_device(model)
    net.eval()
    outs = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            x = _normalised(images, start, start + batch_size, mean, std, device)
            outs.append(net.mask_map(x).cpu().numpy())
    return np.concatenate(outs)


def _defect_targets(
    model, images, mean: float, std: float, classes: Sequence[str] | None, batch_size: int
) -> np.ndarray:
    """Per image, its most probable class other than "good" (Grad-CAM's target)."""
    net, device = unwrap(model), model_device(model)
    net.eval()
    n_classes = net.num_classes
    good = (
        list(classes).index("good") if classes is not None and "good" in classes else n_classes - 1
    )
    logits = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            x = _normalised(images, start, start + batch_size, mean, std, device)
            logits.append(net(x).float().cpu().numpy())
    scores = np.concatenate(logits)
    scores[:, good] = -np.inf
    return scores.argmax(axis=1)


def to_image(heat: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A map at the input size as an array of the height map's own ``shape`` (letterbox
    padding cropped; float32 in [0, 1])."""
    return cam_to_map(heat, (heat.shape[0], heat.shape[1]), shape)


def maps_for_heights(
    model: torch.nn.Module,
    heights: Sequence[np.ndarray],
    size: tuple[int, int],
    mean: float,
    std: float,
    **kwargs,
) -> list[np.ndarray]:
    """:func:`defect_maps` of float height maps at their native sizes, each mapped back to
    its own shape (``kwargs``: those of :func:`defect_maps`)."""
    if not len(heights):
        return []
    cache = np.stack([to_cache(h, size) for h in heights])
    maps = defect_maps(model, cache, mean, std, **kwargs)
    return [to_image(m, h.shape) for m, h in zip(maps, heights, strict=True)]


def bead_share(heat: np.ndarray, height: np.ndarray) -> float:
    """Share of the map's energy on the weld bead (NaN: no bead found, or an empty map)."""
    return _share_on(heat, _bead(height))


def _bead(height: np.ndarray) -> np.ndarray | None:
    """The bead mask of a height map, or None when no bead is found."""
    from weldsynth.geometry import locate

    geometry = locate(height)
    return geometry.bead_mask if geometry.found else None


def _share_on(heat: np.ndarray, region: np.ndarray | None) -> float:
    total = float(heat.sum())
    if region is None or total <= 0:
        return float("nan")
    return float(heat[region].sum()) / total


def heat_iou(heat: np.ndarray, mask: np.ndarray, threshold: float = THRESHOLD) -> float:
    """IoU of the map at or above ``threshold`` with the mask (non-zero); NaN when both are
    empty."""
    hot, truth = heat >= threshold, np.asarray(mask) > 0
    union = int(np.count_nonzero(hot | truth))
    return float("nan") if union == 0 else int(np.count_nonzero(hot & truth)) / union


def overlay(height: np.ndarray, heat: np.ndarray, bead: np.ndarray | None = None) -> np.ndarray:
    """A BGR picture of the height map (gray) with the heat map over it (JET, opaque where
    hot, transparent where cold) and the bead's outline (white) when given."""
    valid = height[height > 0]
    low, high = (float(valid.min()), float(valid.max())) if valid.size else (0.0, 1.0)
    gray = np.clip((height - low) / max(high - low, 1e-6), 0, 1)
    base = cv2.cvtColor((gray * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR).astype(np.float32)
    colour = cv2.applyColorMap((np.clip(heat, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)
    alpha = (0.65 * np.clip(heat, 0, 1))[..., None]
    img = (base * (1 - alpha) + colour.astype(np.float32) * alpha).astype(np.uint8)
    if bead is not None and bead.any():
        contours, _ = cv2.findContours(bead.astype(np.uint8), cv2.RETR_EXTERNAL, 1)
        cv2.drawContours(img, contours, -1, (255, 255, 255), 1)
    scale = -(-OVERLAY_MIN_WIDTH // img.shape[1])
    if scale > 1:
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    return img


def write_overlay(path: Path, height: np.ndarray, heat: np.ndarray) -> float:
    """Write the :func:`overlay` PNG of one map (atomically); returns its :func:`bead_share`."""
    bead = _bead(height)
    ok, png = cv2.imencode(".png", overlay(height, heat, bead))
    if not ok:
        raise OSError(f"{path}: cannot encode the overlay")
    atomic_write_bytes(Path(path), png.tobytes())
    return _share_on(heat, bead)


def overlay_names(files: Sequence[str | Path]) -> list[str]:
    """One overlay file name per input file: ``<stem>.heat.png``, numbered when two inputs
    share a stem."""
    seen: dict[str, int] = {}
    names = []
    for file in files:
        stem = Path(file).stem
        seen[stem] = seen.get(stem, 0) + 1
        names.append(f"{stem}.heat.png" if seen[stem] == 1 else f"{stem}-{seen[stem]}.heat.png")
    return names


def write_heatmaps(
    model: torch.nn.Module,
    heights: Sequence[np.ndarray],
    files: Sequence[str | Path],
    out: Path,
    *,
    size: tuple[int, int],
    mean: float,
    std: float,
    classes: Sequence[str] | None = None,
) -> list[tuple[Path, float]]:
    """Overlay PNGs of ``heights`` (from ``files``) in the folder ``out``: per image
    (overlay file, :func:`bead_share`)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    maps = maps_for_heights(model, heights, size, mean, std, classes=classes)
    written = []
    for name, height, heat in zip(overlay_names(files), heights, maps, strict=True):
        path = out / name
        written.append((path, write_overlay(path, height, heat)))
    return written


def heatmaps_for_files(
    ckpt, files: Sequence[str | Path], out: Path
) -> dict[str, tuple[Path, float]]:
    """``predict --heatmap``: overlays of the readable ``files`` in ``out`` for a loaded
    :class:`~weldsynth.train.checkpoint.Checkpoint`; file (as given) -> (overlay, bead
    share)."""
    from weldsynth.train.predict import read_heights

    heights, kept, _failures = read_heights([Path(f) for f in files])
    shown = [files[k] for k in kept]
    written = write_heatmaps(
        ckpt.model,
        heights,
        shown,
        out,
        size=ckpt.size,
        mean=float(ckpt.meta["mean"]),
        std=float(ckpt.meta["std"]),
        classes=ckpt.classes,
    )
    return {str(f): w for f, w in zip(shown, written, strict=True)}
