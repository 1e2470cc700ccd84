"""The DDP path: 2 CPU processes (gloo) through torchrun, launched like `lteval baseline run --nproc 2`.

Two processes with batch b see, step for step, the same images as one process with batch 2b
(the sampler shards each epoch's global list by position, augmentation is keyed by the global
position, DDP averages the per-rank mean losses), so with a LayerNorm model (no per-rank batch
statistics) the two runs end with the same predictions up to float reduction order.
"""

from __future__ import annotations

import json

import pytest

from ddp_reference import NAME, OVER, assert_matches_one_process_with_twice_the_batch


@pytest.fixture
def env(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.getbasetemp() / "lteval_home"
    monkeypatch.setenv("LTEVAL_HOME", str(home))
    monkeypatch.setenv("LTEVAL_NO_PROGRESS", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    return home


def test_two_process_gloo_run_matches_single_process(tmp_path, env):
    from lteval.data.run_data import open_data
    from lteval.train.baselines import resolve
    from lteval.train.launch import launch

    sets = [f"{k}={v}" for k, v in dict(OVER, batch_size=8).items()]
    open_data(resolve(NAME, "smoke", dict(OVER, batch_size=8)), progress=False)  # what the CLI does first
    rc = launch(2, NAME, out=str(tmp_path / "ddp"), sets=sets, progress=False)
    assert rc == 0
    (ddp,) = (tmp_path / "ddp").iterdir()
    assert (ddp / "DONE").is_file()
    done = json.loads((ddp / "DONE").read_text())
    assert done["world_size"] == 2
    hist = [json.loads(line) for line in (ddp / "metrics.jsonl").read_text().splitlines()]
    assert [h["step"] for h in hist] == [4, 8]    # 64 images / (2 processes x 8) per epoch
    # only rank 0 writes: no stray temporary files, one line per epoch
    assert not [p for p in ddp.rglob("*.tmp")]

    assert_matches_one_process_with_twice_the_batch(ddp, tmp_path / "one")
