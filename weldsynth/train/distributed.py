"""Data-parallel training of one topology under ``torchrun`` (DistributedDataParallel).

``torchrun --nproc-per-node 2 -m weldsynth train DATA --topology 7 --out runs/t7`` starts
two processes; each joins the process group (gloo on CPU, nccl when CUDA is available),
decodes the topology, builds the same model from the same seed and trains it on its own
shard of every epoch (:class:`torch.utils.data.DistributedSampler` order); DDP averages the
gradients, so the weights stay identical everywhere. Validation runs whole in every
process, so all take the same decisions (best epoch, early stop). Rank 0 writes the run
folder exactly as a one-process run does; the other ranks write to a scratch folder that
is deleted. ``--batch-size`` is per process: the global batch is ``world_size`` times it.
"""

from __future__ import annotations

import inspect
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from weldsynth.train.images import Batches


@dataclass
class Distributed:
    """This process's place in a torchrun job.

    Attributes:
        rank: Global rank (0 writes the outputs).
        world_size: Number of processes.
        local_rank: Rank on this node (picks the GPU).
        backend: "gloo" or "nccl".
        device: Where the model and batches live.
    """

    rank: int
    world_size: int
    local_rank: int = 0
    backend: str = "gloo"
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    scratch_dir: Path | None = None

    @property
    def is_writer(self) -> bool:
        """Whether this process writes the outputs (rank 0)."""
        return self.rank == 0

    def describe(self) -> dict[str, Any]:
        """What goes into ``config.json`` under ``distributed``."""
        return {
            "world_size": self.world_size,
            "backend": self.backend,
            "device": self.device.type,
            "batch_size": "per process",
        }

    def scratch(self) -> Path:
        """A private output folder for a rank that is not the writer (deleted by close)."""
        if self.scratch_dir is None:
            self.scratch_dir = Path(tempfile.mkdtemp(prefix=f"weldsynth-rank{self.rank}-"))
        return self.scratch_dir

    def batches(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        batch_size: int,
        mean: float,
        std: float,
        *,
        shuffle_seed: int | None = None,
        augment=None,
        sample_weights: np.ndarray | None = None,
        channels_last: bool = False,
    ) -> ShardedBatches:
        """Training batches of this rank's shard (same arguments as :class:`Batches`)."""
        if augment is not None and hasattr(augment, "set_random_seed"):
            seed = int(np.random.SeedSequence([shuffle_seed or 0, self.rank]).generate_state(1)[0])
            augment.set_random_seed(seed)  # each rank its own augmentation stream
        return ShardedBatches(
            images,
            labels,
            batch_size,
            mean,
            std,
            rank=self.rank,
            world_size=self.world_size,
            shuffle_seed=shuffle_seed,
            augment=augment,
            sample_weights=sample_weights,
            channels_last=channels_last,
            device=self.device,
        )

    def on_device(self, batches: Batches):
        """``batches`` yielding tensors on this rank's device (itself on CPU)."""
        if self.device.type == "cpu":
            return batches
        if isinstance(batches, Batches):
            batches.device = self.device  # gathered on the CPU, pinned, copied async
            return batches
        return OnDevice(batches, self.device)

    def wrap(self, model: torch.nn.Module, find_unused: bool = False) -> torch.nn.Module:
        """Move ``model`` to the device (in place) and wrap it in DDP.

        Args:
            model: The network, identical in every process.
            find_unused: Let DDP skip parameters without gradients (a frozen body).
        """
        from torch.nn.parallel import DistributedDataParallel

        model.to(self.device)
        ids = [self.device.index] if self.device.type == "cuda" else None
        # no buffer sync in forward: every rank re-estimates BatchNorm statistics on the
        # same calibration batches after each epoch (torch >= 2.14 renamed the switch)
        params = inspect.signature(DistributedDataParallel).parameters
        sync = (
            {"forward_sync_buffers": False}
            if "forward_sync_buffers" in params
            else {"broadcast_buffers": False}
        )
        return DistributedDataParallel(
            model, device_ids=ids, find_unused_parameters=find_unused, **sync
        )

    def mean(self, value: float) -> float:
        """The mean of ``value`` over all processes (every process must call it)."""
        import torch.distributed as dist

        t = torch.tensor(
            [float(value)],
            dtype=torch.float64 if self.device.type == "cpu" else torch.float32,
            device=self.device,
        )
        dist.all_reduce(t)
        return float(t.item()) / self.world_size

    def reduce_epoch(self, record):
        """An epoch record whose ``train_loss`` is the mean over all processes' shards."""
        from dataclasses import replace

        return replace(record, train_loss=self.mean(record.train_loss))

    def close(self) -> None:
        """Leave the process group and delete the scratch folder."""
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        if self.scratch_dir is not None:
            shutil.rmtree(self.scratch_dir, ignore_errors=True)
            self.scratch_dir = None


