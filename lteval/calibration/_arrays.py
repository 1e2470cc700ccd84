"""Score kinds and link functions of the calibration code.

Scores are ``(n, C)`` float64 arrays of either logits or probabilities; which
one is always stated by the caller (``input="logits"|"probs"``), never guessed
from the value range. Labels are ``(n, C)`` int8 arrays in {0, 1}. Arrays are
checked by the package's one helper, :mod:`lteval.metrics._validation`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from lteval.errors import UsageError
from lteval.metrics._validation import check_scores

#: How scores given to a calibrator are to be read.
INPUT_KINDS = ("logits", "probs")

#: Probabilities are clipped to [EPS, 1 - EPS] before taking logits (netcal does the same).
EPS = float(np.finfo(np.float64).eps)


def check_input_kind(kind: str) -> str:
    """``kind`` if it is 'logits' or 'probs', else UsageError."""
    if kind not in INPUT_KINDS:
        raise UsageError(f"input must be 'logits' or 'probs', got {kind!r}")
    return kind


def check_kind_scores(scores, kind: str, input_name: str = "scores") -> np.ndarray:
    """``scores`` of the stated ``kind`` as a C-contiguous (n, C) float64 array; 1-D is one class.

    The package's one array check (:func:`lteval.metrics._validation.check_scores`),
    with probabilities (``kind="probs"``) required to lie in [0, 1].
    """
    check_input_kind(kind)
    hint = "input='probs' means probabilities; pass input='logits' for unbounded scores"
    return check_scores(scores, input_name, probs=kind == "probs", order="C", hint=hint)


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
