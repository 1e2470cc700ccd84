"""Calibration errors of per-class probabilities: ECE, MCE (binned) and Brier score.

Each of the n x C entries is one binary prediction ``p`` with outcome ``y``.
Entries are put into ``n_bins`` bins over [0, 1]: equal-width (``"uniform"``,
edges ``linspace(0, 1, n_bins + 1)``) or equal-mass (``"quantile"``, edges at
the quantiles of ``p``, outer edges forced to 0 and 1). A value on an inner
edge belongs to the upper bin. As in ``netcal.metrics.ECE``, probabilities are
first clipped to [eps, 1 - eps], eps the machine epsilon of the input's float
dtype (float32 input: 2**-23; anything else: float64's 2**-52). With ``n_b`` entries in bin b, mean outcome
``acc_b`` and mean probability ``conf_b``:

* ECE = sum_b n_b / n * |acc_b - conf_b|
* MCE = max_b |acc_b - conf_b| over non-empty bins
* Brier = mean (p - y)^2

``calibration_error`` pools all n x C entries (one set of bins);
``per_class_calibration_error`` bins each class on its own.
"""

from __future__ import annotations

import numpy as np

from lteval.errors import UsageError
from lteval.metrics._validation import check_targets, float_eps

STRATEGIES = ("uniform", "quantile")


def bin_edges(p: np.ndarray, n_bins: int = 15, strategy: str = "uniform") -> np.ndarray:
    """Bin edges (n_bins + 1,) for clipped probabilities ``p`` (any shape)."""
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise UsageError(f"n_bins must be a positive integer, got {n_bins!r}")
    if strategy == "uniform":
        return np.linspace(0.0, 1.0, n_bins + 1)
    if strategy == "quantile":
        edges = np.quantile(np.ravel(p), np.linspace(0.0, 1.0, n_bins + 1))
        edges[0], edges[-1] = 0.0, 1.0
        return edges
    raise UsageError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")


def clip_probs(p: np.ndarray, eps: float = float(np.finfo(np.float64).eps)) -> np.ndarray:
    """``p`` (any shape) clipped to [eps, 1 - eps] (netcal's ECE does the same)."""
    return np.clip(p, eps, 1.0 - eps)


