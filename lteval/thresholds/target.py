"""Per-class thresholds reaching a target precision or recall, exact (one sort per class).

``precision@X``: among the thresholds whose precision is at least X, one with
the most recall, and of those the highest (fewest false positives). If no threshold reaches X the class is listed in
``unmet`` and gets the threshold of highest precision (then most recall).
``recall@X``: the highest threshold whose recall is at least X (always
reachable when the class has positives).
Classes without positives get the ``fallback`` value.
"""

from __future__ import annotations

import numpy as np

from lteval.errors import UsageError
from lteval.metrics._validation import check_targets
from lteval.thresholds._sweep import PLACEMENTS, sweep, threshold_at, tie_size
from lteval.thresholds.base import Strategy, Thresholds


def target_thresholds(y, scores, *, metric: str, target: float, fallback: float = 0.5,
                      placement: str = "midpoint") -> Thresholds:
    """Per-class thresholds (C,) for ``metric`` ('precision' | 'recall') >= ``target`` in (0, 1].

    ``y`` (n, C) in {0, 1}, ``scores`` (n, C); thresholds in the units of the scores.

    >>> y = [[1, 0], [0, 0], [1, 1], [0, 1]]
    >>> s = [[0.9, 0.2], [0.6, 0.3], [0.4, 0.8], [0.1, 0.7]]
    >>> t = target_thresholds(y, s, metric="precision", target=1.0)
    >>> t.values.tolist(), t.details["recall"]
    ([0.75, 0.5], [0.5, 1.0])
    >>> target_thresholds(y, s, metric="recall", target=1.0, placement="score").values.tolist()
    [0.4, 0.7]
    """
    if metric not in ("precision", "recall"):
        raise UsageError(f"metric must be 'precision' or 'recall', got {metric!r}")
    if not 0.0 < target <= 1.0:
        raise UsageError(f"target must be in (0, 1], got {target!r}")
    if placement not in PLACEMENTS:
        raise UsageError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
    y, s = check_targets(y, scores, names=("y", "scores"), order="C")
    sw = sweep(y, s)
    C = s.shape[1]
    values = np.empty(C)
    det = {k: [] for k in ("f1", "precision", "recall", "n_predicted", "tie_size", "met")}
    fallback_classes, unmet = [], []
    for c in range(C):
        P = float(sw.P[c])
        if P == 0:
            values[c] = fallback
            fallback_classes.append(c)
            for k in det:
                det[k].append(None)
            continue
        ends = np.flatnonzero(sw.end[c])
        tp = sw.tp[c, ends]
        cnt = sw.cnt[ends]
        prec = tp / cnt
        if metric == "precision":
            ok = prec >= target
            if ok.any():
                best_tp = tp[ok].max()
                j = int(np.flatnonzero(ok & (tp == best_tp))[0])
            else:
                j = int(np.flatnonzero(prec == prec.max())[-1])
                unmet.append(c)
        else:
            ok = tp >= target * P - 1e-9 * P
            j = int(np.flatnonzero(ok)[0])
        i = int(ends[j])
        values[c] = threshold_at(sw.ss[c], i, placement)
        det["f1"].append(float(2.0 * tp[j] / (cnt[j] + P)))
        det["precision"].append(float(prec[j]))
        det["recall"].append(float(tp[j] / P))
        det["n_predicted"].append(int(cnt[j]))
        det["tie_size"].append(tie_size(sw.ss[c], i))
        det["met"].append(c not in unmet)
    det["unmet"] = unmet
    notes = []
    if fallback_classes:
        notes.append(f"{len(fallback_classes)} class(es) without positives in the fitting data "
                     f"got the fallback threshold {fallback:g}")
    if unmet:
        notes.append(f"precision {target:g} is not reachable for {len(unmet)} class(es): they use "
                     "their highest-precision threshold")
    return Thresholds(Strategy(metric, float(target)), values, float(fallback), fallback_classes,
                      placement, det, notes)
