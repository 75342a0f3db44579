"""Data sets with defect masks for the mask-loss and heat-map tests (not a test module).

The toy task is separable only by *where* a hole is: every image is a ridge across a plate
with one round hole; a good weld has it on the plate (an acceptable blemish, with a mask as
``generate`` writes for acceptable variants), a bad one on the ridge. Masks are written to
``<topology>/_masks/<name>.png`` and named in the manifest's ``mask`` column, the layout of
``weldsynth generate``. Every image is drawn from ``SeedSequence([seed, index])``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from weldsynth.io.manifest import COLUMNS

SHAPE = (32, 96)


def located_weld(
    seed: int, index: int, bad: bool, shape: tuple[int, int] = SHAPE
) -> tuple[np.ndarray, np.ndarray]:
    """(uint16 height map, uint8 0/255 mask of its hole); ``bad`` puts the hole on the ridge."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    centre = h / 2 + rng.uniform(-1.5, 1.5)
    width = rng.uniform(3.0, 4.5)
    img = 0.15 + rng.uniform(0.6, 0.9) * np.exp(-((yy - centre) ** 2) / (2 * width**2))
    img += rng.normal(0, 0.01, size=(h, w))
    cx = rng.uniform(0.15 * w, 0.85 * w)
    cy = centre if bad else rng.choice([0.15 * h, 0.85 * h])
    radius = rng.uniform(0.12, 0.16) * h
    hole = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
    img[hole] = 0.02
    pixels = np.rint(np.clip(img, 0, 1) * 65535).astype(np.uint16)
    return pixels, hole.astype(np.uint8) * 255


def _write(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)


def masked_set(
    root: Path,
    topology: str = "7",
    n_sources: int = 16,
    seed: int = 0,
    shape: tuple[int, int] = SHAPE,
    manifest: bool = True,
) -> Path:
    """A data set of :func:`located_weld` pairs (one good, one bad per source) with masks.

    Args:
        root: Output folder.
        topology: Topology id.
        n_sources: Source welds (two images each).
        seed: Drawing seed.
        shape: Image shape.
        manifest: Write ``manifest.csv`` (else a plain ImageFolder with ``_masks/``).
    """
    rows = []
    for k in range(n_sources):
        for bad in (False, True):
            name = f"w{k:03d}__{'hole' if bad else 'pore'}_00.png"
            rel = f"{topology}/{'bad' if bad else 'good'}/{name}"
            mask_rel = f"{topology}/_masks/{name}"
            pixels, mask = located_weld(seed, 2 * k + bad, bad, shape)
            _write(root / rel, pixels)
            _write(root / mask_rel, mask)
            rows.append(
                {
                    **dict.fromkeys(COLUMNS, ""),
                    "path": rel,
                    "topology": topology,
                    "label": "bad" if bad else "good",
                    "defect": "hole" if bad else "pore",
                    "source": f"{topology}/good/w{k:03d}.png",
                    "params": "{}",
                    "seed": str(k),
                    "mask": mask_rel,
                }
            )
    if manifest:
        with (root / "manifest.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(COLUMNS), lineterminator="\n")
            writer.writeheader()
            writer.writerows(sorted(rows, key=lambda r: r["path"]))
    return root
