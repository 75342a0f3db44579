"""``model.pt``: the weights plus what is needed to use them (arch, classes, input, normalisation).

Saved atomically (temp file + ``os.replace``), so an interrupted run leaves the last good
checkpoint intact; loaded with ``weights_only=True`` and checked against its metadata.

A model trained with ``--mask-loss`` has a mask head
(:meth:`~weldsynth.train.models.base.WeldModel.add_mask_head`): its weights are saved under
their own key (``mask_head``) beside ``state_dict``, which keeps exactly the keys of the
architecture, so every weldsynth version loads every checkpoint (one without the key loads
as before; an older version ignores the head).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.core.errors import WeldsynthError
from weldsynth.train.models.base import MASK_HEAD

if TYPE_CHECKING:
    from weldsynth.train.models.base import WeldModel

FORMAT = "weldsynth-model/1"
MODEL_NAME = "model.pt"
REQUIRED = ("arch", "classes", "in_channels", "input_size", "mean", "std")


@dataclass
class Checkpoint:
    """A loaded model ready for inference.

    Attributes:
        model: The network in eval mode (on the CPU unless loaded for a device).
        meta: Its metadata (arch, classes, input_size, mean, std, topology, ...).
        path: The file it came from.
    """

    model: nn.Module
    meta: dict[str, Any]
    path: Path

    @property
    def classes(self) -> list[str]:
        """Class names in output order."""
        return list(self.meta["classes"])

    @property
    def size(self) -> tuple[int, int]:
        """Input (height, width)."""
        h, w = self.meta["input_size"]
        return int(h), int(w)


def save_checkpoint(path: Path, model: nn.Module, meta: dict[str, Any]) -> Path:
    """Write ``{"state_dict", "meta"}`` to ``path`` atomically (never a half-written file).

    The keys are the model's own module names (a DDP wrapper's ``module.`` prefix is not
    saved): they are the checkpoint format, the same for every weldsynth version.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = getattr(model, "module", model)  # the network inside a DDP wrapper
    state = {k: v.detach().cpu().clone().contiguous() for k, v in net.state_dict().items()}
    prefix = f"{MASK_HEAD}."
    head = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    payload = {
        "format": FORMAT,
        "state_dict": {k: v for k, v in state.items() if not k.startswith(prefix)},
        "meta": meta,
        **({MASK_HEAD: head} if head else {}),
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    try:
        return atomic_write_bytes(path, buffer.getvalue())
    except OSError as exc:  # disk full, read-only: say what is left
        raise WeldsynthError(f"{path}: {exc.strerror or exc}; {_kept(path)}") from exc


def _kept(path: Path) -> str:
    """What a failed save leaves: the checkpoint already at ``path`` (its epoch), or none."""
    if not path.is_file():
        return "no checkpoint was kept (none had been saved yet)"
    try:
        meta = torch.load(path, map_location="cpu", weights_only=True)["meta"]
        epoch = f" (epoch {int(meta['epoch'])})" if "epoch" in meta else ""
    except Exception:  # only for the message
        epoch = ""
    return f"the last good checkpoint{epoch} is kept"


def model_file(path: str | Path) -> Path:
    """``path`` itself, or ``path/model.pt`` when given a run folder."""
    file = Path(path)
    return file / MODEL_NAME if file.is_dir() else file


def load_checkpoint(path: str | Path, device: str | torch.device | None = None) -> Checkpoint:
    """Load and check a weldsynth model (a ``model.pt`` or the run folder holding it), on
    the CPU or ``device`` (a ``--device`` spec or a torch device; inference runs there).

    Raises:
        WeldsynthError: Missing file, not a weldsynth model, or weights that do not match
            the recorded architecture, channels or classes.
    """
    from weldsynth.train.models import build_model

    file = model_file(path)
    if not file.is_file():
        raise WeldsynthError(f"{file}: model file not found")
    try:
        payload = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeldsynthError(f"{file}: not a loadable model ({type(exc).__name__})") from exc
    if not isinstance(payload, dict) or "meta" not in payload or "state_dict" not in payload:
        raise WeldsynthError(
            f"{file}: not a weldsynth model (no meta/state_dict); train one with `weldsynth train`"
        )
    meta, state = payload["meta"], payload["state_dict"]
    missing = [k for k in REQUIRED if k not in meta]
    if missing:
        raise WeldsynthError(f"{file}: model metadata lacks {', '.join(missing)}")
    _check_meta(file, meta)
    model = build_model(meta["arch"], len(meta["classes"]), int(meta["in_channels"]))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "shape mismatch"
        hint = _mismatch_hint(model, state, meta)
        raise WeldsynthError(
            f"{file}: weights do not match {meta['arch']} with "
            f"{meta['in_channels']} channel(s) and {len(meta['classes'])} "
            f"classes{hint} ({first[:80]})"
        ) from exc
    if isinstance(payload.get(MASK_HEAD), dict):
        _load_mask_head(file, model, payload[MASK_HEAD])
    model.eval()
    if isinstance(device, str):  # a --device spec: auto, cpu, cuda:N, mps
        from weldsynth.train.device import resolve_device

        device = resolve_device(device).device
    if device is not None:
        model.to(device)
    return Checkpoint(model=model, meta=dict(meta), path=file)


def _load_mask_head(file: Path, model: WeldModel, state: dict[str, Any]) -> None:
    """Give ``model`` its saved mask head.

    Raises:
        WeldsynthError: The head's weights do not fit the model's features.
    """
    try:
        model.add_mask_head().load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "shape mismatch"
        raise WeldsynthError(f"{file}: the mask head does not fit ({first[:80]})") from exc


def _check_meta(file: Path, meta: dict[str, Any]) -> None:
    """Refuse metadata that would give nan or wrong predictions, in one line.

    Raises:
        WeldsynthError: ``mean`` not a finite number, ``std`` not a finite number > 0,
            ``input_size`` not two positive integers, ``in_channels`` not a positive
            integer, or ``classes`` not two or more distinct names.
    """

    def number(value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    def positive_int(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value > 0

    mean, std, size, classes = meta["mean"], meta["std"], meta["input_size"], meta["classes"]
    problems = {
        "mean": not (number(mean) and math.isfinite(mean)),
        "std": not (number(std) and math.isfinite(std) and std > 0),
        "input_size": not (
            isinstance(size, list | tuple) and len(size) == 2 and all(map(positive_int, size))
        ),
        "in_channels": not positive_int(meta["in_channels"]),
        "classes": not (
            isinstance(classes, list | tuple)
            and len(classes) >= 2
            and all(isinstance(c, str) and c for c in classes)
            and len(set(classes)) == len(classes)
        ),
    }
    bad = [k for k, wrong in problems.items() if wrong]
    if bad:
        shown = ", ".join(f"{k}={meta[k]!r}" for k in bad)
        raise WeldsynthError(
            f"{file}: model metadata is not usable ({shown}); "
            "std must be > 0 and every value finite: retrain or use another model"
        )


def _mismatch_hint(model: WeldModel, state: dict[str, Any], meta: dict[str, Any]) -> str:
    """What differs between saved weights and the model their metadata describes."""
    stem = model.state_name(model.input_conv)
    first = state.get(f"{stem}.weight")
    linears = [m for m in model.classifier.modules() if isinstance(m, nn.Linear)]
    out = state.get(f"{model.state_name(linears[-1])}.weight") if linears else None
    notes = []
    if first is not None and first.ndim == 4 and first.shape[1] != int(meta["in_channels"]):
        notes.append(f"{stem} has {first.shape[1]} channel(s)")
    if out is not None and out.ndim == 2 and out.shape[0] != len(meta["classes"]):
        notes.append(f"the head has {out.shape[0]} outputs")
    return ": " + ", ".join(notes) if notes else ""
