"""Where a run computes and in which precision: ``--device`` and ``--precision`` resolved.

``--device auto`` takes the first CUDA device when one is visible, then Apple's MPS, then
the CPU; ``cpu``, ``cuda``, ``cuda:N`` and ``mps`` ask for one (an unavailable device is a
one-line error, never a silent fallback). The resolved device and why it was chosen are
written into ``config.json``.

Mixed precision where it pays (``--precision auto``):

* CPU: bf16 autocast where the CPU runs bf16 natively (AVX512-BF16 / AMX), else fp32;
* CUDA: bf16 autocast on devices that support it (Ampere and later), else fp16 autocast
  with a gradient scaler;
* MPS: fp16 autocast with a gradient scaler.

``--precision bf16|fp16|fp32`` overrides; a precision the device cannot run is refused.
Inference (``predict``, ``evaluate``, the final report) stays fp32 so that every path
agrees on the same model and images.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from weldsynth.core.errors import WeldsynthError
from weldsynth.train.config import PRECISIONS

DEVICE_HELP = "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps."


@dataclass(frozen=True)
class DeviceChoice:
    """A resolved ``--device``.

    Attributes:
        device: Where models and batches live.
        requested: What was asked for ("auto", "cuda:1"...).
        reason: Why this device, in a few words (for config.json and the first line).
    """

    device: torch.device
    requested: str
    reason: str

    @property
    def name(self) -> str:
        """``cpu``, ``cuda:0``, ``mps``."""
        d = self.device
        return f"{d.type}:{d.index}" if d.index is not None else d.type

    def describe(self) -> dict[str, str]:
        """What goes into ``config.json``."""
        return {
            "device": self.name,
            "device_requested": self.requested,
            "device_reason": self.reason,
        }


def mps_available() -> bool:
    """Whether Apple's MPS backend can be used."""
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(spec: str = "auto") -> DeviceChoice:
    """The device ``spec`` means on this machine.

    Raises:
        WeldsynthError: An unknown spec, or a device this machine does not have.
    """
    text = (spec or "auto").strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return DeviceChoice(torch.device("cuda", 0), spec, "auto: CUDA device found")
        if mps_available():
            return DeviceChoice(torch.device("mps"), spec, "auto: MPS device found")
        return DeviceChoice(torch.device("cpu"), spec, "auto: no CUDA or MPS device")
    if text == "cpu":
        return DeviceChoice(torch.device("cpu"), spec, "asked for")
    if text == "mps":
        if not mps_available():
            raise WeldsynthError("--device mps: MPS is not available here; use auto or cpu")
        return DeviceChoice(torch.device("mps"), spec, "asked for")
    if text == "cuda" or text.startswith("cuda:"):
        index_text = text.partition(":")[2] or "0"
        if not index_text.isdigit():
            raise WeldsynthError(f"--device {spec}: expected cuda:N with a number N")
        if not torch.cuda.is_available():
            raise WeldsynthError(
                f"--device {spec}: no CUDA device visible (torch {torch.__version__}); "
                "use auto or cpu"
            )
        count, index = torch.cuda.device_count(), int(index_text)
        if index >= count:
            raise WeldsynthError(f"--device {spec}: only {count} CUDA device(s) (0..{count - 1})")
        return DeviceChoice(torch.device("cuda", index), spec, "asked for")
    raise WeldsynthError(f"--device {spec}: choose {DEVICE_HELP}")


def cpu_bf16() -> bool:
    """True when this CPU runs bf16 natively (oneDNN reports AVX512-BF16 / AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def cuda_bf16(device: torch.device) -> bool:
    """True when the CUDA device runs bf16 (compute capability 8.0 and later)."""
    try:
        with torch.cuda.device(device):
            return bool(torch.cuda.is_bf16_supported())
    except (AssertionError, RuntimeError):
        return False


def resolve_precision(precision: str, device: torch.device | None = None) -> str:
    """ "bf16", "fp16" or "fp32" for a requested precision on ``device`` (default CPU).

    Raises:
        WeldsynthError: An unknown precision or one the device cannot run.
    """
    kind = "cpu" if device is None else device.type
    if precision not in PRECISIONS:
        raise WeldsynthError(f"--precision {precision}: choose {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return "fp32"
    if kind == "cuda":
        bf16 = cuda_bf16(device)  # type: ignore[arg-type]
        if precision == "auto":
            return "bf16" if bf16 else "fp16"
        if precision == "bf16" and not bf16:
            raise WeldsynthError("--precision bf16: this GPU has no bf16; use auto or fp16")
        return precision
    if kind == "mps":
        return "fp16" if precision == "auto" else precision
    if precision == "fp16":
        raise WeldsynthError("--precision fp16: for CUDA and MPS devices; on CPU use auto")
    if precision == "auto":
        return "bf16" if cpu_bf16() else "fp32"
    if not cpu_bf16():
        raise WeldsynthError(
            "--precision bf16: this CPU has no native bf16 support; use auto or fp32"
        )
    return "bf16"


_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(precision: str, device: torch.device | None = None):
    """The autocast context of ``precision`` on ``device`` (a no-op for fp32)."""
    dtype = _DTYPES.get(precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast("cpu" if device is None else device.type, dtype=dtype)


def grad_scaler(precision: str, device: torch.device | None = None) -> torch.amp.GradScaler:
    """A gradient scaler, enabled for fp16 only (bf16 and fp32 keep fp32's exponent range)."""
    kind = "cpu" if device is None else device.type
    return torch.amp.GradScaler(kind, enabled=precision == "fp16")


def describe_device(choice: DeviceChoice) -> str:
    """``cpu`` / ``cuda:0 (NVIDIA H100)`` for the first printed line."""
    if choice.device.type == "cuda":
        with contextlib.suppress(RuntimeError, AssertionError):
            return f"{choice.name} ({torch.cuda.get_device_name(choice.device)})"
    return choice.name


def model_device(model: torch.nn.Module) -> torch.device:
    """Where a model's parameters live (CPU for a model without any)."""
    for param in model.parameters():
        return param.device
    return torch.device("cpu")
