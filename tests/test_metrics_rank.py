"""lteval.metrics.rank: every resampled ranking equals scikit-learn's, ties, Holm, Kendall's tau."""

import warnings

import numpy as np
import pytest
from scipy.stats import kendalltau
from sklearn.metrics import average_precision_score, roc_auc_score

from lteval.errors import UsageError
from lteval.metrics.bootstrap import resample_indices
from lteval.metrics.rank import (compare_matrix, competition_ranks, holm, rank_systems,
                                 resolve_metric)


def sk_map(y, p, cols=None):
    cols = range(y.shape[1]) if cols is None else cols
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(np.mean([average_precision_score(y[:, c], p[:, c]) if y[:, c].any() else 0.0
                              for c in cols]))


def sk_brier(y, p):
    return float(np.mean((p - y) ** 2))


def make(n=90, C=4, k=4, seed=0, ties=True):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, C)) < [0.4, 0.2, 0.1, 0.05][:C]).astype(int)
    systems = {}
    for i in range(k):
        p = np.clip(0.15 * i * y + rng.random((n, C)), 0, 1)
        systems[f"m{i}"] = np.round(p, 1) if ties else p
    return y, systems


@pytest.mark.parametrize("metric,ref,higher", [("mAP", sk_map, True), ("brier", sk_brier, False)])
def test_each_resample_ranking_equals_sklearn(metric, ref, higher):
    y, systems = make()
    B = 12
    r = rank_systems(y, systems, metric=metric, n_boot=B, seed=5)
    idx = resample_indices(len(y), B, seed=5)
    names = list(systems)
    for b in range(B):
        vals = np.array([ref(y[idx[b]], systems[m][idx[b]]) for m in names])
        np.testing.assert_allclose(r.boot_values[b], vals, rtol=0, atol=1e-12)
        s = vals if higher else -vals
        expected_rank = 1 + (s[None, :] > s[:, None] + 1e-12).sum(axis=1)
        # the resample's competition ranks match the reference values' ranks
        got = competition_ranks(compare_matrix(r.boot_values[b], higher))
        np.testing.assert_array_equal(got, expected_rank)
    full = np.array([ref(y, systems[m]) for m in names])
    np.testing.assert_allclose(r.values, full, rtol=0, atol=1e-12)
    order = np.argsort(-full if higher else full, kind="stable")
    assert r.ranking == [names[i] for i in order]


def test_rank_probabilities_are_counts_of_resampled_ranks():
    y, systems = make(ties=False)
    B = 50
    r = rank_systems(y, systems, n_boot=B, seed=1)
    idx = resample_indices(len(y), B, seed=1)
    names = list(systems)
    counts = np.zeros((len(names), len(names)))
    wins = np.zeros((len(names), len(names)))
    for b in range(B):
        vals = np.array([sk_map(y[idx[b]], systems[m][idx[b]]) for m in names])
        order = np.argsort(-vals)
        for pos, i in enumerate(order):
            counts[i, pos] += 1
        wins += vals[:, None] > vals[None, :]
    np.testing.assert_allclose(r.rank_probabilities, counts / B, atol=1e-12)
    off = ~np.eye(len(names), dtype=bool)
    np.testing.assert_allclose(r.pairwise[off], (wins / B)[off], atol=1e-12)
    d = r.to_dict()
    for m in names:
        assert abs(sum(d["rank_probabilities"][m]) - 1) < 1e-12


def test_ties_in_the_metric_split_positions_and_never_win():
    y, systems = make(k=2, ties=False)
    systems = {"a": systems["m1"], "b": systems["m1"].copy(), "c": systems["m0"]}
    r = rank_systems(y, systems, n_boot=40, seed=0)
    d = r.to_dict()
    assert d["values"]["a"] == d["values"]["b"]
    assert d["ranks"]["a"] == d["ranks"]["b"]
    np.testing.assert_allclose(d["rank_probabilities"]["a"], d["rank_probabilities"]["b"])
    assert d["pairwise"]["a"]["b"] == 0.5 and d["pairwise"]["b"]["a"] == 0.5
    assert d["pairwise_p"]["a"]["b"] == 1.0
    # columns (positions) also sum to 1 with ties split
    np.testing.assert_allclose(r.rank_probabilities.sum(axis=0), 1.0)


