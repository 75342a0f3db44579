"""The training configuration: every knob of ``weldsynth train``, validated and serialisable.

The resolved configuration (defaults filled in, decisions taken at run time such as the
precision or whether pretrained weights were found) is written next to each model as
``config.json``, so a run can be understood and repeated from its folder alone.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from weldsynth.core.errors import WeldsynthError
from weldsynth.train.models import list_models

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
AUTO_ARCH = "auto"
"""``--arch auto``: resnet18 when its ImageNet weights can be had, else weldnet."""
BALANCES = ("none", "weights", "sampler")
DEFAULT_SIZE = (128, 352)
"""Input (height, width): the seed's native scan size, so nothing is lost by resizing."""
DEFAULT_AUGMENT = "hflip,vflip,rotate=5"
AUGMENT_FLAGS = ("hflip", "vflip")
"""``--augment`` terms without a value."""
AUGMENT_VALUES = {"dropout": (0.0, 1.0, 0.02), "rotate": (0.0, 180.0, 5.0)}
"""``--augment`` terms with a value: name -> (lowest, highest, default)."""
AUGMENT_FILES = (".json", ".yaml", ".yml")
MAX_THREADS = 1024
"""Most torch threads ``--threads`` accepts."""
MAX_MASK_LOSS = 100.0
"""Largest ``--mask-loss`` weight accepted."""
AUTO = "auto"
AUTO_MASK_WEIGHT = 1.0
"""``--mask-loss auto`` (the default): this weight on data sets with defect masks, where it
lowered the validation + test error at every size of ``bench/results/masks.json``."""
AUTO_CAM_WEIGHT = 0.0
"""``--cam-loss auto`` (the default): this weight on data sets with defect masks. Off: in
``bench/results/masks.json``'s ``mask_cam`` rows the CAM loss lifted CAM-in-mask to 65-78 %
but kept validation + test error at or below the mask loss's alone on one of four rows."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run.

    Attributes:
        arch: A registered architecture (:func:`weldsynth.train.models.list_models`), or
            "auto" (:func:`weldsynth.train.choice.choose_model` decides before training).
        epochs: Epochs with every layer trainable (after ``freeze_epochs`` head-only epochs).
        freeze_epochs: Epochs training only the new head (body frozen, BatchNorm trainable).
            Forced to 0 when the body is not pretrained: freezing random layers helps nothing.
        batch_size: Images per optimisation step.
        lr: Base learning rate (the head's peak rate of the one-cycle schedule).
        weight_decay: AdamW weight decay.
        seed: Seed of model initialisation, shuffling, sampling and augmentation.
        split_seed: Seed of the train/val split when one has to be drawn (kept apart from
            ``seed`` so that models trained with different seeds share one validation set).
        val_pct: Fraction of images (grouped by source) put in validation when drawing a split.
        weights: "imagenet", "none" or a file path.
        size: Input (height, width); images are resized keeping their aspect and zero-padded.
        augment: Albumentations spec: "none", a comma list of ``hflip``, ``vflip``,
            ``rotate=DEG``, ``dropout=P``, or a ``.json``/``.yaml`` file written by ``A.save``.
        balance: "none", "weights" (class-weighted loss) or "sampler" (weighted sampling).
        patience: Early stopping after this many epochs without a better validation
            result (0: off).
        by_defect: One class per ``bad-<defect>`` instead of a single "bad".
        precision: "auto" (mixed precision where the device runs it well, see
            :mod:`weldsynth.train.device`), "bf16", "fp16" or "fp32".
        channels_last: Use the channels-last memory format (faster convolutions).
        threads: Torch intra-op threads (0: torch's default).
        track: "" or "mlflow".
        tracking_uri: MLflow store ("" : ``./mlruns``).
        device: "auto", "cpu", "cuda", "cuda:N" or "mps" (:mod:`weldsynth.train.device`).
        compile: Compile the model with ``torch.compile`` (eager when it cannot).
        cache_gb: Decoded images kept in RAM up to this many GB, else memory-mapped on
            disk (:mod:`weldsynth.train.cache`); 0: a share of the free memory.
        offline: Never download weights (also ``WELDSYNTH_OFFLINE=1``).
        mask_loss: Weight of the auxiliary mask loss (a segmentation head trained on the
            defect masks, :mod:`weldsynth.train.masks`); 0: off; "auto":
            :data:`AUTO_MASK_WEIGHT` on data sets with masks, off (silently) on others. Data
            sets without masks train without it (one warning line when a weight was given).
        cam_loss: Weight of the class-activation loss: the share of the true class's
            activation map outside the defect mask (:func:`weldsynth.train.masks.cam_loss`)
            on bad images with a mask; 0: off; "auto": :data:`AUTO_CAM_WEIGHT` on data sets
            with masks. Like ``mask_loss``, ignored on data sets without masks.
    """

    arch: str = "resnet18"
    epochs: int = 10
    freeze_epochs: int = 1
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.01
    seed: int = 42
    split_seed: int = 42
    val_pct: float = 0.2
    weights: str = "imagenet"
    size: tuple[int, int] = DEFAULT_SIZE
    augment: str = DEFAULT_AUGMENT
    balance: str = "none"
    patience: int = 0
    by_defect: bool = False
    precision: str = "auto"
    channels_last: bool = True
    threads: int = 0
    track: str = ""
    tracking_uri: str = ""
    device: str = "auto"
    compile: bool = False
    cache_gb: float = 0.0
    offline: bool = False
    mask_loss: float | str = AUTO
    cam_loss: float | str = AUTO

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", tuple(int(v) for v in self.size))
        problems = []
        if self.arch != AUTO_ARCH and self.arch not in list_models():
            problems.append(f"arch={self.arch!r} (choose {', '.join(list_models())})")
        if self.epochs < 1:
            problems.append(f"epochs={self.epochs} (at least 1)")
        if self.freeze_epochs < 0:
            problems.append(f"freeze_epochs={self.freeze_epochs} (0 or more)")
        if self.batch_size < 2:
            problems.append(f"batch_size={self.batch_size} (at least 2, BatchNorm needs it)")
        if not self.lr > 0:
            problems.append(f"lr={self.lr} (must be > 0)")
        if not 0 < self.val_pct < 1:
            problems.append(f"val_pct={self.val_pct} (between 0 and 1)")
        if len(self.size) != 2 or min(self.size) < 16:
            problems.append(f"size={self.size} (height and width of at least 16 px)")
        if self.balance not in BALANCES:
            problems.append(f"balance={self.balance!r} (choose {', '.join(BALANCES)})")
        if self.precision not in PRECISIONS:
            problems.append(f"precision={self.precision!r} (choose {', '.join(PRECISIONS)})")
        if self.track not in ("", "mlflow"):
            problems.append(f"track={self.track!r} (only 'mlflow')")
        if self.patience < 0:
            problems.append(f"patience must be 0 or more (got {self.patience})")
        if not self.cache_gb >= 0:
            problems.append(f"cache_gb must be 0 or more (got {self.cache_gb})")
        for name in ("mask_loss", "cam_loss"):
            value = getattr(self, name)
            if value != AUTO and not (
                isinstance(value, int | float) and 0 <= value <= MAX_MASK_LOSS
            ):  # also nan
                problems.append(f"{name} must be auto or in [0, {MAX_MASK_LOSS:g}] (got {value!r})")
        if not 0 <= self.threads <= MAX_THREADS:
            problems.append(f"threads must be in [0, {MAX_THREADS}] (got {self.threads})")
        if problems:
            raise WeldsynthError("invalid training setting: " + "; ".join(problems))
        parse_augment(self.augment)  # its own message: --augment: dropout must be in ...
        if self.track:
            check_tracking_uri(self.tracking_uri)

    @property
    def mask_weight(self) -> float:
        """The mask loss's weight: :data:`AUTO_MASK_WEIGHT` for "auto", else ``mask_loss``."""
        return AUTO_MASK_WEIGHT if self.mask_loss == AUTO else float(self.mask_loss)

    @property
    def cam_weight(self) -> float:
        """The CAM loss's weight: :data:`AUTO_CAM_WEIGHT` for "auto", else ``cam_loss``."""
        return AUTO_CAM_WEIGHT if self.cam_loss == AUTO else float(self.cam_loss)

    @property
    def guided(self) -> bool:
        """True when a mask-guided loss (mask head or CAM) asks for the defect masks."""
        return self.mask_weight > 0 or self.cam_weight > 0

    @property
    def total_epochs(self) -> int:
        """Head-only plus full epochs."""
        return self.freeze_epochs + self.epochs

    def with_(self, **changes: Any) -> TrainConfig:
        """A validated copy with some fields changed."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (``size`` as a list)."""
        data = asdict(self)
        data["size"] = list(self.size)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are refused."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise WeldsynthError(f"unknown training setting(s): {', '.join(unknown)}")
        values = dict(data)
        if "size" in values:
            values["size"] = tuple(values["size"])
        return cls(**values)

    def write(self, path: Path, extra: dict[str, Any] | None = None) -> Path:
        """Write the resolved configuration as JSON, atomically."""
        from weldsynth.core.atomic import atomic_write_bytes

        payload = {**self.to_dict(), **(extra or {})}
        return atomic_write_bytes(path, (json.dumps(payload, indent=2) + "\n").encode())


