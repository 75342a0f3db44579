"""Model helpers shared by training and the audit: weights, parameter groups, precision.

Architectures live in :mod:`weldsynth.train.models` (a registry, one module per family);
:func:`build_model` is re-exported here for the callers that import it from this module.
Everything here goes through the :class:`~weldsynth.train.models.base.WeldModel` interface
and never names a family's layers.

``--weights imagenet`` uses torchvision's weights: the family looks in torch's hub cache
(``torch.hub.get_dir()/checkpoints/``) for its file and, unless ``--offline`` or
``WELDSYNTH_OFFLINE=1``, downloads it there with torchvision's loader; when they cannot be
had the caller trains from scratch and says so in one line.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from weldsynth.core.errors import WeldsynthError
from weldsynth.train.device import cpu_bf16
from weldsynth.train.device import resolve_precision as device_precision
from weldsynth.train.models import IN_CHANNELS, build_model, get_model_spec
from weldsynth.train.models.base import unwrap

__all__ = [
    "IN_CHANNELS",
    "bf16_supported",
    "build_model",
    "freeze_body",
    "load_pretrained",
    "offline_mode",
    "param_groups",
    "resolve_precision",
    "resolve_weights",
]


OFFLINE_ENV = "WELDSYNTH_OFFLINE"
"""Set to 1 to forbid downloading weights (as ``--offline``)."""


def offline_mode(offline: bool = False) -> bool:
    """Whether downloads are forbidden: ``--offline`` or ``WELDSYNTH_OFFLINE=1``."""
    env = os.environ.get(OFFLINE_ENV, "").strip().lower()
    return offline or env not in ("", "0", "false", "no", "off")


def resolve_weights(
    weights: str, arch: str, offline: bool = False, instead: str = ""
) -> tuple[Path | None, str]:
    """Which file ``--weights`` means, and a one-line note saying what will happen.

    ``imagenet`` takes torchvision's file from torch's hub cache, downloading it there with
    torchvision's loader unless ``offline`` (or ``WELDSYNTH_OFFLINE=1``).

    Args:
        weights: "imagenet", "none" or a file.
        arch: The architecture the weights are for.
        offline: Never download.
        instead: The architecture that trains when ImageNet weights cannot be had ("":
            ``arch`` itself, from scratch).

    Returns:
        (file or None for training from scratch, note).

    Raises:
        WeldsynthError: A given file does not exist, or an unknown architecture.
    """
    if weights == "none":
        return None, "weights: none, training from scratch"
    if weights != "imagenet":
        file = Path(weights)
        if not file.is_file():
            raise WeldsynthError(f"--weights {weights}: no such file (or use imagenet / none)")
        return file, f"weights: {file}"
    spec = get_model_spec(arch)
    if spec.find_imagenet is None:
        return None, f"weights: {arch} has no ImageNet weights; training from scratch"
    found = spec.find_imagenet(arch)
    if found is not None:
        return found, f"weights: ImageNet {arch} from {found.name} (torch's hub cache)"
    where = Path(torch.hub.get_dir()) / "checkpoints"
    if offline_mode(offline) or spec.fetch_imagenet is None:
        why = "downloads are off (--offline / WELDSYNTH_OFFLINE=1)"
    else:
        try:
            fetched = spec.fetch_imagenet(arch)
        except Exception as exc:  # no network, refused, a bad file: one line, go on
            text = str(exc).strip().splitlines()[0][:100] if str(exc).strip() else ""
            why = f"the download failed ({type(exc).__name__}: {text})"
        else:
            return fetched, f"weights: ImageNet {arch} downloaded into {where} ({fetched.name})"
    then = (
        f"training from scratch with {instead} instead"
        if instead and instead != arch
        else "training from scratch (give a file with --weights; from scratch, --arch "
        "weldnet learns far faster)"
    )
    return None, f"weights: ImageNet {arch} weights not in {where} and {why}; {then}"


def load_pretrained(model: nn.Module, file: Path) -> None:
    """Load a torchvision or weldsynth state dict into ``model`` (``weights_only=True``).

    RGB filters of the first convolution are summed to one channel; a head of another size
    is left freshly initialised.

    Raises:
        WeldsynthError: The file is not a state dict of this architecture.
    """
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeldsynthError(f"{file}: cannot load weights ({type(exc).__name__})") from exc
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeldsynthError(f"{file}: not a state dict")
    net = unwrap(model)
    own = net.state_dict()
    stem = net.state_name(net.input_conv)
    key = f"{stem}.weight"
    first = state.get(key)
    if first is not None and first.ndim == 4 and first.shape[1] != own[key].shape[1]:
        if own[key].shape[1] != 1:
            raise WeldsynthError(f"{file}: {stem} has {first.shape[1]} input channels")
        state = {**state, key: first.sum(dim=1, keepdim=True)}
    head_keys = net.head_keys()
    head = {k for k in head_keys if k in state and state[k].shape != own[k].shape}
    state = {k: v for k, v in state.items() if k not in head}
    missing = sorted(set(own) - set(state) - head_keys)
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(state) & set(own) if state[k].shape != own[k].shape)
    if missing or unexpected or wrong:
        sample = (missing + unexpected + wrong)[:3]
        raise WeldsynthError(
            f"{file}: does not match this architecture "
            f"({len(missing)} missing, {len(unexpected)} unexpected, "
            f"{len(wrong)} mis-shaped tensors, e.g. {', '.join(sample)})"
        )
    net.load_state_dict(state, strict=False)


def param_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    """Parameters in three groups for discriminative learning rates (DDP-wrapped or not).

    Returns:
        [stem and early stages, the rest of the body, head]: early layers learn slowest.
    """
    return unwrap(model).param_groups()


def freeze_body(model: nn.Module, frozen: bool) -> None:
    """Freeze (or unfreeze) every layer but the head; BatchNorm layers stay trainable."""
    unwrap(model).freeze_body(frozen)


def bf16_supported() -> bool:
    """True when this CPU runs bf16 natively (oneDNN reports AVX512-BF16 / AMX)."""
    return cpu_bf16()


def resolve_precision(precision: str, device: torch.device | None = None) -> str:
    """ "bf16", "fp16" or "fp32" for a requested precision on ``device`` (default: CPU; see
    :func:`weldsynth.train.device.resolve_precision`)."""
    return device_precision(precision, device)
