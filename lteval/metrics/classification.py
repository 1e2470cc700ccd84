"""Thresholded metrics per class: precision, recall, F1 (``zero_division=0``).

A sample is predicted positive when ``score >= threshold``. With per-class
counts TP, FP, FN: precision = TP / (TP + FP), recall = TP / (TP + FN),
F1 = 2 TP / (2 TP + FP + FN); a zero denominator gives 0, as scikit-learn's
``zero_division=0``.
"""

from __future__ import annotations

import numpy as np

from lteval.metrics._validation import check_targets, check_thresholds


def confusion_counts(y_true, y_score, threshold=0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class ``(tp, fp, fn)`` (C,) int64 at ``threshold`` (scalar or (C,)).

    ``y_true`` (n, C) in {0, 1}, ``y_score`` (n, C); predicted positive when
    ``y_score >= threshold``.

    >>> [a.tolist() for a in confusion_counts([1, 0, 1], [0.7, 0.6, 0.2])]
    [[1], [1], [1]]
    """
    y, s = check_targets(y_true, y_score)
    t = check_thresholds(threshold, y.shape[1])
    pred = s >= t
    pos = y.astype(bool)
    tp = np.count_nonzero(pred & pos, axis=0).astype(np.int64)
    fp = np.count_nonzero(pred, axis=0) - tp
    fn = np.count_nonzero(pos, axis=0) - tp
    return tp, fp, fn


def _safe_div(num, den) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def prf_from_counts(tp, fp, fn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(precision, recall, f1)`` from counts of any matching shape, zero_division=0.

    >>> [a.tolist() for a in prf_from_counts([1, 0], [1, 0], [0, 0])]
    [[0.5, 0.0], [1.0, 0.0], [0.6666666666666666, 0.0]]
    """
    tp = np.asarray(tp, dtype=np.float64)
    return _safe_div(tp, tp + fp), _safe_div(tp, tp + fn), _safe_div(2 * tp, 2 * tp + fp + fn)


def precision_recall_f1(y_true, y_score, threshold=0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class ``(precision, recall, f1)``, each (C,) fractions in [0, 1], at ``threshold``.

    ``y_true`` (n, C) in {0, 1}, ``y_score`` (n, C); ``threshold`` one number or
    (C,); predicted positive when ``y_score >= threshold``; a zero denominator gives 0.

    >>> p, r, f1 = precision_recall_f1([[1, 0], [0, 0], [1, 1]], [[0.7, 0.2], [0.6, 0.1], [0.2, 0.9]])
    >>> p.tolist(), r.tolist(), f1.tolist()
    ([0.5, 1.0], [0.5, 1.0], [0.5, 1.0])
    """
    return prf_from_counts(*confusion_counts(y_true, y_score, threshold))