def launched() -> bool:
    """Whether this process was started by torchrun (``WORLD_SIZE`` and ``RANK`` set)."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def from_env(device: str = "auto") -> Distributed | None:
    """Join the torchrun job this process belongs to, or None when not under torchrun.

    Call it once (the ``train`` command does) and pass the result down to the trainer;
    nothing here remembers it. The backend is nccl when CUDA is available (each process on
    GPU ``LOCAL_RANK``), gloo otherwise; ``--device cpu`` or ``CUDA_VISIBLE_DEVICES=""``
    forces CPU.
    """
    if not launched():
        return None
    import torch.distributed as dist

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    if torch.cuda.is_available() and device.strip().lower() != "cpu":
        backend, where = "nccl", torch.device("cuda", local % torch.cuda.device_count())
        torch.cuda.set_device(where)
    else:
        backend, where = "gloo", torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return Distributed(rank=rank, world_size=world, local_rank=local, backend=backend, device=where)


class ShardedBatches(Batches):
    """:class:`Batches` over one rank's shard of each epoch.

    The epoch order is :class:`~torch.utils.data.DistributedSampler`'s (seeded with
    ``shuffle_seed``, re-drawn every epoch): every rank gets the same number of images
    (the sampler repeats a few to even them out), so all ranks take the same number of
    steps. With ``sample_weights`` each rank draws its share with replacement from its own
    stream.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        batch_size: int,
        mean: float,
        std: float,
        *,
        rank: int,
        world_size: int,
        shuffle_seed: int | None = None,
        augment=None,
        sample_weights: np.ndarray | None = None,
        channels_last: bool = False,
        device: torch.device | None = None,
    ) -> None:
        from torch.utils.data import DistributedSampler

        seed = 0 if shuffle_seed is None else int(shuffle_seed)
        super().__init__(
            images,
            labels,
            batch_size,
            mean,
            std,
            shuffle_seed=seed,
            augment=augment,
            sample_weights=sample_weights,
            channels_last=channels_last,
            device=device,
        )
        self.sampler = DistributedSampler(
            range(len(images)), num_replicas=world_size, rank=rank, shuffle=True, seed=seed
        )
        if sample_weights is not None:
            ss = np.random.SeedSequence([seed, rank])
            self.generator = torch.Generator().manual_seed(int(ss.generate_state(1)[0]))
        self.epoch = 0

    def __len__(self) -> int:
        full, rest = divmod(self.sampler.num_samples, self.batch_size)
        return full + (1 if rest >= 2 else 0)

    def order(self) -> np.ndarray:
        """This rank's indices for the next epoch."""
        n = self.sampler.num_samples
        if self.sample_weights is not None:
            w = torch.as_tensor(self.sample_weights, dtype=torch.float64)
            return torch.multinomial(w, n, replacement=True, generator=self.generator).numpy()
        self.sampler.set_epoch(self.epoch)
        self.epoch += 1
        return np.fromiter(iter(self.sampler), dtype=np.int64, count=n)


class OnDevice:
    """Batches moved to a device (validation and calibration batches on a GPU)."""

    def __init__(self, batches: Batches, device: torch.device) -> None:
        self.batches, self.device = batches, device
        self.labels = batches.labels

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        for x, y in self.batches:
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
