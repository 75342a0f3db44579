"""What a run trains on what: ``--arch auto``, the weights and the device, decided once.

``--arch auto`` (the default of ``train``, ``audit`` and ``loop``) takes a ResNet18 when
its ImageNet weights can be had (torch's hub cache, or a download when allowed) and WeldNet
otherwise: a ResNet18 from scratch stays near the class prior on a few hundred welds,
WeldNet learns them (``bench/results/train.json``). The choice, the reason, the device and
the precision are one printed line and go into ``config.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weldsynth.train.config import AUTO_ARCH, TrainConfig
from weldsynth.train.device import DeviceChoice, describe_device, resolve_device
from weldsynth.train.model import resolve_precision, resolve_weights

PRETRAINED_ARCH = "resnet18"
SCRATCH_ARCH = "weldnet"


@dataclass(frozen=True)
class ModelChoice:
    """A resolved architecture and its starting weights.

    Attributes:
        arch: The architecture that trains.
        requested: What ``--arch`` said ("auto" or a name).
        reason: Why this one, in a few words.
        weights: Pretrained weights file, or None (from scratch).
        weights_note: One line on the weights.
    """

    arch: str
    requested: str
    reason: str
    weights: Path | None
    weights_note: str

    def describe(self) -> dict[str, Any]:
        """What goes into ``config.json`` next to ``arch``."""
        return {"arch_requested": self.requested, "arch_reason": self.reason}


def choose_model(cfg: TrainConfig) -> ModelChoice:
    """Resolve ``cfg.arch`` ("auto" or a name) and ``cfg.weights`` (see module docstring).

    Raises:
        WeldsynthError: A weights file that does not exist.
    """
    if cfg.arch != AUTO_ARCH:
        weights, note = resolve_weights(cfg.weights, cfg.arch, cfg.offline)
        return ModelChoice(cfg.arch, cfg.arch, "asked for", weights, note)
    if cfg.weights == "none":
        why = f"--weights none: {SCRATCH_ARCH} learns from scratch"
        note = "weights: none, training from scratch"
        return ModelChoice(SCRATCH_ARCH, AUTO_ARCH, why, None, note)
    weights, note = resolve_weights(cfg.weights, PRETRAINED_ARCH, cfg.offline, SCRATCH_ARCH)
    if weights is not None:
        why = "ImageNet weights found" if cfg.weights == "imagenet" else "a weights file given"
        return ModelChoice(PRETRAINED_ARCH, AUTO_ARCH, why, weights, note)
    why = f"no ImageNet {PRETRAINED_ARCH} weights; {SCRATCH_ARCH} learns from scratch"
    return ModelChoice(SCRATCH_ARCH, AUTO_ARCH, why, None, note)


@dataclass(frozen=True)
class RunChoice:
    """Model, device and precision of a run.

    Attributes:
        model: From :func:`choose_model`.
        device: From :func:`weldsynth.train.device.resolve_device`.
        precision: "bf16", "fp16" or "fp32" on that device.
    """

    model: ModelChoice
    device: DeviceChoice
    precision: str

    def cfg(self, cfg: TrainConfig) -> TrainConfig:
        """``cfg`` with the architecture resolved."""
        return cfg.with_(arch=self.model.arch)

    def line(self) -> str:
        """The first printed line: what trains where, and why."""
        m = self.model
        arch = m.arch if m.requested == m.arch else f"{m.arch} (--arch {m.requested}: {m.reason})"
        where = describe_device(self.device)
        if self.device.requested.strip().lower() == "auto":
            where += f" ({self.device.reason})"
        return f"model {arch}; device {where}; precision {self.precision}"

    def describe(self) -> dict[str, Any]:
        """What goes into ``config.json``: architecture and device choices, precision."""
        return {**self.model.describe(), **self.device.describe(), "precision_used": self.precision}


def choose_run(cfg: TrainConfig) -> RunChoice:
    """Model, weights, device and precision of ``cfg``, decided once.

    Raises:
        WeldsynthError: An unavailable device, a precision it cannot run, a missing file.
    """
    device = resolve_device(cfg.device)
    precision = resolve_precision(cfg.precision, device.device)
    return RunChoice(choose_model(cfg), device, precision)
