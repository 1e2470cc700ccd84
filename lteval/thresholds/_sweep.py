"""One sort per class: the sorted sweep behind the precision / recall target rules.

For each class the scores are sorted once (descending, stable). A *cut* after
sorted position ``i`` predicts the top ``i + 1`` samples as positive; only cuts
at the end of a run of equal scores are valid (a threshold cannot split tied
scores, since the rule is ``score >= threshold``). At every cut the counts
``tp``/``fp`` are exact integers, so F1, precision and recall at every distinct
threshold come from cumulative sums, never from a grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PLACEMENTS = ("midpoint", "score")


@dataclass
class Sweep:
    """Class-major: sorted scores ``ss``, cumulative ``tp``, valid-cut mask ``end``, all (C, n).

    ``cnt`` (n,) is the number predicted positive at each cut (1..n); ``P`` (C,)
    the positives per class.
    """

    ss: np.ndarray
    tp: np.ndarray
    cnt: np.ndarray
    end: np.ndarray
    P: np.ndarray

    @property
    def n(self) -> int:
        return self.ss.shape[1]


def sweep(y: np.ndarray, s: np.ndarray) -> Sweep:
    """The sorted sweep of labels ``y`` (n, C) over scores ``s`` (n, C).

    Sorting runs on class-major copies (each class contiguous). The sort need
    not be stable: tied scores are only ever evaluated as a whole group.
    """
    st = np.ascontiguousarray(s.T)
    order = np.argsort(-st, axis=1)
    ss = np.take_along_axis(st, order, axis=1)
    yy = np.take_along_axis(np.ascontiguousarray(y.T), order, axis=1)
    tp = np.cumsum(yy, axis=1, dtype=np.float64)
    n = st.shape[1]
    end = np.empty(st.shape, dtype=bool)
    np.not_equal(ss[:, 1:], ss[:, :-1], out=end[:, :-1])
    end[:, -1] = True
    return Sweep(ss, tp, np.arange(1, n + 1, dtype=np.float64), end, tp[:, -1].copy())


def threshold_at(ss: np.ndarray, i: int, placement: str = "midpoint") -> float:
    """Threshold realising the cut after sorted position ``i`` of one class (``ss`` descending).

    ``i = -1`` means "predict nothing" (a value just above the top score).
    ``placement="score"`` returns the lowest included score (scikit-learn's
    ``precision_recall_curve`` convention); ``"midpoint"`` the middle of the gap
    to the next lower score, which the fitting data cannot tell apart and
    which leaves a margin either side on new data.
    """
    if i < 0:
        return float(np.nextafter(ss[0], np.inf))
    hi = float(ss[i])
    if placement == "score" or i + 1 >= ss.size:
        return hi
    lo = float(ss[i + 1])
    mid = 0.5 * (hi + lo)
    return mid if lo < mid <= hi else hi


def tie_size(ss: np.ndarray, i: int) -> int:
    """How many samples share the lowest included score at cut ``i`` (1 = no tie)."""
    if i < 0:
        return 0
    v = ss[i]
    # ss is sorted descending: the run of v ends at i
    return int(i - np.searchsorted(-ss, -v, side="left") + 1)
