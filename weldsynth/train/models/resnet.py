"""torchvision's ResNet18–101 for 1-channel height maps, and their ImageNet weights on disk.

``conv1`` takes one channel: pretrained RGB filters are summed over their three input
channels (:func:`weldsynth.train.model.load_pretrained`), which gives the same response to a
gray image replicated on R, G and B. The ImageNet head is replaced by a new linear layer with
one output per class.

The modules keep torchvision's names (``conv1``, ``bn1``, ``layer1``–``layer4``, ``fc``):
they are the keys of torchvision's weight files and of every saved ``model.pt``.

ImageNet weights are torchvision's: :func:`imagenet_file` looks in torch's hub cache
(``torch.hub.get_dir()/checkpoints/``, moved by ``TORCH_HOME``) for torchvision's file, and
:func:`fetch_imagenet` downloads it there the way torchvision's weights API does
(``torch.hub.load_state_dict_from_url``); the caller decides whether downloading is allowed.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from weldsynth.train.models import IN_CHANNELS, register_model
from weldsynth.train.models.base import WeldModel


class ResNetModel(WeldModel, ResNet):
    """A torchvision ResNet with ``in_channels`` inputs, behind the WeldModel interface.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: Blocks per stage.
        num_classes: Outputs of the head.
        in_channels: Input channels (1 for height maps).
    """

    head_attr = "fc"
    cam_attr = "layer4"
    early_attrs = ("conv1", "bn1", "layer1", "layer2")

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        layers: list[int],
        num_classes: int,
        in_channels: int = IN_CHANNELS,
    ) -> None:
        super().__init__(block, layers, num_classes=num_classes)
        if in_channels != 3:
            self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
            nn.init.kaiming_normal_(self.conv1.weight, mode="fan_out", nonlinearity="relu")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The output of ``layer4`` (stride 32)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        """Global average pooling, then the linear head."""
        return self.fc(torch.flatten(self.avgpool(feats), 1))


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


def imagenet_url(arch: str) -> str:
    """Where torchvision downloads ``arch``'s default ImageNet weights from."""
    import torchvision

    return str(torchvision.models.get_model_weights(arch).DEFAULT.url)


def fetch_imagenet(arch: str) -> Path:
    """Download ``arch``'s ImageNet weights into torch's hub cache; returns the file.

    Raises:
        Exception: Whatever the download raises (no network, refused, bad file).
    """
    url = imagenet_url(arch)
    with contextlib.redirect_stdout(io.StringIO()):  # torch's "Downloading: ..." line:
        torch.hub.load_state_dict_from_url(  # the caller's note says it in one line
            url, progress=False, map_location="cpu", weights_only=True
        )
    found = imagenet_file(arch)
    if found is None:
        raise FileNotFoundError(f"{url.rsplit('/', 1)[-1]} not in the hub cache after download")
    return found


_PRETRAINED = "torchvision ResNet (best with ImageNet weights)"
_WEIGHTS = {"find_imagenet": imagenet_file, "fetch_imagenet": fetch_imagenet}


@register_model("resnet18", summary=_PRETRAINED, **_WEIGHTS)
def resnet18(num_classes: int, in_channels: int = IN_CHANNELS) -> ResNetModel:
    """ResNet-18 (basic blocks 2-2-2-2)."""
    return ResNetModel(BasicBlock, [2, 2, 2, 2], num_classes, in_channels)


@register_model("resnet34", summary=_PRETRAINED, **_WEIGHTS)
def resnet34(num_classes: int, in_channels: int = IN_CHANNELS) -> ResNetModel:
    """ResNet-34 (basic blocks 3-4-6-3)."""
    return ResNetModel(BasicBlock, [3, 4, 6, 3], num_classes, in_channels)


@register_model("resnet50", summary=_PRETRAINED, **_WEIGHTS)
def resnet50(num_classes: int, in_channels: int = IN_CHANNELS) -> ResNetModel:
    """ResNet-50 (bottleneck blocks 3-4-6-3)."""
    return ResNetModel(Bottleneck, [3, 4, 6, 3], num_classes, in_channels)


@register_model("resnet101", summary=_PRETRAINED, **_WEIGHTS)
def resnet101(num_classes: int, in_channels: int = IN_CHANNELS) -> ResNetModel:
    """ResNet-101 (bottleneck blocks 3-4-23-3)."""
    return ResNetModel(Bottleneck, [3, 4, 23, 3], num_classes, in_channels)
