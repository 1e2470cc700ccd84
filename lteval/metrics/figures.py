"""The one table of figures: what every summary figure is and how it is computed.

A :class:`Figure` names one figure as it appears everywhere: the key in the ``overall``
block of ``lteval score --json``, in the bootstrap output and ``ci``, and the
``--metric`` of ``lteval rank``; its label for people; whether higher or lower is
better; and its scope:

* ``"macro"``: the class average (:func:`~lteval.metrics.summary.macro_mean`, with
  ``average`` as its ``kind``) of a per-class :class:`Statistic` (``per_class``) under
  the empty-class policy. Reported overall and for every head / medium / tail group
  (``"tail.mAP"`` in the bootstrap and ``ci``; ``"tail_mAP"`` as a flat name).
* ``"pooled"``: one value over all N x C probabilities (ECE, MCE, Brier); needs
  probabilities, so the bootstrap skips it for logits (``calibration=False``).

Each figure is computed two ways from shared state, and the two agree:

* on the full data from a :class:`PointState` (the exact functions of the metrics
  core: tie groups, confusion counts, calibration bins; what ``lteval score`` prints);
* on weighted resamples from a :class:`ResampleState`: the data sorted once
  (:func:`sorted_state`) and resample weights W (B, n), as the bootstrap and
  ``lteval rank`` use it (see :mod:`lteval.metrics.bootstrap`).

Adding a figure is one entry in :data:`FIGURES` (plus a :class:`Statistic` in
:data:`STATISTICS` for a new per-class quantity, or its two pooled functions); score,
bootstrap, rank, strata, leaderboard and report read this table, through the functions
below (:func:`overall_keys`, :func:`group_keys`, :func:`headline_keys`, :func:`figure`),
so nothing else spells a figure's name or direction.

>>> [f.key for f in FIGURES if not f.higher_is_better]
['ece', 'mce', 'brier']
>>> figure_of("tail_mAP").label, lower_is_better("ece")
('mAP', True)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Mapping

import numpy as np

from lteval.metrics._validation import check_thresholds
from lteval.metrics.calibration import (
    bin_edges, bin_index, brier_score, calibration_summary, clip_probs, errors_from_bins,
)
from lteval.metrics.classification import precision_recall_f1
from lteval.metrics.ranking import (
    ap_from_groups, auc_from_groups, group_ends, ranked_groups, sort_scores,
)
from lteval.metrics.summary import macro_mean


# --------------------------------------------------------------------------- shared state
class PointState:
    """Full-data state shared by every figure: ``y`` (n, C) in {0, 1}, ``p`` (n, C) scores.

    ``thresholds`` (C,) for F1; ``n_bins`` / ``strategy`` for the calibration bins. Each
    piece (tie groups, confusion counts, calibration bins) is computed once, when a
    figure first needs it.
    """

    def __init__(self, y: np.ndarray, p: np.ndarray, thresholds: np.ndarray, n_bins: int = 15,
                 strategy: str = "uniform") -> None:
        self.y, self.p, self.thresholds = y, p, thresholds
        self.n_bins, self.strategy = n_bins, strategy
        self.n_pos = y.sum(axis=0, dtype=np.int64)

    @cached_property
    def ranked(self):
        """Per-class tie groups (:class:`~lteval.metrics.ranking.RankedGroups`)."""
        return ranked_groups(self.y, self.p)

    @cached_property
    def prf(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(precision, recall, f1)``, each (C,), at the thresholds."""
        return precision_recall_f1(self.y, self.p, self.thresholds)

    @cached_property
    def calibration(self):
        """``(ece, mce, ece per class (C,), ...)`` of :func:`calibration_summary`."""
        return calibration_summary(self.y, self.p, self.n_bins, self.strategy)


@dataclass
class SortedState:
    """The data sorted once, for scoring any number of weighted resamples of it."""

    n: int
    C: int
    M: object             # scipy.sparse (n, 2G): one-hot of each row's column, positives then negatives
    G: int
    seg_starts: np.ndarray  # (C,) first column of each class
    seg_of_col: np.ndarray  # (G,) class of each column
    A: np.ndarray         # (n, 3C) [y*pred, pred, y] for F1
    bins: np.ndarray      # (n, 3*n_bins) per-row [count, sum_p, sum_y] per calibration bin
    n_bins: int
    sq_err: np.ndarray    # (n,) per-row sum of squared errors


