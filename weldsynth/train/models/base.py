"""The interface every registered architecture provides, so callers never name its layers.

Training (fine-tune schedule, discriminative learning rates), checkpoints, prediction and
Grad-CAM use only this:

* :meth:`WeldModel.features` — the backbone's feature map; :meth:`WeldModel.forward_head`
  turns it into logits (``forward(x) == forward_head(features(x))``);
* :attr:`WeldModel.classifier` — the head, replaceable (:meth:`WeldModel.set_classifier`,
  :meth:`WeldModel.reset_classifier`);
* :attr:`WeldModel.cam_target_layer` — the layer Grad-CAM hooks;
* :attr:`WeldModel.input_conv` — the first convolution (input channels, pretrained RGB
  filters summed to one channel);
* :meth:`WeldModel.param_groups` and :meth:`WeldModel.freeze_body` — the fine-tune schedule;
* :meth:`WeldModel.add_mask_head` — an optional segmentation head (a 1×1 convolution on
  :meth:`WeldModel.features`) trained on the defect masks (``train --mask-loss``);
  ``forward(x, with_mask=True)`` returns (logits, mask logits) and :meth:`WeldModel.mask_map`
  its map. It is created on demand, never by a builder, so a model without it has exactly
  the state dict it always had (the checkpoint keeps the head's weights apart).

A family names its layers with three class attributes (``head_attr``, ``cam_attr``,
``early_attrs``) and implements ``features`` and ``forward_head``; the rest follows. Module
attribute names are the state-dict keys, so they are part of the checkpoint format: a family
never renames them (old ``model.pt`` files must still load).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

MASK_HEAD = "mask_head"
"""Attribute (and state-dict prefix) of the optional segmentation head."""


class WeldModel(nn.Module):
    """Base class of every architecture: an image classifier with a named head and stages.

    Class attributes:
        head_attr: Attribute holding the head (the classifier), e.g. ``"fc"``.
        cam_attr: Attribute holding the layer whose output Grad-CAM explains.
        early_attrs: Attributes of the stem and first stages: the parameter group that
            learns slowest when fine-tuning.
    """

    head_attr: ClassVar[str] = "fc"
    cam_attr: ClassVar[str] = ""
    early_attrs: ClassVar[tuple[str, ...]] = ()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone's feature map (N, C, h, w) of a batch (N, in_channels, H, W)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement features()")

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        """Logits (N, num_classes) from :meth:`features`' output (pooling and head)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement forward_head()")

    def forward(self, x: torch.Tensor, with_mask: bool = False, with_features: bool = False):
        """Logits (N, num_classes); with ``with_mask`` (and a mask head), (logits, mask
        logits (N, 1, h, w) at the feature map's resolution); with ``with_features``,
        (logits, mask logits or None, the features (N, C, h, w)) for the mask-guided losses."""
        feats = self.features(x)
        if with_features:
            seg = self.mask_head(feats) if with_mask and self.has_mask_head else None
            return self.forward_head(feats), seg, feats
        if with_mask and self.has_mask_head:
            return self.forward_head(feats), self.mask_head(feats)
        return self.forward_head(feats)

    def class_map(self, feats: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Class activation maps (Zhou et al. 2016) of ``targets`` from :meth:`features`:
        ``relu(sum_c w[target, c] * A_c)`` with the head's last linear layer ``w`` (N, h, w),
        differentiable. Up to a scale, the Grad-CAM of a head that pools globally (average
        or maximum) and then applies one linear layer, as WeldNet's and ResNet's do."""
        linears = [m for m in self.classifier.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise TypeError(f"{type(self).__name__}: the head has no nn.Linear")
        weights = linears[-1].weight[targets].float()
        return torch.relu(torch.einsum("nc,nchw->nhw", weights, feats.float()))

    @property
    def has_mask_head(self) -> bool:
        """True when :meth:`add_mask_head` gave the model a segmentation head."""
        return isinstance(getattr(self, MASK_HEAD, None), nn.Module)

    @property
    def feature_channels(self) -> int:
        """Channels of :meth:`features` (the last convolution's of ``cam_target_layer``)."""
        convs = [m for m in self.cam_target_layer.modules() if isinstance(m, nn.Conv2d)]
        if not convs:
            raise TypeError(f"{type(self).__name__}: override feature_channels")
        return int(convs[-1].out_channels)

    def add_mask_head(self) -> nn.Module:
        """Give the model a segmentation head: a 1×1 convolution from the features to one
        defect logit per cell (initialised from torch's global RNG; kept as it is when
        there is one already)."""
        if not self.has_mask_head:
            head = nn.Conv2d(self.feature_channels, 1, kernel_size=1)
            nn.init.zeros_(head.bias)
            ref = next(self.parameters(), None)
            if ref is not None:
                head = head.to(device=ref.device, dtype=ref.dtype)
            setattr(self, MASK_HEAD, head)
        return getattr(self, MASK_HEAD)

    def mask_map(self, x: torch.Tensor) -> torch.Tensor:
        """Defect probability (N, h, w) per feature cell from the mask head."""
        if not self.has_mask_head:
            raise TypeError(f"{type(self).__name__} has no mask head")
        return torch.sigmoid(getattr(self, MASK_HEAD)(self.features(x)).float())[:, 0]

    def _trainable_heads(self) -> set[int]:
        """Ids of the parameters of the heads (classifier and mask head)."""
        heads = list(self.classifier.parameters())
        if self.has_mask_head:
            heads += list(getattr(self, MASK_HEAD).parameters())
        return {id(p) for p in heads}

    @property
    def classifier(self) -> nn.Module:
        """The head (replaced for fine-tuning, left trainable by :meth:`freeze_body`)."""
        return getattr(self, self.head_attr)

    def set_classifier(self, head: nn.Module) -> None:
        """Replace the head (kept under its attribute name, so its state-dict keys stay)."""
        setattr(self, self.head_attr, head)

    @property
    def num_classes(self) -> int:
        """Outputs of the head (the ``out_features`` of its last linear layer)."""
        linears = [m for m in self.classifier.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise TypeError(f"{type(self).__name__}: the head has no nn.Linear")
        return int(linears[-1].out_features)

    def reset_classifier(self, num_classes: int) -> None:
        """Replace a linear head by a freshly initialised one with ``num_classes`` outputs."""
        head = self.classifier
        if not isinstance(head, nn.Linear):
            raise TypeError(f"{type(self).__name__}: override reset_classifier for its head")
        self.set_classifier(nn.Linear(head.in_features, num_classes, bias=head.bias is not None))

    @property
    def cam_target_layer(self) -> nn.Module:
        """The layer whose activations Grad-CAM weights by their gradients."""
        return getattr(self, self.cam_attr)

    @property
    def input_conv(self) -> nn.Conv2d:
        """The first convolution (the one that sees the input channels)."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                return module
        raise TypeError(f"{type(self).__name__} has no nn.Conv2d")

    def state_name(self, module: nn.Module) -> str:
        """Qualified name of a sub-module: the prefix of its keys in the state dict."""
        for name, sub in self.named_modules():
            if sub is module:
                return name
        raise ValueError(f"{type(module).__name__} is not part of {type(self).__name__}")

    def head_keys(self) -> set[str]:
        """State-dict keys of the head."""
        prefix = self.state_name(self.classifier)
        return {f"{prefix}.{k}" for k in self.classifier.state_dict()}

    def param_groups(self) -> list[list[nn.Parameter]]:
        """Parameters in three groups for discriminative learning rates.

        Returns:
            [stem and early stages (``early_attrs``), the rest of the body, heads (the
            classifier and the mask head)]: early layers learn slowest. Order within a group
            is ``named_parameters`` order.
        """
        early = {id(p) for a in self.early_attrs for p in getattr(self, a).parameters()}
        head = self._trainable_heads()
        groups: list[list[nn.Parameter]] = [[], [], []]
        for _name, param in self.named_parameters():
            k = 2 if id(param) in head else 0 if id(param) in early else 1
            groups[k].append(param)
        return groups

    def freeze_body(self, frozen: bool) -> None:
        """Freeze (or unfreeze) every layer but the heads; BatchNorm layers stay trainable."""
        head = self._trainable_heads()
        for module in self.modules():
            is_bn = isinstance(module, nn.modules.batchnorm._BatchNorm)
            for param in module.parameters(recurse=False):
                param.requires_grad = not frozen or is_bn or id(param) in head


def unwrap(model: nn.Module) -> WeldModel:
    """The :class:`WeldModel` inside ``DistributedDataParallel`` and ``torch.compile``
    wrappers (or the model itself).

    Raises:
        TypeError: Not a WeldModel (an architecture built outside the registry).
    """
    inner = model
    while not isinstance(inner, WeldModel):
        nested = getattr(inner, "_orig_mod", None) or getattr(inner, "module", None)
        if not isinstance(nested, nn.Module):
            break
        inner = nested
    if not isinstance(inner, WeldModel):
        raise TypeError(f"{type(inner).__name__} is not a WeldModel (build it with build_model)")
    return inner
