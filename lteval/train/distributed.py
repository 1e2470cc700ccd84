"""Multi-process training helpers (torchrun): process group, rank checks, gathering, launching.

Under ``torchrun`` (env ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) :func:`init_distributed` starts a
process group — NCCL on CUDA, gloo on CPU — and every rank trains on its shard of each epoch; only
rank 0 writes files. ``lteval baseline run NAME --nproc N`` calls :func:`launch`, which runs
``python -m torch.distributed.run --standalone --nproc_per_node N -m lteval.train.distributed ...``;
this module's ``main`` is that per-process entry point and accepts the same options as
``lteval baseline run`` (so a user's own ``torchrun ... -m lteval.train.distributed NAME`` works too).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass

__all__ = ["DistInfo", "dist_env", "init_distributed", "is_main", "barrier", "all_gather_object",
           "broadcast_object", "cleanup", "launch", "main"]


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
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
    d = _dist()
    return d is None or d.get_rank() == 0


def barrier() -> None:
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
    d = _dist()
    if d is not None:
        d.destroy_process_group()


# ----------------------------------------------------------------------------- launching

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lteval.train.distributed",
                                description="Train a named lteval baseline in each torchrun process.")
    p.add_argument("name")
    p.add_argument("--data", default="synth")
    p.add_argument("--preset", default="smoke")
    p.add_argument("--out", default="runs")
    p.add_argument("--set", dest="sets", action="append", default=[])
    p.add_argument("--resume", action="store_true")
    p.add_argument("--force", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    return p


def launch(nproc: int, name: str, *, data: str = "synth", preset: str = "smoke", out: str = "runs",
           sets=(), resume: bool = False, force: bool = False, progress: bool = True,
           extra_env: dict | None = None) -> int:
    """Run ``name`` on ``nproc`` local processes through torchrun; return its exit code."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={int(nproc)}",
           "-m", "lteval.train.distributed", name, "--data", str(data), "--preset", preset, "--out", str(out)]
    for s in sets or ():
        cmd += ["--set", s]
    if resume:
        cmd.append("--resume")
    if force:
        cmd.append("--force")
    if not progress:
        cmd.append("--no-progress")
    env = dict(os.environ, **(extra_env or {}))
    if nproc > 1 and "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // int(nproc)))
    return subprocess.call(cmd, env=env)


def main(argv=None) -> int:
    """Per-process entry point (``torchrun ... -m lteval.train.distributed NAME [options]``)."""
    from lteval.errors import LtevalError
    from lteval.train.config import parse_set
    from lteval.train.registry import run_baseline

    a = _parser().parse_args(argv)
    try:
        run_dir = run_baseline(a.name, data=a.data, preset=a.preset, out=a.out, overrides=parse_set(a.sets),
                               resume=a.resume, force=a.force, progress=not a.no_progress)
    except LtevalError as e:
        if dist_env().is_main:
            print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    finally:
        cleanup()
    if dist_env().is_main:
        print(run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