def sorted_state(y: np.ndarray, p: np.ndarray, threshold, n_bins: int, strategy: str,
                 calibration: bool) -> SortedState:
    """Sort ``p`` (n, C) once against ``y`` (n, C) into a :class:`SortedState`.

    ``threshold``: scalar or (C,) for F1; ``calibration=False`` skips the calibration
    bins (e.g. for logits).
    """
    import scipy.sparse as sp

    n, C = y.shape
    order, s_sorted = sort_scores(p)
    last = group_ends(s_sorted)
    n_groups = last.sum(axis=1)
    group_start = np.concatenate([[0], np.cumsum(n_groups)[:-1]]).astype(np.int64)
    # global tie-group number of every sorted position
    gg = (np.cumsum(last, axis=1) - last) + group_start[:, None]
    y_sorted = np.take_along_axis(np.ascontiguousarray(y.T), order, axis=1)
    n_all = int(n_groups.sum())
    has_pos = np.bincount(gg[y_sorted == 1], minlength=n_all) > 0
    # Runs of consecutive negative-only groups share one column: their true-positive
    # count is the same, so AP and AUC only need their total weight. Groups holding a
    # positive keep their own column. This shrinks the work from ~n*C to ~2*positives.
    new_col = has_pos.copy()
    new_col[1:] |= has_pos[:-1]
    new_col[group_start] = True
    merged = np.cumsum(new_col) - 1
    G = int(merged[-1]) + 1
    seg_starts = merged[group_start]
    seg_of_col = np.repeat(np.arange(C), np.diff(np.concatenate([seg_starts, [G]])))
    cols = merged[gg]
    cols = np.where(y_sorted == 1, cols, cols + G)
    M = sp.csr_matrix((np.ones(n * C), (order.ravel(), cols.ravel())), shape=(n, 2 * G))

    t = check_thresholds(threshold, C)
    pred = (p >= t).astype(np.float64)
    yf = y.astype(np.float64)
    A = np.concatenate([yf * pred, pred, yf], axis=1)

    if calibration:
        pc = clip_probs(p)
        edges = bin_edges(pc, n_bins, strategy)
        b = bin_index(pc, edges)
        flat = (b + (np.arange(n) * n_bins)[:, None]).ravel()
        size = n * n_bins
        cnt = np.bincount(flat, minlength=size).reshape(n, n_bins)
        sp_ = np.bincount(flat, weights=pc.ravel(), minlength=size).reshape(n, n_bins)
        sy = np.bincount(flat, weights=yf.ravel(), minlength=size).reshape(n, n_bins)
        bins = np.concatenate([cnt, sp_, sy], axis=1).astype(np.float64)
        sq = ((p - yf) ** 2).sum(axis=1)
    else:
        bins = np.zeros((n, 3 * n_bins))
        sq = np.zeros(n)
    return SortedState(n, C, M, G, seg_starts, seg_of_col, A, bins, n_bins, sq)


