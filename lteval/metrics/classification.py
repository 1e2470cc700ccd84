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
    """Per-class ``(tp, fp, fn)`` (C,) int64 at ``threshold`` (scalar or (C,))."""
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
    """``(precision, recall, f1)`` from counts of any matching shape, zero_division=0."""
    tp = np.asarray(tp, dtype=np.float64)
    return _safe_div(tp, tp + fp), _safe_div(tp, tp + fn), _safe_div(2 * tp, 2 * tp + fp + fn)


def precision_recall_f1(y_true, y_score, threshold=0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class ``(precision, recall, f1)``, each (C,), at ``threshold`` (scalar or (C,))."""
    return prf_from_counts(*confusion_counts(y_true, y_score, threshold))
