"""Every calibrator against its reference implementation (netcal, scikit-learn, scipy) on the same data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit, logit

from lteval.calibration import create_calibrator

warnings.filterwarnings("ignore", category=DeprecationWarning)


def _data(n=3000, C=4, seed=0, scale=2.0, slope=0.5, shift=0.3):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, C)) * scale
    y = (rng.random((n, C)) < expit(z * slope - shift)).astype(np.int8)
    return z, expit(z), y


def _nll(eta, y):
    return np.sum(np.logaddexp(0, eta) - y * eta)


@pytest.fixture(scope="module")
def netcal():
    pytest.importorskip("netcal")
    import netcal.binning as nb
    import netcal.scaling as ns

    return ns, nb


def test_temperature_per_class_matches_netcal_and_scipy(netcal):
    ns, _ = netcal
    z, p, y = _data()
    cal = create_calibrator("temperature-per-class", input="probs").fit(p, y)
    for c in range(p.shape[1]):
        ref = ns.TemperatureScaling()
        ref.fit(p[:, c], y[:, c])
        w_ref = float(ref._sites["weights"]["values"][0])  # netcal stores the inverse temperature
        assert 1.0 / cal.temperature_[c] == pytest.approx(w_ref, rel=1e-4)
        np.testing.assert_allclose(cal.transform(p)[:, c], ref.transform(p[:, c]), atol=1e-4)
        # exact optimum: scipy with analytic gradient and tight tolerance
        zc = logit(p[:, c])
        res = minimize(lambda w: (_nll(w[0] * zc, y[:, c]), np.array([np.sum((expit(w[0] * zc) - y[:, c]) * zc)])),
                       x0=[1.0], jac=True, method="BFGS", options={"gtol": 1e-10})
        assert 1.0 / cal.temperature_[c] == pytest.approx(res.x[0], rel=1e-7)


def test_global_temperature_is_the_pooled_nll_optimum():
    z, p, y = _data(C=5, seed=3)
    cal = create_calibrator("temperature", input="logits").fit(z, y)
    zf, yf = z.ravel(), y.ravel()
    res = minimize(lambda w: (_nll(w[0] * zf, yf), np.array([np.sum((expit(w[0] * zf) - yf) * zf)])),
                   x0=[1.0], jac=True, method="BFGS", options={"gtol": 1e-10})
    assert 1.0 / cal.temperature_ == pytest.approx(res.x[0], rel=1e-7)
    np.testing.assert_allclose(cal.transform(z), expit(z * res.x[0]), rtol=1e-6)


def test_platt_raw_matches_sklearn_logistic_regression_and_netcal(netcal):
    from sklearn.linear_model import LogisticRegression

    ns, _ = netcal
    z, p, y = _data(seed=1)
    cal = create_calibrator("platt", input="logits", targets="raw").fit(z, y)
    for c in range(z.shape[1]):
        lr = LogisticRegression(C=1e12, tol=1e-12, max_iter=10_000).fit(z[:, [c]], y[:, c])
        assert cal.slope_[c] == pytest.approx(lr.coef_[0, 0], rel=1e-5)
        assert cal.intercept_[c] == pytest.approx(lr.intercept_[0], rel=1e-5, abs=1e-6)
        np.testing.assert_allclose(cal.transform(z)[:, c], lr.predict_proba(z[:, [c]])[:, 1], atol=1e-7)
        ref = ns.LogisticCalibration()
        ref.fit(p[:, c], y[:, c])
        # netcal: L-BFGS-B on numerical gradients, accurate to ~1e-5 only
        np.testing.assert_allclose(cal.transform(z)[:, c], ref.transform(p[:, c]), atol=1e-4)


def test_platt_targets_match_sklearn_sigmoid_calibration():
    from sklearn.calibration import _sigmoid_calibration

    z, p, y = _data(seed=2, n=1500)
    cal = create_calibrator("platt", input="logits").fit(z, y)
    for c in range(z.shape[1]):
        a, b = _sigmoid_calibration(z[:, c], y[:, c])  # sklearn: p = 1 / (1 + exp(a * f + b))
        np.testing.assert_allclose(cal.transform(z)[:, c], expit(-(a * z[:, c] + b)), atol=1e-5)


def test_platt_survives_perfect_separation():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(200, 1))
    y = (z > 0).astype(int)
    cal = create_calibrator("platt", input="logits").fit(z, y)
    q = cal.transform(z)
    assert np.isfinite(cal.slope_).all() and cal.slope_[0] > 0
    assert q[y == 1].min() > q[y == 0].max()


def test_beta_matches_netcal_and_sklearn(netcal):
    from sklearn.linear_model import LogisticRegression

    ns, _ = netcal
    z, p, y = _data(seed=4)
    cal = create_calibrator("beta", input="probs", targets="raw").fit(p, y)
    for c in range(p.shape[1]):
        X = np.column_stack([np.log(p[:, c]), -np.log1p(-p[:, c])])
        lr = LogisticRegression(C=1e12, tol=1e-12, max_iter=10_000).fit(X, y[:, c])
        assert lr.coef_.min() > 0  # this data needs no constraint, so the two must agree
        np.testing.assert_allclose([cal.a_[c], cal.b_[c]], lr.coef_[0], rtol=1e-5)
        ref = ns.BetaCalibration()
        ref.fit(p[:, c], y[:, c])
        np.testing.assert_allclose(cal.transform(p)[:, c], ref.transform(p[:, c]), atol=1e-4)


@pytest.mark.parametrize("shape", ["hump", "u", "decreasing"])
def test_beta_constrained_fit_is_the_bounded_optimum(shape):
    # true maps that beta calibration can only follow with a < 0 or b < 0: the bounds are active
    rng = np.random.default_rng(5)
    n = 4000
    p = rng.uniform(0.001, 0.999, size=(n, 1))
    q = {"hump": 0.1 + 0.7 * 4 * p * (1 - p), "u": 0.8 - 0.7 * 4 * p * (1 - p),
         "decreasing": 0.9 - 0.8 * p}[shape]
    y = (rng.random((n, 1)) < q).astype(int)
    X = np.column_stack([np.log(p[:, 0]), -np.log1p(-p[:, 0])])
    free = minimize(lambda t: _nll(X @ t[:2] + t[2], y[:, 0]), x0=[1, 1, 0], method="L-BFGS-B")
    bounded = minimize(lambda t: _nll(X @ t[:2] + t[2], y[:, 0]), x0=[1, 1, 0], method="L-BFGS-B",
                       bounds=[(0, None), (0, None), (None, None)], options={"ftol": 1e-15, "gtol": 1e-10})
    assert free.x[:2].min() < 0  # the constraint is active
    cal = create_calibrator("beta", input="probs", targets="raw").fit(p, y)
    assert cal.a_[0] >= 0 and cal.b_[0] >= 0
    ours = _nll(X @ np.array([cal.a_[0], cal.b_[0]]) + cal.c_[0], y[:, 0])
    assert ours <= bounded.fun + 1e-6
    np.testing.assert_allclose([cal.a_[0], cal.b_[0], cal.c_[0]], bounded.x, atol=2e-3)
    if shape == "decreasing":  # both bounds active: a constant map at the base rate
        assert cal.a_[0] == cal.b_[0] == 0
        np.testing.assert_allclose(cal.transform(p), y.mean(), rtol=1e-8)


def test_isotonic_matches_sklearn_and_netcal(netcal):
    from sklearn.isotonic import IsotonicRegression

    _, nb = netcal
    z, p, y = _data(seed=6, n=2000)
    p_new = np.random.default_rng(9).random((500, p.shape[1]))
    cal = create_calibrator("isotonic", input="probs").fit(p, y)
    for c in range(p.shape[1]):
        ref = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(p[:, c], y[:, c])
        np.testing.assert_allclose(cal.transform(p_new)[:, c], ref.predict(p_new[:, c]), atol=1e-12)
        nc = nb.IsotonicRegression()
        nc.fit(p[:, c], y[:, c])
        np.testing.assert_allclose(cal.transform(p_new)[:, c], nc.transform(p_new[:, c]), atol=1e-12)


def test_histogram_matches_netcal(netcal):
    _, nb = netcal
    z, p, y = _data(seed=7, n=2000)
    p_new = np.random.default_rng(10).random((700, p.shape[1]))
    for bins in (5, 10, 15):
        cal = create_calibrator("histogram", input="probs", n_bins=bins).fit(p, y)
        for c in range(p.shape[1]):
            ref = nb.HistogramBinning(bins=bins)
            ref.fit(p[:, c], y[:, c])
            np.testing.assert_allclose(cal.transform(p_new)[:, c], ref.transform(p_new[:, c]), atol=1e-12)


def test_histogram_quantile_bins_hold_equal_mass():
    from scipy.stats import binned_statistic

    z, p, y = _data(seed=8, n=3000, C=2)
    cal = create_calibrator("histogram", input="probs", n_bins=10, strategy="quantile").fit(p, y)
    for c in range(2):
        e = cal.edges_[c]
        counts = np.histogram(p[:, c], e)[0]
        assert counts.max() - counts.min() <= 1
        ref = binned_statistic(p[:, c], y[:, c], "mean", bins=e).statistic
        np.testing.assert_allclose(cal.values_[c], ref, atol=1e-12)


def test_logits_and_probs_inputs_agree():
    z, p, y = _data(seed=11, n=2000, scale=1.5)
    for m in ("temperature", "temperature-per-class", "platt", "beta"):
        a = create_calibrator(m, input="logits").fit(z, y).transform(z)
        b = create_calibrator(m, input="probs").fit(p, y).transform(p)
        np.testing.assert_allclose(a, b, atol=1e-8, err_msg=m)
