"""The calib stage: fitted on the calib split only; dev/test labels never needed nor used for fitting."""

import json
import shutil

import numpy as np
import pytest

from lteval.calibration.artifact import load_calibration
from lteval.errors import UsageError
from lteval.io.tables import read_labels, read_predictions
from lteval.metrics import calibration_error
from lteval.posttrain.calib_stage import calib_stage
from test_posttrain_fixtures import TASK, make_run_dir


def _stage(run, out, **kw):
    return calib_stage(run, run, out, task=TASK, **kw)


def test_calibration_never_reads_dev_test_labels(tmp_path):
    full, _ = make_run_dir(tmp_path, "full-00000001")
    # the same run with dev/test labels removed ...
    withheld = tmp_path / "withheld-00000001"
    shutil.copytree(full, withheld)
    for s in ("dev", "test"):
        (withheld / "labels" / f"{s}.csv").unlink()
    # ... and with dev/test labels replaced by garbage (flipped): fitting must not notice
    flipped = tmp_path / "flipped-00000001"
    shutil.copytree(full, flipped)
    from lteval.io.tables import write_labels
    for s in ("dev", "test"):
        lab = read_labels(full / "labels" / f"{s}.csv", TASK)
        write_labels(flipped / "labels" / f"{s}.csv", lab.ids, 1 - lab.y, TASK, force=True)

    outs = {}
    for name, run in (("full", full), ("withheld", withheld), ("flipped", flipped)):
        info = _stage(run, tmp_path / f"stage-{name}", method="platt", thresholds="f1")
        assert info["fitted_on"] == "calib" and info["n_fit"] == 300
        outs[name] = tmp_path / f"stage-{name}"
    a = json.loads((outs["full"] / "calibration.json").read_text())
    for other in ("withheld", "flipped"):
        b = json.loads((outs[other] / "calibration.json").read_text())
        assert a["params"] == b["params"] and a["thresholds"] == b["thresholds"]
        assert (json.loads((outs["full"] / "thresholds.json").read_text())["thresholds"]
                == json.loads((outs[other] / "thresholds.json").read_text())["thresholds"])
        for s in ("val", "calib", "dev", "test"):
            pa = read_predictions(outs["full"] / "predictions" / f"{s}.csv", TASK).p
            pb = read_predictions(outs[other] / "predictions" / f"{s}.csv", TASK).p
            assert np.array_equal(pa, pb)
    # without labels dev/test are predicted but not scored; val/calib are scored
    w = outs["withheld"]
    assert (w / "predictions" / "test.csv").is_file() and not (w / "scores" / "test.json").exists()
    assert not (w / "labels" / "dev.csv").exists() and (w / "scores" / "val.json").is_file()


def test_calib_stage_outputs_and_effect(tmp_path):
    run, arrays = make_run_dir(tmp_path, scale=4.0)  # strongly over-confident
    out = tmp_path / "stage"
    _stage(run, out, method="platt", thresholds="f1")
    art = load_calibration(out / "calibration.json")
    assert art.calibrator.method == "platt" and art.thresholds is not None
    thr = json.loads((out / "thresholds.json").read_text())
    assert list(thr["thresholds"]) == list(art.classes) and thr["fitted_on"] == "calib"
    # calibrated = calibrator applied to the run's logits, and scored at the fitted thresholds
    z = read_predictions(run / "logits" / "dev.csv", TASK, kind="logits").p
    q = read_predictions(out / "predictions" / "dev.csv", TASK).p
    np.testing.assert_allclose(q, art.calibrator.transform(z), rtol=0, atol=5e-9)  # written to 8 decimals
    sc = json.loads((out / "scores" / "dev.json").read_text())
    np.testing.assert_allclose(sc["threshold"], art.thresholds.values)
    y = read_labels(run / "labels" / "dev.csv", TASK).y
    before, _ = calibration_error(y, 1 / (1 + np.exp(-z)))
    after, _ = calibration_error(y, q)
    assert after < 0.6 * before
    # Platt with positive slopes is monotone: per-class AP unchanged -> same mAP
    base = json.loads(json.dumps(__import__("lteval").score(run / "predictions" / "dev.csv",
                                                            run / "labels" / "dev.csv", task=TASK).to_dict()))
    assert sc["overall"]["mAP"] == pytest.approx(base["overall"]["mAP"], abs=1e-12)


def test_calib_stage_needs_the_calib_split(tmp_path):
    run, _ = make_run_dir(tmp_path)
    (run / "labels" / "calib.csv").unlink()
    with pytest.raises(UsageError, match="calib"):
        _stage(run, tmp_path / "s")
    run2, _ = make_run_dir(tmp_path, "r2-00000002")
    (run2 / "logits" / "calib.csv").unlink()
    with pytest.raises(UsageError, match="calib split"):
        _stage(run2, tmp_path / "s2")
