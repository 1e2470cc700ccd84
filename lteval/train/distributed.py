"""Collectives of multi-process training (torchrun): process group, rank checks, barrier, gathering.

Under ``torchrun`` (env ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) :func:`init_distributed` starts a
process group — NCCL on CUDA, gloo on CPU — and every rank trains on its shard of each epoch; only
rank 0 writes files. Without a process group every function here is a single-process no-op.
Starting the processes is :mod:`lteval.train.launch`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["DistInfo", "dist_env", "init_distributed", "is_main", "barrier", "all_gather_object",
           "broadcast_object", "cleanup"]


@dataclass(frozen=True)
class DistInfo:
    """This process's ``rank`` (0-based), the number of processes ``world_size`` and its ``local_rank``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """Whether more than one process trains."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0 (the process that writes files)."""
        return self.rank == 0


def dist_env() -> DistInfo:
    """Rank, world size and local rank from the torchrun environment (1 process when unset)."""
    def geti(k, d):
        try:
            return int(os.environ.get(k, d))
        except ValueError:
            return d
    return DistInfo(geti("RANK", 0), geti("WORLD_SIZE", 1), geti("LOCAL_RANK", 0))


def _dist():
    import torch.distributed as dist
    return dist if dist.is_available() and dist.is_initialized() else None


def init_distributed() -> DistInfo:
    """Start the process group when running under torchrun with more than one process."""
    info = dist_env()
    if not info.enabled or _dist() is not None:
        return info
    import datetime

    import torch
    import torch.distributed as dist
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(info.local_rank)
    dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=30))
    return info


def is_main() -> bool:
    """Whether this process is rank 0 of the process group (True without one)."""
    d = _dist()
    return d is None or d.get_rank() == 0


def barrier() -> None:
    """Wait for every rank (a no-op without a process group)."""
    d = _dist()
    if d is not None:
        d.barrier()


def all_gather_object(obj) -> list:
    """Every rank's ``obj`` (a list indexed by rank); ``[obj]`` without a process group."""
    d = _dist()
    if d is None:
        return [obj]
    out = [None] * d.get_world_size()
    d.all_gather_object(out, obj)
    return out


def broadcast_object(obj, src: int = 0):
    """Rank ``src``'s ``obj`` on every rank."""
    d = _dist()
    if d is None:
        return obj
    box = [obj]
    d.broadcast_object_list(box, src=src)
    return box[0]


def cleanup() -> None:
    """End the process group, if one was started."""
    d = _dist()
    if d is not None:
        d.destroy_process_group()
