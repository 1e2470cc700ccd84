"""The one array-validation helper: every fault, its exact message, at every entry point.

Messages name the argument (``input_name``), what was expected and what was got,
in plain values. What scikit-learn / netcal reject (text, complex, zero
classes) lteval rejects too; float32 probabilities are clipped with float32's
eps in ECE, exactly as netcal does.
"""

import re
import warnings

import numpy as np
import pytest

from lteval.calibration import create_calibrator, cross_fit, make_folds
from lteval.errors import InputError
from lteval.metrics import (
    average_precision, brier_score, calibration_error, per_class_calibration_error,
    precision_recall_f1, reliability_table, roc_auc,
)
from lteval.metrics._validation import (
    LABEL_DTYPE, check_labels, check_per_class, check_scores, check_targets, check_thresholds,
    float_eps,
)
from lteval.thresholds import Strategy, Thresholds, fit_thresholds, prevalence_thresholds

Y = np.array([[0, 1], [1, 0], [1, 1]])
P = np.array([[0.2, 0.7], [0.6, 0.1], [0.9, 0.4]])


def _raises(fn, *args, message, **kw):
    with pytest.raises(InputError) as e:
        fn(*args, **kw)
    text = str(e.value)
    assert text == message, text
    assert "np." not in text and "array(" not in text and "dtype(" not in text
    return text


# ------------------------------------------------------------------ every fault, exact wording
SCORE_FAULTS = [
    (None, "y_score must be an array, got None"),
    ([[0.1, 0.2], [0.3]], "y_score must be a rectangular array of numbers, got rows of different lengths"),
    (np.zeros((3, 2, 1)), "y_score must be 1-D (n_samples,) or 2-D (n_samples, n_classes), "
                          "got shape (3, 2, 1)"),
    (np.array([["0.5", "0.1"], ["0.2", "0.3"], ["0.4", "0.6"]]),
     "y_score must hold numbers, got text '0.5' at row 0, class 0"),
    (np.array([[0.5, 0.1], [0.2 + 1j, 0.3], [0.4, 0.6]]),
     "y_score must hold real numbers, got complex (0.2+1j) at row 1, class 0"),
    (np.array([[0.5, 0.1], [None, 0.3], [0.4, 0.6]], dtype=object),
     "y_score must hold numbers, got None at row 1, class 0"),
    (np.array([[0.5, "0.1"], [0.2, 0.3], [0.4, 0.6]], dtype=object),
     "y_score must hold numbers, got text '0.1' at row 0, class 1"),
    (np.array([[0.5, 0.1], [0.2, 0.3], [0.4, {}]], dtype=object),
     "y_score must hold numbers, got dict {} at row 2, class 1"),
    (np.array([["2020-01-01"] * 2] * 3, dtype="datetime64[D]"),
     "y_score must hold numbers, got dtype datetime64[D]"),
    (np.zeros((4, 2)), "y_score must have the same shape as y_true (3, 2), got (4, 2)"),
    (np.array([[0.5, 0.1], [np.nan, 0.3], [0.4, 0.6]]), "y_score must be finite, got nan at row 1, class 0"),
    (np.array([[0.5, 0.1], [0.2, 0.3], [0.4, -np.inf]]), "y_score must be finite, got -inf at row 2, class 1"),
]


@pytest.mark.parametrize("bad, message", SCORE_FAULTS)
def test_score_faults(bad, message):
    _raises(average_precision, Y, bad, message=message)


LABEL_FAULTS = [
    (None, "y_true must be an array, got None"),
    (np.array([[0, 1], [2, 0], [1, 1]]), "y_true must contain only 0 and 1, got 2 at row 1, class 0"),
    (np.array([[0, 1], [1, 0], [1, -1]]), "y_true must contain only 0 and 1, got -1 at row 2, class 1"),
    (np.array([[0.0, 1.0], [1.0, 0.5], [1.0, 1.0]]),
     "y_true must contain only 0 and 1, got 0.5 at row 1, class 1"),
    (np.array([[0.0, 1.0], [1.0, 0.0], [np.nan, 1.0]]),
     "y_true must contain only 0 and 1, got nan at row 2, class 0"),
    (np.array([["0", "1"], ["1", "0"], ["1", "1"]]), "y_true must hold numbers, got text '0' at row 0, class 0"),
    (Y + 0j, "y_true must hold real numbers, got complex 0j at row 0, class 0"),
    (np.zeros((0, 2)), "y_true must have at least 1 sample, got shape (0, 2)"),
    (np.zeros((3, 0)), "y_true must have at least 1 class, got shape (3, 0)"),
    ([], "y_true must have at least 1 sample, got shape (0,)"),
]


