"""Training engine and run directory: contract of the outputs, consistency of logits and
probabilities (LDAM scale), dev/test never used for fitting, reuse/force, early stopping."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from lteval.errors import OutputExistsError
from lteval.io.tables import read_labels, read_predictions

# A tiny synthetic set and run: seconds on 2 cores.
TINY = dict(synth_n_train=240, synth_n_dev=60, synth_n_test=60, synth_size=32, image_size=32,
            images_per_epoch=64, batch_size=16, epochs=1, eval_batch_size=64, warmup_epochs=0.0)


@pytest.fixture(autouse=True)
def _home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.getbasetemp() / "lteval_home"   # one synthetic set per test session
    monkeypatch.setenv("LTEVAL_HOME", str(home))
    monkeypatch.setenv("LTEVAL_NO_PROGRESS", "1")
    yield home


def run(name, out, **over):
    from lteval.train.baselines import run_baseline
    return run_baseline(name, out=out, overrides=dict(TINY, **over), progress=False)


@pytest.fixture(scope="module")
def ldam_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    mp = pytest.MonkeyPatch()
    mp.setenv("LTEVAL_HOME", str(tmp_path_factory.getbasetemp() / "lteval_home"))
    mp.setenv("LTEVAL_NO_PROGRESS", "1")
    try:
        yield run("convnext_ldam_drw", out, epochs=2)
    finally:
        mp.undo()


def test_run_directory_contract(ldam_run):
    d = ldam_run
    from lteval.train.rundir import is_done, read_config
    assert is_done(d)
    cfg = read_config(d)
    assert d.name == f"convnext_ldam_drw-{cfg['config_hash'][:8]}"
    assert cfg["backbone"] == "convnext_atto" and cfg["baseline_backbone"] == "convnext_large"
    assert cfg["loss"] == "ldam_drw" and cfg["head"] == "cosine" and cfg["preset"] == "smoke"
    for split in ("val", "calib", "dev", "test"):
        for sub in ("predictions", "logits", "labels"):
            assert (d / sub / f"{split}.csv").is_file(), (sub, split)
        assert (d / "scores" / f"{split}.json").is_file()
    for split in ("train", "val", "calib"):
        assert (d / "splits" / f"{split}.csv").is_file()
    assert (d / "checkpoints" / "last.pt").is_file() and (d / "checkpoints" / "best.pt").is_file()
    hist = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
    # 2 epochs x 4 steps; DRW switches at step round(0.8 * 8) = 6: one epoch end (step 8) after it is
    # too few, so the re-weighted phase is also evaluated at its middle (step 7, epoch 1.75)
    assert [h["epoch"] for h in hist] == [1, 1.75, 2]
    assert [h["step"] for h in hist] == [4, 7, 8]
    assert all(np.isfinite(h["train_loss"]) and 0 <= h["val_mAP"] <= 1 for h in hist)
    assert [h["drw_active"] for h in hist] == [False, True, True]
    assert not hist[0]["best"]  # a pre-switch evaluation is never selected
    done = json.loads((d / "DONE").read_text())
    assert done["best_drw_active"] is True and done["drw_switch_step"] == 6
    assert done["best_step"] in (7, 8) and done["selection"] == "re-weighted evaluations only"
    assert torch.load(d / "checkpoints" / "best.pt", weights_only=True)["drw_active"] is True
    # checkpoints load with weights_only=True
    ck = torch.load(d / "checkpoints" / "last.pt", weights_only=True)
    assert ck["state"]["epoch"] == 2 and ck["config_hash"] == cfg["config_hash"]


def test_dev_test_never_in_fitting_splits(ldam_run):
    from lteval.data.splits import read_splits
    d = ldam_run
    sp = read_splits(d)
    fit = set(sp["train"]) | set(sp["val"]) | set(sp["calib"])
    assert len(fit) == sum(len(v) for v in sp.values())  # disjoint
    for split in ("dev", "test"):
        ids = set(read_predictions(d / "predictions" / f"{split}.csv", "cxrlt2026-task1").ids)
        assert ids and not ids & fit
    val_ids = read_predictions(d / "predictions" / "val.csv", "cxrlt2026-task1").ids
    assert list(val_ids) == list(sp["val"])


def test_probabilities_are_sigmoid_of_ldam_scaled_logits(ldam_run):
    """logits = s * (cosine output of the best model); probabilities = sigmoid(logits)."""
    from lteval.data.dataset import CXRDataset
    from lteval.data.run_data import open_data
    from lteval.train.config import TrainConfig
    from lteval.train.models import create_model
    from lteval.train.rundir import read_config

    d = ldam_run
    task = "cxrlt2026-task1"
    p = read_predictions(d / "predictions" / "val.csv", task)
    import pandas as pd
    z = pd.read_csv(d / "logits" / "val.csv")
    logits = z.iloc[:, 1:].to_numpy(np.float64)
    assert np.array_equal(z["ImageID"].to_numpy().astype(str), p.ids)
    np.testing.assert_allclose(p.p, 1 / (1 + np.exp(-logits)), rtol=0, atol=5e-9)  # 8 decimals
    assert (p.p >= 0).all() and (p.p <= 1).all()
    # recompute the raw output of the best checkpoint: cosine head in [-1, 1], logits = 30 * raw
    cfg = TrainConfig.from_dict(read_config(d))
    model = create_model(cfg.backbone, 30, head=cfg.head, img_size=cfg.image_size)
    model.load_state_dict(torch.load(d / "checkpoints" / "best.pt", weights_only=True)["model"])
    model.eval()
    src = open_data(cfg, prepare=False)
    ds = CXRDataset(src, p.ids[:8], cfg.image_size)
    x = torch.stack([ds[i][0] for i in range(8)])
    with torch.no_grad():
        raw = model(x).double().numpy()
    assert np.abs(raw).max() <= 1 + 1e-6
    np.testing.assert_allclose(logits[:8], 30.0 * raw, rtol=1e-4, atol=1e-4)


def test_scores_match_the_metrics_core(ldam_run):
    import lteval
    d = ldam_run
    for split in ("val", "dev", "test"):
        want = lteval.score(d / "predictions" / f"{split}.csv", d / "labels" / f"{split}.csv",
                            task="cxrlt2026-task1").to_dict()
        got = json.loads((d / "scores" / f"{split}.json").read_text())
        assert got == json.loads(json.dumps(want))
    # dev/test labels are the synthetic set's hidden labels
    from lteval.data.run_data import open_data
    from lteval.train.config import TrainConfig
    from lteval.train.rundir import read_config
    src = open_data(TrainConfig.from_dict(read_config(d)), prepare=False)
    lab = read_labels(d / "labels" / "dev.csv", "cxrlt2026-task1")
    assert np.array_equal(lab.y, src.eval_labels("dev"))


def test_finished_run_reused_unfinished_refused_force_retrains(tmp_path):
    d = run("resnet50_bce", tmp_path)
    stamp = (d / "DONE").stat().st_mtime_ns
    assert run("resnet50_bce", tmp_path) == d                      # reused, not retrained
    assert (d / "DONE").stat().st_mtime_ns == stamp
    # the CLI reuses it too and prints the score table
    from typer.testing import CliRunner

    from lteval.cli import app
    sets = [a for k, v in TINY.items() for a in ("--set", f"{k}={v}")]
    r = CliRunner().invoke(app, ["baseline", "run", "resnet50_bce", "--out", str(tmp_path), "--no-progress", *sets])
    assert r.exit_code == 0, r.output
    assert "dev" in r.output and "test" in r.output and d.name in r.output.replace("\n", "")
    assert (d / "DONE").stat().st_mtime_ns == stamp
    (d / "DONE").unlink()                                           # looks interrupted now
    with pytest.raises(OutputExistsError, match="--resume"):
        run("resnet50_bce", tmp_path)
    from lteval.train.baselines import run_baseline
    d2 = run_baseline("resnet50_bce", out=tmp_path, overrides=TINY, force=True, progress=False)
    assert d2 == d and (d / "DONE").is_file() and (d / "DONE").stat().st_mtime_ns != stamp


def test_early_stopping_and_options(tmp_path):
    """No val progress (lr ~ 0, LayerNorm model) stops after `patience` epochs; EMA, gradient
    accumulation and the class-aware sampler run."""
    d = run("convnext_tiny_bce", tmp_path, epochs=4, patience=1, lr=1e-12,
            ema=True, grad_accum=2, batch_size=8, sampler="class_aware", weight_decay=0.0)
    hist = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
    done = json.loads((d / "DONE").read_text())
    assert done["stopped_early"] and len(hist) == 2 and done["best_epoch"] == 1
    assert hist[0]["step"] == 4  # 64 images / (8 x 2 accumulation)


@pytest.mark.parametrize("phase", ["reweighted", "all"])
def test_deferred_loss_selection_and_early_stopping_respect_drw(tmp_path, phase):
    """No val progress (lr ~ 0): every evaluation ties, so selection over all evaluations would keep
    the first, pre-switch one. By default a deferred loss selects among re-weighted evaluations
    only and cannot stop early before the re-weighted phase had `patience` evaluations;
    select_phase=all selects over all evaluations and DONE says so."""
    d = run("convnext_tiny_ldam_drw", tmp_path, epochs=4, patience=1, lr=1e-12, weight_decay=0.0,
            select_phase=phase)
    hist = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
    done = json.loads((d / "DONE").read_text())
    assert done["drw_switch_step"] == 13                      # round(0.8 * 16)
    best = [h for h in hist if h["best"]]
    assert len(set(h["val_mAP"] for h in hist)) == 1          # the premise: nothing learnt, all tie
    if phase == "reweighted":
        assert [h["step"] for h in hist] == [4, 8, 12, 15, 16]  # no early stop before the switch
        assert [h["drw_active"] for h in hist] == [False, False, False, True, True]
        assert [h["step"] for h in best] == [15] and done["best_drw_active"] is True
        assert done["selection"] == "re-weighted evaluations only" and not done["stopped_early"]
    else:
        # patience 1 runs out at step 8, but stopping waits for one re-weighted evaluation (step 15)
        assert [h["step"] for h in hist] == [4, 8, 12, 15] and done["stopped_early"]
        assert [h["step"] for h in best] == [4] and done["best_drw_active"] is False
        assert done["selection"] == "all evaluations"
    assert torch.load(d / "checkpoints" / "best.pt", weights_only=True)["drw_active"] is done["best_drw_active"]


def test_real_data_root_checks_every_image_before_training(tmp_path):
    """--data DIR: a missing image is one clear InputError before any training, and the failed run
    leaves nothing that blocks the same command once the image is back (issue 13)."""
    from lteval.data.synth import generate
    from lteval.errors import InputError
    from lteval.train.baselines import run_baseline

    root = generate(tmp_path / "root", n_train=40, n_dev=10, n_test=10, size=32, progress=False)
    victim = sorted((root / "images").iterdir())[3]
    data = victim.read_bytes()
    victim.unlink()
    with pytest.raises(InputError, match="missing") as e:
        run_baseline("resnet50_bce", data=str(root), out=tmp_path / "runs", overrides=TINY, progress=False)
    assert victim.name in str(e.value)
    assert list((tmp_path / "runs").iterdir()) == []
    victim.write_bytes(data)  # the cause fixed: the very same command now trains
    d = run_baseline("resnet50_bce", data=str(root), out=tmp_path / "runs", overrides=TINY, progress=False)
    assert (d / "DONE").is_file()


def test_bad_config_failure_leaves_no_run_directory(tmp_path):
    """A config error found while building the run (here: a deferred loss whose switch leaves no
    room to evaluate) is a ConfigError and leaves no half-made run directory behind."""
    from lteval.errors import ConfigError
    from lteval.train.baselines import run_baseline

    with pytest.raises(ConfigError, match="fewer than 2 re-weighted steps"):
        run_baseline("resnet50_ldam_drw", out=tmp_path / "runs", progress=False,
                     overrides=dict(TINY, **{"loss_kwargs.drw_step": 3}))
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []


def test_load_run_reproduces_the_written_logits(ldam_run):
    """What post-training builds on: load_run gives the selected model and the trained loss."""
    import pandas as pd

    from lteval.data.dataset import CXRDataset
    from lteval.train.predict import load_run, outputs, predict_raw

    r = load_run(ldam_run)
    assert r.cfg.loss == "ldam_drw" and not r.model.training
    assert [s for s, _, _ in r.eval_sets()] == ["val", "calib", "dev", "test"]
    split, ids, y = r.eval_sets()[2]
    raw = predict_raw(r.model, CXRDataset(r.source, ids, r.cfg.image_size), batch_size=64)
    logits, probs = outputs(r.loss, raw)
    want = pd.read_csv(ldam_run / "logits" / "dev.csv").iloc[:, 1:].to_numpy(np.float64)
    np.testing.assert_allclose(logits, want, rtol=1e-6, atol=1e-6)
    assert np.array_equal(read_labels(ldam_run / "labels" / "dev.csv", "cxrlt2026-task1").y, y)
