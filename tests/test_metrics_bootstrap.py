"""Weighted bootstrap == resampling and calling the reference implementation; CIs and p-values."""

import time
import warnings

import numpy as np
import pytest
from netcal.metrics import ECE
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from lteval.metrics import (bootstrap_ci, bootstrap_distribution, paired_bootstrap,
                            resample_indices, score_arrays)
from lteval.metrics.groups import assign_groups
from lteval.tasks import TrainCounts


def reference_figures(y, p, policy="zero"):
    C = y.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ap = [average_precision_score(y[:, c], p[:, c]) for c in range(C)]
        aps = [a for a, c in zip(ap, range(C)) if policy == "zero" or y[:, c].any()]
        auc = [roc_auc_score(y[:, c], p[:, c]) for c in range(C) if 0 < y[:, c].sum() < len(y)]
        f1 = f1_score(y, (p >= 0.5).astype(int), average=None, zero_division=0)
    f1s = [f for f, c in zip(f1, range(C)) if policy == "zero" or y[:, c].any()]
    return {"mAP": np.mean(aps), "mAUROC": np.mean(auc), "mF1": np.mean(f1s),
            "ece": ECE(15).measure(p.ravel(), y.ravel())}


@pytest.mark.parametrize("policy", ["zero", "exclude"])
def test_each_resample_equals_reference(policy):
    rng = np.random.default_rng(0)
    n, C = 120, 5
    y = (rng.random((n, C)) < [0.4, 0.2, 0.05, 0.02, 0.01]).astype(int)
    p = np.round(np.clip(0.3 * y + rng.random((n, C)), 0, 1), 2)  # heavy ties
    dist = bootstrap_distribution(y, p, n_boot=8, seed=3, empty_class=policy)
    idx = resample_indices(n, 8, seed=3)
    for b in range(8):
        ref = reference_figures(y[idx[b]], p[idx[b]], policy)
        for k, v in ref.items():
            assert abs(dist[k][b] - v) < 1e-12, (k, b)


def test_chunking_does_not_change_resamples(monkeypatch):
    import lteval.metrics.bootstrap as bs

    rng = np.random.default_rng(1)
    y = (rng.random((80, 3)) < 0.3).astype(int)
    p = rng.random((80, 3))
    full = bootstrap_distribution(y, p, n_boot=20, seed=4)
    monkeypatch.setattr(bs, "_CHUNK_FLOATS", 1)
    small = bootstrap_distribution(y, p, n_boot=20, seed=4)
    for k in full:
        np.testing.assert_allclose(full[k], small[k], rtol=0, atol=1e-12)


def test_ci_contains_point_and_narrows_with_n():
    rng = np.random.default_rng(2)
    widths = []
    for n in (200, 3200):
        y = (rng.random((n, 4)) < 0.2).astype(int)
        p = np.clip(0.4 * y + rng.random((n, 4)) * 0.6, 0, 1)
        rep = score_arrays(y, p, list("abcd"), n_boot=300, seed=0)
        lo, hi = rep.ci["mAP"]
        assert lo <= rep.overall["mAP"] <= hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2


def test_group_figures_present_and_consistent():
    rng = np.random.default_rng(3)
    y = (rng.random((300, 4)) < [0.3, 0.05, 0.05, 0.005]).astype(int)
    p = rng.random((300, 4))
    g = assign_groups(TrainCounts({"a": 500, "b": 50, "c": 40, "d": 2}, 1000, "test"), list("abcd"))
    assert g.members == {"head": ("a",), "medium": ("b", "c"), "tail": ("d",)}
    rep = score_arrays(y, p, list("abcd"), groups=g, n_boot=50)
    assert rep.groups["head"]["mAP"] == rep.per_class["a"]["ap"]
    assert "medium.mAP" in rep.ci and "tail.mF1" in rep.ci


def test_paired_identical_and_better_model():
    rng = np.random.default_rng(4)
    n = 400
    y = (rng.random((n, 3)) < 0.2).astype(int)
    weak = rng.random((n, 3))
    strong = np.clip(0.5 * y + 0.5 * rng.random((n, 3)), 0, 1)
    same = paired_bootstrap(y, weak, weak, n_boot=200)
    assert same["mAP"]["diff"] == 0 and same["mAP"]["p_value"] == 1.0
    better = paired_bootstrap(y, weak, strong, n_boot=200)
    assert better["mAP"]["diff"] > 0
    assert better["mAP"]["ci"][0] > 0
    assert better["mAP"]["p_value"] < 0.05


def test_bootstrap_speed_budget_is_generous_but_real():
    """1,000 resamples of 1,620 x 30 must take well under the 2 s target (a loose 10 s bound here)."""
    rng = np.random.default_rng(0)
    y = (rng.random((1620, 30)) < np.geomspace(0.3, 0.003, 30)).astype(int)
    p = rng.random((1620, 30))
    t = time.perf_counter()
    ci = bootstrap_ci(y, p, n_boot=1000)
    assert time.perf_counter() - t < 10
    assert set(ci) >= {"mAP", "mAUROC", "mF1", "ece", "mce", "brier"}


def test_explicit_weights_keep_every_resample(monkeypatch):
    import lteval.metrics.bootstrap as bs

    rng = np.random.default_rng(7)
    y = (rng.random((60, 3)) < 0.3).astype(int)
    p = rng.random((60, 3))
    W = np.stack([np.bincount(r, minlength=60) for r in resample_indices(60, 37, seed=1)]).astype(float)
    monkeypatch.setattr(bs, "_CHUNK_FLOATS", 200)  # force several chunks
    d = bootstrap_distribution(y, p, weights=W)
    ref = bootstrap_distribution(y, p, n_boot=37, seed=1)
    assert len(d["mAP"]) == 37
    np.testing.assert_allclose(d["mAP"], ref["mAP"], atol=1e-12)
