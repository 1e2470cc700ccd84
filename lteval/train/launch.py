"""Starting multi-process training: ``lteval baseline run NAME --nproc P [--nnodes N ...]`` and the
torchrun entry point.

:func:`launch` runs torchrun (``torch.distributed.run``, through :func:`torchrun_quietly`, which
drops torchrun's own traceback when a process fails and keeps that process's exit code) with ``--standalone --nproc_per_node P``
(one machine) or, across machines, ``--nnodes N --node-rank R --rdzv-backend c10d --rdzv-endpoint
HOST:PORT --rdzv-id ID`` (torch's elastic rendezvous), then ``-m lteval.train.launch NAME ...``.
This module's :func:`main` is that per-process entry point and accepts the same options as
``lteval baseline run`` (so a user's own ``torchrun ... -m lteval.train.launch NAME`` works too).
The collectives the processes use are :mod:`lteval.train.distributed`.

The c10d rendezvous numbers the processes itself (torch ignores ``--node-rank`` with it and says
so): global rank 0 — the one process that writes — runs on the node the rendezvous numbers 0
(``GROUP_RANK=0``), which need not be the one started with ``--node-rank 0``; it names its host.
Every process reads the run directory, so ``--out`` must be a folder every node sees (shared
disk); :func:`main` checks this before training, and that every process was started with the same
config, and makes the synthetic set on each node in turn.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from lteval.errors import UsageError
from lteval.train.distributed import cleanup, dist_env

__all__ = ["launch", "main", "check_multinode"]


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


def check_multinode(nnodes: int, node_rank: int, rdzv_endpoint: str | None) -> str | None:
    """Validate ``--nnodes N --node-rank R --rdzv-endpoint HOST:PORT``; return the endpoint (None on one
    node without one). UsageError (exit code 2) on a bad combination."""
    if nnodes < 1:
        raise UsageError(f"--nnodes {nnodes}: must be at least 1")
    if not 0 <= node_rank < nnodes:
        raise UsageError(f"--node-rank {node_rank}: must be between 0 and --nnodes - 1 = {nnodes - 1}")
    if rdzv_endpoint is None:
        if nnodes > 1:
            raise UsageError(f"--nnodes {nnodes} needs --rdzv-endpoint HOST:PORT (node 0's address and a free "
                             "port, the same on every node)")
        return None
    host, sep, port = rdzv_endpoint.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--rdzv-endpoint {rdzv_endpoint!r}: expected HOST:PORT with a port number, "
                         "e.g. 10.0.0.1:29400")
    return rdzv_endpoint


#: ``python -c`` program: torchrun (``torch.distributed.run``) through :func:`torchrun_quietly`.
_TORCHRUN = "import sys; from lteval.train.launch import torchrun_quietly; sys.exit(torchrun_quietly(sys.argv[1:]))"


def torchrun_quietly(argv: list[str]) -> int:
    """Run torchrun with ``argv``; return 0, or the exit code of the first process that failed.

    torchrun itself reports a failed process with a Python traceback and a ``ChildFailedError``
    box. The processes have already printed what went wrong (an lteval error is one line), so
    that report is dropped; the exit code of the failed process is kept (2 for a usage error)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main

    try:
        main(argv)
    except ChildFailedError as e:
        _, failure = e.get_first_failure()
        return int(failure.exitcode) if failure.exitcode and failure.exitcode > 0 else 1
    return 0


def launch(nproc: int, name: str, *, data: str = "synth", preset: str = "smoke", out: str = "runs",
           sets=(), resume: bool = False, force: bool = False, progress: bool = True,
           nnodes: int = 1, node_rank: int = 0, rdzv_endpoint: str | None = None, rdzv_id: str = "lteval",
           extra_env: dict | None = None) -> int:
    """Run ``name`` on ``nproc`` processes of this machine through torchrun — alone (``--standalone``)
    or as node ``node_rank`` of ``nnodes`` meeting at ``rdzv_endpoint`` (c10d rendezvous ``rdzv_id``,
    the same on every node: a fixed one, so nodes started with different options still meet and
    :func:`main` says so, instead of waiting for each other); return torchrun's exit code."""
    endpoint = check_multinode(nnodes, node_rank, rdzv_endpoint)
    cmd = [sys.executable, "-c", _TORCHRUN, f"--nproc_per_node={int(nproc)}"]
    if endpoint is None:
        cmd.append("--standalone")
    else:
        cmd += [f"--nnodes={int(nnodes)}", f"--node-rank={int(node_rank)}", "--rdzv-backend=c10d",
                f"--rdzv-endpoint={endpoint}", f"--rdzv-id={rdzv_id}"]
    cmd += ["-m", "lteval.train.launch", name, "--data", str(data), "--preset", preset, "--out", str(out)]
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


