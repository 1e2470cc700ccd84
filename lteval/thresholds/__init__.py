"""Decision thresholds for multi-label scores (numpy; no torch).

``fit_thresholds(y, scores, "f1" | "global" | "precision@X" | "recall@X" |
"prevalence" | "fixed@X")`` returns a :class:`Thresholds`; every rule is exact
(one sort per class over all distinct scores, not a grid); ties are never split
and are reported, as are classes without positives (they get ``fallback``).
"""

from __future__ import annotations

import numpy as np

from lteval.metrics._validation import check_scores
from lteval.thresholds.base import STRATEGY_HELP, Strategy, Thresholds, parse_strategy
from lteval.thresholds.f1 import f1_thresholds, global_threshold
from lteval.thresholds.prevalence import prevalence_thresholds
from lteval.thresholds.target import target_thresholds
from lteval.errors import UsageError


def fit_thresholds(y, scores, strategy: str | Strategy = "f1", *, prevalence=None,
                   fallback: float = 0.5, placement: str = "midpoint") -> Thresholds:
    """Thresholds chosen by ``strategy`` on labels ``y`` and scores (n, C)."""
    st = strategy if isinstance(strategy, Strategy) else parse_strategy(strategy)
    if st.name == "f1":
        return f1_thresholds(y, scores, fallback=fallback, placement=placement)
    if st.name == "global":
        return global_threshold(y, scores, placement=placement)
    if st.name in ("precision", "recall"):
        return target_thresholds(y, scores, metric=st.name, target=st.target, fallback=fallback,
                                 placement=placement)
    if st.name == "prevalence":
        if prevalence is None:
            raise UsageError("the 'prevalence' threshold strategy needs the training prevalence of "
                             "each class (training labels or counts)")
        return prevalence_thresholds(scores, prevalence, placement=placement)
    if st.name == "fixed":
        s = check_scores(scores, "scores")
        return Thresholds(st, np.full(s.shape[1], float(st.target)), float(fallback), [], placement,
                          {}, [])
    raise UsageError(f"unknown threshold strategy {st}")  # pragma: no cover


__all__ = ["STRATEGY_HELP", "Strategy", "Thresholds", "fit_thresholds", "f1_thresholds",
           "global_threshold", "target_thresholds", "prevalence_thresholds", "parse_strategy"]
