"""Kill a CPU training run with SIGKILL mid-epoch, resume it, and get exactly the numbers of an
uninterrupted run (model, optimiser, schedule, EMA, RNG, sampler position and DRW state restored)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

# 2 epochs x 8 optimiser steps; checkpoints every 3 steps; DRW switches on at step round(0.8 * 16) = 13,
# and the re-weighted phase is evaluated at steps 15 (mid-epoch, with a checkpoint) and 16;
# EMA, augmentation and the class-aware sampler all carry state across the kill.
OVER = dict(synth_n_train=240, synth_n_dev=60, synth_n_test=60, synth_size=32, image_size=32,
            images_per_epoch=64, batch_size=8, epochs=2, eval_batch_size=64, warmup_epochs=0.5,
            checkpoint_every_steps=3, ema=True, ema_decay=0.9, sampler="class_aware")
NAME = "convnext_ldam_drw"


def _run(out, env, resume=False):
    code = textwrap.dedent(f"""
        import torch
        torch.set_num_threads(1)
        from lteval.train.baselines import run_baseline
        run_baseline({NAME!r}, out={str(out)!r}, overrides={OVER!r}, resume={resume}, progress=False)
    """)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture
def env(tmp_path_factory):
    e = dict(os.environ, LTEVAL_HOME=str(tmp_path_factory.getbasetemp() / "lteval_home"),
             LTEVAL_NO_PROGRESS="1", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    e.pop("LTEVAL_FAULT_KILL_AFTER_STEP", None)
    return e


def _outputs(d):
    files = sorted(p.relative_to(d) for sub in ("predictions", "logits", "scores") for p in (d / sub).iterdir())
    hist = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
    for h in hist:  # wall-clock figures differ between runs
        h.pop("images_per_s")
        h.pop("epoch_time_s")
    return {str(f): (d / f).read_bytes() for f in files}, hist


# kill after step 11: the last checkpoint (step 9) is before the switch, the resumed run crosses it;
# kill after step 15: the last checkpoint is the mid-epoch evaluation at 15, after the switch
@pytest.mark.parametrize("kill_after,ck_step,ck_batch", [(11, 9, 1), (15, 15, 7)])
def test_sigkill_mid_epoch_then_resume_equals_uninterrupted(tmp_path, env, kill_after, ck_step, ck_batch):
    ref = _run(tmp_path / "ref", env)
    assert ref.returncode == 0, ref.stderr
    (ref_dir,) = (tmp_path / "ref").iterdir()

    killed = _run(tmp_path / "cut", dict(env, LTEVAL_FAULT_KILL_AFTER_STEP=str(kill_after)))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (cut_dir,) = (tmp_path / "cut").iterdir()
    assert not (cut_dir / "DONE").exists()
    import torch
    ck = torch.load(cut_dir / "checkpoints" / "last.pt", weights_only=True)
    # the last checkpoint is mid-epoch 2, before the kill
    assert ck["state"]["epoch"] == 1 and ck["state"]["global_step"] == ck_step and ck["state"]["batch"] == ck_batch
    extra = ck["loss"]["_extra_state"]
    assert extra["switch_step"] == 13 and (extra["step"] >= 13) == (ck_step > 13)

    # without --resume an unfinished run is refused; with it, training continues
    again = _run(tmp_path / "cut", env)
    assert again.returncode != 0 and "--resume" in again.stderr
    resumed = _run(tmp_path / "cut", env, resume=True)
    assert resumed.returncode == 0, resumed.stderr
    assert (cut_dir / "DONE").is_file()

    ref_files, ref_hist = _outputs(ref_dir)
    cut_files, cut_hist = _outputs(cut_dir)
    assert cut_hist == ref_hist
    assert [(h["step"], h["drw_active"], h["best"]) for h in ref_hist][0] == (8, False, False)
    assert [h["step"] for h in ref_hist] == [8, 15, 16] and [h["drw_active"] for h in ref_hist] == [False, True, True]
    assert json.loads((cut_dir / "DONE").read_text())["best_drw_active"] is True
    assert cut_files.keys() == ref_files.keys()
    for k in ref_files:
        assert cut_files[k] == ref_files[k], k
