"""The one validation helper of the metrics core."""

from __future__ import annotations

import numpy as np

from lteval.errors import InputError, UsageError

EMPTY_CLASS_POLICIES = ("zero", "exclude")


def check_targets(y_true, y_score, *, probs: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert ``y_true`` (n, C) in {0, 1} and ``y_score`` (n, C) finite.

    1-D inputs are treated as one class (n, 1). Returns ``(int8 array, float64 array)``.
    With ``probs=True`` scores must lie in [0, 1].
    """
    y = np.asarray(y_true)
    s = np.asarray(y_score, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if s.ndim == 1:
        s = s[:, None]
    if y.ndim != 2:
        raise InputError(f"y_true must be 1-D or 2-D (n, C), got shape {y.shape}")
    if s.shape != y.shape:
        raise InputError(f"y_true and y_score must have the same shape, got {y.shape} and {s.shape}")
    if y.shape[0] == 0:
        raise InputError("y_true is empty (no samples)")
    if y.dtype.kind not in "biuf":
        raise InputError(f"y_true must be numeric 0/1, got dtype {y.dtype}")
    if y.dtype.kind in "iu":
        if y.min() < 0 or y.max() > 1:
            raise InputError("y_true must contain only 0 and 1")
    elif y.dtype.kind == "f":
        if not ((y == 0) | (y == 1)).all():
            raise InputError("y_true must contain only 0 and 1 (found NaN, infinite or other values)")
    if not np.isfinite(s).all():
        raise InputError("y_score contains NaN or infinite values")
    if probs and ((s < 0).any() or (s > 1).any()):
        raise InputError("y_prob must lie in [0, 1]")
    return y.astype(np.int8, copy=False), s


def check_policy(empty_class: str) -> str:
    if empty_class not in EMPTY_CLASS_POLICIES:
        raise UsageError(f"empty_class must be one of {EMPTY_CLASS_POLICIES}, got {empty_class!r}")
    return empty_class


def check_thresholds(threshold, n_classes: int) -> np.ndarray:
    """One global threshold or one per class -> (C,) float64."""
    t = np.asarray(threshold, dtype=np.float64)
    if t.ndim == 0:
        t = np.full(n_classes, float(t))
    if t.shape != (n_classes,):
        raise InputError(f"threshold must be a scalar or have shape ({n_classes},), got {t.shape}")
    if not np.isfinite(t).all():
        raise InputError("threshold must be finite")
    return t
