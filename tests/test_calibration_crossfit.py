"""Cross-fitting: folds, no leakage, and the ECE targets on known miscalibration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from lteval.calibration.crossfit import cross_fit, evaluate, make_folds
from lteval.errors import InputError, UsageError
from lteval.metrics import calibration_error


def _miscalibrated(kind: str, n=4000, C=6, seed=0):
    """Labels drawn from true probabilities; predictions over- (x3 logits) or under- (/3) confident."""
    rng = np.random.default_rng(seed)
    offsets = np.linspace(-1.0, -4.0, C)  # prevalence ~30% down to ~3%
    z = rng.normal(size=(n, C)) * 1.5 + offsets
    y = (rng.random((n, C)) < expit(z)).astype(np.int8)
    factor = {"over": 3.0, "under": 1.0 / 3.0}[kind]
    return y, expit(z * factor), z * factor


@pytest.mark.parametrize("kind", ["over", "under"])
@pytest.mark.parametrize("method", ["temperature", "isotonic"])
def test_cross_fitted_ece_drops_by_half(kind, method):
    y, p, _ = _miscalibrated(kind)
    ece_before, _ = calibration_error(y, p)
    res = cross_fit(p, y, method, input="probs", folds=5, seed=1)
    ece_after, _ = calibration_error(y, res.probs)
    assert ece_before > 0.02  # the generated predictions are clearly miscalibrated
    assert ece_after <= 0.5 * ece_before, (ece_before, ece_after)


@pytest.mark.parametrize("method", ["temperature-per-class", "platt", "beta", "histogram"])
def test_other_methods_also_improve_ece(method):
    y, p, z = _miscalibrated("over", seed=2)
    res = cross_fit(z, y, method, input="logits", folds=5)
    assert calibration_error(y, res.probs)[0] < 0.5 * calibration_error(y, p)[0]


def test_held_out_outputs_do_not_depend_on_their_own_labels():
    y, p, _ = _miscalibrated("over", n=1500, seed=3)
    folds = make_folds(y, 5, seed=0)
    a = cross_fit(p, y, "isotonic", input="probs", folds=folds, thresholds="f1")
    y2 = y.copy()
    y2[folds == 2] = 1 - y2[folds == 2]  # scramble fold 2's labels
    b = cross_fit(p, y2, "isotonic", input="probs", folds=folds, thresholds="f1")
    np.testing.assert_array_equal(a.probs[folds == 2], b.probs[folds == 2])
    np.testing.assert_array_equal(a.decisions[folds == 2], b.decisions[folds == 2])
    assert not np.array_equal(a.probs[folds != 2], b.probs[folds != 2])


def test_folds_are_grouped_balanced_and_seeded():
    rng = np.random.default_rng(4)
    n = 1000
    groups = rng.integers(0, 300, n).astype(str)
    y = np.zeros((n, 3), dtype=np.int8)
    y[:, 0] = rng.random(n) < 0.3
    rare_groups = np.unique(groups)[:10]
    y[np.isin(groups, rare_groups), 2] = 1
    f = make_folds(y, 5, groups=groups, seed=7)
    for g in np.unique(groups):
        assert np.unique(f[groups == g]).size == 1  # a patient never straddles folds
    fold_of_rare = {int(f[groups == g][0]) for g in rare_groups}
    assert fold_of_rare == set(range(5))  # 10 rare groups spread over all 5 folds
    np.testing.assert_array_equal(f, make_folds(y, 5, groups=groups, seed=7))
    assert not np.array_equal(f, make_folds(y, 5, groups=groups, seed=8))
    sizes = np.bincount(make_folds(y, 5, seed=0))
    assert sizes.max() - sizes.min() <= 1
    with pytest.raises(UsageError, match="folds"):
        make_folds(y, 1)
    with pytest.raises(UsageError, match="groups"):
        make_folds(y, 5, groups=np.resize(["a", "b", "c"], n))  # 3 groups cannot fill 5 folds
    with pytest.raises(InputError):
        make_folds(y, 5, groups=groups[:10])


def test_evaluate_reports_before_after_with_cis_and_ranking():
    y, p, _ = _miscalibrated("over", n=1200, C=4, seed=5)
    results = [cross_fit(p, y, m, input="probs", folds=4, thresholds="f1")
               for m in ("none", "temperature", "isotonic")]
    rep = evaluate(y, p, results, n_boot=50, seed=0)
    assert set(rep["methods"]) == {"none", "temperature", "isotonic"}
    assert rep["ranking"][-1] == "none"  # worst ECE
    t = rep["methods"]["temperature"]
    assert t["ece"] < rep["before"]["ece"]
    lo, hi = t["ci"]["ece"]
    assert lo <= t["ece"] <= hi
    dlo, dhi = t["delta_ci"]["ece"]
    assert dhi < 0  # the improvement is clear on this data
    assert rep["methods"]["none"]["delta"]["ece"] == 0.0
    # thresholds cross-fitted on monotone maps give the same decisions: same mF1
    assert rep["methods"]["none"]["mF1"] == pytest.approx(t["mF1"])
    with pytest.raises(UsageError):
        evaluate(y, p, results, n_boot=0, rank_by="auc")
