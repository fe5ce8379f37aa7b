"""Data-parallel training: one process per device, launched by ``torchrun``.

``torchrun --nproc_per_node N -m vaestudio.cli train RECIPE.toml`` sets RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; :func:`setup` reads them
and joins the group (gloo on CPU, nccl on CUDA). Each rank reads its share of
the deterministic data order (``DeterministicSampler``), the model is wrapped
in DistributedDataParallel, and only rank 0 writes files.

Why ``broadcast_buffers=False``: the VQ-VAE's EMA codebook lives in buffers
that the quantizer updates inside ``forward`` from per-code counts and sums
that it all-reduces itself (``code_stats`` -> all_reduce -> ``ema_update_``),
so every rank already computes the same codebook. DDP's default would, at the
start of each forward, overwrite every rank's buffers with rank 0's: a second,
redundant synchronisation per step that would also hide any disagreement
between ranks (a revival that picked different vectors on two ranks would be
papered over on rank 0's terms instead of showing up), and it writes in place
into buffers that the previous graph may have saved. Buffers that are not
EMA state (e.g. usage counters) are per-rank by design.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Sampler

from vaestudio.common.batch import Batch
from vaestudio.models.base import StudioModel, TrainingOutput


@dataclasses.dataclass
class DistributedContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = dataclasses.field(default_factory=lambda: torch.device("cpu"))
    owns_group: bool = False  # whether setup() created the process group (and cleanup() should end it)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def choose_device(preference: str, local_rank: int = 0) -> torch.device:
    if preference == "cpu" or (preference == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError("training.device = 'cuda' but no CUDA device is visible; use device = 'auto' or 'cpu'")
    return torch.device("cuda", local_rank % torch.cuda.device_count())


def setup(device_preference: str = "auto") -> DistributedContext:
    """Joins the process group that torchrun describes in the environment (or none, for one process)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    device = choose_device(device_preference, local_rank)
    if world_size <= 1:
        return DistributedContext(device=device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    owns_group = not dist.is_initialized()
    if owns_group:
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size,
                                timeout=datetime.timedelta(minutes=30))
    return DistributedContext(rank, world_size, local_rank, device, owns_group)


def cleanup(context: DistributedContext) -> None:
    if context.owns_group and dist.is_initialized():
        dist.destroy_process_group()


class LossModule(nn.Module):
    """Adapts ``training_loss`` to ``forward``, the call DistributedDataParallel hooks its gradient sync into."""

    def __init__(self, model: StudioModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        output: TrainingOutput = self.model.training_loss(batch)
        return output.loss, output.logs


def wrap(model: StudioModel, context: DistributedContext) -> nn.Module:
    """The module the training step calls: DDP around the loss when distributed, the plain loss otherwise."""
    loss_module = LossModule(model)
    if not context.enabled:
        return loss_module
    device_ids = [context.device.index] if context.device.type == "cuda" else None
    # broadcast_buffers=False: see the module docstring (the quantizer all-reduces its own EMA statistics).
    return nn.parallel.DistributedDataParallel(loss_module, device_ids=device_ids, broadcast_buffers=False)


def all_gather_objects(value: Any, context: DistributedContext) -> list[Any]:
    if not context.enabled:
        return [value]
    gathered: list[Any] = [None] * context.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def mean_over_ranks(values: dict[str, float], context: DistributedContext) -> dict[str, float]:
    """Averages logged numbers over the ranks (one all-reduce for all of them)."""
    if not context.enabled or not values:
        return values
    names = sorted(values)
    packed = torch.tensor([float(values[name]) for name in names], dtype=torch.float64)  # (len(names),)
    if context.device.type == "cuda":
        packed = packed.to(context.device)
    dist.all_reduce(packed)
    return {name: float(value) / context.world_size for name, value in zip(names, packed.tolist())}


def barrier(context: DistributedContext) -> None:
    if context.enabled:
        dist.barrier()


class DeterministicSampler(Sampler[int]):
    """The data order as a function of (seed, epoch) alone, split over ranks, resumable mid-epoch.

    Epoch e's order is ``randperm(n)`` from a generator seeded with ``seed + e``
    (or 0..n-1 without shuffling). Rank r of R takes every R-th index starting
    at r, so one process with batch B and R processes with batch B/R see the
    same global batches. ``set_position(epoch, start)`` skips this rank's first
    ``start`` indices, which is how a resumed run picks up where it stopped.
    The tail that does not fill a whole global batch is dropped.
    """

    def __init__(self, num_items: int, global_batch_size: int, seed: int, shuffle: bool = True,
                 rank: int = 0, world_size: int = 1) -> None:
        if global_batch_size % world_size:
            raise ValueError(f"batch_size {global_batch_size} does not split over {world_size} processes")
        self.num_items = num_items
        self.global_batch_size = global_batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.start = 0
        self.batches_per_epoch = num_items // global_batch_size
        if self.batches_per_epoch == 0:
            raise ValueError(f"the data has {num_items} images, fewer than one batch of {global_batch_size}")

    @property
    def per_rank_batch_size(self) -> int:
        return self.global_batch_size // self.world_size

    def set_position(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def order(self) -> list[int]:
        """The global order of this epoch, cut to whole global batches."""
        used = self.batches_per_epoch * self.global_batch_size
        if not self.shuffle:
            return list(range(used))
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return torch.randperm(self.num_items, generator=generator)[:used].tolist()

    def __iter__(self) -> Iterator[int]:
        mine = self.order()[self.rank :: self.world_size]
        return iter(mine[self.start :])

    def __len__(self) -> int:
        return self.batches_per_epoch * self.per_rank_batch_size - self.start

