"""F1-optimal thresholds, exact: per class, and one global threshold.

Per class, F1 = 2 TP / (TP + FP + P) is evaluated at every distinct score that
can be optimal (one sort per class) and the best cut is taken; when several
cuts reach the same F1 the highest threshold (fewest predicted positives) wins
and ``n_optimal`` says how many there were. A class with no positives in the
fitting data has F1 = 0 at every threshold: it gets the ``fallback`` value and
is listed in ``fallback_classes``.

The global threshold maximises macro F1 (the mean of per-class F1, every class
counted, ``zero_division=0``) or micro F1 over one value shared by all classes,
exactly: all n x C scores are sorted once, and the change each entry makes to
its own class's F1 is accumulated along the pooled order.
"""

from __future__ import annotations

import numpy as np

from lteval.thresholds._sweep import PLACEMENTS
from lteval.thresholds.base import Strategy, Thresholds
from lteval.errors import UsageError
from lteval.metrics._validation import check_targets


def _check_placement(placement: str) -> None:
    if placement not in PLACEMENTS:
        raise UsageError(f"placement must be one of {PLACEMENTS}, got {placement!r}")


def _best_f1_cut(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float, float, int]:
    """Best F1 cut of one class from its sorted (ascending) positive and negative scores.

    Only a distinct *positive* score can be the lowest included score of an
    F1-optimal cut (dropping a trailing group of negatives only raises F1), so
    the candidates are the distinct positive scores; TP and FP at each come
    from binary searches. Returns ``(threshold_score, tp, fp, n_optimal)`` for
    the highest-scoring best cut.
    """
    P = pos.size
    cand = np.unique(pos)[::-1]  # descending distinct positive scores
    tp = P - np.searchsorted(pos, cand, side="left")
    fp = neg.size - np.searchsorted(neg, cand, side="left")
    f1 = 2.0 * tp / (tp + fp + P)
    fmax = f1.max()
    opt = np.flatnonzero(f1 == fmax)
    j = int(opt[0])
    return float(cand[j]), float(tp[j]), float(fp[j]), int(opt.size)


def f1_thresholds(y, scores, *, fallback: float = 0.5, placement: str = "midpoint") -> Thresholds:
    """Per-class thresholds maximising F1 on ``(y, scores)`` (n, C), exactly.

    One sort per class (its scores split into positives and negatives, each
    sorted once); F1 at every distinct positive score from binary searches.
    ``y`` (n, C) in {0, 1}; thresholds (C,) in the units of ``scores``;
    ``placement`` is 'midpoint' (between the cut and the next lower score) or 'score'.

    >>> y = [[1, 0], [0, 0], [1, 1], [0, 1]]
    >>> s = [[0.9, 0.2], [0.6, 0.3], [0.4, 0.8], [0.1, 0.7]]
    >>> t = f1_thresholds(y, s)
    >>> t.values.tolist(), t.details["f1"]
    ([0.25, 0.5], [0.8, 1.0])
    """
    _check_placement(placement)
    y, s = check_targets(y, scores, names=("y", "scores"), order="C")
    C = s.shape[1]
    st = np.ascontiguousarray(s.T)
    pos_mask = np.ascontiguousarray(y.T) > 0
    values = np.empty(C)
    det = {k: [] for k in ("f1", "precision", "recall", "n_predicted", "tie_size", "n_optimal")}
    fallback_classes = []
    for c in range(C):
        pos = np.sort(st[c][pos_mask[c]])
        if pos.size == 0:
            values[c] = fallback
            fallback_classes.append(c)
            for k in det:
                det[k].append(None)
            continue
        neg = np.sort(st[c][~pos_mask[c]])
        t, tp, fp, n_opt = _best_f1_cut(pos, neg)
        # next lower distinct score (for the midpoint) and the size of the tie at t
        below = [a[i - 1] for a, i in ((pos, np.searchsorted(pos, t, "left")),
                                       (neg, np.searchsorted(neg, t, "left"))) if i > 0]
        if placement == "midpoint" and below:
            lo = float(max(below))
            mid = 0.5 * (t + lo)
            values[c] = mid if lo < mid <= t else t
        else:
            values[c] = t
        tie = int(np.searchsorted(pos, t, "right") - np.searchsorted(pos, t, "left")
                  + np.searchsorted(neg, t, "right") - np.searchsorted(neg, t, "left"))
        P = float(pos.size)
        det["f1"].append(2.0 * tp / (tp + fp + P))
        det["precision"].append(tp / (tp + fp))
        det["recall"].append(tp / P)
        det["n_predicted"].append(int(tp + fp))
        det["tie_size"].append(tie)
        det["n_optimal"].append(n_opt)
    notes = []
    if fallback_classes:
        notes.append(f"{len(fallback_classes)} class(es) without positives in the fitting data "
                     f"got the fallback threshold {fallback:g}")
    return Thresholds(Strategy("f1"), values, float(fallback), fallback_classes, placement, det, notes)