class ResampleState:
    """One chunk of weighted resamples: ``state`` (:class:`SortedState`), ``W`` (B, n) row
    multiplicities. Every piece is computed once per chunk, when a figure first needs it."""

    def __init__(self, state: SortedState, W: np.ndarray) -> None:
        self.state, self.W = state, W

    @cached_property
    def ranking(self) -> dict[str, np.ndarray]:
        """Weighted ``ap``, ``auroc`` and ``n_pos``, each (B, C) (NaN where undefined)."""
        st, W = self.state, self.W
        R = np.asarray(W @ st.M)  # (B, 2G)
        Rp, Rn = R[:, :st.G], R[:, st.G:]
        starts = st.seg_starts

        def within_class_cumsum(X):
            cs = np.cumsum(X, axis=1)
            base = np.zeros((X.shape[0], st.C))
            base[:, 1:] = cs[:, starts[1:] - 1]
            return cs - base[:, st.seg_of_col]

        TP = within_class_cumsum(Rp)
        FP = within_class_cumsum(Rn)
        ends = np.concatenate([starts[1:], [st.G]]) - 1
        P = TP[:, ends]
        N = FP[:, ends]
        den = TP + FP
        prec = np.zeros_like(TP)
        np.divide(TP, den, out=prec, where=den > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            ap = np.add.reduceat(Rp * prec, starts, axis=1) / P
            auc = np.add.reduceat(Rn * (2 * TP - Rp), starts, axis=1) / (2 * P * N)
        ap[P == 0] = np.nan
        auc[(P == 0) | (N == 0)] = np.nan
        return {"ap": ap, "auroc": auc, "n_pos": P}

    @property
    def n_pos(self) -> np.ndarray:
        """(B, C) weighted positives per class."""
        return self.ranking["n_pos"]

    @cached_property
    def f1(self) -> np.ndarray:
        """(B, C) weighted F1 at the state's thresholds (0 where undefined)."""
        F = self.W @ self.state.A
        C = self.state.C
        tp, npred, npos = F[:, :C], F[:, C:2 * C], F[:, 2 * C:]
        den = npred + npos
        f1 = np.zeros_like(tp)
        np.divide(2 * tp, den, out=f1, where=den > 0)
        return f1

    @cached_property
    def calibration_errors(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ece, mce)``, each (B,), over all N x C probabilities, on the full sample's bins."""
        nb = self.state.n_bins
        S = self.W @ self.state.bins
        return errors_from_bins(S[:, :nb], S[:, nb:2 * nb], S[:, 2 * nb:])

    def brier(self) -> np.ndarray:
        """(B,) weighted mean squared error over all N x C probabilities."""
        return (self.W @ self.state.sq_err) / (self.W.sum(axis=1) * self.state.C)


# --------------------------------------------------------------------------- the tables
@dataclass(frozen=True)
class Statistic:
    """A per-class figure: the key of ``per_class`` in ``lteval score --json``.

    ``point(PointState) -> (C,)``; ``resampled(ResampleState) -> (B, C)`` (None where the
    bootstrap does not resample it). ``empty_by_policy``: the value of a class without
    positives follows the empty-class policy (0 under ``"zero"``, null under
    ``"exclude"``) instead of the computed one.
    """

    key: str
    label: str
    higher_is_better: bool
    point: Callable[[PointState], np.ndarray]
    resampled: Callable[[ResampleState], np.ndarray] | None = None
    empty_by_policy: bool = False


@dataclass(frozen=True)
class Figure:
    """A summary figure (see the module docstring).

    ``point(PointState) -> float`` and ``resampled(ResampleState) -> (B,)`` are given
    for ``"pooled"`` figures; a ``"macro"`` figure is the ``average`` of ``per_class``.
    ``headline``: shown in the summary tables (leaderboard, report, run summaries).
    """

    key: str
    label: str
    higher_is_better: bool
    scope: str                    # "macro" or "pooled"
    summary: str
    per_class: str | None = None  # macro: the Statistic averaged
    average: str | None = None    # macro: macro_mean's kind ("ap", "auc", "f1")
    point: Callable[[PointState], float] | None = None
    resampled: Callable[[ResampleState], np.ndarray] | None = None
    headline: bool = False

    @property
    def calibration(self) -> bool:
        """True when the figure needs probabilities (pooled calibration figures)."""
        return self.scope == "pooled"


STATISTICS: tuple[Statistic, ...] = (
    Statistic("ap", "AP", True, lambda s: ap_from_groups(s.ranked), lambda r: r.ranking["ap"],
              empty_by_policy=True),
    Statistic("auroc", "AUROC", True, lambda s: auc_from_groups(s.ranked),
              lambda r: r.ranking["auroc"]),
    Statistic("f1", "F1", True, lambda s: s.prf[2], lambda r: r.f1),
    Statistic("precision", "precision", True, lambda s: s.prf[0]),
    Statistic("recall", "recall", True, lambda s: s.prf[1]),
    Statistic("ece", "ECE", False, lambda s: s.calibration[2]),
)

FIGURES: tuple[Figure, ...] = (
    Figure("mAP", "mAP", True, "macro", "macro mean of per-class average precision",
           per_class="ap", average="ap", headline=True),
    Figure("mAUROC", "mAUROC", True, "macro", "macro mean of per-class ROC AUC (defined classes)",
           per_class="auroc", average="auc", headline=True),
    Figure("mF1", "mF1", True, "macro", "macro mean of per-class F1 at the thresholds",
           per_class="f1", average="f1", headline=True),
    Figure("ece", "ECE", False, "pooled", "expected calibration error over all N x C probabilities",
           point=lambda s: s.calibration[0], resampled=lambda r: r.calibration_errors[0],
           headline=True),
    Figure("mce", "MCE", False, "pooled", "maximum calibration error over all N x C probabilities",
           point=lambda s: s.calibration[1], resampled=lambda r: r.calibration_errors[1]),
    Figure("brier", "Brier", False, "pooled", "mean squared error over all N x C probabilities",
           point=lambda s: brier_score(s.y, s.p), resampled=lambda r: r.brier()),
)

def figure(key: str) -> Figure:
    """The :class:`Figure` with ``key`` (``KeyError`` when there is none)."""
    for f in FIGURES:
        if f.key == key:
            return f
    raise KeyError(key)


def statistic(key: str) -> Statistic:
    """The per-class :class:`Statistic` with ``key`` (``KeyError`` when there is none)."""
    for s in STATISTICS:
        if s.key == key:
            return s
    raise KeyError(key)


def overall_keys() -> tuple[str, ...]:
    """Keys of every figure, in display order (the ``overall`` block of the score JSON)."""
    return tuple(f.key for f in FIGURES)


def group_keys() -> tuple[str, ...]:
    """Keys of the figures also reported per head / medium / tail group (the macro ones)."""
    return tuple(f.key for f in FIGURES if f.scope == "macro")


def headline_keys() -> tuple[str, ...]:
    """Keys of the figures shown in summary tables (leaderboard, report, run summaries)."""
    return tuple(f.key for f in FIGURES if f.headline)


def group_key(group: str, key: str) -> str:
    """Bootstrap / ``ci`` key of a group figure: ``group_key("tail", "mAP") == "tail.mAP"``."""
    return f"{group}.{key}"


def group_name(group: str, key: str) -> str:
    """Flat name of a group figure (leaderboard, ``rank --metric``): ``"tail_mAP"``."""
    return f"{group}_{key}"


def figure_of(name: str) -> Figure | None:
    """The :class:`Figure` behind ``name``: ``"ece"``, ``"tail_mAP"`` or ``"tail.mAP"``
    (None when ``name`` is none of them)."""
    if name in overall_keys():
        return figure(name)
    for sep in (".", "_"):
        group, _, key = name.rpartition(sep)
        if group and key in group_keys():
            return figure(key)
    return None


def lower_is_better(name: str) -> bool:
    """True when smaller values of figure ``name`` (see :func:`figure_of`) are better."""
    f = figure_of(name)
    return f is not None and not f.higher_is_better


# --------------------------------------------------------------------------- computing
def point_statistics(state: PointState) -> dict[str, np.ndarray]:
    """Every per-class statistic on the full data: ``{key: (C,)}`` (NaN where undefined)."""
    return {s.key: s.point(state) for s in STATISTICS}


def point_figures(state: PointState, stats: Mapping[str, np.ndarray], policy: str,
                  idx: np.ndarray | None = None) -> dict[str, float]:
    """Figures on the full data: ``{key: value}`` (NaN where undefined).

    ``stats``: :func:`point_statistics` of ``state``; ``idx``: class indices of a group
    (then only the macro figures, over those classes).
    """
    out: dict[str, float] = {}
    for f in FIGURES:
        if f.scope == "macro":
            v, k = stats[f.per_class], state.n_pos
            if idx is not None:
                v, k = v[idx], k[idx]
            out[f.key] = macro_mean(v, k, policy, kind=f.average)
        elif idx is None:
            out[f.key] = f.point(state)
    return out


def resampled_figures(state: SortedState, W: np.ndarray, policy: str,
                      groups: Mapping[str, np.ndarray] | None, calibration: bool
                      ) -> dict[str, np.ndarray]:
    """Every figure on the resamples ``W`` (B, n): ``{key: (B,)}`` (NaN where undefined).

    Overall figures first (pooled ones only with ``calibration``), then
    ``"<group>.<key>"`` for every macro figure of every non-empty group in ``groups``
    (group name -> class indices).
    """
    r = ResampleState(state, W)
    out: dict[str, np.ndarray] = {}
    macro = [f for f in FIGURES if f.scope == "macro"]
    for f in FIGURES:
        if f.scope == "macro":
            out[f.key] = macro_mean(statistic(f.per_class).resampled(r), r.n_pos, policy,
                                    kind=f.average)
        elif calibration:
            out[f.key] = f.resampled(r)
    for g, idx in (groups or {}).items():
        if len(idx) == 0:
            continue
        for f in macro:
            out[group_key(g, f.key)] = macro_mean(
                statistic(f.per_class).resampled(r)[:, idx], r.n_pos[:, idx], policy,
                kind=f.average)
    return out


__all__ = ["Figure", "Statistic", "FIGURES", "STATISTICS", "figure", "statistic",
           "overall_keys", "group_keys", "headline_keys", "group_key", "group_name",
           "figure_of", "lower_is_better", "PointState", "SortedState", "ResampleState",
           "sorted_state", "point_statistics", "point_figures", "resampled_figures"]
