"""Registry of model architectures: ``@register_model``, lookup and :func:`build_model`.

One module per family in this package (``resnet``, ``weldnet``, ...) registers builder
functions with the decorator::

    @register_model("weldnet", summary="small CNN that learns from scratch")
    def weldnet(num_classes: int, in_channels: int = 1) -> WeldNet:
        return WeldNet(num_classes, in_channels)

A builder returns a :class:`~weldsynth.train.models.base.WeldModel`: the small interface
(``features``, ``classifier``, ``cam_target_layer``, parameter groups, freezing) through
which training, checkpoints, prediction and Grad-CAM use every architecture.

Discovery imports every module of this package (:func:`pkgutil.iter_modules`), so a new
family is one new file. It is lazy, on the first lookup: importing this package does not
import torch (the command line lists the choices only when it shows or checks them).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from weldsynth.core.errors import WeldsynthError

if TYPE_CHECKING:
    from weldsynth.train.models.base import WeldModel

IN_CHANNELS = 1
"""Input channels of every model: one height channel."""

Builder = Callable[[int, int], "WeldModel"]
"""``(num_classes, in_channels) -> WeldModel``, randomly initialised."""
WeightsFinder = Callable[[str], "Path | None"]
"""``arch -> file`` of local ImageNet weights (never downloads), or None when absent."""
WeightsFetcher = Callable[[str], "Path"]
"""``arch -> file``: downloads the ImageNet weights into torch's hub cache (may raise)."""


@dataclass(frozen=True)
class ModelSpec:
    """One registered architecture.

    Attributes:
        name: The ``--arch`` value (lower-case identifier).
        builder: Makes a fresh model: ``builder(num_classes, in_channels)``.
        summary: One line for help texts.
        find_imagenet: Finds this architecture's ImageNet weights on disk (torch's hub
            cache); None when the family has no pretrained weights (always from scratch).
        module: The module that registered it.
        fetch_imagenet: Downloads them into torch's hub cache (torchvision's loader), or
            None when they cannot be downloaded.
    """

    name: str
    builder: Builder
    summary: str = ""
    find_imagenet: WeightsFinder | None = None
    module: str = ""
    fetch_imagenet: WeightsFetcher | None = None

    @property
    def pretrainable(self) -> bool:
        """True when ImageNet weights exist for this architecture."""
        return self.find_imagenet is not None


_REGISTRY: dict[str, ModelSpec] = {}
_loaded = False


def register_model(
    name: str,
    *,
    summary: str = "",
    find_imagenet: WeightsFinder | None = None,
    fetch_imagenet: WeightsFetcher | None = None,
) -> Callable[[Builder], Builder]:
    """Decorator registering a builder function under ``name``.

    Args:
        name: The architecture's name (lower-case identifier, e.g. ``resnet18``).
        summary: One line for ``--help``.
        find_imagenet: See :attr:`ModelSpec.find_imagenet`.
        fetch_imagenet: See :attr:`ModelSpec.fetch_imagenet`.

    Raises:
        ValueError: A bad name, or a name already taken by another builder.
    """
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise ValueError(f"model name must be a lower-case identifier, got {name!r}")

    def decorate(builder: Builder) -> Builder:
        held = _REGISTRY.get(name)
        if held is not None and held.builder is not builder:
            raise ValueError(
                f"model name {name!r} is already registered by {held.module}; "
                f"cannot register {builder.__module__}.{builder.__qualname__}"
            )
        _REGISTRY[name] = ModelSpec(
            name, builder, summary, find_imagenet, builder.__module__, fetch_imagenet
        )
        return builder

    return decorate


def unregister_model(name: str) -> None:
    """Remove an architecture (for tests and interactive use); unknown names are ignored."""
    _REGISTRY.pop(name, None)


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


def list_models() -> list[str]:
    """Names of every registered architecture, sorted (``resnet18`` before ``resnet101``)."""
    _ensure_loaded()
    return sorted(_REGISTRY, key=_natural)


def _natural(name: str) -> tuple[str, int]:
    stem = name.rstrip("0123456789")
    digits = name[len(stem) :]
    return stem, int(digits) if digits else -1


def get_model_spec(name: str) -> ModelSpec:
    """The registered architecture ``name``.

    Raises:
        WeldsynthError: No such architecture (the message lists the known ones).
    """
    _ensure_loaded()
    spec = _REGISTRY.get(name)
    if spec is None:
        raise WeldsynthError(f"unknown arch {name!r}; choose {', '.join(list_models())}")
    return spec


def build_model(arch: str, num_classes: int, in_channels: int = IN_CHANNELS) -> WeldModel:
    """A randomly initialised ``arch`` with ``in_channels`` inputs and a new head.

    Uses torch's global RNG for initialisation: wrap in ``torch.random.fork_rng`` with a
    seed for a reproducible model without touching the caller's state.

    Raises:
        WeldsynthError: Unknown architecture.
        TypeError: The builder did not return a :class:`~.base.WeldModel`.
    """
    from weldsynth.train.models.base import WeldModel

    spec = get_model_spec(arch)
    model = spec.builder(num_classes, in_channels)
    if not isinstance(model, WeldModel):
        raise TypeError(
            f"model {arch!r} ({spec.module}) built {type(model).__name__}, not a WeldModel"
        )
    return model
