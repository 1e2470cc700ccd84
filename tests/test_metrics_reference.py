"""The metrics core against scikit-learn and netcal on random, tied and degenerate inputs."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netcal.metrics import ECE, MCE
from sklearn.metrics import (average_precision_score, brier_score_loss, f1_score,
                             precision_score, recall_score, roc_auc_score)

from lteval.metrics import (average_precision, brier_score, calibration_error, macro_f1,
                            mean_average_precision, mean_roc_auc, per_class_calibration_error,
                            precision_recall_f1, roc_auc)

TOL = 1e-12


def sk_ap(y, s):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.array([average_precision_score(y[:, c], s[:, c]) if y[:, c].any() else np.nan
                         for c in range(y.shape[1])])


def sk_auc(y, s):
    return np.array([roc_auc_score(y[:, c], s[:, c]) if 0 < y[:, c].sum() < len(y) else np.nan
                     for c in range(y.shape[1])])


def make(rng, n, C, *, decimals=None, prevalence=None):
    prevalence = rng.uniform(0.001, 0.5, C) if prevalence is None else np.asarray(prevalence)
    y = (rng.random((n, C)) < prevalence).astype(np.int8)
    s = np.clip(0.3 * y + rng.random((n, C)), 0, 1)
    if decimals is not None:
        s = np.round(s, decimals)
    return y, s


def assert_close(a, b):
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(np.nan_to_num(a), np.nan_to_num(b), rtol=0, atol=TOL)


@pytest.mark.parametrize("decimals", [None, 2, 1, 0])
@pytest.mark.parametrize("seed", range(4))
def test_ap_auc_match_sklearn_random_and_ties(seed, decimals):
    rng = np.random.default_rng(seed)
    y, s = make(rng, 400, 7, decimals=decimals)
    assert_close(average_precision(y, s), sk_ap(y, s))
    assert_close(roc_auc(y, s), sk_auc(y, s))


def test_degenerate_classes():
    rng = np.random.default_rng(3)
    n = 50
    s = rng.random((n, 5))
    s[:, 4] = 0.7  # constant scores
    y = np.zeros((n, 5), dtype=int)
    y[7, 1] = 1          # one positive
    y[:, 2] = 1          # all positive
    y[::3, 3] = 1
    y[::2, 4] = 1
    ap = average_precision(y, s)
    assert np.isnan(ap[0])                       # all negative: undefined (policy decides)
    assert ap[2] == 1.0                          # all positive
    assert_close(ap[1:], sk_ap(y, s)[1:])
    auc = roc_auc(y, s)
    assert np.isnan(auc[0]) and np.isnan(auc[2])
    assert auc[4] == 0.5
    assert_close(auc, sk_auc(y, s))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk_zero = np.mean([average_precision_score(y[:, c], s[:, c]) for c in range(5)])
    assert abs(mean_average_precision(y, s, "zero") - sk_zero) < TOL
    assert abs(mean_average_precision(y, s, "exclude") - np.nanmean(ap)) < TOL
    assert abs(mean_roc_auc(y, s) - np.nanmean(sk_auc(y, s))) < TOL


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 60), st.integers(1, 4), st.integers(0, 2**31 - 1), st.sampled_from([None, 1, 2]))
def test_property_ap_auc(n, C, seed, decimals):
    rng = np.random.default_rng(seed)
    y, s = make(rng, n, C, decimals=decimals)
    assert_close(average_precision(y, s), sk_ap(y, s))
    assert_close(roc_auc(y, s), sk_auc(y, s))


@pytest.mark.parametrize("threshold", [0.5, 0.3, "per-class"])
def test_prf_match_sklearn(threshold):
    rng = np.random.default_rng(11)
    y, s = make(rng, 300, 6, decimals=1)
    y[:, 5] = 0
    t = rng.uniform(0.2, 0.8, 6) if threshold == "per-class" else threshold
    p, r, f = precision_recall_f1(y, s, t)
    pred = (s >= np.broadcast_to(t, (6,))).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(p, precision_score(y, pred, average=None, zero_division=0), atol=TOL)
        np.testing.assert_allclose(r, recall_score(y, pred, average=None, zero_division=0), atol=TOL)
        np.testing.assert_allclose(f, f1_score(y, pred, average=None, zero_division=0), atol=TOL)
        assert abs(macro_f1(y, s, t) - f1_score(y, pred, average="macro", zero_division=0)) < TOL
    assert abs(macro_f1(y, s, t, "exclude") - f[:5].mean()) < TOL


@pytest.mark.parametrize("bins", [15, 10, 1])
@pytest.mark.parametrize("seed", range(3))
def test_ece_mce_match_netcal(seed, bins):
    rng = np.random.default_rng(seed)
    y, _ = make(rng, 500, 5)
    p = rng.random((500, 5)) ** 2
    p[:3, 0] = [0.0, 1.0, 1 / 15]  # edges and extremes
    ece, mce = calibration_error(y, p, n_bins=bins)
    assert abs(ece - ECE(bins).measure(p.ravel(), y.ravel())) < TOL
    assert abs(mce - MCE(bins).measure(p.ravel(), y.ravel())) < TOL
    eq = calibration_error(y, p, n_bins=bins, strategy="quantile")[0]
    assert abs(eq - ECE(bins, equal_intervals=False).measure(p.ravel(), y.ravel())) < TOL
    ece_c, mce_c = per_class_calibration_error(y, p, n_bins=bins)
    for c in range(5):
        assert abs(ece_c[c] - ECE(bins).measure(p[:, c], y[:, c])) < TOL
        assert abs(mce_c[c] - MCE(bins).measure(p[:, c], y[:, c])) < TOL


def test_ece_on_bin_edges_netcal():
    y = np.array([[0], [1], [1], [0], [1]])
    p = np.array([[i / 15] for i in (0, 1, 7, 14, 15)], dtype=float)
    assert abs(calibration_error(y, p)[0] - ECE(15).measure(p.ravel(), y.ravel())) < TOL


def test_brier_matches_sklearn():
    rng = np.random.default_rng(2)
    y, _ = make(rng, 200, 4)
    p = rng.random((200, 4))
    assert abs(brier_score(y, p) - brier_score_loss(y.ravel(), p.ravel())) < TOL


def test_row_and_column_order_invariance():
    rng = np.random.default_rng(5)
    y, s = make(rng, 200, 6, decimals=2)
    perm_r = rng.permutation(200)
    perm_c = rng.permutation(6)
    assert_close(average_precision(y[perm_r][:, perm_c], s[perm_r][:, perm_c]), average_precision(y, s)[perm_c])
    assert_close(roc_auc(y[perm_r], s[perm_r]), roc_auc(y, s))
    assert abs(calibration_error(y[perm_r], s[perm_r])[0] - calibration_error(y, s)[0]) < TOL


def test_perfect_and_reversed_ranking():
    y = np.array([[1], [1], [0], [0]])
    s = np.array([[0.9], [0.8], [0.2], [0.1]])
    assert average_precision(y, s)[0] == 1.0 and roc_auc(y, s)[0] == 1.0
    assert roc_auc(y, 1 - s)[0] == 0.0


@pytest.mark.parametrize("bad", [
    dict(y=[[0, 2]], s=[[0.1, 0.2]]),
    dict(y=[[0, 1]], s=[[0.1, np.nan]]),
    dict(y=[[0, 1]], s=[[0.1]]),
    dict(y=np.zeros((0, 2)), s=np.zeros((0, 2))),
])
def test_invalid_inputs_raise_clear_errors(bad):
    from lteval.errors import InputError

    with pytest.raises(InputError):
        average_precision(bad["y"], bad["s"])


@pytest.mark.parametrize("nb", [1, 7, 10, 15, 20])
def test_fast_bin_index_equals_searchsorted(nb):
    from lteval.metrics.calibration import bin_edges, bin_index, clip_probs

    rng = np.random.default_rng(nb)
    e = np.linspace(0, 1, 16)
    p = clip_probs(np.concatenate([rng.random(20000), e, np.nextafter(e, 2), np.nextafter(e, -1),
                                   np.round(rng.random(5000), 3)]))
    edges = bin_edges(p, nb)
    ref = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, nb - 1)
    np.testing.assert_array_equal(bin_index(p, edges), ref)
