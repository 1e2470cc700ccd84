"""The DDP path: 2 CPU processes (gloo) through torchrun, launched like `lteval baseline run --nproc 2`.

Two processes with batch b see, step for step, the same images as one process with batch 2b
(the sampler shards each epoch's global list by position, augmentation is keyed by the global
position, DDP averages the per-rank mean losses), so with a LayerNorm model (no per-rank batch
statistics) the two runs end with the same predictions up to float reduction order.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

OVER = dict(synth_n_train=240, synth_n_dev=60, synth_n_test=60, synth_size=32, image_size=32,
            images_per_epoch=64, epochs=2, eval_batch_size=64, warmup_epochs=0.5)
NAME = "convnext_tiny_bce"


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


def _logits(d, split):
    import pandas as pd
    return pd.read_csv(d / "logits" / f"{split}.csv").iloc[:, 1:].to_numpy(np.float64)


def test_two_process_gloo_run_matches_single_process(tmp_path, env):
    from lteval.data.run_data import open_data
    from lteval.train.baselines import resolve, run_baseline
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

    single = run_baseline(NAME, out=tmp_path / "one", overrides=dict(OVER, batch_size=16), progress=False)
    h1 = [json.loads(line) for line in (single / "metrics.jsonl").read_text().splitlines()]
    assert [h["step"] for h in h1] == [4, 8]
    np.testing.assert_allclose([h["train_loss"] for h in hist], [h["train_loss"] for h in h1], rtol=1e-4)
    for split in ("val", "dev"):
        np.testing.assert_allclose(_logits(ddp, split), _logits(single, split), rtol=1e-3, atol=1e-3)
    # and training moved the model well beyond that tolerance (the comparison is not vacuous)
    import torch

    from lteval.data.dataset import CXRDataset
    from lteval.io.tables import read_predictions
    from lteval.train.models import create_model
    torch.manual_seed(0)
    init = create_model("convnext_atto", 30, img_size=32).eval()
    ids = read_predictions(single / "predictions" / "val.csv", "cxrlt2026-task1").ids
    ds = CXRDataset(open_data(resolve(NAME, "smoke", OVER), prepare=False), ids, 32)
    with torch.no_grad():
        z0 = init(torch.stack([ds[i][0] for i in range(len(ids))])).double().numpy()
    assert np.abs(_logits(single, "val") - z0).max() > 0.05
