"""ResNet18–101 for 1-channel height maps, pretrained-weight loading and parameter groups.

``conv1`` takes one channel: pretrained RGB filters are summed over their three input
channels, which gives the same response to a gray image replicated on R, G and B. The
ImageNet head is replaced by a new linear layer with one output per class.

``--weights imagenet`` never downloads: it looks in torch's hub cache
(``torch.hub.get_dir()/checkpoints/``) for torchvision's file, and when absent the caller
trains from scratch and says so in one line.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from weldsynth.core.errors import WeldsynthError
from weldsynth.train.config import ARCHS, RESNETS

IN_CHANNELS = 1


def build_model(arch: str, num_classes: int, in_channels: int = IN_CHANNELS) -> nn.Module:
    """A randomly initialised torchvision ResNet with ``in_channels`` inputs and a new head.

    Uses torch's global RNG for initialisation: wrap in ``torch.random.fork_rng`` with a
    seed for a reproducible model without touching the caller's state.
    """
    import torchvision

    if arch not in ARCHS:
        raise WeldsynthError(f"unknown arch {arch!r}; choose {', '.join(ARCHS)}")
    if arch == "weldnet":
        from weldsynth.train.weldnet import WeldNet

        return WeldNet(num_classes, in_channels)
    model = getattr(torchvision.models, arch)(weights=None, num_classes=num_classes)
    if in_channels != 3:
        model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    return model


def imagenet_file(arch: str) -> Path | None:
    """torchvision's ImageNet weights for ``arch`` in torch's hub cache, if present."""
    import torchvision

    folder = Path(torch.hub.get_dir()) / "checkpoints"
    names = [w.url.rsplit("/", 1)[-1] for w in torchvision.models.get_model_weights(arch)]
    for name in names:
        if (folder / name).is_file():
            return folder / name
    found = sorted(folder.glob(f"{arch}-*.pth")) if folder.is_dir() else []
    return found[0] if found else None


def resolve_weights(weights: str, arch: str) -> tuple[Path | None, str]:
    """Which file ``--weights`` means, and a one-line note saying what will happen.

    Returns:
        (file or None for training from scratch, note).

    Raises:
        WeldsynthError: A given file does not exist.
    """
    if weights == "none":
        return None, "weights: none, training from scratch"
    if weights == "imagenet" and arch not in RESNETS:
        return None, f"weights: {arch} has no ImageNet weights; training from scratch"
    if weights == "imagenet":
        found = imagenet_file(arch)
        if found is None:
            where = Path(torch.hub.get_dir()) / "checkpoints"
            return None, (
                f"weights: ImageNet {arch} weights not in {where} and weldsynth does "
                "not download; training from scratch (give a file with --weights; "
                "from scratch, --arch weldnet learns far faster)"
            )
        return found, f"weights: ImageNet {arch} from {found.name}"
    file = Path(weights)
    if not file.is_file():
        raise WeldsynthError(f"--weights {weights}: no such file (or use imagenet / none)")
    return file, f"weights: {file}"


def load_pretrained(model: nn.Module, file: Path) -> None:
    """Load a torchvision or weldsynth state dict into ``model`` (``weights_only=True``).

    RGB ``conv1`` filters are summed to one channel; a head of another size is left
    freshly initialised.

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
    own = model.state_dict()
    conv1 = state.get("conv1.weight")
    if conv1 is not None and conv1.ndim == 4 and conv1.shape[1] != own["conv1.weight"].shape[1]:
        if own["conv1.weight"].shape[1] != 1:
            raise WeldsynthError(f"{file}: conv1 has {conv1.shape[1]} input channels")
        state = {**state, "conv1.weight": conv1.sum(dim=1, keepdim=True)}
    head = {k for k in ("fc.weight", "fc.bias") if k in state and state[k].shape != own[k].shape}
    state = {k: v for k, v in state.items() if k not in head}
    missing = sorted(set(own) - set(state) - {"fc.weight", "fc.bias"})
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(state) & set(own) if state[k].shape != own[k].shape)
    if missing or unexpected or wrong:
        sample = (missing + unexpected + wrong)[:3]
        raise WeldsynthError(
            f"{file}: does not match this architecture "
            f"({len(missing)} missing, {len(unexpected)} unexpected, "
            f"{len(wrong)} mis-shaped tensors, e.g. {', '.join(sample)})"
        )
    model.load_state_dict(state, strict=False)


def param_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    """Parameters in three groups for discriminative learning rates.

    Returns:
        [stem + layer1 + layer2, layer3 + layer4, head]: early layers learn slowest.
    """
    model = getattr(model, "module", model)  # the network inside a DDP wrapper
    early = ("conv1.", "bn1.", "layer1.", "layer2.")
    groups: list[list[nn.Parameter]] = [[], [], []]
    for name, param in model.named_parameters():
        k = 2 if name.startswith("fc.") else 0 if name.startswith(early) else 1
        groups[k].append(param)
    return groups


def freeze_body(model: nn.Module, frozen: bool) -> None:
    """Freeze (or unfreeze) every layer but the head; BatchNorm layers stay trainable."""
    model = getattr(model, "module", model)  # the network inside a DDP wrapper
    for module_name, module in model.named_modules():
        is_bn = isinstance(module, nn.modules.batchnorm._BatchNorm)
        for param in module.parameters(recurse=False):
            param.requires_grad = not frozen or is_bn or module_name.startswith("fc")


def bf16_supported() -> bool:
    """True when this CPU runs bf16 natively (oneDNN reports AVX512-BF16 / AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str) -> str:
    """ "bf16" or "fp32" for a requested precision ("auto" picks bf16 where supported)."""
    if precision == "auto":
        return "bf16" if bf16_supported() else "fp32"
    if precision == "bf16" and not bf16_supported():
        raise WeldsynthError(
            "--precision bf16: this CPU has no native bf16 support; use auto or fp32"
        )
    return precision
