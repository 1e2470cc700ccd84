"""Starting multi-process training: ``lteval baseline run NAME --nproc N`` and the torchrun entry point.

:func:`launch` runs ``python -m torch.distributed.run --standalone --nproc_per_node N -m
lteval.train.launch NAME ...``; this module's :func:`main` is that per-process entry point and
accepts the same options as ``lteval baseline run`` (so a user's own ``torchrun ... -m
lteval.train.launch NAME`` works too). The collectives the processes use are
:mod:`lteval.train.distributed`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from lteval.train.distributed import cleanup, dist_env

__all__ = ["launch", "main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lteval.train.launch",
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
           "-m", "lteval.train.launch", name, "--data", str(data), "--preset", preset, "--out", str(out)]
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
    """Per-process entry point (``torchrun ... -m lteval.train.launch NAME [options]``)."""
    from lteval.errors import LtevalError
    from lteval.train.baselines import run_baseline
    from lteval.train.config import parse_set

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
