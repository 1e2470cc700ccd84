"""The post-training pipeline on a tiny real run: names, reuse, identity TTA, no dev/test labels in fitting."""

import json
import os
import shutil

import numpy as np
import pytest

from lteval.errors import ConfigError, OutputExistsError, UsageError
from lteval.io.tables import read_predictions
from lteval.posttrain.pipeline import (list_stages, parse_name, run_pipeline, run_stages, split_overrides,
                                       stage_options)

TINY = dict(synth_n_train=300, synth_n_dev=60, synth_n_test=60, synth_size=32, image_size=32, epochs=1,
            images_per_epoch=64, batch_size=32, eval_batch_size=128, split_fractions=[0.6, 0.2, 0.2])
TASK = "cxrlt2026-task1"


def test_parse_name_and_options():
    assert parse_name("convnext_ldam_drw+crt+tta+calib") == ("convnext_ldam_drw", ("crt", "tta", "calib"))
    assert parse_name("resnet50_bce") == ("resnet50_bce", ())
    for bad in ("x+tta+crt", "x+crt+crt", "x+crtt", "+crt", "x+tau+lws"):
        with pytest.raises(UsageError):
            parse_name(bad)
    base, st = split_overrides({"lr": "1e-3", "crt.epochs": "5", "tta.merge": "mean"})
    assert base == {"lr": "1e-3"} and st == {"crt": {"epochs": "5"}, "tta": {"merge": "mean"}}
    assert stage_options("crt", {"epochs": "5"})["epochs"] == 5
    assert stage_options("tau", {"tau": "0.7"})["tau"] == 0.7
    assert stage_options("tta", {"merge": "probs-max"})["merge"] == "max"
    for stage, bad in (("crt", {"epoch": 1}), ("crt", {"epochs": "x"}), ("tta", {"transforms": "spin"}),
                       ("calib", {"method": "magic"}), ("calib", {"thresholds": "best"}), ("tau", {"tau": "-1"})):
        with pytest.raises((ConfigError, UsageError)):
            stage_options(stage, bad)
    names = [s["name"] for s in list_stages()]
    assert names == ["crt", "tau", "lws", "tta", "gate", "calib"]
    assert list_stages()[3]["options"]["transforms"].startswith("identity") and "hflip" not in \
        list_stages()[3]["options"]["transforms"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipe")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LTEVAL_HOME", str(root / "home"))
        from lteval.train.baselines import run_baseline

        run = run_baseline("resnet50_bce", preset="smoke", out=root / "runs", overrides=TINY, progress=False)
        yield root, run


def _logits(d, split):
    return read_predictions(d / "logits" / f"{split}.csv", TASK, kind="logits")


def test_identity_tta_reproduces_the_run_and_stages_are_reused(tiny_run, monkeypatch):
    root, run = tiny_run
    monkeypatch.setenv("LTEVAL_HOME", str(root / "home"))
    done_before = (run / "DONE").read_text()
    # through the public entry point: the base run is reused (not retrained), the stage added
    d = run_pipeline("resnet50_bce+tta", preset="smoke", out=root / "runs",
                     overrides={**TINY, "tta.transforms": "identity"}, progress=False)
    assert d == run / "post" / "tta" and (run / "DONE").read_text() == done_before
    for s in ("val", "calib", "dev", "test"):
        a, b = _logits(run, s), _logits(d, s)
        assert list(a.ids) == list(b.ids) and np.array_equal(a.p, b.p), s  # bit-identical to plain inference
        assert (d / "scores" / f"{s}.json").is_file() and (d / "labels" / f"{s}.csv").is_file()
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["stage"] == "tta" and cfg["base_run"] == run.name and cfg["task"] == TASK
    # reuse: same options -> untouched; other options -> refused; force -> redone
    stamp = (d / "DONE").read_text()
    run_stages(run, "tta", options={"tta": {"transforms": "identity"}}, progress=False)
    assert (d / "DONE").read_text() == stamp
    with pytest.raises(OutputExistsError):
        run_stages(run, "tta", options={"tta": {"transforms": "identity,scale@1.1"}}, progress=False)
    run_stages(run, "tta", options={"tta": {"transforms": "identity,scale@1.1"}}, force=True, progress=False)
    assert not np.array_equal(_logits(d, "dev").p, _logits(run, "dev").p)


def test_calibration_never_reads_dev_test_labels(tiny_run, monkeypatch):
    root, run = tiny_run
    monkeypatch.setenv("LTEVAL_HOME", str(root / "home"))
    withheld = root / "runs" / "withheld" / run.name
    shutil.copytree(run, withheld, ignore=shutil.ignore_patterns("post"))
    for s in ("dev", "test"):
        (withheld / "labels" / f"{s}.csv").unlink()
        (withheld / "scores" / f"{s}.json").unlink()
    from lteval.data.source import DataSource

    def no_eval_labels(self, split):
        raise AssertionError(f"post-training read the {split} labels")

    monkeypatch.setattr(DataSource, "eval_labels", no_eval_labels)
    opts = {"crt": {"epochs": 2}, "calib": {"method": "platt", "thresholds": "f1"}}
    full = run_stages(run, "crt+calib", options=opts, progress=False)
    held = run_stages(withheld, "crt+calib", options=opts, progress=False)
    a = json.loads((full / "calibration.json").read_text())
    b = json.loads((held / "calibration.json").read_text())
    assert a["params"] == b["params"] and a["thresholds"] == b["thresholds"] and a["fit"]["fitted_on"] == "calib"
    for s in ("val", "calib", "dev", "test"):
        assert np.array_equal(_logits(full, s).p, _logits(held, s).p)
    assert (full / "scores" / "dev.json").is_file() and not (held / "scores" / "dev.json").exists()
    assert (held / "thresholds.json").is_file() and (held / "predictions" / "test.csv").is_file()
    # the crt stage saved a weights-only head that the next stage reloads
    assert (run / "post" / "crt" / "head.pt").is_file()
    cfg = json.loads((full / "config.json").read_text())
    assert cfg["options"]["crt"]["epochs"] == 2 and cfg["chain"] == "crt+calib"


def test_pipeline_errors(tiny_run, tmp_path):
    root, run = tiny_run
    with pytest.raises(UsageError, match="finished"):
        run_stages(tmp_path, "tta", progress=False)
    with pytest.raises(ConfigError):
        run_pipeline("resnet50_bce+tta", out=root / "runs", overrides={**TINY, "crt.epochs": 3}, progress=False)


def test_combos():
    from lteval.posttrain.pipeline import COMBOS, all_combos, parse_combos

    combos = all_combos()
    assert len(combos) == len(set(combos)) == 48 and combos[0] == ""
    for c in combos[1:]:
        parse_name("x+" + c)  # every generated chain is valid
    assert set(COMBOS) <= set(combos)
    assert parse_combos(None) == [""] and parse_combos("default") == list(COMBOS)
    assert parse_combos("crt, tta+calib,crt") == ["", "crt", "tta+calib"]
    with pytest.raises(UsageError):
        parse_combos("calib+tta")
