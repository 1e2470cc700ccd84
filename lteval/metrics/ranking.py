"""Ranking metrics per class: average precision and ROC AUC, exactly as scikit-learn.

Both come from one sort per class. Scores are sorted in decreasing order and
tied scores form one group (one threshold), as in scikit-learn's
``_binary_clf_curve``. With ``tp_k`` / ``fp_k`` the cumulative true / false
positives at the end of tie group ``k`` and ``P`` / ``N`` the number of
positives / negatives:

* AP  = sum_k (tp_k - tp_{k-1}) / P * tp_k / (tp_k + fp_k)   (step-wise, not interpolated)
* AUC = sum_k (fp_k - fp_{k-1}) * (tp_k + tp_{k-1}) / (2 P N)  (trapezoids = ties count half)

AUC sums are integers, so they are computed exactly. A class without positives
has no AP (NaN here; the macro mean applies the empty-class policy); a class
without positives or without negatives has no AUC (NaN).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lteval.metrics._validation import check_targets


@dataclass(frozen=True)
class RankedGroups:
    """Per-class tie groups in decreasing score order, flattened over classes.

    ``cls`` (G,) class of each group, ``tp``/``fp`` (G,) cumulative counts at the
    group's end, ``n_pos`` (C,) positives per class, ``n`` samples.
    """

    cls: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    n_pos: np.ndarray
    n: int

    @property
    def n_classes(self) -> int:
        return len(self.n_pos)


def sort_scores(y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(order, sorted)``: per-class descending order (C, n) and sorted scores (C, n)."""
    s_t = np.ascontiguousarray(y_score.T)
    order = np.argsort(s_t, axis=1)[:, ::-1]
    return order, np.take_along_axis(s_t, order, axis=1)


def group_ends(s_sorted: np.ndarray) -> np.ndarray:
    """Boolean (C, n): True at the last position of each tie group."""
    last = np.empty(s_sorted.shape, dtype=bool)
    np.not_equal(s_sorted[:, :-1], s_sorted[:, 1:], out=last[:, :-1])
    last[:, -1] = True
    return last


def ranked_groups(y_true, y_score) -> RankedGroups:
    """Tie-grouped cumulative counts of every class, from one sort per class."""
    y, s = check_targets(y_true, y_score)
    order, s_sorted = sort_scores(s)
    y_sorted = np.take_along_axis(np.ascontiguousarray(y.T), order, axis=1)
    tps = np.cumsum(y_sorted, axis=1, dtype=np.int64)
    rows, cols = np.nonzero(group_ends(s_sorted))
    tp = tps[rows, cols]
    fp = cols.astype(np.int64) + 1 - tp
    return RankedGroups(rows, tp, fp, tps[:, -1].copy(), y.shape[0])


def _previous(values: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """Value of the previous group within the same class (0 for a class's first group)."""
    prev = np.empty_like(values)
    prev[0] = 0
    prev[1:] = values[:-1]
    first = np.empty(len(cls), dtype=bool)
    first[0] = True
    np.not_equal(cls[1:], cls[:-1], out=first[1:])
    prev[first] = 0
    return prev


def ap_from_groups(g: RankedGroups) -> np.ndarray:
    """Per-class AP (C,) from tie groups; NaN where a class has no positives."""
    tp = g.tp.astype(np.float64)
    dtp = tp - _previous(tp, g.cls)
    precision = tp / (tp + g.fp)
    num = np.bincount(g.cls, weights=dtp * precision, minlength=g.n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = num / g.n_pos
    ap[g.n_pos == 0] = np.nan
    return ap


def auc_from_groups(g: RankedGroups) -> np.ndarray:
    """Per-class ROC AUC (C,) from tie groups; NaN where only one label is present."""
    tp = g.tp.astype(np.float64)
    fp = g.fp.astype(np.float64)
    dfp = fp - _previous(fp, g.cls)
    num = np.bincount(g.cls, weights=dfp * (tp + _previous(tp, g.cls)), minlength=g.n_classes)
    n_neg = g.n - g.n_pos
    denom = 2.0 * g.n_pos * n_neg
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = num / denom
    auc[denom == 0] = np.nan
    return auc


def average_precision(y_true, y_score) -> np.ndarray:
    """Per-class average precision (C,), equal to ``sklearn.metrics.average_precision_score``.

    ``y_true`` (n, C) in {0, 1}, ``y_score`` (n, C) any finite scores (only
    their order matters); 1-D inputs are one class. Each AP is a fraction in
    [0, 1]. NaN for a class without positives (scikit-learn returns 0 with a
    warning; :func:`lteval.metrics.mean_average_precision` makes that choice explicit).

    >>> average_precision([[1, 0], [0, 0], [1, 0]], [[0.9, 0.1], [0.8, 0.2], [0.3, 0.3]]).round(4).tolist()
    [0.8333, nan]
    """
    return ap_from_groups(ranked_groups(y_true, y_score))


def roc_auc(y_true, y_score) -> np.ndarray:
    """Per-class ROC AUC (C,), equal to ``sklearn.metrics.roc_auc_score``; NaN where undefined.

    ``y_true`` (n, C) in {0, 1}, ``y_score`` (n, C) finite scores; tied scores
    count half. NaN for a class without positives or without negatives.

    >>> roc_auc([1, 0, 1, 0], [0.9, 0.8, 0.4, 0.4]).tolist()
    [0.625]
    """
    return auc_from_groups(ranked_groups(y_true, y_score))
