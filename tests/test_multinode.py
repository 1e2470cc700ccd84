"""Multi-node training on one machine: two "nodes" of one gloo process each, meeting through torch's
c10d elastic rendezvous on 127.0.0.1, started as two `lteval baseline run ... --nnodes 2 --node-rank
0/1 --rdzv-endpoint 127.0.0.1:PORT` commands, as a user starts them on two machines.

Like tests/test_ddp.py (same tiny config, same tolerance): two processes with batch b reproduce one
process with batch 2b. Then the flag errors, and resuming with another number of processes (a clear
one-line error) or the same number split differently over nodes (an exact resume).

The default run (the 2-node run, the flag errors, the world-size check) takes about 30 s on 2 loaded
cores; the two end-to-end tests marked slow (resume, mismatched / unshared nodes) about 70 s more:
``pytest tests/test_multinode.py -m "slow or not slow"``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ddp_reference import NAME, OVER, assert_matches_one_process_with_twice_the_batch
from ddp_reference import history as _history
from ddp_reference import logits as _logits

SETS = [f"{k}={v}" for k, v in dict(OVER, batch_size=8).items()]
TIMEOUT = 300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    home = tmp_path_factory.getbasetemp() / "lteval_home"
    e = dict(os.environ, LTEVAL_HOME=str(home), LTEVAL_NO_PROGRESS="1", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "LTEVAL_FAULT_KILL_AFTER_STEP"):
        e.pop(k, None)
    # no data set yet: the 2-node run makes it (rank 0 first, then the other node finds it)
    return e


def _cli(*args):
    return [sys.executable, "-m", "lteval", "baseline", "run", NAME, *args, "--no-progress"]


def _two_nodes(out, env, *extra, fault_step=0, node1=(), cwd=(None, None), timeout=TIMEOUT):
    """Both "nodes" of a 2-node run into ``out`` (node 1 with further args ``node1``, each node in its
    ``cwd``); return [(returncode, stdout, stderr)] by node rank."""
    port = _free_port()
    e = dict(env, LTEVAL_FAULT_KILL_AFTER_STEP=str(fault_step)) if fault_step else env
    procs = [subprocess.Popen(_cli("--nnodes", "2", "--node-rank", str(r), "--rdzv-endpoint", f"127.0.0.1:{port}",
                                   "--out", str(out), *[a for s in SETS for a in ("--set", s)], *extra,
                                   *(node1 if r else ())),
                              env=e, cwd=cwd[r], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in (0, 1)]
    res = []
    try:
        for p in procs:
            o, er = p.communicate(timeout=timeout)
            res.append((p.returncode, o, er))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return res


@pytest.fixture(scope="module")
def two_node_run(tmp_path_factory, env):
    out = tmp_path_factory.mktemp("nodes")
    res = _two_nodes(out, env)
    assert [r[0] for r in res] == [0, 0], [r[2][-2000:] for r in res]
    (d,) = out.iterdir()
    return d, res


def test_two_nodes_reproduce_one_process_with_twice_the_batch(tmp_path, env, two_node_run, monkeypatch):
    for k in ("LTEVAL_HOME", "LTEVAL_NO_PROGRESS", "OMP_NUM_THREADS"):
        monkeypatch.setenv(k, env[k])

    d, res = two_node_run
    done = json.loads((d / "DONE").read_text())
    assert done["world_size"] == 2
    hist = _history(d)
    assert [h["step"] for h in hist] == [4, 8]   # 64 images / (2 processes x 8) per epoch
    # one writer: global rank 0 alone prints the run directory and writes; nothing half-written is
    # left, no probe of the shared-folder check, one metrics line per evaluation
    assert sum(str(d) in o for _, o, _ in res) == 1
    assert not list(d.rglob("*.tmp")) and not list(d.parent.glob(".lteval-shared-*"))

    assert_matches_one_process_with_twice_the_batch(d, tmp_path / "one")


@pytest.mark.parametrize("args, message", [
    (["--nnodes", "2", "--node-rank", "2", "--rdzv-endpoint", "127.0.0.1:29400"], "--node-rank 2: must be between 0"),
    (["--nnodes", "2", "--node-rank", "1"], "--nnodes 2 needs --rdzv-endpoint HOST:PORT"),
    (["--nnodes", "2", "--rdzv-endpoint", "127.0.0.1"], "expected HOST:PORT with a port number"),
    (["--nnodes", "2", "--rdzv-endpoint", "node0:port"], "expected HOST:PORT with a port number"),
])
def test_bad_flag_combinations_are_one_line_errors(args, message):
    from typer.testing import CliRunner

    from lteval.cli import app

    r = CliRunner().invoke(app, ["baseline", "run", NAME, *args])
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in r.output, r.output


@pytest.mark.slow
def test_resume_needs_the_same_number_of_processes_in_any_node_split(tmp_path, env, two_node_run):
    """Killed at step 6 (last.pt from the end of epoch 1, step 4): one process cannot resume it (a
    one-line error naming both numbers); two processes on one node resume it exactly."""
    out = tmp_path / "killed"
    res = _two_nodes(out, env, fault_step=6)
    assert all(rc != 0 for rc, _, _ in res)
    (d,) = out.iterdir()
    assert (d / "checkpoints" / "last.pt").is_file() and not (d / "DONE").exists()

    sets = [a for s in SETS for a in ("--set", s)]
    r = subprocess.run(_cli("--out", str(out), *sets, "--resume"), env=env, capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 2, r.stderr[-2000:]
    err = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "cannot resume" in err[0] and "on 1 process(es): it was trained on 2" in err[0], r.stderr
    assert "Traceback" not in r.stderr and not (d / "DONE").exists()

    r = subprocess.run(_cli("--out", str(out), *sets, "--resume", "--nproc", "2"), env=env, capture_output=True,
                       text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr[-2000:]
    ref, _ = two_node_run
    assert json.loads((d / "DONE").read_text())["world_size"] == 2
    assert [h["train_loss"] for h in _history(d)] == [h["train_loss"] for h in _history(ref)]
    for split in ("val", "dev", "test"):
        np.testing.assert_array_equal(_logits(d, split), _logits(ref, split))
    assert Path(d / "config.json").read_text() == Path(ref / "config.json").read_text()


@pytest.mark.slow
def test_nodes_must_run_the_same_config_into_one_shared_folder(tmp_path, env):
    """Node 1 started with another --set: both nodes say so. A relative --out from two different
    working folders stands for two machines without a shared disk: the node that does not see rank 0's
    folder says so. Nothing is trained in either case."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    res = _two_nodes(tmp_path / "runs", env, node1=("--set", "lr=0.001"), timeout=120)
    assert all(rc != 0 for rc, _, _ in res)
    for _, _, err in res:
        assert "was started with other options than rank 0" in err and "start every node with the same command" in err
    assert not (tmp_path / "runs").exists()

    res = _two_nodes("runs", dict(env, LTEVAL_SHARED_WAIT_S="1"), cwd=(tmp_path / "a", tmp_path / "b"), timeout=120)
    assert all(rc != 0 for rc, _, _ in res)
    for _, _, err in res:
        assert "does not see --out 'runs' as rank 0 writes it" in err and "(a shared disk)" in err, err[-2000:]
    for side in "ab":   # rank 0 made its --out for the probe, then took the probe away; no run started
        assert not [p for p in (tmp_path / side).rglob("*") if p.is_file()]


