"""The one validation helper of the calibration and threshold code, plus link functions.

Scores are ``(n, C)`` float64 arrays of either logits or probabilities; which
one is always stated by the caller (``input="logits"|"probs"``), never guessed
from the value range. Labels are ``(n, C)`` arrays in {0, 1}.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from lteval.errors import InputError, UsageError

#: How scores given to a calibrator are to be read.
INPUT_KINDS = ("logits", "probs")

#: Probabilities are clipped to [EPS, 1 - EPS] before taking logits (netcal does the same).
EPS = float(np.finfo(np.float64).eps)


def check_input_kind(kind: str) -> str:
    """``kind`` if it is 'logits' or 'probs', else UsageError."""
    if kind not in INPUT_KINDS:
        raise UsageError(f"input must be 'logits' or 'probs', got {kind!r}")
    return kind


def check_scores(scores, kind: str, name: str = "scores") -> np.ndarray:
    """``scores`` as a C-contiguous (n, C) float64 array; 1-D input is one class.

    Raises InputError (naming ``name``) for a wrong shape, non-finite values, or
    probabilities outside [0, 1].
    """
    check_input_kind(kind)
    try:
        s = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"{name} must be numeric: {e}") from None
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2:
        raise InputError(f"{name} must be a 2-D array (n_samples, n_classes), got shape {s.shape}")
    if s.shape[0] == 0 or s.shape[1] == 0:
        raise InputError(f"{name} is empty (shape {s.shape})")
    if not np.isfinite(s).all():
        i, j = np.argwhere(~np.isfinite(s))[0]
        raise InputError(f"{name} has a non-finite value {float(s[i, j])!r} at row {i}, class {j}")
    if kind == "probs" and (s.min() < 0.0 or s.max() > 1.0):
        i, j = np.argwhere((s < 0) | (s > 1))[0]
        raise InputError(f"{name} has value {float(s[i, j])!r} outside [0, 1] at row {i}, class {j} "
                         "(input='probs'; pass input='logits' for unbounded scores)")
    return np.ascontiguousarray(s)


def check_labels(y, shape: tuple[int, int], name: str = "y") -> np.ndarray:
    """``y`` as an (n, C) float64 array of 0/1 matching ``shape``; 1-D input is one class."""
    try:
        a = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"{name} must be numeric 0/1 labels: {e}") from None
    if a.ndim == 1:
        a = a[:, None]
    if a.shape != tuple(shape):
        raise InputError(f"{name} has shape {a.shape}, expected {tuple(shape)} (same as the scores)")
    bad = (a != 0) & (a != 1)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise InputError(f"{name} has value {float(a[i, j])!r} at row {i}, class {j}; labels must be 0 or 1")
    return np.ascontiguousarray(a)


def sigmoid(z) -> np.ndarray:
    """Numerically stable logistic function, float64 (used for every logits -> probability step)."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    e = np.exp(z[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) with p clipped to [EPS, 1 - EPS] (finite everywhere)."""
    q = np.clip(p, EPS, 1.0 - EPS)
    return np.log(q) - np.log1p(-q)


def to_logits(scores: np.ndarray, kind: str) -> np.ndarray:
    """Scores of the stated ``kind`` as logits."""
    return scores if kind == "logits" else logit(scores)


def to_probs(scores: np.ndarray, kind: str) -> np.ndarray:
    """Scores of the stated ``kind`` as probabilities."""
    return expit(scores) if kind == "logits" else scores


def informative(y: np.ndarray) -> np.ndarray:
    """(C,) bool: the class has both positives and negatives (a per-class fit is possible)."""
    pos = y.sum(axis=0)
    return (pos > 0) & (pos < y.shape[0])
