"""Calibrator properties: ranking invariance, ties, degenerate classes, validation, JSON round trip."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import average_precision_score, roc_auc_score

from lteval.calibration import METHODS, create_calibrator
from lteval.calibration.artifact import CalibrationArtifact, load_calibration
from lteval.errors import InputError, OutputExistsError, UsageError
from lteval.metrics import average_precision, roc_auc
from lteval.thresholds import fit_thresholds

STRICT = ("none", "temperature", "temperature-per-class", "platt", "beta")


def _data(n=2000, C=5, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, C)) * 2
    y = (rng.random((n, C)) < expit(0.7 * z - 1.5)).astype(np.int8)
    return z, expit(z), y


def test_registry_lists_all_methods():
    assert set(METHODS) == {"none", "temperature", "temperature-per-class", "platt", "beta",
                            "isotonic", "histogram"}


@pytest.mark.parametrize("method", STRICT)
@pytest.mark.parametrize("kind", ["probs", "logits"])
def test_strictly_monotone_methods_keep_ap_and_auroc(method, kind):
    z, p, y = _data(seed=1)
    s = p if kind == "probs" else z
    q = create_calibrator(method, input=kind).fit(s, y).transform(s)
    np.testing.assert_array_equal(average_precision(y, q), average_precision(y, p))
    np.testing.assert_array_equal(roc_auc(y, q), roc_auc(y, p))
    for c in range(y.shape[1]):  # and by scikit-learn's own count
        assert average_precision_score(y[:, c], q[:, c]) == pytest.approx(
            average_precision_score(y[:, c], p[:, c]), abs=1e-15)


@pytest.mark.parametrize("method", ["isotonic", "histogram"])
def test_binning_methods_create_ties_and_can_change_ap(method):
    z, p, y = _data(seed=2, n=3000)
    q = create_calibrator(method, input="probs").fit(p, y).transform(p)
    for c in range(y.shape[1]):
        assert np.unique(q[:, c]).size < np.unique(p[:, c]).size / 10
    ap_before, ap_after = average_precision(y, p), average_precision(y, q)
    assert not np.allclose(ap_before, ap_after)  # ties change AP: this is why it is measured
    if method == "isotonic":  # non-decreasing in the score
        for c in range(y.shape[1]):
            o = np.argsort(p[:, c])
            assert np.all(np.diff(q[o, c]) >= 0)


@pytest.mark.parametrize("method", [m for m in METHODS])
def test_outputs_are_probabilities_of_the_right_shape(method):
    z, p, y = _data(seed=3, n=500, C=3)
    q = create_calibrator(method, input="logits").fit(z, y).transform(z * 3)
    assert q.shape == z.shape and q.dtype == np.float64
    assert np.isfinite(q).all() and q.min() >= 0 and q.max() <= 1


@pytest.mark.parametrize("method", [m for m in METHODS if m not in ("none", "temperature")])
def test_classes_without_positives_or_negatives_pass_through(method):
    z, p, y = _data(seed=4, n=600, C=4)
    y[:, 1] = 0
    y[:, 3] = 1
    cal = create_calibrator(method, input="probs").fit(p, y)
    np.testing.assert_array_equal(cal.passthrough_, [False, True, False, True])
    q = cal.transform(p)
    np.testing.assert_array_equal(q[:, [1, 3]], p[:, [1, 3]])
    assert not np.allclose(q[:, 0], p[:, 0])


def test_global_temperature_uses_every_class():
    z, p, y = _data(seed=5)
    y[:, 0] = 0
    cal = create_calibrator("temperature", input="logits").fit(z, y)
    assert np.isfinite(cal.temperature_) and cal.temperature_ > 0


def test_bad_inputs_raise_clear_errors():
    z, p, y = _data(n=50, C=2)
    with pytest.raises(UsageError, match="input must be"):
        create_calibrator("platt", input="logit")
    with pytest.raises(UsageError, match="did you mean 'platt'"):
        create_calibrator("plat")
    with pytest.raises(UsageError, match="not fitted"):
        create_calibrator("platt").transform(p)
    with pytest.raises(InputError, match=r"scores must lie in \[0, 1\], got -?[0-9.]+ at row"):
        create_calibrator("platt", input="probs").fit(z, y)
    bad = p.copy()
    bad[3, 1] = np.nan
    with pytest.raises(InputError, match="must be finite, got nan"):
        create_calibrator("platt").fit(bad, y)
    with pytest.raises(InputError, match="y must contain only 0 and 1, got 2 at row"):
        create_calibrator("platt").fit(p, y * 2)
    with pytest.raises(InputError, match="shape"):
        create_calibrator("platt").fit(p, y[:10])
    cal = create_calibrator("platt").fit(p, y)
    with pytest.raises(InputError, match=r"must have 2 classes \(as fitted\), got 4"):
        cal.transform(np.hstack([p, p]))
    with pytest.raises(UsageError, match="n_bins"):
        create_calibrator("histogram", n_bins=0)


@pytest.mark.parametrize("method", list(METHODS))
def test_json_round_trip_reproduces_outputs(tmp_path, method):
    z, p, y = _data(seed=6, n=800, C=3)
    y[:, 2] = 0
    cal = create_calibrator(method, input="probs").fit(p, y)
    thr = fit_thresholds(y, cal.transform(p), "f1")
    art = CalibrationArtifact("custom", ("a", "b", "c"), cal, thr, cal.fit_info_)
    path = tmp_path / "calib.json"
    art.save(path)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    loaded = load_calibration(path)
    assert loaded.classes == ("a", "b", "c") and loaded.task == "custom"
    assert loaded.calibrator.method == method
    p_new = np.random.default_rng(1).random((300, 3))
    np.testing.assert_array_equal(loaded.calibrator.transform(p_new), cal.transform(p_new))
    np.testing.assert_array_equal(loaded.thresholds.values, thr.values)
    with pytest.raises(OutputExistsError):
        art.save(path)
    art.save(path, force=True)


def _valid_dict():
    z, p, y = _data(seed=7, n=300, C=2)
    cal = create_calibrator("isotonic").fit(p, y)
    thr = fit_thresholds(y, cal.transform(p), "f1")
    return CalibrationArtifact("t", ("a", "b"), cal, thr).to_dict()


def _mutations():
    def setk(path, value):
        def f(d):
            o = d
            for k in path[:-1]:
                o = o[k]
            o[path[-1]] = value
        return f

    def delk(key):
        return lambda d: d.pop(key)

    return [
        ("format", setk(["format"], "something-else"), "not an lteval calibration file"),
        ("newer", setk(["schema_version"], 99), "newer lteval"),
        ("version-type", setk(["schema_version"], "1"), "schema_version"),
        ("missing", delk("params"), "missing field"),
        ("extra", setk(["paramz"], {}), "unexpected field"),
        ("method", setk(["method"], "isotonik"), "did you mean 'isotonic'"),
        ("input", setk(["input"], "scores"), "'input'"),
        ("classes", setk(["classes"], ["a", "a"]), "twice"),
        ("classes-empty", setk(["classes"], []), "non-empty list"),
        ("params-len", setk(["params", "x"], [[0.0, 1.0]]), "params.x"),
        ("params-unsorted", lambda d: d["params"]["x"][0].reverse(), "sorted"),
        ("params-range", lambda d: d["params"]["y"][0].__setitem__(-1, 7.0), "\\[0, 1\\]"),
        ("passthrough", setk(["params", "passthrough"], [0, 1]), "passthrough"),
        ("thr-values", setk(["thresholds", "values"], [0.5]), "thresholds.values"),
        ("thr-strategy", setk(["thresholds", "strategy"], "magic"), "thresholds.strategy"),
        ("thr-bool", setk(["thresholds", "values", 0], True), "finite number"),
        ("options", setk(["options"], {"bins": 3}), "options"),
    ]


@pytest.mark.parametrize("name,mutate,match", _mutations(), ids=[m[0] for m in _mutations()])
def test_malformed_files_are_rejected(tmp_path, name, mutate, match):
    d = _valid_dict()
    mutate(d)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(d))
    with pytest.raises(InputError, match=match) as e:
        load_calibration(path)
    assert e.value.file == str(path)


def test_non_json_and_nan_literals_are_rejected(tmp_path):
    p = tmp_path / "c.json"
    p.write_text("{not json")
    with pytest.raises(InputError, match="calibration file is not valid JSON") as e:
        load_calibration(p)
    assert e.value.line == 1
    d = _valid_dict()
    p.write_text(json.dumps(d).replace('"values": [', '"values": [NaN, ', 1))
    with pytest.raises(InputError):
        load_calibration(p)
    p.write_text(json.dumps(d).replace('"temperature"', '"temperature"'))
    assert load_calibration(p).calibrator.method == "isotonic"
    with pytest.raises(UsageError, match="does not exist"):
        load_calibration(tmp_path / "missing.json")


def test_parametric_params_are_validated(tmp_path):
    z, p, y = _data(seed=8, n=300, C=2)
    d = CalibrationArtifact("t", ("a", "b"), create_calibrator("temperature-per-class").fit(p, y)).to_dict()
    d["params"]["temperature"] = [1.0, -2.0]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(d))
    with pytest.raises(InputError, match="> 0"):
        load_calibration(path)


def test_library_never_imports_torch():
    code = ("import sys, lteval.calibration, lteval.calibration.artifact, lteval.calibration.crossfit, "
            "lteval.thresholds\n"
            "import numpy as np\n"
            "from lteval.calibration import create_calibrator, METHODS\n"
            "p = np.random.default_rng(0).random((100, 3)); y = (p > 0.5).astype(int)\n"
            "[create_calibrator(m).fit(p, y).transform(p) for m in METHODS]\n"
            "assert 'torch' not in sys.modules and 'netcal' not in sys.modules, 'torch imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_isotonic_tie_break_keeps_ranking_and_stays_within_1e6(tmp_path):
    z, p, y = _data(seed=9, n=3000)
    plain = create_calibrator("isotonic").fit(p, y)
    tb = create_calibrator("isotonic", tie_break=True).fit(p, y)
    q_plain, q_tb = plain.transform(p), tb.transform(p)
    assert np.abs(q_tb - q_plain).max() <= 1e-6
    np.testing.assert_array_equal(average_precision(y, q_tb), average_precision(y, p))
    np.testing.assert_array_equal(roc_auc(y, q_tb), roc_auc(y, p))
    assert not np.array_equal(average_precision(y, q_plain), average_precision(y, p))
    art = CalibrationArtifact("t", tuple("abcde"), tb)
    art.save(tmp_path / "c.json")
    back = load_calibration(tmp_path / "c.json").calibrator
    assert back.tie_break is True
    np.testing.assert_array_equal(back.transform(p), q_tb)
    with pytest.raises(UsageError, match="tie_break"):
        create_calibrator("isotonic", tie_break="yes")


def test_temperature_on_separable_or_anticorrelated_classes_is_finite_and_reported():
    z = np.linspace(-3, 3, 200)[:, None].repeat(3, axis=1)
    y = np.column_stack([(z[:, 0] > 0), (z[:, 1] < 0), np.random.default_rng(0).random(200) < expit(z[:, 2])])
    cal = create_calibrator("temperature-per-class", input="logits").fit(z, y.astype(int))
    assert np.isfinite(cal.temperature_).all() and (cal.temperature_ > 0).all()
    assert cal.temperature_[0] < 0.1  # separated: very sharp
    assert cal.temperature_[1] == pytest.approx(1e4)  # anti-correlated: flattened to the bound
    assert 0.5 < cal.temperature_[2] < 2.0
    assert any("bound" in w for w in cal.fit_info_["warnings"])
    q = cal.transform(z)
    assert np.all(np.diff(q[:, 0]) >= 0) and np.isfinite(q).all()
