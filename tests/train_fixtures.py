"""Tiny separable height-map data sets for the trainer's tests (not a test module).

"good" is a smooth ridge across the image; "bad" is the same kind of ridge with a round
hole (zeros) in it. Position, width and height vary per image, so a model must learn the
hole, not an image id. Every image is drawn from ``SeedSequence([seed, index])``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from weldsynth.io.manifest import COLUMNS

SHAPE = (32, 96)


def weld(
    seed: int, index: int, bad: bool, shape: tuple[int, int] = SHAPE, depth: int = 16
) -> np.ndarray:
    """One ridge height map (uint8 or uint16); ``bad`` punches a hole in the ridge."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    h, w = shape
    rows = np.arange(h, dtype=np.float64)[:, None]
    centre = h / 2 + rng.uniform(-2, 2)
    width = rng.uniform(3.0, 5.0)
    top = rng.uniform(0.6, 0.9)
    img = 0.15 + top * np.exp(-((rows - centre) ** 2) / (2 * width**2)) * np.ones((1, w))
    img += rng.normal(0, 0.01, size=(h, w))
    if bad:
        cx = rng.uniform(0.2 * w, 0.8 * w)
        radius = rng.uniform(0.18, 0.25) * h
        yy, xx = np.mgrid[0:h, 0:w]
        img[(yy - centre) ** 2 + (xx - cx) ** 2 <= radius**2] = 0.0
    top_value = 65535 if depth == 16 else 255
    return np.rint(np.clip(img, 0, 1) * top_value).astype(np.uint16 if depth == 16 else np.uint8)


def _write(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)


def image_folder(
    root: Path,
    topologies: tuple[str, ...] = ("7",),
    n_per_class: int = 20,
    seed: int = 0,
    shape: tuple[int, int] = SHAPE,
    bad_folder: str = "bad",
) -> Path:
    """A plain ImageFolder ``root/<topology>/{good,bad}/*.png`` (8-bit bad, 16-bit good)."""
    for t_index, topo in enumerate(topologies):
        for k in range(n_per_class):
            idx = 1000 * t_index + k
            _write(root / topo / "good" / f"g{k:03d}.png", weld(seed, 2 * idx, False, shape))
            _write(
                root / topo / bad_folder / f"b{k:03d}.png",
                weld(seed, 2 * idx + 1, True, shape, depth=8),
            )
    return root


def manifest_set(
    root: Path,
    topology: str = "7",
    n_sources: int = 20,
    seed: int = 0,
    splits: dict[int, str] | None = None,
    shape: tuple[int, int] = SHAPE,
) -> Path:
    """A data set with ``manifest.csv``: each source weld gives one good and one bad variant.

    Args:
        root: Output folder.
        topology: Topology id.
        n_sources: Number of source welds (2 images each).
        seed: Drawing seed.
        splits: Source index -> split written in the manifest (others left empty).
        shape: Image shape.
    """
    rows = []
    for k in range(n_sources):
        source = f"good/{topology}/w{k:03d}.png"
        for bad in (False, True):
            cls = "bad-hole" if bad else "good"
            rel = f"{topology}/{cls}/w{k:03d}.png"
            _write(root / rel, weld(seed, 2 * k + bad, bad, shape))
            rows.append(
                {
                    "path": rel,
                    "topology": topology,
                    "label": "bad" if bad else "good",
                    "defect": "hole" if bad else "",
                    "source": source,
                    "params": "{}",
                    "seed": str(k),
                    "mask": "",
                    "sha256": "",
                    "split": (splits or {}).get(k, ""),
                    "status": "",
                }
            )
    with (root / "manifest.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: r["path"]))
    return root