def _check_same_run(a, cfg) -> None:
    """Every process must train the same config into the same folder, and see rank 0's files there
    (a collective; UsageError on every rank otherwise)."""
    import socket
    import tempfile
    from pathlib import Path

    from lteval.train.distributed import all_gather_object, barrier, broadcast_object

    info = dist_env()
    mine = (cfg.to_dict()["config_hash"], bool(a.resume), bool(a.force))
    every = all_gather_object(mine)
    bad = [r for r, v in enumerate(every) if v != every[0]]
    if bad:
        raise UsageError(f"rank {bad[0]} was started with other options than rank 0 "
                         f"(config hash, --resume, --force: {every[bad[0]]} vs {every[0]}); "
                         "start every node with the same command")
    probe = None
    if info.is_main:
        Path(a.out).mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".lteval-shared-", dir=a.out)
        os.close(fd)
        probe = os.path.join(a.out, os.path.basename(tmp))  # as the run directory is named: relative stays so
    probe = broadcast_object(probe)
    seen = all_gather_object((_sees(probe), socket.gethostname()))
    barrier()
    if info.is_main:
        os.unlink(probe)
    blind = [(r, h) for r, (ok, h) in enumerate(seen) if not ok]
    if blind:
        r, h = blind[0]
        raise UsageError(f"rank {r} on {h} does not see --out {a.out!r} as rank 0 writes it; every node must "
                         "see the same folder (a shared disk) for --out")


def _prepare_synth(cfg, *, progress: bool) -> None:
    """The synthetic set on every node (a collective): rank 0 generates it (or finds it) first, then
    one process per other node finds it — on a shared ``$LTEVAL_HOME`` — or generates its own copy
    (the same bytes), so two machines never write one folder at once."""
    if cfg.data != "synth":
        return
    from lteval.data.run_data import open_data
    from lteval.train.distributed import barrier

    info = dist_env()
    if info.is_main:
        open_data(cfg, progress=progress)
    barrier()
    if info.local_rank == 0 and not info.is_main:
        open_data(cfg, progress=False)
    barrier()


def _sees(path: str, wait_s: float | None = None) -> bool:
    """Whether ``path`` exists here, looking again for up to ``wait_s`` s (default
    ``$LTEVAL_SHARED_WAIT_S`` or 30: a network file system may show another machine's new file late)."""
    import time

    if wait_s is None:
        wait_s = float(os.environ.get("LTEVAL_SHARED_WAIT_S", "30") or 30)
    end = time.monotonic() + wait_s
    while not os.path.isfile(path):
        if time.monotonic() > end:
            return False
        time.sleep(0.5)
    return True


def main(argv=None) -> int:
    """Per-process entry point (``torchrun ... -m lteval.train.launch NAME [options]``)."""
    from lteval.errors import LtevalError
    from lteval.train.baselines import resolve, run_baseline
    from lteval.train.config import parse_set
    from lteval.train.distributed import init_distributed

    a = _parser().parse_args(argv)
    try:
        overrides = parse_set(a.sets)
        if init_distributed().enabled:
            cfg = resolve(a.name, a.preset, overrides, data=a.data)
            _check_same_run(a, cfg)
            _prepare_synth(cfg, progress=not a.no_progress)
            if dist_env().is_main and not a.no_progress:
                import socket
                print(f"{dist_env().world_size} processes; rank 0, the one that writes, runs on "
                      f"{socket.gethostname()}", file=sys.stderr, flush=True)
        run_dir = run_baseline(a.name, data=a.data, preset=a.preset, out=a.out, overrides=overrides,
                               resume=a.resume, force=a.force, progress=not a.no_progress)
    except LtevalError as e:
        if dist_env().local_rank == 0:  # every node's terminal says why (every rank raises the same)
            print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    finally:
        cleanup()
    if dist_env().is_main:
        print(run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
