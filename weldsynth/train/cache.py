"""The decode cache: every image decoded once per (data set, input size), in RAM or on disk.

Training reads letterboxed uint16 images (:func:`weldsynth.train.images.to_cache`). They
are decoded once and kept:

* **in RAM** when they fit in ``--cache-gb`` (default: half the memory available now);
* otherwise **on disk**, in ``DATA/.weldsynth/cache/<H>x<W>/images.u16``: a raw uint16
  file of ``(rows, H, W)`` (the layout of ``np.memmap``), read a batch at a time, so a
  run's resident memory does not grow with the data set. ``index.json`` beside it maps each
  image's content SHA-256 (the manifest's ``sha256`` column) to its row, so the cache is
  reused by later runs, by every fold and seed of an audit and across relabel moves (a
  moved file keeps its bytes); an edited file gets a new hash and is decoded again. File
  hashes are remembered by (path, size, modification time), so a later run only stats its
  files. A data set that would not fit on the disk is refused before anything is written.

The images of a run are an :class:`ImageView`: rows of the store in the run's order, cut
per split or fold without copying (:func:`subset`) and read per batch.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from weldsynth.core.errors import WeldsynthError
from weldsynth.train.images import decode_all

CACHE_DIR = Path(".weldsynth") / "cache"
RAM_SHARE = 0.5
"""Share of the memory available now that the RAM cache may use by default."""


class ImageView:
    """Rows of an image store (an array or a :class:`DiskStore`) in a chosen order.

    Behaves like a uint16 ``(N, H, W)`` array for what training needs: ``len``, ``shape``,
    indexing (which reads the rows into a new array) and :meth:`subset` (which does not).
    ``masks`` (uint8 (N, h, w), one per row of the view, :mod:`weldsynth.train.masks`), when
    given, travel with the rows through :meth:`subset`.
    """

    dtype = np.dtype(np.uint16)
    ndim = 3

    def __init__(
        self, base, rows: Sequence[int] | np.ndarray, masks: np.ndarray | None = None
    ) -> None:
        self.base, self.rows = base, np.asarray(rows, np.int64)
        if masks is not None and len(masks) != len(self.rows):
            raise ValueError(f"{len(masks)} masks for {len(self.rows)} images")
        self.masks = masks

    @property
    def shape(self) -> tuple[int, ...]:
        """(N, H, W)."""
        return (len(self.rows), *self.base.shape[1:])

    @property
    def size(self) -> int:
        """Number of pixels."""
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key) -> np.ndarray:
        first, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        rows = self.rows[first]
        data = np.asarray(self.base[rows])
        if not rest:
            return data
        return data[rest] if np.ndim(rows) == 0 else data[(slice(None), *rest)]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)

    def subset(self, index) -> ImageView:
        """The rows ``index`` (positions or a boolean mask) of this view, not read."""
        masks = None if self.masks is None else self.masks[index]
        return ImageView(self.base, self.rows[index], masks)


def subset(images, index) -> Any:
    """Rows ``index`` of an array or :class:`ImageView`, without reading (a view)."""
    if isinstance(images, ImageView):
        return images.subset(index)
    rows = np.arange(len(images))[index]
    return ImageView(images, rows)


def with_masks(images, masks: np.ndarray | None) -> Any:
    """``images`` (an array or :class:`ImageView`) as a view carrying ``masks`` (one per
    image, in order); ``images`` itself when ``masks`` is None."""
    if masks is None:
        return images
    if isinstance(images, ImageView):
        return ImageView(images.base, images.rows, masks)
    return ImageView(images, np.arange(len(images)), masks)


def masks_of(images) -> np.ndarray | None:
    """The masks ``images`` carry (:func:`with_masks`), or None."""
    return getattr(images, "masks", None)


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable``; the physical memory elsewhere)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    with contextlib.suppress(AttributeError, ValueError, OSError):
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    return 4 << 30


def ram_budget(cache_gb: float) -> int:
    """Bytes the RAM cache may use: ``cache_gb`` GB, or a share of the memory available."""
    if cache_gb > 0:
        return int(cache_gb * 1e9)
    return int(available_memory() * RAM_SHARE)


@dataclass
class Loaded:
    """Decoded images of a list of files.

    Attributes:
        images: uint16 (N, H, W) of the kept files, in order: an array (RAM) or an
            :class:`ImageView` of the disk cache.
        kept: Indices (into the input list) of the files decoded.
        failures: (file, reason) of every file left out.
        where: "ram" or the cache folder.
        decoded: Files decoded now (the others came from the disk cache).
    """

    images: Any
    kept: list[int]
    failures: list[tuple[str, str]]
    where: str = "ram"
    decoded: int = 0


def cache_dir(root: Path, size: tuple[int, int]) -> Path:
    """The disk cache of data set ``root`` at input ``size``."""
    return Path(root) / CACHE_DIR / f"{size[0]}x{size[1]}"


def load_images(
    paths: Sequence[Path],
    size: tuple[int, int],
    *,
    root: Path | None,
    rels: Sequence[str] | None = None,
    cache_gb: float = 0.0,
    threads: int = 2,
) -> Loaded:
    """Decode ``paths`` at ``size`` into RAM when they fit in the budget, else through the
    disk cache of ``root`` (see the module docstring).

    Args:
        paths: The files.
        size: Input (H, W).
        root: The data set (home of the disk cache), or None (RAM only).
        rels: Each file's path relative to ``root`` (the hash memo's key); default: the
            path relative to ``root``.
        cache_gb: RAM budget in GB (0: :data:`RAM_SHARE` of the memory available).
        threads: Decoder threads.

    Raises:
        WeldsynthError: The images fit neither in RAM nor on the disk.
    """
    need = len(paths) * size[0] * size[1] * 2
    budget = ram_budget(cache_gb)
    if need <= budget:
        decoded = decode_all(paths, size, threads=threads)
        return Loaded(decoded.images, decoded.kept, decoded.failures, "ram", len(paths))
    gb = f"{need / 1e9:.1f} GB"
    if root is None:
        raise WeldsynthError(
            f"{len(paths)} images at {size[0]}x{size[1]} need {gb}, more than the RAM cache "
            f"({budget / 1e9:.1f} GB) and no data-set folder to cache them on disk"
        )
    from weldsynth.train.diskcache import DiskCache

    keys = list(rels) if rels is not None else [_rel(p, root) for p in paths]
    got = DiskCache(cache_dir(root, size), size).load(paths, keys, threads)
    view = ImageView(got.store, got.rows)
    return Loaded(view, got.kept, got.failures, str(got.folder), got.decoded)


def _rel(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return Path(path).resolve().as_posix()
