"""Shared by tests/test_ddp.py and tests/test_multinode.py: the tiny config both train, and the
check that a several-process run equals one process trained with twice the batch."""
from __future__ import annotations

import json

import numpy as np

OVER = dict(synth_n_train=240, synth_n_dev=60, synth_n_test=60, synth_size=32, image_size=32,
            images_per_epoch=64, epochs=2, eval_batch_size=64, warmup_epochs=0.5)
NAME = "convnext_tiny_bce"


def history(d):
    """The run's metrics.jsonl as a list of dicts."""
    return [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]


def logits(d, split):
    """(n, C) float64 logits of ``split`` from run directory ``d``."""
    import pandas as pd
    return pd.read_csv(d / "logits" / f"{split}.csv").iloc[:, 1:].to_numpy(np.float64)


def assert_matches_one_process_with_twice_the_batch(d, out):
    """Run ``d`` (2 processes, batch 8 each) equals a 1-process run with batch 16 trained into
    ``out``: same steps, losses (rtol 1e-4) and val/dev logits (1e-3) — and training moved the
    logits well beyond that tolerance from the initial model, so the comparison is not vacuous."""
    import torch

    from lteval.data.dataset import CXRDataset
    from lteval.data.run_data import open_data
    from lteval.io.tables import read_predictions
    from lteval.train.baselines import resolve, run_baseline
    from lteval.train.models import create_model

    single = run_baseline(NAME, out=out, overrides=dict(OVER, batch_size=16), progress=False)
    h1 = history(single)
    assert [h["step"] for h in h1] == [4, 8]
    np.testing.assert_allclose([h["train_loss"] for h in history(d)], [h["train_loss"] for h in h1], rtol=1e-4)
    for split in ("val", "dev"):
        np.testing.assert_allclose(logits(d, split), logits(single, split), rtol=1e-3, atol=1e-3)
    torch.manual_seed(0)
    init = create_model("convnext_atto", 30, img_size=32).eval()
    ids = read_predictions(d / "predictions" / "val.csv", "cxrlt2026-task1").ids
    ds = CXRDataset(open_data(resolve(NAME, "smoke", OVER), prepare=False), ids, 32)
    with torch.no_grad():
        z0 = init(torch.stack([ds[i][0] for i in range(len(ids))])).double().numpy()
    assert np.abs(logits(d, "val") - z0).max() > 0.05
    return single