def parse_augment(spec: str) -> Path | list[tuple[str, float | None]] | None:
    """Check and parse an ``--augment`` spec before any work (no albumentations import).

    Returns:
        None for "none"; the pipeline file for a ``.json``/``.yaml`` spec; else the terms in
        order as (name, value), value None for a flip.

    Raises:
        WeldsynthError: An unknown term, a value out of its range (the message gives the
            range), a flip with a value, or a pipeline file that does not exist.
    """
    text = spec.strip()
    if text.lower() in ("", "none"):
        return None
    if text.lower().endswith(AUGMENT_FILES):
        if not Path(text).is_file():
            raise WeldsynthError(f"--augment {text}: pipeline file not found")
        return Path(text)
    terms: list[tuple[str, float | None]] = []
    for term in (t.strip() for t in text.split(",") if t.strip()):
        name, has_value, value = term.partition("=")
        if name in AUGMENT_FLAGS and not has_value:
            terms.append((name, None))
        elif name in AUGMENT_FLAGS:
            raise WeldsynthError(f"--augment: {name} takes no value (got {term!r})")
        elif name in AUGMENT_VALUES:
            terms.append((name, _augment_value(name, value)))
        else:
            raise WeldsynthError(
                f"--augment: unknown term {term!r} (use hflip, vflip, "
                "rotate=DEG, dropout=P, none, or an albumentations "
                ".json/.yaml file)"
            )
    return terms