def test_changed_world_size_is_one_clear_config_error(tmp_path):
    """The check itself, without training: a last.pt written by 2 processes, resumed by 1 (the slow
    test above does it end to end)."""
    from lteval.errors import ConfigError
    from lteval.train import rundir as rd
    from lteval.train.baselines import resolve
    from lteval.train.checkpointer import Checkpointer
    from lteval.train.distributed import DistInfo

    cfg = resolve(NAME, "smoke", dict(OVER, batch_size=8))
    ck = Checkpointer(tmp_path, cfg, DistInfo(rank=0, world_size=1))
    rd.save_checkpoint(ck.last, {"config_hash": ck.config_hash, "world_size": 2})
    with pytest.raises(ConfigError) as e:
        ck.resume(None, None)
    msg = str(e.value)
    assert "\n" not in msg and "on 1 process(es): it was trained on 2" in msg and "(8 x 2)" in msg
    assert ConfigError.exit_code == 2


def test_a_failing_process_gives_its_message_and_exit_code_without_torchruns_traceback(tmp_path):
    """torchrun reports a failed process with a Python traceback; the launcher drops it and exits
    with the process's own code (2 for a usage error), after the process's one-line message."""
    import subprocess
    import sys

    from lteval.train.launch import _TORCHRUN

    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-c", _TORCHRUN, "--standalone", "--nproc_per_node=1", "-m",
                        "lteval.train.launch", "no_such_baseline", "--out", str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "no_such_baseline" in r.stderr
    assert "Traceback" not in r.stderr and "ChildFailedError" not in r.stderr
