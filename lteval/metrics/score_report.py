"""``ScoreReport``: every figure ``lteval score`` prints, from arrays.

``score_arrays`` is the one place that assembles the per-class, overall and
group figures (and bootstrap intervals), each one of the table of figures
(:mod:`lteval.metrics.figures`). ``ScoreReport.to_dict()`` is exactly
the JSON of ``lteval score --json``; undefined values are ``None``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from lteval import __version__
from lteval.errors import InputError
from lteval.metrics._validation import check_policy, check_targets, check_thresholds
from lteval.metrics.bootstrap import bootstrap_distribution, percentile_ci
from lteval.metrics.figures import (
    PointState, group_keys, point_figures, point_statistics, statistic,
)
from lteval.metrics.groups import Groups


class EmptyClassWarning(UserWarning):
    """Some classes have no positives in the evaluated set."""


def _f(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


@dataclass
class ScoreReport:
    """Scores of one prediction set against one label set (see module docstring)."""

    task: str
    n_samples: int
    classes: list[str]
    threshold: float | list[float]
    empty_class_policy: str
    empty_classes: list[str]
    overall: dict[str, float | None]
    per_class: dict[str, dict]
    groups: dict[str, dict]
    ci: dict | None = None
    groups_source: str | None = field(default=None, compare=False)
    prevalence: dict[str, float] | None = field(default=None, compare=False)
    cluster_by: str | None = None       # metadata column the bootstrap resampled by
    n_clusters: int | None = None
    strata: dict | None = None          # see lteval.metrics.strata
    strata_gap: dict | None = None
    strata_by: list[str] | None = None

    def to_dict(self) -> dict:
        d = {
            "lteval_version": __version__,
            "task": self.task,
            "n_samples": self.n_samples,
            "classes": list(self.classes),
            "threshold": self.threshold,
            "empty_class_policy": self.empty_class_policy,
            "empty_classes": list(self.empty_classes),
            "overall": dict(self.overall),
            "per_class": {c: dict(v) for c, v in self.per_class.items()},
            "groups": {g: dict(v) for g, v in self.groups.items()},
        }
        if self.ci is not None:
            d["ci"] = dict(self.ci)
        if self.n_clusters is not None:
            d["cluster_by"] = self.cluster_by
            d["n_clusters"] = self.n_clusters
        if self.strata is not None:
            d["strata_by"] = list(self.strata_by or [])
            d["strata"] = self.strata
            d["strata_gap"] = self.strata_gap
        return d

    def class_order_by_frequency(self) -> list[str]:
        """Classes by decreasing training prevalence (or evaluated positives when unknown)."""
        if self.prevalence:
            return sorted(self.classes, key=lambda c: -self.prevalence.get(c, 0.0))
        return sorted(self.classes, key=lambda c: -self.per_class[c]["n_pos"])


def score_arrays(y_true, y_prob, classes, *, task: str = "custom", threshold=0.5,
                 empty_class: str = "zero", groups: Groups | None = None, n_boot: int = 0,
                 seed: int = 0, level: float = 0.95, n_bins: int = 15,
                 strategy: str = "uniform", clusters=None) -> ScoreReport:
    """Score probabilities ``y_prob`` (n, C) against ``y_true`` (n, C) for ``classes`` (C,).

    Every figure of :mod:`lteval.metrics.figures`: per class, overall, per group of
    ``groups``, and with ``n_boot`` > 0 their ``level`` percentile intervals (``seed``).
    ``threshold``: scalar or (C,) for F1; ``n_bins`` / ``strategy``: calibration bins.
    ``clusters`` (n,) makes the bootstrap resample clusters (e.g. patients) instead of rows.
    Raises :class:`~lteval.errors.InputError` when ``classes`` does not name every column.
    """
    y, p = check_targets(y_true, y_prob, probs=True)
    classes = list(classes)
    if len(classes) != y.shape[1]:
        raise InputError(f"classes has {len(classes)} names for {y.shape[1]} columns")
    policy = check_policy(empty_class)
    thr = check_thresholds(threshold, len(classes))
    n_pos = y.sum(axis=0, dtype=np.int64)
    empty = [c for c, k in zip(classes, n_pos) if k == 0]
    if empty:
        warnings.warn(f"{len(empty)} class(es) have no positives in the evaluated set "
                      f"({', '.join(empty[:5])}{'...' if len(empty) > 5 else ''}); "
                      f"policy '{policy}'", EmptyClassWarning, stacklevel=2)

    state = PointState(y, p, thr, n_bins, strategy)
    stats = point_statistics(state)
    empty_value = 0.0 if policy == "zero" else np.nan
    reported = {k: np.where(n_pos == 0, empty_value, v) if statistic(k).empty_by_policy else v
                for k, v in stats.items()}
    per_class = {
        c: {**{k: _f(v[j]) for k, v in reported.items()}, "n_pos": int(n_pos[j])}
        for j, c in enumerate(classes)
    }
    overall = {k: _f(v) for k, v in point_figures(state, stats, policy).items()}
    group_out: dict[str, dict] = {}
    group_idx: dict[str, np.ndarray] = {}
    if groups is not None:
        idx_all = groups.indices(classes)
        for g, members in groups.members.items():
            idx = idx_all[g]
            group_idx[g] = idx
            figs = point_figures(state, stats, policy, idx) if len(idx) else {}
            group_out[g] = {"classes": list(members), **{k: _f(figs.get(k)) for k in group_keys()}}
    ci = None
    if n_boot:
        dist = bootstrap_distribution(y, p, n_boot=n_boot, seed=seed, threshold=thr,
                                      empty_class=policy, groups=group_idx, n_bins=n_bins,
                                      strategy=strategy, clusters=clusters)
        ci = {"level": level, "n_boot": int(n_boot)}
        for k, v in dist.items():
            lo, hi = percentile_ci(v, level)
            ci[k] = [lo, hi]
    return ScoreReport(
        task=task, n_samples=int(y.shape[0]), classes=classes,
        threshold=float(thr[0]) if np.all(thr == thr[0]) else [float(t) for t in thr],
        empty_class_policy=policy, empty_classes=empty, overall=overall, per_class=per_class,
        groups=group_out, ci=ci, groups_source=groups.source if groups else None,
        prevalence=dict(groups.prevalence) if groups else None,
        n_clusters=None if clusters is None else int(len(np.unique(np.asarray(clusters)))),
    )
