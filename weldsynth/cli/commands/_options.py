"""Options shared by the commands that train or run models: device, compile, cache, weights.

Not a command (the leading underscore keeps discovery away): ``train``, ``audit`` and
``loop`` take :func:`run_options`; ``predict``, ``evaluate`` and ``ensemble`` take
:func:`device_option`.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from weldsynth.train.config import AUTO_CAM_WEIGHT

DEVICE_HELP = (
    "auto: CUDA when there is one, then Apple MPS, then the CPU; or cpu, cuda, cuda:N, mps."
)


def device_option(func: Callable) -> Callable:
    """``--device`` (default auto)."""
    return click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)(func)


class MaskLoss(click.ParamType):
    """``--mask-loss``: "auto" or a weight in [0, 100]."""

    name = "auto|W"

    def convert(self, value, param, ctx):
        """ "auto", or the weight as a float (one line when neither)."""
        if isinstance(value, int | float) or str(value).strip().lower() != "auto":
            try:
                weight = float(value)
            except ValueError:
                weight = float("nan")
            if not 0 <= weight <= 100:  # also nan
                self.fail(f"{value!r}: use auto or a weight in [0, 100]", param, ctx)
            return weight
        return "auto"


def run_options(func: Callable) -> Callable:
    """``--device``, ``--compile``, ``--cache-gb``, ``--offline``, ``--mask-loss`` and
    ``--cam-loss``."""
    options = [
        click.option(
            "--compile",
            "compile",
            is_flag=True,
            help="torch.compile the model (one warning line and eager when it cannot).",
        ),
        click.option(
            "--cache-gb",
            type=click.FloatRange(0),
            default=0.0,
            show_default=True,
            help="Decoded images kept in RAM up to this many GB (0: half the free "
            "memory); more go to a memory-mapped cache in DATA/.weldsynth/cache/, reused "
            "by later runs.",
        ),
        click.option(
            "--offline",
            is_flag=True,
            help="Never download ImageNet weights (also WELDSYNTH_OFFLINE=1).",
        ),
        click.option(
            "--mask-loss",
            type=MaskLoss(),
            default="auto",
            show_default=True,
            help="Weight of an auxiliary loss on the defect masks (_masks/): a segmentation "
            "head learns where each defect is. auto: 1 on data with masks, off on others; "
            "0: off.",
        ),
        click.option(
            "--cam-loss",
            type=MaskLoss(),
            default="auto",
            show_default=True,
            help="Weight of an auxiliary loss that pulls the class activation map of a "
            "defect inside its mask (_masks/), so the model's evidence sits on the defect. "
            f"auto: {AUTO_CAM_WEIGHT:g} on data with masks, off on others; 0: off.",
        ),
    ]
    func = device_option(func)
    for option in reversed(options):
        func = option(func)
    return func


WEIGHTS_HELP = (
    "imagenet: torchvision's weights from torch's cache, downloaded there when missing "
    "(unless --offline); none; or a weights file."
)
ARCH_HELP = (
    "auto: resnet18 when its ImageNet weights can be had, else weldnet (a small CNN that "
    "learns from scratch); or a registered architecture."
)
PRECISION_HELP = (
    "auto: bf16 on CPUs and GPUs that run it, fp16 with loss scaling on other GPUs, else fp32."
)
