"""Shared fixture writer for the post-training tests: a finished run directory made of arrays."""

import json
from pathlib import Path

import numpy as np

from lteval.posttrain.calib_stage import SPLITS, sigmoid
from lteval.tasks import get_task

TASK = "cxrlt2026-task1"


def make_run_dir(root, name="run-0000abcd", *, seed=0, n=None, strength=1.5, scale=3.0, labels=SPLITS,
                 logits_dir=True, task=TASK, id_seed=0):
    """Write ``root/name``: config.json, predictions/, logits/, labels/ (for ``labels``), DONE.

    Logits ``scale * (strength * (2y - 1) + noise)`` (over-confident when scale > 1); every class
    has positives in every split. IDs/labels depend on ``id_seed`` only, scores on ``seed`` too.
    """
    from lteval.io.tables import PROB_DECIMALS, write_labels, write_predictions

    t = get_task(task)
    n = n or {"val": 150, "calib": 300, "dev": 200, "test": 200}
    d = Path(root) / name
    d.mkdir(parents=True)
    C = t.n_classes
    out = {}
    for k, split in enumerate(SPLITS):
        rng = np.random.default_rng([id_seed, k])
        m = n[split]
        prev = np.linspace(0.02, 0.3, C)
        y = (rng.random((m, C)) < prev).astype(np.int8)
        y[rng.choice(m, size=C, replace=m < C), np.arange(C)] = 1  # a positive for every class
        ids = np.array([f"{split}{i:05d}.png" for i in range(m)])
        r2 = np.random.default_rng([id_seed, k, seed + 1])
        z = scale * (strength * (2 * y - 1) + r2.normal(0, 1.5, size=(m, C))) - 1.0
        write_predictions(d / "predictions" / f"{split}.csv", ids, sigmoid(z), t,
                          decimals=PROB_DECIMALS)  # as a run writes them
        if logits_dir:
            write_predictions(d / "logits" / f"{split}.csv", ids, z, t)
        if split in labels:
            write_labels(d / "labels" / f"{split}.csv", ids, y, t)
        out[split] = (ids, y, z)
    cfg = {"name": name.rsplit("-", 1)[0], "task": t.name, "backbone": "resnet10t", "loss": "bce",
           "preset": "smoke", "seed": seed, "image_size": 32, "config_hash": "abcd" * 16, "lteval_version": "test"}
    (d / "config.json").write_text(json.dumps(cfg))
    (d / "DONE").write_text("{}")
    return d, out


def test_make_run_dir(tmp_path):
    from lteval.io.tables import read_labels, read_predictions

    d, arrays = make_run_dir(tmp_path)
    for s in SPLITS:
        z = read_predictions(d / "logits" / f"{s}.csv", TASK, kind="logits").p
        assert np.array_equal(z, arrays[s][2])
        y = read_labels(d / "labels" / f"{s}.csv", TASK).y
        assert (y.sum(0) > 0).all()
