"""WeldNet: a small plain CNN for height maps, for training from scratch.

Why it exists: without pretrained weights (no network at the plant, nothing in torch's
cache) a ResNet18 trained from scratch on a few hundred welds does not learn the defects
in any affordable number of epochs: a defect is a small local change of a weld that is
otherwise like its good twin, and the ResNet stem (7×7 stride-2 convolution and max
pooling) plus global average pooling dilute it. WeldNet keeps full resolution for its
first two convolutions, halves it after each of four stages and takes the global
*maximum* of the last features: one defect anywhere is enough to call a weld bad.
``bench/results/train.json``: from scratch, 40 epochs, 168 training images per topology,
WeldNet reaches 0–10.4 % validation error per topology where ResNet18 stays at 25 % on
topology 7 (WeldNet 8.3 %).

Callers use the :class:`~weldsynth.train.models.base.WeldModel` interface: ``layer4`` (the
last stage) is the Grad-CAM layer, ``fc`` the head, ``layer1``–``layer2`` the early group.
The attribute names are the state-dict keys of saved models and must not change. ``conv1``
stays as an alias of ``layer1[0]`` for code that still says ``model.conv1``.
"""

from __future__ import annotations

import torch
from torch import nn

from weldsynth.train.models import IN_CHANNELS, register_model
from weldsynth.train.models.base import WeldModel

WIDTHS = (16, 32, 64, 128)
"""Channels of the four stages."""


def _stage(cin: int, cout: int) -> nn.Sequential:
    """Two 3×3 convolutions with BatchNorm and ReLU, then 2×2 max pooling."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class WeldNet(WeldModel):
    """Four stages of two 3×3 convolutions (16–128 channels), global max pooling, linear head.

    Args:
        num_classes: Outputs of the head.
        in_channels: Input channels (1 for height maps).
    """

    head_attr = "fc"
    cam_attr = "layer4"
    early_attrs = ("layer1", "layer2")

    def __init__(self, num_classes: int, in_channels: int = IN_CHANNELS) -> None:
        super().__init__()
        self.layer1 = _stage(in_channels, WIDTHS[0])
        self.layer2 = _stage(WIDTHS[0], WIDTHS[1])
        self.layer3 = _stage(WIDTHS[1], WIDTHS[2])
        self.layer4 = _stage(WIDTHS[2], WIDTHS[3])
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Linear(WIDTHS[3], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    @property
    def conv1(self) -> nn.Conv2d:
        """The first convolution (named like torchvision's ResNet)."""
        return self.layer1[0]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The output of ``layer4`` (stride 16)."""
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        """Global max pooling, then the linear head."""
        return self.fc(self.pool(feats).flatten(1))


@register_model("weldnet", summary="a small CNN that learns from scratch")
def weldnet(num_classes: int, in_channels: int = IN_CHANNELS) -> WeldNet:
    """WeldNet (:data:`WIDTHS` channels); no ImageNet weights exist for it."""
    return WeldNet(num_classes, in_channels)