@pytest.mark.parametrize("bad, message", LABEL_FAULTS)
def test_label_faults(bad, message):
    shape = np.asarray(bad).shape if bad is not None else None
    scores = np.zeros(shape) if shape and len(shape) == 2 and 0 in shape else P
    if bad is not None and len(np.shape(bad)) == 1:
        scores = np.zeros(0)
    _raises(roc_auc, bad, scores, message=message)


def test_probability_range_and_zero_classes():
    _raises(calibration_error, Y, P * 2, message="y_prob must lie in [0, 1], got 1.4 at row 0, class 1")
    _raises(brier_score, Y, -P, message="y_prob must lie in [0, 1], got -0.2 at row 0, class 0")
    _raises(check_scores, np.zeros((5, 0)), "scores",
            message="scores must have at least 1 class, got shape (5, 0)")


def test_per_class_values():
    _raises(precision_recall_f1, Y, P, [0.5, 0.5, 0.5],
            message="threshold must have one number or 2 entries (one per class), got shape (3,)")
    _raises(precision_recall_f1, Y, P, [0.5, np.nan], message="threshold must be finite, got nan at class 1")
    _raises(precision_recall_f1, Y, P, "0.5", message="threshold must hold numbers, got text '0.5' at class 0")
    _raises(prevalence_thresholds, P, [0.1, 0.2, 0.3],
            message="prevalence must have 2 entries (one per class), got shape (3,)")
    _raises(prevalence_thresholds, P, [1.5, 0.2], message="prevalence must lie in [0, 1], got 1.5 at class 0")
    _raises(prevalence_thresholds, P, [0.1, 0.2 + 1j],
            message="prevalence must hold real numbers, got complex (0.2+1j) at class 1")


# ------------------------------------------------------------------ each entry point names its argument
def test_calibration_names_its_arguments():
    _raises(create_calibrator("platt").fit, P * 2, Y,
            message="scores must lie in [0, 1], got 1.4 at row 0, class 1; input='probs' means "
                    "probabilities; pass input='logits' for unbounded scores")
    _raises(create_calibrator("platt").fit, P, Y[:2],
            message="y must have the same shape as scores (3, 2), got (2, 2)")
    _raises(create_calibrator("platt", input="logits").fit, P.astype(str), Y,
            message="scores must hold numbers, got text '0.2' at row 0, class 0")
    cal = create_calibrator("platt").fit(P, Y)
    _raises(cal.transform, np.hstack([P, P]), message="scores must have 2 classes (as fitted), got 4")
    _raises(cross_fit, P, Y * 2, "platt", input="probs", folds=2,
            message="y must contain only 0 and 1, got 2 at row 0, class 1")
    _raises(make_folds, [["1"], ["0"]], 2, message="y must hold numbers, got text '1' at row 0, class 0")


def test_thresholds_name_their_arguments():
    _raises(fit_thresholds, Y, P[:2], "f1", message="scores must have the same shape as y (3, 2), got (2, 2)")
    _raises(fit_thresholds, None, P, "f1", message="y must be an array, got None")
    _raises(fit_thresholds, Y, np.zeros((3, 0)), "global",
            message="scores must have the same shape as y (3, 2), got (3, 0)")
    _raises(fit_thresholds, None, np.zeros((3, 0)), "fixed@0.5",
            message="scores must have at least 1 class, got shape (3, 0)")
    _raises(fit_thresholds, Y, P + 0j, "recall@0.5",
            message="scores must hold real numbers, got complex (0.2+0j) at row 0, class 0")
    th = Thresholds(Strategy("fixed", 0.5), np.array([0.5, 0.5]))
    _raises(th.predict, P[:, :1], message="scores must have 2 classes (as fitted), got 1")
    _raises(th.predict, np.full((2, 2), np.nan), message="scores must be finite, got nan at row 0, class 0")


# ------------------------------------------------------------------ what the reference libraries reject
def _sk_raises(fn, *a):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises((ValueError, TypeError)):
            fn(*a)


