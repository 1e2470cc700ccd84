"""``lteval calibrate fit | apply | cv`` end to end through typer's runner, on generated files."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from scipy.special import expit
from typer.testing import CliRunner

from lteval.calibration.artifact import load_calibration
from lteval.cli import app
from lteval.io.tables import read_labels, read_predictions, round_probabilities
from lteval.metrics import calibration_error
from lteval.tasks import CXRLT2026_TASK1_CLASSES as CLASSES

runner = CliRunner()


def _write(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Dev labels (with PatientID) + over-confident predictions, and a test predictions file."""
    d = tmp_path_factory.mktemp("cal")
    rng = np.random.default_rng(0)
    C = len(CLASSES)
    prev = np.geomspace(0.3, 0.01, C)
    offsets = np.log(prev / (1 - prev))

    def make(n, prefix):
        z = rng.normal(size=(n, C)) + offsets
        y = (rng.random((n, C)) < expit(z)).astype(int)
        return [f"{prefix}{i:05d}_x.png" for i in range(n)], y, expit(3 * z)

    ids, y, p = make(900, "dev")
    patients = [f"{1 + (i // 3) % 9}.{(i // 3) // 9:02d}E+38" for i in range(900)]  # 3 images a patient
    _write(d / "dev_labels.csv", ["ImageID", "StudyDate_DICOM", "PatientID", *CLASSES],
           [[i, "20200101", pid, *row] for i, pid, row in zip(ids, patients, y.tolist())])
    order = rng.permutation(900)  # rows in another order and columns shuffled: joined by ID
    cols = list(rng.permutation(C))
    _write(d / "dev_preds.csv", ["ImageID", *[CLASSES[j] for j in cols]],
           [[ids[i], *[repr(float(p[i, j])) for j in cols]] for i in order])
    _write(d / "dev_logits.csv", ["ImageID", *CLASSES],
           [[i, *map(repr, r)] for i, r in zip(ids, np.log(p / (1 - p)).tolist())])
    tids, _, tp = make(300, "test")
    _write(d / "test_preds.csv", ["ImageID", *CLASSES], [[i, *map(repr, r)] for i, r in zip(tids, tp.tolist())])
    _write(d / "test_logits.csv", ["ImageID", *CLASSES],
           [[i, *map(repr, r)] for i, r in zip(tids, np.log(tp / (1 - tp)).tolist())])
    return d


def test_fit_apply_round_trip(files, tmp_path):
    calib = tmp_path / "calib.json"
    r = runner.invoke(app, ["calibrate", "fit", str(files / "dev_preds.csv"), "--labels",
                            str(files / "dev_labels.csv"), "--method", "isotonic", "--input", "probs",
                            "--thresholds", "f1", "-o", str(calib)])
    assert r.exit_code == 0, r.output
    art = load_calibration(calib)
    assert art.classes == CLASSES and art.calibrator.method == "isotonic"
    assert art.thresholds is not None and str(art.thresholds.strategy) == "f1"
    out = tmp_path / "out.csv"
    dec = tmp_path / "dec.csv"
    r = runner.invoke(app, ["calibrate", "apply", str(calib), str(files / "test_preds.csv"), "-o", str(out),
                            "--decisions", str(dec)])
    assert r.exit_code == 0, r.output
    src = read_predictions(files / "test_preds.csv", "cxrlt2026-task1")
    got = read_predictions(out, "cxrlt2026-task1")  # a valid submission: same IDs, all classes, [0, 1]
    np.testing.assert_array_equal(got.ids, src.ids)
    with open(out) as f:
        assert next(csv.reader(f)) == ["ImageID", *CLASSES]
    # written to 8 decimals, what `lteval validate --strict` accepts (issue 13)
    np.testing.assert_array_equal(got.p, round_probabilities(art.calibrator.transform(src.p)))
    assert np.abs(got.p - art.calibrator.transform(src.p)).max() <= 5e-9
    d = read_labels(dec, "cxrlt2026-task1")
    np.testing.assert_array_equal(d.y, art.thresholds.predict(got.p))
    # refusing to overwrite, then --force
    r = runner.invoke(app, ["calibrate", "apply", str(calib), str(files / "test_preds.csv"), "-o", str(out)])
    assert r.exit_code == 2 and "--force" in r.output
    r = runner.invoke(app, ["calibrate", "apply", str(calib), str(files / "test_preds.csv"), "-o", str(out),
                            "--force"])
    assert r.exit_code == 0, r.output


def test_temperature_on_logits_improves_calibration(files, tmp_path):
    calib = tmp_path / "t.json"
    # fitting on logits requires logit files; dev preds are probabilities, so fit with probs and
    # check the stated input is enforced at apply time
    r = runner.invoke(app, ["calibrate", "fit", str(files / "dev_preds.csv"), "-l", str(files / "dev_labels.csv"),
                            "-m", "temperature", "--input", "probs", "-o", str(calib)])
    assert r.exit_code == 0, r.output
    assert "temperature T =" in r.output
    r = runner.invoke(app, ["calibrate", "apply", str(calib), str(files / "test_logits.csv"), "-o",
                            str(tmp_path / "x.csv")])
    assert r.exit_code == 1 and "outside [0, 1]" in r.output
    assert not (tmp_path / "x.csv").exists()


