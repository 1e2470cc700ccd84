"""Threshold rules against brute force (scikit-learn at every distinct score) and a 100-point grid."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import f1_score, precision_score, recall_score

from lteval.errors import InputError, UsageError
from lteval.metrics import precision_recall_f1
from lteval.thresholds import Thresholds, fit_thresholds, parse_strategy


def _data(n=400, C=5, seed=0, decimals=2):
    rng = np.random.default_rng(seed)
    s = np.round(rng.random((n, C)), decimals)  # rounded: heavy ties
    y = (rng.random((n, C)) < 0.1 + 0.5 * s ** 2).astype(np.int8)
    return y, s


def _brute_f1(y, s):
    """Best F1 over every distinct score as threshold (score >= t), by scikit-learn."""
    return max(f1_score(y, (s >= t).astype(int), zero_division=0) for t in np.unique(s))


def _f1_at(y, s, thresholds):
    """F1 (zero_division=0) of ``s >= t`` for each t, vectorised (checked against sklearn below)."""
    pred = s[:, None] >= np.asarray(thresholds)[None, :]
    tp = (pred & (y[:, None] > 0)).sum(axis=0)
    den = pred.sum(axis=0) + y.sum()
    return np.where(den > 0, 2 * tp / np.maximum(den, 1), 0.0)


def _prec_rec_at(y, s, thresholds):
    """Precision and recall (zero_division=0) of ``s >= t`` for each t, vectorised."""
    pred = s[:, None] >= np.asarray(thresholds)[None, :]
    tp = (pred & (y[:, None] > 0)).sum(axis=0)
    npred = pred.sum(axis=0)
    return np.where(npred > 0, tp / np.maximum(npred, 1), 0.0), tp / max(y.sum(), 1)


def test_vectorised_references_equal_sklearn():
    y, s = _data(n=200, C=1, seed=9)
    grid = np.linspace(0, 1, 100)
    pred = [(s[:, 0] >= t).astype(int) for t in grid]
    np.testing.assert_allclose(_f1_at(y[:, 0], s[:, 0], grid),
                               [f1_score(y[:, 0], q, zero_division=0) for q in pred], atol=1e-15)
    prec, rec = _prec_rec_at(y[:, 0], s[:, 0], grid)
    np.testing.assert_allclose(prec, [precision_score(y[:, 0], q, zero_division=0) for q in pred], atol=1e-15)
    np.testing.assert_allclose(rec, [recall_score(y[:, 0], q) for q in pred], atol=1e-15)


def test_f1_thresholds_equal_brute_force():
    y, s = _data()
    th = fit_thresholds(y, s, "f1")
    _, _, f1 = precision_recall_f1(y, s, th.values)
    for c in range(s.shape[1]):
        best = _brute_f1(y[:, c], s[:, c]) if c == 0 else _f1_at(y[:, c], s[:, c], np.unique(s[:, c])).max()
        assert f1[c] == pytest.approx(best, abs=1e-12)
        assert th.details["f1"][c] == pytest.approx(best, abs=1e-12)
        # the threshold never splits tied scores: score placement reproduces the same predictions
        assert th.details["tie_size"][c] >= 1
    th_score = fit_thresholds(y, s, "f1", placement="score")
    np.testing.assert_array_equal(th_score.predict(s), th.predict(s))
    assert set(np.round(th_score.values, 12)) <= set(np.round(np.unique(s), 12))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(2, 60),
    seed=st.integers(0, 10_000),
    decimals=st.sampled_from([1, 2, 3, 8]),
    placement=st.sampled_from(["midpoint", "score"]),
)
def test_exact_f1_never_worse_than_a_100_point_grid(n, seed, decimals, placement):
    rng = np.random.default_rng(seed)
    C = 3
    s = np.round(rng.random((n, C)), decimals)
    y = (rng.random((n, C)) < rng.random(C)).astype(np.int8)
    th = fit_thresholds(y, s, "f1", placement=placement)
    _, _, f1 = precision_recall_f1(y, s, th.values)
    grid = np.linspace(0, 1, 100)
    for c in range(C):
        grid_best = _f1_at(y[:, c], s[:, c], grid).max()
        assert f1[c] >= grid_best - 1e-12


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (25, 2), elements=st.floats(0, 1, allow_nan=False, width=16)),
       arrays(np.int8, (25, 2), elements=st.integers(0, 1)))
def test_exact_f1_property_on_arbitrary_scores(s, y):
    th = fit_thresholds(y, s, "f1")
    _, _, f1 = precision_recall_f1(y, s, th.values)
    for c in range(2):
        if y[:, c].sum() == 0:
            assert c in th.fallback_classes
            continue
        assert f1[c] == pytest.approx(_f1_at(y[:, c], s[:, c], np.unique(s[:, c])).max(), abs=1e-12)


def test_empty_and_full_classes():
    y, s = _data(n=100, C=3, seed=1)
    y[:, 0] = 0
    y[:, 1] = 1
    th = fit_thresholds(y, s, "f1", fallback=0.3)
    assert th.fallback_classes == [0] and th.values[0] == 0.3
    assert th.details["f1"][0] is None
    assert th.predict(s)[:, 1].all()  # all-positive class: predict everything
    assert th.details["f1"][1] == 1.0
    assert any("without positives" in n for n in th.notes)


def test_multiple_optima_are_reported_and_the_highest_threshold_wins():
    s = np.array([[0.9], [0.8], [0.7], [0.6]])
    y = np.array([[1], [0], [1], [0]])
    # F1 at cut 1 = 2/3, cut 3 = 4/5 ... make two equal optima instead:
    s = np.array([[0.9], [0.8], [0.7], [0.6], [0.5], [0.4]])
    y = np.array([[1], [0], [0], [1], [1], [0]])
    th = fit_thresholds(y, s, "f1", placement="score")
    f1s = [f1_score(y[:, 0], (s[:, 0] >= t).astype(int)) for t in s[:, 0]]
    best = max(f1s)
    assert th.details["n_optimal"][0] == sum(np.isclose(f1s, best))
    assert th.values[0] == max(t for t, f in zip(s[:, 0], f1s) if np.isclose(f, best))


def test_ties_are_never_split():
    s = np.array([[0.5]] * 6 + [[0.2]] * 4)
    y = np.array([[1], [1], [1], [0], [0], [0], [0], [0], [0], [0]])
    th = fit_thresholds(y, s, "f1")
    pred = th.predict(s)[:, 0]
    assert pred[:6].all() and not pred[6:].any()
    assert th.details["tie_size"][0] == 6


@pytest.mark.parametrize("average", ["macro"])
def test_global_threshold_is_exact(average):
    y, s = _data(n=300, C=4, seed=2)
    y[:, 3] = 0
    th = fit_thresholds(y, s, "global")
    assert np.unique(th.values).size == 1
    got = f1_score(y, (s >= th.values[0]).astype(int), average="macro", zero_division=0)
    best = max(f1_score(y, (s >= t).astype(int), average="macro", zero_division=0) for t in np.unique(s))
    assert got == pytest.approx(best, abs=1e-12)
    assert th.details["objective_value"] == pytest.approx(got, abs=1e-12)


def test_global_micro_threshold_is_exact():
    from lteval.thresholds import global_threshold

    y, s = _data(n=200, C=3, seed=3)
    th = global_threshold(y, s, average="micro")
    got = f1_score(y, (s >= th.values[0]).astype(int), average="micro", zero_division=0)
    best = max(f1_score(y, (s >= t).astype(int), average="micro", zero_division=0) for t in np.unique(s))
    assert got == pytest.approx(best, abs=1e-12)


@pytest.mark.parametrize("target", [0.3, 0.5, 0.8])
def test_precision_target_gives_most_recall_then_highest_threshold(target):
    y, s = _data(n=300, C=4, seed=4)
    th = fit_thresholds(y, s, f"precision@{target}")
    for c in range(4):
        ts = np.unique(s[:, c])
        prec, rec = _prec_rec_at(y[:, c], s[:, c], ts)
        cands = [(r, t) for p_, r, t in zip(prec, rec, ts) if p_ >= target]
        pred = th.predict(s)[:, c]
        if cands:
            assert c not in th.details["unmet"]
            best_recall = max(r for r, _ in cands)
            chosen = max(t for r, t in cands if r == best_recall)
            np.testing.assert_array_equal(pred, s[:, c] >= chosen)
            assert precision_score(y[:, c], pred) >= target
        else:
            assert c in th.details["unmet"]


@pytest.mark.parametrize("target", [0.2, 0.5, 0.9, 1.0])
def test_recall_target_is_the_highest_threshold_reaching_it(target):
    y, s = _data(n=300, C=4, seed=5)
    th = fit_thresholds(y, s, f"recall@{target}")
    for c in range(4):
        ts = np.unique(s[:, c])
        _, rec = _prec_rec_at(y[:, c], s[:, c], ts)
        highest = max(t for r, t in zip(rec, ts) if r >= target - 1e-12)
        np.testing.assert_array_equal(th.predict(s)[:, c], s[:, c] >= highest)


def test_prevalence_matching():
    rng = np.random.default_rng(6)
    s = rng.random((1000, 3))
    prev = [0.1, 0.013, 0.0]
    th = fit_thresholds(None, s, "prevalence", prevalence=prev)
    np.testing.assert_array_equal(th.predict(s).sum(axis=0), [100, 13, 0])
    # ties: 50 samples share the top score; the closest achievable count is chosen
    s2 = np.r_[np.ones(50), np.linspace(0, 0.5, 950)][:, None]
    th2 = fit_thresholds(None, s2, "prevalence", prevalence=[0.03])
    assert th2.predict(s2).sum() in (0, 50)
    assert th2.details["n_predicted"][0] == 50 and th2.details["tie_size"][0] == 50
    with pytest.raises(UsageError, match="prevalence"):
        fit_thresholds(None, s, "prevalence")


def test_strategy_parsing_and_errors():
    assert str(parse_strategy("precision@0.9")) == "precision@0.9"
    assert parse_strategy("RECALL@.8").target == 0.8
    for bad in ("precision@1.5", "precision", "f2", "recall@0"):
        with pytest.raises(UsageError):
            parse_strategy(bad)
    with pytest.raises(InputError):
        fit_thresholds(np.zeros((3, 2)), np.zeros((4, 2)), "f1")
    with pytest.raises(InputError):
        fit_thresholds(np.full((3, 2), 2), np.zeros((3, 2)), "f1")
    th = fit_thresholds(None, np.zeros((3, 2)), "fixed@0.25")
    np.testing.assert_array_equal(th.values, [0.25, 0.25])


def test_thresholds_json_round_trip():
    y, s = _data(n=100, C=3, seed=7)
    for strat in ("f1", "global", "precision@0.6", "recall@0.7"):
        th = fit_thresholds(y, s, strat)
        d = json.loads(json.dumps(th.to_dict(), allow_nan=False))
        back = Thresholds.from_dict(d, 3)
        np.testing.assert_array_equal(back.values, th.values)
        assert str(back.strategy) == strat
    with pytest.raises(InputError, match="fallback_classes"):
        Thresholds.from_dict({**th.to_dict(), "fallback_classes": [7]}, 3)


def test_target_details_report_f1_consistent_with_sklearn():
    y, s = _data(n=300, C=3, seed=11)
    th = fit_thresholds(y, s, "recall@0.6")
    pred = th.predict(s)
    for c in range(3):
        assert th.details["f1"][c] == pytest.approx(f1_score(y[:, c], pred[:, c]), abs=1e-12)
        assert th.details["precision"][c] == pytest.approx(precision_score(y[:, c], pred[:, c]), abs=1e-12)


def test_global_threshold_without_any_positive_predicts_nothing():
    s = np.random.default_rng(12).random((50, 3))
    th = fit_thresholds(np.zeros((50, 3)), s, "global")
    assert th.predict(s).sum() == 0
    assert len(th.notes) == 1 and "3 class(es)" in th.notes[0]