def _augment_value(name: str, text: str) -> float:
    """The value of ``name=text``, checked against :data:`AUGMENT_VALUES`."""
    low, high, default = AUGMENT_VALUES[name]
    span = f"[{low:g}, {high:g}]"
    if not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        raise WeldsynthError(
            f"--augment: {name} must be a number in {span} (got {text!r})"
        ) from None
    if not low <= value <= high:  # also nan
        raise WeldsynthError(f"--augment: {name} must be in {span} (got {value:g})")
    return value


def check_tracking_uri(uri: str) -> None:
    """Check an MLflow ``--tracking-uri`` before any work: a folder, or a URI of a store
    MLflow knows.

    Raises:
        WeldsynthError: A URI with a scheme MLflow has no store for, or without a location.
    """
    if uri.lower() == "databricks" or uri.lower().startswith("databricks://"):
        return
    if "://" not in uri and not uri.startswith(TRACKING_SCHEMES):
        return  # a folder (created when the first run is tracked)
    scheme, _, rest = uri.partition(":")
    if scheme.lower().split("+")[0] not in TRACKING_STORES or not rest.strip("/"):
        raise WeldsynthError(
            f"--tracking-uri {uri}: not an MLflow store (use a folder, sqlite:///FILE.db, "
            "file:///FOLDER, http(s)://HOST[:PORT], postgresql://..., mysql://... or "
            "databricks)"
        )


TRACKING_STORES = (
    "file",
    "sqlite",
    "http",
    "https",
    "databricks",
    "postgresql",
    "mysql",
    "mssql",
)
"""URI schemes of MLflow tracking stores (a ``+driver`` suffix is allowed)."""
TRACKING_SCHEMES = tuple(f"{s}:" for s in ("sqlite", "file", "http", "https"))


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``HxW`` (``128x352``) or ``N`` (square) into (height, width).

    Raises:
        WeldsynthError: The text is not of that form.
    """
    parts = text.lower().replace(" ", "").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 16:
        raise WeldsynthError(
            f"--size {text!r}: expected HEIGHTxWIDTH such as 128x352, each at least 16"
        )
    return values[0], values[1]
