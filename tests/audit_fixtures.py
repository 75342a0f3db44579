"""Small audit data sets for the audit tests (not a test module).

A manifest data set (from ``train_fixtures.manifest_set``: each source weld gives one good
and one bad-with-a-hole image) with defect masks, some labels flipped in the manifest, and
a probabilities CSV standing in for a user's model that knows the true classes.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import train_fixtures as fx

from weldsynth.io.heightmap import write_png
from weldsynth.io.manifest import read_manifest, sha256_file, write_manifest


def flipped_set(
    root: Path,
    n_sources: int = 20,
    flips: tuple[int, ...] = (1, 6, 13, 30),
    splits: dict[int, str] | None = None,
) -> tuple[Path, list[str], dict[str, str]]:
    """A data set whose manifest rows ``flips`` (indices in path order) have the wrong label.

    A flipped file sits in the other class folder (``7/good/w003x.png`` for a bad weld),
    as after a careless sort. Bad welds get a mask (the hole's disc) and sha256 is filled.

    Returns:
        (root, flipped paths, true label per path).
    """
    fx.manifest_set(root, n_sources=n_sources, splits=splits)
    records = read_manifest(root)
    out, flipped, truth = [], [], {}
    for k, r in enumerate(records):
        mask = ""
        if r.label == "bad":
            mask = f"{r.topology}/_masks/{Path(r.path).name}"
            m = np.zeros(fx.SHAPE, np.uint8)
            img = fx.weld(0, int(r.seed) * 2 + 1, True)
            m[img == 0] = 255
            write_png(root / mask, m)
        label, path = r.label, r.path
        if k in flips:
            label = "good" if r.label == "bad" else "bad"
            folder = "good" if label == "good" else "bad-hole"
            path = f"{r.topology}/{folder}/{Path(path).stem}x.png"
            (root / r.path).rename(root / path)
            flipped.append(path)
        truth[path] = r.label
        out.append(r.with_(path=path, label=label, mask=mask, sha256=sha256_file(root / path)))
    write_manifest(root, out)
    return root, flipped, truth


def write_probs(file: Path, truth: dict[str, str], seed: int = 0, p_true: float = 0.95) -> Path:
    """A probabilities CSV of a model sure and right about every sample (p_true ± noise,
    within [0.91, 0.99])."""
    rng = np.random.default_rng(seed)
    with file.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "bad", "good"])
        for path, label in sorted(truth.items()):
            p = float(np.clip(p_true + rng.normal(0, 0.02), 0.91, 0.99))
            writer.writerow([path, p if label == "bad" else 1 - p, 1 - p if label == "bad" else p])
    return file