def test_cv_all_methods_grouped_json(files, tmp_path):
    js = tmp_path / "cv.json"
    r = runner.invoke(app, ["calibrate", "cv", str(files / "dev_preds.csv"), "-l", str(files / "dev_labels.csv"),
                            "--input", "probs", "--method", "all", "--folds", "3", "--group-column",
                            "PatientID", "--thresholds", "f1", "--bootstrap", "30", "--json", str(js)])
    assert r.exit_code == 0, r.output
    rep = json.loads(js.read_text())
    assert rep["group_column"] == "PatientID" and rep["n_groups"] == 300
    assert any("scientific notation" in n for n in rep["notes"])
    assert set(rep["methods"]) == {"none", "temperature", "temperature-per-class", "platt", "beta",
                                   "isotonic", "histogram"}
    assert len(rep["ranking"]) == 7 and rep["ranking"][-1] == "none"
    for m in ("temperature", "isotonic"):
        assert rep["methods"][m]["ece"] < 0.5 * rep["before"]["ece"]
        lo, hi = rep["methods"][m]["ci"]["ece"]
        assert lo <= rep["methods"][m]["ece"] <= hi
    assert "before" in r.output and "Ranked by ece" in r.output


def test_cv_json_to_stdout_single_method(files):
    r = runner.invoke(app, ["calibrate", "cv", str(files / "dev_preds.csv"), "-l", str(files / "dev_labels.csv"),
                            "--input", "probs", "-m", "platt", "-k", "4", "-b", "0", "--json", "-"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert list(rep["methods"]) == ["platt"] and "ci" not in rep["before"]
    assert sum(rep["fold_sizes"]) == 900


@pytest.mark.parametrize("args,code,msg", [
    (["-m", "platypus", "--input", "probs"], 2, "unknown calibration method"),
    (["-m", "platt", "--input", "probs", "--thresholds", "f2"], 2, "unknown threshold strategy"),
    (["-m", "platt", "--input", "scores"], 2, "probs"),
    (["-m", "platt"], 2, "--input"),
])
def test_fit_usage_errors(files, tmp_path, args, code, msg):
    r = runner.invoke(app, ["calibrate", "fit", str(files / "dev_preds.csv"), "-l", str(files / "dev_labels.csv"),
                            "-o", str(tmp_path / "c.json"), *args])
    assert r.exit_code == code, r.output
    assert msg in r.output
    assert not (tmp_path / "c.json").exists()


def test_cv_errors(files):
    r = runner.invoke(app, ["calibrate", "cv", str(files / "dev_preds.csv"), "-l", str(files / "dev_labels.csv"),
                            "--input", "probs", "--group-column", "PatientId", "-b", "0"])
    assert r.exit_code == 2 and "did you mean 'PatientID'" in r.output
    r = runner.invoke(app, ["calibrate", "cv", str(files / "dev_preds.csv"), "-l", str(files / "dev_labels.csv"),
                            "--input", "probs", "-m", "platt", "--thresholds", "prevalence", "--task",
                            "cxrlt2026-task1", "-b", "0"])
    assert r.exit_code == 0, r.output  # task 1 has built-in training counts


def test_apply_rejects_a_malformed_calibration_file(files, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "lteval-calibration", "schema_version": 1}')
    r = runner.invoke(app, ["calibrate", "apply", str(bad), str(files / "test_preds.csv"), "-o",
                            str(tmp_path / "o.csv")])
    assert r.exit_code == 1 and "missing field" in r.output and "Traceback" not in r.output


def test_logits_fit_and_apply(files, tmp_path):
    calib = tmp_path / "l.json"
    r = runner.invoke(app, ["calibrate", "fit", str(files / "dev_logits.csv"), "-l", str(files / "dev_labels.csv"),
                            "-m", "platt", "--input", "logits", "--thresholds", "global", "-o", str(calib)])
    assert r.exit_code == 0, r.output
    assert load_calibration(calib).calibrator.input == "logits"
    out = tmp_path / "o.csv"
    r = runner.invoke(app, ["calibrate", "apply", str(calib), str(files / "test_logits.csv"), "-o", str(out)])
    assert r.exit_code == 0, r.output
    q = read_predictions(out, "cxrlt2026-task1").p  # probabilities in [0, 1]
    ref = read_predictions(files / "test_logits.csv", "cxrlt2026-task1", kind="logits").p
    np.testing.assert_allclose(q, load_calibration(calib).calibrator.transform(ref), rtol=0, atol=5e-9)  # 8 decimals
    # the same model fitted on probabilities gives the same calibrated output
    calib_p = tmp_path / "p.json"
    runner.invoke(app, ["calibrate", "fit", str(files / "dev_preds.csv"), "-l", str(files / "dev_labels.csv"),
                        "-m", "platt", "--input", "probs", "-o", str(calib_p)])
    np.testing.assert_allclose(load_calibration(calib_p).calibrator.transform(expit(ref)), q, atol=1e-8)
