"""Prevalence matching: per class, predict the top k% of samples, k the class's training prevalence.

Needs no labels, only scores and the prevalence (e.g. from the training label
counts). With ties at the cut the exact fraction may be unreachable: the cut
whose predicted count is closest to ``k% * n`` is taken (the smaller on a tie)
and the achieved count is reported.
"""

from __future__ import annotations

import numpy as np

from lteval.errors import UsageError
from lteval.metrics._validation import check_per_class, check_scores
from lteval.thresholds._sweep import PLACEMENTS, threshold_at, tie_size
from lteval.thresholds.base import Strategy, Thresholds


def prevalence_thresholds(scores, prevalence, *, placement: str = "midpoint") -> Thresholds:
    """Per-class thresholds (C,) predicting a ``prevalence[c]`` fraction of ``scores`` (n, C) positive.

    ``prevalence`` (C,) fractions in [0, 1]; no labels are needed.

    >>> s = [[0.9, 0.2], [0.6, 0.3], [0.4, 0.8], [0.1, 0.7]]
    >>> t = prevalence_thresholds(s, [0.5, 0.25])
    >>> t.values.tolist(), t.details["n_predicted"]
    ([0.5, 0.75], [2, 1])
    """
    if placement not in PLACEMENTS:
        raise UsageError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
    s = check_scores(scores, "scores", order="C")
    n, C = s.shape
    pi = check_per_class(prevalence, C, "prevalence", bounds=(0.0, 1.0))
    ss = -np.sort(-np.ascontiguousarray(s.T), axis=1)  # class-major, descending
    values = np.empty(C)
    det = {k: [] for k in ("prevalence", "target_count", "n_predicted", "tie_size")}
    for c in range(C):
        col = ss[c]
        ends = np.r_[-1, np.flatnonzero(np.r_[col[1:] != col[:-1], True])]
        cnt = ends + 1.0
        m = pi[c] * n
        j = int(np.argmin(np.abs(cnt - m)))  # first = smaller count on a tie
        i = int(ends[j])
        values[c] = threshold_at(col, i, placement)
        det["prevalence"].append(float(pi[c]))
        det["target_count"].append(float(m))
        det["n_predicted"].append(int(cnt[j]))
        det["tie_size"].append(tie_size(col, i))
    return Thresholds(Strategy("prevalence"), values, 0.5, [], placement, det, [])