@pytest.mark.parametrize("case", ["text", "complex", "zero_classes"])
def test_rejects_what_sklearn_and_netcal_reject(case):
    sk = pytest.importorskip("sklearn.metrics")
    y = np.array([0, 1, 1, 0])
    p = np.array([0.1, 0.9, 0.8, 0.3])
    if case == "text":
        bad = p.astype(str)
        _sk_raises(sk.roc_auc_score, y, bad)
        _sk_raises(sk.average_precision_score, y, bad)
        with pytest.raises(InputError, match="must hold numbers, got text '0.1' at row 0, class 0"):
            roc_auc(y, bad)
        with pytest.raises(InputError, match="y_prob must hold numbers, got text"):
            calibration_error(y, bad)
    elif case == "complex":
        bad = p + 0j
        _sk_raises(sk.roc_auc_score, y, bad)
        _sk_raises(sk.brier_score_loss, y, bad)
        with pytest.raises(InputError, match=re.escape("must hold real numbers, got complex (0.1+0j)")):
            average_precision(y, bad)
        with pytest.raises(InputError, match="y_prob must hold real numbers"):
            brier_score(y, bad)
    else:
        _sk_raises(sk.roc_auc_score, np.zeros((4, 0)), np.zeros((4, 0)))
        for fn in (average_precision, roc_auc, calibration_error, brier_score, precision_recall_f1):
            with pytest.raises(InputError, match=re.escape("must have at least 1 class, got shape (4, 0)")):
                fn(np.zeros((4, 0)), np.zeros((4, 0)))
    netcal = pytest.importorskip("netcal.metrics")
    if case in ("text", "complex"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises((ValueError, TypeError)):
                netcal.ECE(2).measure(bad, y)


@pytest.mark.parametrize("seed", [0, 1])
def test_float32_ece_clips_like_netcal(seed):
    netcal = pytest.importorskip("netcal.metrics")
    rng = np.random.default_rng(seed)
    n = 3000
    y = (rng.random(n) < 0.3).astype(int)
    p = rng.random(n).astype(np.float32)
    p[:400] = 0.0
    p[400:800] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ece_ref, mce_ref = netcal.ECE(15).measure(p, y), netcal.MCE(15).measure(p, y)
    ece, mce = calibration_error(y, p)
    # exact (float64 sums over the same clipped values); the float64 eps gave a ~1e-8 gap
    assert abs(ece - ece_ref) < 1e-12 and abs(mce - mce_ref) < 1e-12
    assert abs(calibration_error(y, p.astype(np.float64))[0] - ece_ref) > 1e-9
    assert abs(per_class_calibration_error(y, p)[0][0] - ece_ref) < 1e-12
    eps = float(np.finfo(np.float32).eps)
    assert reliability_table(y, p)["confidence"][0] == pytest.approx(
        np.mean(np.clip(p[p < 1 / 15], eps, 1 - eps).astype(np.float64)), abs=1e-15)
    assert float_eps(p) == eps and float_eps(p.astype(np.float64)) == float(np.finfo(np.float64).eps)
    assert float_eps([0.5]) == float(np.finfo(np.float64).eps)


# ------------------------------------------------------------------ valid input: one dtype, unchanged values
def test_one_label_dtype_and_layout():
    for y in (Y, Y.astype(bool), Y.astype(np.float32), Y.astype(np.uint8), Y.tolist(),
              np.array(Y.tolist(), dtype=object)):
        out = check_labels(y)
        assert out.dtype == LABEL_DTYPE and out.shape == (3, 2)
        np.testing.assert_array_equal(out, Y)
    yy, s = check_targets(Y[:, 0], P[:, 0])
    assert yy.shape == s.shape == (3, 1) and s.dtype == np.float64
    f = np.asfortranarray(P)
    assert check_scores(f) is f  # no copy without order="C"
    assert check_scores(f, order="C").flags.c_contiguous
    assert check_scores(P.astype(np.float32)).dtype == np.float64
    assert check_thresholds(0.3, 2).tolist() == [0.3, 0.3]
    assert check_per_class(np.array([0.1, 0.2]), 2, "prevalence", bounds=(0, 1)).tolist() == [0.1, 0.2]


def test_calibrators_accept_every_label_dtype_identically():
    ref = create_calibrator("platt").fit(P, Y).transform(P)
    for y in (Y.astype(bool), Y.astype(np.float64), Y.tolist()):
        np.testing.assert_array_equal(create_calibrator("platt").fit(P, y).transform(P), ref)
