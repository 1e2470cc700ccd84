"""Decision thresholds for multi-label scores (numpy; no torch).

``fit_thresholds(y, scores, "f1" | "global" | "precision@X" | "recall@X" |
"prevalence" | "fixed@X")`` returns a :class:`Thresholds`; every rule is exact
(one sort per class over all distinct scores, not a grid); ties are never split
and are reported, as are classes without positives (they get ``fallback``).
"""

from __future__ import annotations

import numpy as np

from lteval.metrics._validation import check_scores
from lteval.thresholds.base import STRATEGIES, STRATEGY_HELP, Strategy, Thresholds, parse_strategy
from lteval.thresholds.f1 import f1_thresholds, global_threshold
from lteval.thresholds.prevalence import prevalence_thresholds
from lteval.thresholds.target import target_thresholds
from lteval.errors import UsageError


def fit_thresholds(y, scores, strategy: str | Strategy = "f1", *, prevalence=None,
                   fallback: float = 0.5, placement: str = "midpoint") -> Thresholds:
    """Per-class thresholds (C,) chosen by ``strategy`` on labels ``y`` (n, C) in {0, 1} and scores (n, C).

    Thresholds are in the units of the scores (probabilities or logits); a
    sample is positive for class c when ``score >= values[c]``. ``prevalence``
    (C,) fractions in [0, 1] are needed by the ``"prevalence"`` strategy only.

    >>> y = [[1, 0], [0, 0], [1, 1], [0, 1]]
    >>> s = [[0.9, 0.2], [0.6, 0.3], [0.4, 0.8], [0.1, 0.7]]
    >>> fit_thresholds(y, s, "f1").values.tolist()
    [0.25, 0.5]
    >>> fit_thresholds(y, s, "prevalence", prevalence=[0.5, 0.25]).values.tolist()
    [0.5, 0.75]
    """
    st = strategy if isinstance(strategy, Strategy) else parse_strategy(strategy)
    fit = STRATEGIES.lookup(st.name, help=STRATEGY_HELP)
    return fit(y, scores, st, prevalence=prevalence, fallback=fallback, placement=placement)


# --------------------------------------------------------------------------- the strategies
# Each is ``fit(y, scores, strategy, *, prevalence, fallback, placement) -> Thresholds``.

@STRATEGIES.register("f1", summary="per-class F1-optimal, exact", target=False)
def _fit_f1(y, scores, st, *, prevalence, fallback, placement):
    return f1_thresholds(y, scores, fallback=fallback, placement=placement)


@STRATEGIES.register("global", summary="one threshold maximising macro F1", target=False)
def _fit_global(y, scores, st, *, prevalence, fallback, placement):
    return global_threshold(y, scores, placement=placement)


def _fit_target(y, scores, st, *, prevalence, fallback, placement):
    return target_thresholds(y, scores, metric=st.name, target=st.target, fallback=fallback,
                             placement=placement)


STRATEGIES.register("precision", _fit_target, summary="per class, target precision X", target=True)
STRATEGIES.register("recall", _fit_target, summary="per class, target recall X", target=True)


@STRATEGIES.register("prevalence", summary="predict the top k% of each class, k its training prevalence",
                     target=False)
def _fit_prevalence(y, scores, st, *, prevalence, fallback, placement):
    if prevalence is None:
        raise UsageError("the 'prevalence' threshold strategy needs the training prevalence of "
                         "each class (training labels or counts)")
    return prevalence_thresholds(scores, prevalence, placement=placement)


@STRATEGIES.register("fixed", summary="X for every class", target=True)
def _fit_fixed(y, scores, st, *, prevalence, fallback, placement):
    s = check_scores(scores, "scores")
    return Thresholds(st, np.full(s.shape[1], float(st.target)), float(fallback), [], placement,
                      {}, [])


__all__ = ["STRATEGIES", "STRATEGY_HELP", "Strategy", "Thresholds", "fit_thresholds", "f1_thresholds",
           "global_threshold", "target_thresholds", "prevalence_thresholds", "parse_strategy"]
