"""Training augmentation applied to whole batches on the device: flips, rotation, dropout.

``--augment hflip,vflip,rotate=DEG,dropout=P`` (the built-in terms) becomes a
:class:`BatchAugment`: what happens to each image of a batch (flipped or not, the angle,
whether pixels drop out) is drawn on the CPU from one seeded ``torch.Generator``, so the
draws are the same on every device; the work runs where the batch is (a GPU never waits
for per-image CPU work). A run is deterministic for a seed on a given device; flips are
exact, so they equal the CPU result bit for bit. Each term applies to an image with
probability 0.5, as albumentations' ``HorizontalFlip``, ``VerticalFlip``, ``Rotate`` and
``PixelDropout`` did: rotations turn about the image centre by an angle drawn uniformly in
``[-DEG, DEG]`` (bilinear, zeros outside: 0 is "no data"), dropout zeroes each pixel with
probability ``P``.

An albumentations ``.json``/``.yaml`` pipeline file (``A.save``) still runs per image on
the CPU (:func:`weldsynth.train.images.build_augment`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from weldsynth.train.config import parse_augment

PROBABILITY = 0.5
"""Share of the images each term is applied to."""


@dataclass(frozen=True)
class Term:
    """One augmentation: ``hflip``, ``vflip``, ``rotate`` (value: degrees) or ``dropout``
    (value: probability of a pixel)."""

    name: str
    value: float = 0.0


def parse_terms(spec: str) -> list[Term] | None:
    """The built-in terms of ``spec`` (checked by
    :func:`weldsynth.train.config.parse_augment`), or None when it is a pipeline file.

    Raises:
        WeldsynthError: An unknown term or a value out of its range.
    """
    parsed = parse_augment(spec)
    if parsed is None:
        return []
    if isinstance(parsed, Path):
        return None
    return [Term(name, 0.0 if value is None else float(value)) for name, value in parsed]


class BatchAugment:
    """Seeded batch augmentation (see the module docstring).

    Args:
        terms: What to apply, in order.
        seed: Seed of the draws.
    """

    on_device = True
    """Applied to whole batches where they are (:class:`~weldsynth.train.images.Batches`)."""

    def __init__(self, terms: list[Term], seed: int) -> None:
        self.terms = list(terms)
        self.generator = torch.Generator().manual_seed(int(seed))

    def set_random_seed(self, seed: int) -> None:
        """Restart the draws from ``seed`` (each torchrun rank its own stream)."""
        self.generator.manual_seed(int(seed))

    def __call__(self, x: torch.Tensor, masks: torch.Tensor | None = None):
        """Augment a batch (N, 1, H, W) of heights in [0, 1], on its own device.

        Args:
            x: The batch.
            masks: Their defect masks (N, 1, h, w) at any resolution of the same aspect
                (:mod:`weldsynth.train.masks`), or None. They get the same flips and
                rotations as their images (dropout leaves them alone); the draws are the
                same with or without masks.

        Returns:
            The augmented batch, or (batch, masks) when ``masks`` is given.
        """
        n = x.shape[0]
        for term in self.terms:
            apply = torch.rand(n, generator=self.generator) < PROBABILITY
            if term.name in ("hflip", "vflip"):
                dim = -1 if term.name == "hflip" else -2
                x = flip(x, apply, dim)
                masks = None if masks is None else flip(masks, apply, dim)
            elif term.name == "rotate":
                angles = (torch.rand(n, generator=self.generator) * 2 - 1) * term.value
                angles = torch.where(apply, angles, torch.zeros_like(angles))
                x = rotate(x, angles)
                masks = None if masks is None else rotate(masks, angles)
            else:
                seed = int(torch.randint(0, 2**62, (1,), generator=self.generator))
                x = dropout(x, apply, term.value, seed)
        return x if masks is None else (x, masks)


def flip(x: torch.Tensor, apply: torch.Tensor, dim: int) -> torch.Tensor:
    """``x`` with the images where ``apply`` is True flipped along ``dim``."""
    mask = apply.to(x.device).view(-1, *([1] * (x.dim() - 1)))
    return torch.where(mask, x.flip(dim), x)


def rotate(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Each image turned by its angle about its centre (bilinear, zeros outside).

    The angle is in pixel space: the normalised grid of ``affine_grid`` is scaled by the
    aspect ratio, so a non-square image turns without shearing. Images with angle 0 are
    returned unchanged (not resampled).
    """
    if not bool((degrees != 0).any()):
        return x
    n, _c, h, w = x.shape
    rad = degrees.to(torch.float64) * (math.pi / 180)
    cos, sin = torch.cos(rad), torch.sin(rad)
    theta = torch.zeros(n, 2, 3, dtype=torch.float64)
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * h / w
    theta[:, 1, 0], theta[:, 1, 1] = sin * w / h, cos
    theta = theta.to(device=x.device, dtype=torch.float32)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    turned = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    keep = (degrees == 0).to(x.device).view(-1, 1, 1, 1)
    return torch.where(keep, x, turned)


def dropout(x: torch.Tensor, apply: torch.Tensor, prob: float, seed: int) -> torch.Tensor:
    """Pixels of the images where ``apply`` is True set to 0 with probability ``prob``
    (drawn on ``x``'s device from ``seed``)."""
    if not bool(apply.any()) or prob <= 0:
        return x
    gen = torch.Generator(device=x.device).manual_seed(seed)
    drop = torch.rand(x.shape, generator=gen, device=x.device) < prob
    drop &= apply.to(x.device).view(-1, *([1] * (x.dim() - 1)))
    return x.masked_fill(drop, 0.0)


def build_batch_augment(spec: str, seed: int):
    """The augmentation of ``--augment``: a :class:`BatchAugment` for the built-in terms,
    an albumentations pipeline (per image, CPU) for a ``.json``/``.yaml`` file, or None.

    Raises:
        WeldsynthError: An unknown term or an unreadable pipeline file.
    """
    terms = parse_terms(spec)
    if terms is None:
        from weldsynth.train.images import build_augment

        return build_augment(spec, seed)
    return BatchAugment(terms, seed) if terms else None
