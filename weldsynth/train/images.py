"""Images as the network sees them: decoded once, letterboxed, cached, batched.

Height maps are decoded with :func:`weldsynth.io.heightmap.read_heightmap` (8- and 16-bit),
resized keeping their aspect ratio and zero-padded to the input size (0 means "no data", so
the padding is honest), and kept as uint16 in the decode cache (:mod:`weldsynth.train.cache`:
RAM, or a memory-mapped file on disk): one decode per data set and size, not per epoch, fold
or run. Unreadable files are listed and skipped, never fatal. :class:`Batches` turns cached
rows into normalised tensors on the training device.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from weldsynth.core.errors import HeightMapError, WeldsynthError
from weldsynth.core.units import to_unit
from weldsynth.io.heightmap import read_heightmap
from weldsynth.train.config import parse_augment


@dataclass
class Decoded:
    """Decoded images of a list of files.

    Attributes:
        images: uint16 array (N, H, W), letterboxed to the input size.
        kept: Indices (into the input list) of the files decoded, in order.
        failures: (file, reason) of every file skipped.
    """

    images: np.ndarray
    kept: list[int]
    failures: list[tuple[str, str]]


def letterbox(height: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float height map into ``size`` keeping its aspect ratio, zero-padded, centred.

    Args:
        height: float32 (h, w) in [0, 1].
        size: Output (height, width).

    Returns:
        float32 (H, W).
    """
    out_h, out_w = size
    h, w = height.shape
    scale = min(out_h / h, out_w / w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    if (new_h, new_w) != (h, w):
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        height = cv2.resize(height, (new_w, new_h), interpolation=interp)
    out = np.zeros((out_h, out_w), np.float32)
    top, left = (out_h - new_h) // 2, (out_w - new_w) // 2
    out[top : top + new_h, left : left + new_w] = height
    return out


def to_cache(height: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Letterbox a float height map and quantise it to uint16 (the RAM cache format)."""
    return np.rint(letterbox(height, size) * 65535.0).astype(np.uint16)


def read_height(path: Path) -> np.ndarray:
    """Decode one height map to float32 [0, 1] (raises :class:`HeightMapError`)."""
    return read_heightmap(path).height


def decode_all(paths: Sequence[Path], size: tuple[int, int], threads: int = 2) -> Decoded:
    """Decode and letterbox every file once, skipping (and listing) unreadable ones.

    Args:
        paths: Files to read.
        size: Input (height, width).
        threads: Decoder threads (PNG decoding releases the GIL).
    """

    def one(path: Path) -> np.ndarray | str:
        try:
            return to_cache(read_height(path), size)
        except HeightMapError as exc:
            return exc.reason

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        results = list(pool.map(one, paths))
    kept = [k for k, r in enumerate(results) if not isinstance(r, str)]
    failures = [(str(paths[k]), r) for k, r in enumerate(results) if isinstance(r, str)]
    images = (
        np.stack([results[k] for k in kept])
        if kept  # type: ignore[misc]
        else np.zeros((0, *size), np.uint16)
    )
    return Decoded(images=images, kept=kept, failures=failures)


def pixel_stats(images: np.ndarray, chunk: int = 256) -> tuple[float, float]:
    """Mean and standard deviation of the pixels (in [0, 1]) of a uint16 image stack."""
    if images.size == 0:
        return 0.0, 1.0
    total = sq = 0.0
    for start in range(0, len(images), chunk):
        block = to_unit(images[start : start + chunk], np.float64)
        total += float(block.sum())
        sq += float(np.square(block).sum())
    mean = total / images.size
    std = max(float(np.sqrt(max(sq / images.size - mean * mean, 0.0))), 1e-6)
    return mean, std


def build_augment(spec: str, seed: int):
    """Albumentations pipeline from a spec (see :class:`~weldsynth.train.config.TrainConfig`).

    Returns:
        An ``A.Compose`` seeded with ``seed``, or None for "none".

    Raises:
        WeldsynthError: An unknown term, or an unreadable pipeline file.
    """
    import albumentations as A

    parsed = parse_augment(spec)  # checked (ranges) before albumentations sees a value
    if parsed is None:
        return None
    if isinstance(parsed, Path):
        fmt = "json" if parsed.suffix.lower() == ".json" else "yaml"
        try:
            loaded = A.load(str(parsed), data_format=fmt)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WeldsynthError(f"--augment {parsed}: cannot load the pipeline ({exc})") from exc
        return A.Compose([loaded], seed=seed)
    transforms = []
    for name, value in parsed:
        if name == "hflip":
            transforms.append(A.HorizontalFlip(p=0.5))
        elif name == "vflip":
            transforms.append(A.VerticalFlip(p=0.5))
        elif name == "dropout":
            transforms.append(A.PixelDropout(dropout_prob=value, drop_value=0, p=0.5))
        else:  # rotate
            transforms.append(A.Rotate(limit=value, border_mode=cv2.BORDER_CONSTANT, fill=0, p=0.5))
    return A.Compose(transforms, seed=seed)


def _augment_each(
    augment, x: np.ndarray, masks: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """An albumentations pipeline on each image (and its mask, brought to the image's size
    and back to its cells, so it gets the same geometric transforms)."""
    if masks is None:
        return np.stack([augment(image=img)["image"] for img in x]), None
    h, w = x.shape[1:]
    mh, mw = masks.shape[1:]
    sh, sw = -(-h // mh), -(-w // mw)  # input pixels per mask cell
    images, cells = [], []
    for img, mask in zip(x, masks, strict=True):
        big = np.repeat(np.repeat(mask, sh, axis=0), sw, axis=1)
        out = augment(image=img, mask=np.ascontiguousarray(big[:h, :w]))
        big[:] = 0
        big[:h, :w] = out["mask"]
        cells.append(big.reshape(mh, sh, mw, sw).max(axis=(1, 3)))
        images.append(out["image"])
    return np.stack(images), np.stack(cells)


class Batches:
    """Mini-batches of normalised 1-channel tensors from a uint16 image cache.

    A batch is gathered from the cache on the CPU (uint16: half the bytes of float32), put
    in pinned memory and copied without blocking when the device is a GPU, then scaled,
    augmented (:class:`~weldsynth.train.augment.BatchAugment`, on the device) and
    normalised where it will be used.

    Args:
        images: uint16 (N, H, W): an array, a memory map or a
            :class:`~weldsynth.train.cache.ImageView`.
        labels: int64 (N,) class indices.
        batch_size: Images per batch.
        mean: Normalisation mean (pixels in [0, 1]).
        std: Normalisation standard deviation.
        shuffle_seed: Seed of the order (None: keep the order, e.g. for validation).
        augment: A :class:`~weldsynth.train.augment.BatchAugment`, an albumentations
            pipeline applied per image on the CPU, or None.
        sample_weights: Per-image sampling weights (draws N with replacement), or None.
        channels_last: Return tensors in channels-last memory format.
        device: Where the tensors go (default: the CPU).
    """

    def __init__(
        self,
        images,
        labels: np.ndarray,
        batch_size: int,
        mean: float,
        std: float,
        shuffle_seed: int | None = None,
        augment=None,
        sample_weights: np.ndarray | None = None,
        channels_last: bool = False,
        device=None,
    ) -> None:
        import torch

        self.images, self.labels = images, np.asarray(labels, np.int64)
        self.batch_size, self.mean, self.std = batch_size, mean, std
        self.augment, self.channels_last = augment, channels_last
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self.generator = None
        if shuffle_seed is not None:
            self.generator = torch.Generator().manual_seed(shuffle_seed)
        self.sample_weights = sample_weights
        self.with_masks = False
        """Yield (images, labels, masks): the defect masks the images carry
        (:func:`weldsynth.train.cache.with_masks`), flipped and turned with them."""

    def __len__(self) -> int:
        n = len(self.images)
        full, rest = divmod(n, self.batch_size)
        return full + (1 if rest >= 2 or (rest and not self.generator) else 0)

    def order(self) -> np.ndarray:
        """Indices of one epoch (advances the shuffle generator)."""
        import torch

        n = len(self.images)
        if self.sample_weights is not None and self.generator is not None:
            w = torch.as_tensor(self.sample_weights, dtype=torch.float64)
            return torch.multinomial(w, n, replacement=True, generator=self.generator).numpy()
        if self.generator is not None:
            return torch.randperm(n, generator=self.generator).numpy()
        return np.arange(n)

    def __iter__(self) -> Iterator[tuple]:
        idx = self.order()
        for start in range(0, len(idx), self.batch_size):
            chunk = idx[start : start + self.batch_size]
            if len(chunk) < 2 and self.generator is not None:
                break  # a training batch of one breaks BatchNorm
            yield self.batch(chunk)

    def batch(self, chunk: np.ndarray) -> tuple:
        """The (images, labels) tensors of the cache rows ``chunk``, on the device
        (images, labels, masks with :attr:`with_masks`)."""
        import torch

        raw = np.ascontiguousarray(self.images[chunk])
        labels = self._move(torch.from_numpy(self.labels[chunk]))
        masks = self.images.masks[chunk] if self.with_masks else None
        on_device = getattr(self.augment, "on_device", False)  # a BatchAugment
        per_image = self.augment is not None and not on_device
        if self.device.type == "cpu" or per_image:
            x = raw.astype(np.float32) * np.float32(1 / 65535)
            if per_image:
                x, masks = _augment_each(self.augment, x, masks)
            xt = self._move(torch.from_numpy(np.ascontiguousarray(x)))
        else:  # uint16 crosses as int16 bits (half the bytes), widened on the device
            bits = self._move(torch.from_numpy(raw.view(np.int16)))
            xt = (bits.to(torch.int32) & 0xFFFF).to(torch.float32) * (1 / 65535)
        xt = xt.unsqueeze(1)
        mt = None
        if masks is not None:
            mt = self._move(torch.from_numpy(np.ascontiguousarray(masks))).unsqueeze(1)
            mt = mt.to(torch.float32) * (1 / 255)
        if on_device and mt is None:
            xt = self.augment(xt)
        elif on_device:
            xt, mt = self.augment(xt, mt)
        xt = (xt - self.mean) / self.std
        if self.channels_last:
            xt = xt.contiguous(memory_format=torch.channels_last)
        return (xt, labels) if mt is None else (xt, labels, mt)

    def _move(self, tensor):
        """``tensor`` on the device: pinned and copied without blocking to a GPU."""
        if self.device.type == "cpu":
            return tensor
        if self.device.type == "cuda":
            tensor = tensor.pin_memory()
        return tensor.to(self.device, non_blocking=True)
