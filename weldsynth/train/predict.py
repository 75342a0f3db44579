"""Inference: class probabilities for height maps, files or folders, with a trained model.

Every path (training's final report, ``predict``, ``evaluate``, ``ensemble``) goes through
:func:`probabilities_from_cache` in fp32, so they agree exactly on the same model and images;
it runs where the model is (``--device``: load the checkpoint there).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from weldsynth.core.errors import HeightMapError
from weldsynth.train.checkpoint import Checkpoint
from weldsynth.train.decision import check_tta, decide, resolve_threshold
from weldsynth.train.device import model_device
from weldsynth.train.images import Batches, read_height, to_cache
from weldsynth.train.metrics import softmax
from weldsynth.train.models.base import unwrap


@dataclass(frozen=True)
class Prediction:
    """The verdict on one file.

    Attributes:
        file: The file, as given.
        label: Predicted class.
        probability: Probability of the predicted class.
        probs: Probability of every class (model order).
    """

    file: str
    label: str
    probability: float
    probs: tuple[float, ...]


def probabilities_from_cache(
    model: torch.nn.Module,
    images: np.ndarray,
    mean: float,
    std: float,
    batch_size: int = 64,
    tta: str = "none",
) -> np.ndarray:
    """Softmax probabilities (N, classes) of uint16 cached images (an array or a view of
    the decode cache), fp32, eval mode, on the model's device; ``tta="flip"`` averages
    them over the image and its three mirror images (:mod:`weldsynth.train.decision`)."""
    model.eval()
    views = check_tta(tta)
    labels = np.zeros(len(images), np.int64)
    batches = Batches(images, labels, batch_size, mean, std, device=model_device(model))
    outs: list[list[np.ndarray]] = [[] for _ in views]
    with torch.inference_mode():
        for x, *_ in batches:
            for out, dims in zip(outs, views, strict=True):
                out.append(model(torch.flip(x, dims) if dims else x).float().cpu().numpy())
    if not outs[0]:
        n_out = unwrap(model).num_classes
        return np.zeros((0, n_out), np.float32)
    probs = [softmax(np.concatenate(out).astype(np.float64)) for out in outs]
    return np.mean(probs, axis=0).astype(np.float32)


def probabilities(
    ckpt: Checkpoint, heights: Sequence[np.ndarray], batch_size: int = 64, tta: str = "none"
) -> np.ndarray:
    """Probabilities (N, classes) for float height maps at native size (``tta``: as in
    :func:`probabilities_from_cache`)."""
    size = ckpt.size
    cache = (
        np.stack([to_cache(h, size) for h in heights])
        if len(heights)
        else np.zeros((0, *size), np.uint16)
    )
    mean, std = float(ckpt.meta["mean"]), float(ckpt.meta["std"])
    return probabilities_from_cache(ckpt.model, cache, mean, std, batch_size, tta)


def read_heights(
    files: Sequence[Path],
) -> tuple[list[np.ndarray], list[int], list[tuple[str, str]]]:
    """Decode files at native size: (heights, indices kept, (file, reason) of failures)."""
    heights, kept, failures = [], [], []
    for k, file in enumerate(files):
        try:
            heights.append(read_height(file))
        except HeightMapError as exc:
            failures.append((str(file), exc.reason))
            continue
        kept.append(k)
    return heights, kept, failures


def collect_images(paths: Iterable[Path]) -> list[Path]:
    """Files as given, folders expanded to their PNGs (:func:`weldsynth.io.inputs.scan_paths`:
    recursively, ``*.png`` in any case, ``_``/``.`` folders skipped)."""
    from weldsynth.io.inputs import scan_paths

    return scan_paths(paths).files


def predict_files(
    ckpt: Checkpoint,
    files: Sequence[Path],
    batch_size: int = 64,
    tta: str = "none",
    threshold: str | float | None = None,
) -> tuple[list[Prediction], list[tuple[str, str]]]:
    """Predict every readable file; unreadable ones are returned as (file, reason).
    ``threshold``: a number, "tuned" or "argmax" (None: the default), see
    :func:`~weldsynth.train.decision.resolve_threshold`."""
    heights, kept, failures = read_heights(files)
    probs = probabilities(ckpt, heights, batch_size, tta)
    classes = ckpt.classes
    verdicts = decide(probs, classes, resolve_threshold(ckpt.meta, threshold))
    preds = []
    for row, k, best in zip(probs, kept, verdicts, strict=True):
        best = int(best)
        preds.append(
            Prediction(
                file=str(files[k]),
                label=classes[best],
                probability=float(row[best]),
                probs=tuple(float(p) for p in row),
            )
        )
    return preds, failures