def global_threshold(y, scores, *, average: str = "macro", placement: str = "midpoint") -> Thresholds:
    """One threshold for all classes maximising macro (or micro) F1 on ``(y, scores)``, exactly.

    A cut whose lowest included scores are negatives for every class they
    belong to is never optimal (excluding them only lowers false positives),
    so the candidates are the distinct scores of positive entries. Each
    class's TP and FP at every candidate come from binary searches in its
    sorted positive and negative scores (one sort per class).
    ``y`` (n, C) in {0, 1}; the result repeats one threshold C times.

    >>> y = [[1, 0], [0, 0], [1, 1], [0, 1]]
    >>> s = [[0.9, 0.2], [0.6, 0.3], [0.4, 0.8], [0.1, 0.7]]
    >>> t = global_threshold(y, s)
    >>> t.values.tolist(), t.details["objective_value"]
    ([0.35, 0.35], 0.9)
    """
    _check_placement(placement)
    if average not in ("macro", "micro"):
        raise UsageError(f"average must be 'macro' or 'micro', got {average!r}")
    y, s = check_targets(y, scores, names=("y", "scores"), order="C")
    n, C = s.shape
    st = np.ascontiguousarray(s.T)
    pm = np.ascontiguousarray(y.T) > 0
    pos = [np.sort(st[c][pm[c]]) for c in range(C)]
    neg = [np.sort(st[c][~pm[c]]) for c in range(C)]
    P = np.array([a.size for a in pos], dtype=np.float64)
    all_pos = np.concatenate(pos)
    if all_pos.size == 0:
        cand = np.array([float(np.nextafter(st.max(), np.inf))])  # no positives: predict nothing
    else:
        cand = np.unique(all_pos)[::-1]  # descending
    TP = np.empty((C, cand.size))
    FP = np.empty((C, cand.size))
    for c in range(C):
        TP[c] = P[c] - np.searchsorted(pos[c], cand, side="left")
        FP[c] = neg[c].size - np.searchsorted(neg[c], cand, side="left")
    if average == "macro":
        den = TP + FP + P[:, None]
        f1 = np.divide(2.0 * TP, den, out=np.zeros_like(TP), where=den > 0)
        objective = f1.mean(axis=0)
    else:
        tp, fp = TP.sum(axis=0), FP.sum(axis=0)
        den = tp + fp + P.sum()
        objective = np.divide(2.0 * tp, den, out=np.zeros_like(tp), where=den > 0)
    k = int(np.argmax(objective))  # first = highest threshold on a tie
    t = float(cand[k])
    below = [a[i - 1] for c in range(C) for a in (pos[c], neg[c])
             for i in (int(np.searchsorted(a, t, "left")),) if i > 0]
    if placement == "midpoint" and below:
        lo = float(max(below))
        mid = 0.5 * (t + lo)
        t = mid if lo < mid <= t else t
    tie = int(sum(np.searchsorted(a, cand[k], "right") - np.searchsorted(a, cand[k], "left")
                  for c in range(C) for a in (pos[c], neg[c])))
    tpc, npred = TP[:, k], TP[:, k] + FP[:, k]
    f1c = np.where(npred + P > 0, 2 * tpc / np.maximum(npred + P, 1), 0.0)
    det = {
        "f1": f1c.tolist(),
        "precision": np.where(npred > 0, tpc / np.maximum(npred, 1), 0.0).tolist(),
        "recall": [float(tpc[c] / P[c]) if P[c] > 0 else None for c in range(C)],
        "n_predicted": npred.astype(int).tolist(),
        "objective": average,
        "objective_value": float(objective[k]),
        "tie_size": tie,
        "n_optimal": int(np.count_nonzero(objective == objective[k])),
    }
    empty = [int(c) for c in np.flatnonzero(P == 0)]
    notes = [f"{len(empty)} class(es) without positives count as F1 = 0 in the macro mean"] if empty else []
    return Thresholds(Strategy("global"), np.full(C, t), 0.5, [], placement, det, notes)