def test_holm_against_hand_computation():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.4]), [0.8, 0.8])
    np.testing.assert_allclose(holm([0.9, 0.01, np.nan]), [0.9, 0.02, np.nan])


def test_holm_in_result_and_p_value_formula():
    y, systems = make(ties=False, k=3)
    B = 60
    r = rank_systems(y, systems, n_boot=B, seed=2)
    names = list(systems)
    k = len(names)
    raw = {}
    for i in range(k):
        for j in range(i + 1, k):
            d0 = r.values[i] - r.values[j]
            db = r.boot_values[:, i] - r.boot_values[:, j]
            far = np.count_nonzero(db <= 0) if d0 > 0 else np.count_nonzero(db >= 0)
            raw[(i, j)] = min(1.0, 2 * (1 + far) / (1 + B))
            assert r.pairwise_p[i, j] == pytest.approx(raw[(i, j)])
    pairs = sorted(raw, key=raw.get)
    m = len(pairs)
    running = 0.0
    for rank_, pr in enumerate(pairs):
        running = max(running, min(1.0, (m - rank_) * raw[pr]))
        assert r.pairwise_p_holm[pr] == pytest.approx(running)
        assert r.pairwise_p_holm[pr[::-1]] == pytest.approx(running)


def test_kendall_tau_equals_scipy():
    y, systems = make(k=5, ties=False)
    r = rank_systems(y, systems, n_boot=30, seed=3)
    for b in range(30):
        ref = kendalltau(r.values, r.boot_values[b]).statistic
        assert r.kendall_tau[b] == pytest.approx(ref, abs=1e-12)
    d = r.to_dict()["kendall_tau"]
    assert d["mean"] == pytest.approx(float(np.mean(r.kendall_tau)))
    assert d["ci"][0] <= d["mean"] <= d["ci"][1]


def test_group_and_per_class_metrics():
    y, systems = make(ties=False)
    groups = {"tail": np.array([2, 3]), "head": np.array([0])}
    r = rank_systems(y, systems, metric="tail_mAP", groups=groups, n_boot=5)
    np.testing.assert_allclose(r.values, [sk_map(y, systems[m], [2, 3]) for m in systems],
                               atol=1e-12)
    assert r.metric == "tail_mAP"
    assert resolve_metric("groups.tail.mAP", groups=groups).key == "tail.mAP"
    r2 = rank_systems(y, systems, metric="per_class.c1.auroc", classes=["c0", "c1", "c2", "c3"],
                      n_boot=5)
    np.testing.assert_allclose(r2.values, [roc_auc_score(y[:, 1], systems[m][:, 1])
                                           for m in systems], atol=1e-12)
    assert not resolve_metric("ece").higher_is_better


def test_json_shape_and_errors():
    y, systems = make(k=3)
    d = rank_systems(y, systems, n_boot=10).to_dict()
    for key in ("systems", "metric", "n_boot", "ranking", "rank_probabilities", "pairwise",
                "pairwise_p_holm", "kendall_tau"):
        assert key in d
    assert set(d["pairwise"]["m0"]) == {"m1", "m2"}
    assert isinstance(d["n_boot"], int) and d["n_boot"] == 10
    from lteval.metrics import bootstrap_ci
    ci = bootstrap_ci(y, systems["m1"], n_boot=10, seed=0)["mAP"]
    assert d["values_ci"]["m1"] == pytest.approx(list(ci), abs=1e-12)
    import json
    json.dumps(d, allow_nan=False)
    with pytest.raises(UsageError, match="at least 2"):
        rank_systems(y, {"a": systems["m0"]}, n_boot=5)
    with pytest.raises(UsageError, match="unknown metric 'mAPP'.*did you mean 'mAP'"):
        rank_systems(y, systems, metric="mAPP", n_boot=5)
    with pytest.raises(UsageError, match="n_boot"):
        rank_systems(y, systems, n_boot=0)


def test_clustered_rank_uses_cluster_resamples():
    y, systems = make(ties=False, k=3)
    singletons = np.arange(len(y)).astype(str)
    a = rank_systems(y, systems, n_boot=20, seed=4)
    b = rank_systems(y, systems, n_boot=20, seed=4, clusters=singletons)
    np.testing.assert_array_equal(a.boot_values, b.boot_values)  # one row per cluster == rows
    assert b.to_dict()["n_clusters"] == len(y)
