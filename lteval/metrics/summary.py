"""Macro (class-averaged) figures and the explicit empty-class policy.

A class with no positives in the evaluated set has undefined AP. Policy
``"zero"`` (scikit-learn's behaviour, the default) scores it AP 0 and keeps it
in the macro mean; ``"exclude"`` leaves it out. Macro F1 follows the same
policy (such a class has F1 0 under ``zero_division=0``). Macro AUROC is always
the mean over classes where AUROC is defined (both labels present).
"""

from __future__ import annotations

import numpy as np

from lteval.metrics._validation import check_policy, check_targets
from lteval.metrics.classification import precision_recall_f1
from lteval.metrics.ranking import average_precision, roc_auc


def macro_mean(values: np.ndarray, n_pos: np.ndarray, policy: str, *, kind: str) -> np.ndarray:
    """Class-average of ``values`` (..., C) under ``policy``; NaN where nothing is averaged.

    ``kind`` is ``"ap"`` / ``"f1"`` (empty classes handled by ``policy``) or
    ``"auc"`` (mean over defined values).
    """
    values = np.asarray(values, dtype=np.float64)
    n_pos = np.broadcast_to(np.asarray(n_pos), values.shape)
    if kind == "auc":
        keep = ~np.isnan(values)
    elif policy == "zero":
        values = np.where(n_pos == 0, 0.0, values)
        keep = np.ones(values.shape, dtype=bool)
    else:
        keep = n_pos > 0
    cnt = keep.sum(axis=-1)
    tot = np.where(keep, values, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)


def mean_average_precision(y_true, y_score, empty_class: str = "zero") -> float:
    """Macro mAP: equal-weight mean of per-class AP under the empty-class policy."""
    y, s = check_targets(y_true, y_score)
    return float(macro_mean(average_precision(y, s), y.sum(axis=0), check_policy(empty_class), kind="ap"))


def mean_roc_auc(y_true, y_score) -> float:
    """Macro AUROC over the classes where it is defined (NaN if none)."""
    y, s = check_targets(y_true, y_score)
    return float(macro_mean(roc_auc(y, s), y.sum(axis=0), "zero", kind="auc"))


def macro_f1(y_true, y_score, threshold=0.5, empty_class: str = "zero") -> float:
    """Macro F1 at ``threshold`` under the empty-class policy."""
    y, s = check_targets(y_true, y_score)
    _, _, f1 = precision_recall_f1(y, s, threshold)
    return float(macro_mean(f1, y.sum(axis=0), check_policy(empty_class), kind="f1"))