def bin_index(p: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of every (clipped) probability; inner edges belong to the upper bin.

    Same result as ``searchsorted(edges, p, side="right") - 1``; for equal-width
    edges a floor followed by an exact correction against ``edges`` is used (faster).
    """
    nb = len(edges) - 1
    if nb > 0 and np.array_equal(edges, np.linspace(0.0, 1.0, nb + 1)):
        x = p * nb
        idx = x.astype(np.intp)  # floor, exact unless p is within rounding of an edge
        near = np.abs(x - np.rint(x)) < 1e-6
        if near.any():
            idx[near] = np.searchsorted(edges, p[near], side="right") - 1
        return np.clip(idx, 0, nb - 1)
    idx = np.searchsorted(edges, p, side="right") - 1
    return np.clip(idx, 0, nb - 1)


def bin_statistics(y: np.ndarray, p: np.ndarray, bins: np.ndarray, n_bins: int):
    """``(count, sum_p, sum_y)`` per bin, each (n_bins,) float64."""
    b = bins.ravel()
    count = np.bincount(b, minlength=n_bins).astype(np.float64)
    sum_p = np.bincount(b, weights=p.ravel(), minlength=n_bins)
    sum_y = np.bincount(b, weights=y.ravel().astype(np.float64), minlength=n_bins)
    return count, sum_p, sum_y


def errors_from_bins(count, sum_p, sum_y) -> tuple[float, float]:
    """``(ece, mce)`` from per-bin statistics (last axis = bins; leading axes broadcast)."""
    count = np.asarray(count, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        dev = np.where(count > 0, np.abs(sum_y / count - sum_p / count), 0.0)
        total = count.sum(axis=-1)
        ece = np.sum(dev * count, axis=-1) / total
    mce = dev.max(axis=-1)
    return ece, mce


def reliability_table(y_true, y_prob, n_bins: int = 15, strategy: str = "uniform") -> dict:
    """Pooled reliability diagram data over all n x C entries of ``y_prob`` (n, C) in [0, 1].

    Returns ``edges`` (n_bins + 1,) and, per bin (n_bins,): ``count`` (entries),
    ``confidence`` (mean probability) and ``frequency`` (fraction positive);
    NaN for an empty bin.

    >>> t = reliability_table([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3], n_bins=2)
    >>> t["count"].tolist(), t["frequency"].tolist()
    ([2.0, 2.0], [0.0, 1.0])
    """
    y, p = check_targets(y_true, y_prob, probs=True)
    p = clip_probs(p, float_eps(y_prob))
    edges = bin_edges(p, n_bins, strategy)
    count, sum_p, sum_y = bin_statistics(y, p, bin_index(p, edges), n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.where(count > 0, sum_p / count, np.nan)
        acc = np.where(count > 0, sum_y / count, np.nan)
    return {"edges": edges, "count": count, "confidence": conf, "frequency": acc}


def calibration_error(y_true, y_prob, n_bins: int = 15, strategy: str = "uniform") -> tuple[float, float]:
    """Pooled ``(ece, mce)`` over all n x C entries; equals netcal's ECE / MCE on the flattened arrays.

    ``y_true`` (n, C) in {0, 1}, ``y_prob`` (n, C) probabilities in [0, 1];
    both results are fractions in [0, 1] (not percent).

    >>> ece, mce = calibration_error([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3], n_bins=2)
    >>> round(ece, 4), round(mce, 4)
    (0.175, 0.2)
    """
    y, p = check_targets(y_true, y_prob, probs=True)
    p = clip_probs(p, float_eps(y_prob))
    edges = bin_edges(p, n_bins, strategy)
    ece, mce = errors_from_bins(*bin_statistics(y, p, bin_index(p, edges), n_bins))
    return float(ece), float(mce)


def _per_class_bin_statistics(y: np.ndarray, p: np.ndarray, n_bins: int, strategy: str):
    """``(count, sum_p, sum_y)`` per class and bin, each (C, n_bins); ``p`` already clipped."""
    n, C = p.shape
    if strategy == "uniform":
        bins = bin_index(p, bin_edges(p, n_bins, strategy))
    else:
        bins = np.empty(p.shape, dtype=np.int64)
        for c in range(C):
            bins[:, c] = bin_index(p[:, c], bin_edges(p[:, c], n_bins, strategy))
    flat = (bins + np.arange(C) * n_bins).ravel()
    size = C * n_bins
    count = np.bincount(flat, minlength=size).reshape(C, n_bins).astype(np.float64)
    sum_p = np.bincount(flat, weights=p.ravel(), minlength=size).reshape(C, n_bins)
    sum_y = np.bincount(flat, weights=y.ravel().astype(np.float64), minlength=size).reshape(C, n_bins)
    return count, sum_p, sum_y


def per_class_calibration_error(y_true, y_prob, n_bins: int = 15,
                                strategy: str = "uniform") -> tuple[np.ndarray, np.ndarray]:
    """Per-class ``(ece, mce)``, each (C,) fractions in [0, 1], every class binned on its own.

    >>> ece, mce = per_class_calibration_error([[0, 1], [1, 1]], [[0.2, 0.9], [0.6, 0.7]], n_bins=2)
    >>> ece.round(3).tolist()
    [0.3, 0.2]
    """
    y, p = check_targets(y_true, y_prob, probs=True)
    return errors_from_bins(*_per_class_bin_statistics(y, clip_probs(p, float_eps(y_prob)), n_bins,
                                                       strategy))


def calibration_summary(y_true, y_prob, n_bins: int = 15, strategy: str = "uniform"
                        ) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Pooled ``(ece, mce)`` and per-class ``(ece (C,), mce (C,))`` in one pass.

    With equal-width bins the pooled bin statistics are the sums of the per-class
    ones, so the probabilities are binned once.
    """
    if strategy != "uniform":
        ece, mce = calibration_error(y_true, y_prob, n_bins, strategy)
        return (ece, mce, *per_class_calibration_error(y_true, y_prob, n_bins, strategy))
    y, p = check_targets(y_true, y_prob, probs=True)
    count, sum_p, sum_y = _per_class_bin_statistics(y, clip_probs(p, float_eps(y_prob)), n_bins,
                                                    strategy)
    ece_c, mce_c = errors_from_bins(count, sum_p, sum_y)
    ece, mce = errors_from_bins(count.sum(0), sum_p.sum(0), sum_y.sum(0))
    return float(ece), float(mce), ece_c, mce_c


def brier_score(y_true, y_prob) -> float:
    """Mean squared difference between probability and outcome over all n x C entries.

    ``y_true`` (n, C) in {0, 1}, ``y_prob`` (n, C) in [0, 1]; the result is in [0, 1].

    >>> brier_score([0, 1], [0.25, 0.5])
    0.15625
    """
    y, p = check_targets(y_true, y_prob, probs=True)
    return float(np.mean((p - y) ** 2))
