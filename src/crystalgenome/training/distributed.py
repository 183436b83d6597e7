"""Data-parallel training of one model across processes with PyTorch DDP, launched by ``torchrun``.

``torchrun`` starts one process (rank) per GPU or CPU slot and describes it in the environment variables
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``. :func:`distributed_session`
reads them, joins the process group (``nccl`` when training on CUDA, ``gloo`` on CPU) and yields a
:class:`DistributedContext` that :func:`~crystalgenome.training.train` uses to:

- draw the same seeded permutation and augmentation of every global batch of ``batch_size`` samples on
  every rank, and train each rank on its own slice of it (``batch_size // world_size`` samples), so the
  global batch, data order and rotations are those of the one-process run;
- average gradients across ranks (:class:`torch.nn.parallel.DistributedDataParallel`);
- let rank 0 alone validate, write the run folder and show progress, and broadcast its best-epoch and
  early-stopping state so that every rank stops at the same epoch.

Outside ``torchrun`` (no ``RANK``/``WORLD_SIZE`` in the environment) nothing changes: the session
yields None and training runs in one process. See docs/distributed.md for the commands.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from crystalgenome.training.devices import resolve_device

T = TypeVar("T")

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
"""Environment variables set by ``torchrun`` for each process it starts."""


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in a data-parallel run (the process group must be initialised to use it).

    Attributes:
        rank: global rank, 0 … world_size - 1; rank 0 writes the run folder.
        world_size: number of processes.
        local_rank: rank on this node (selects the GPU ``cuda:local_rank``).
        backend: ``"gloo"`` (CPU) or ``"nccl"`` (CUDA).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = "gloo"

    @property
    def is_main(self) -> bool:
        """True on rank 0, the only rank that writes files and shows progress."""
        return self.rank == 0

    @property
    def collective_device(self) -> torch.device:
        """Where tensors for collectives live: the rank's GPU for nccl, the CPU for gloo."""
        return torch.device("cuda", self.local_rank) if self.backend == "nccl" else torch.device("cpu")

    def describe(self) -> dict[str, Any]:
        """What run metadata records about the distribution."""
        return {"world_size": self.world_size, "backend": self.backend}

    def rank_device(self, device: torch.device) -> torch.device:
        """The device this rank trains on: ``cuda:local_rank`` for CUDA, else ``device`` unchanged."""
        return torch.device("cuda", self.local_rank) if device.type == "cuda" else device

    def check_batch_size(self, batch_size: int) -> None:
        """Each rank needs at least 2 samples of every global batch (BatchNorm statistics)."""
        if batch_size // self.world_size < 2:
            raise ValueError(
                f"batch_size {batch_size} is too small for {self.world_size} processes: "
                f"each needs batch_size // world_size >= 2 samples"
            )

    def wrap(self, model: nn.Module) -> nn.Module:
        """``model`` in DistributedDataParallel (gradients averaged over ranks; rank 0's buffers used)."""
        from torch.nn.parallel import DistributedDataParallel

        device = next(model.parameters()).device
        device_ids = [device] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=device_ids)

    def shard(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """This rank's contiguous slice (along dim 0) of each tensor of a global batch.

        Slices differ in size by at most one sample when the batch does not divide evenly.
        """
        return tuple(tensor.tensor_split(self.world_size)[self.rank] for tensor in tensors)

    def sum(self, *values: float) -> tuple[float, ...]:
        """The sums over ranks of some numbers (float64; integers up to 2**53 stay exact)."""
        tensor = torch.tensor(values, dtype=torch.float64, device=self.collective_device)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tuple(tensor.cpu().tolist())

    def broadcast(self, value: T) -> T:
        """Rank 0's ``value`` (any picklable object), on every rank."""
        holder = [value]
        dist.broadcast_object_list(holder, src=0, device=self.collective_device)
        return holder[0]

    def barrier(self) -> None:
        """Wait until every rank reaches this point."""
        if self.backend == "nccl":
            dist.barrier(device_ids=[self.local_rank])
        else:
            dist.barrier()

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        """Run the block on rank 0 first, then on the other ranks (e.g. to fill a cache once)."""
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()


def main_first(context: DistributedContext | None) -> contextlib.AbstractContextManager[None]:
    """:meth:`DistributedContext.main_first`, or a no-op when not distributed."""
    return contextlib.nullcontext() if context is None else context.main_first()


def is_main(context: DistributedContext | None) -> bool:
    """True outside a distributed run and on its rank 0."""
    return context is None or context.is_main


def launched_by_torchrun() -> bool:
    """True when ``torchrun`` (or ``python -m torch.distributed.run``) started this process."""
    return all(name in os.environ for name in ("RANK", "WORLD_SIZE"))


def context_from_environment(device: str = "cpu") -> DistributedContext | None:
    """The context ``torchrun`` describes in the environment, or None outside ``torchrun``.

    Args:
        device: the training device (``"cpu"``, ``"cuda"``, ``"auto"``): picks nccl for CUDA, gloo for CPU.
    """
    if not launched_by_torchrun():
        return None
    backend = "nccl" if resolve_device(device).type == "cuda" else "gloo"
    return DistributedContext(
        rank=int(os.environ["RANK"]),
        world_size=int(os.environ["WORLD_SIZE"]),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        backend=backend,
    )


@contextlib.contextmanager
def distributed_session(device: str = "cpu") -> Iterator[DistributedContext | None]:
    """Join the process group for the block when run under ``torchrun``; yield None otherwise.

    Initialises the default process group (nccl on CUDA, gloo on CPU; rendezvous through
    ``MASTER_ADDR``/``MASTER_PORT``) unless the caller already did, waits for every rank at the end
    of a successful block and destroys the group it created.

    Args:
        device: the training device (``"cpu"``, ``"cuda"``, ``"auto"``).
    """
    context = context_from_environment(device)
    if context is None:
        yield None
        return
    owns_group = not dist.is_initialized()
    if owns_group:
        device_id = None
        if context.backend == "nccl":
            torch.cuda.set_device(context.local_rank)
            device_id = context.collective_device
        dist.init_process_group(
            backend=context.backend, rank=context.rank, world_size=context.world_size, device_id=device_id
        )
    try:
        yield context
        context.barrier()
    finally:
        if owns_group:
            dist.destroy_process_group()
