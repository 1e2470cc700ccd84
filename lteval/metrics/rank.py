"""Rank k >= 2 systems scored on the same labels, with bootstrap rank uncertainty.

``rank_systems(y, {"A": pA, "B": pB, ...}, metric="mAP")`` returns a
:class:`RankResult`: the full-data ranking, each system's rank distribution
over *paired* resamples (the same rows, or clusters, for every system), the
pairwise probability that A beats B, paired-bootstrap p-values with Holm's
adjustment, and Kendall's tau-b between each resampled ranking and the
full-data one. Definitions: ``docs/metrics.md`` ("Ranking systems").

Speed: each system is sorted once (:func:`lteval.metrics.figures.sorted_state`) and every resample
is a weighted re-count of that fixed order, exactly as ``score --bootstrap``;
one chunk of resample weights is drawn once and shared by all systems.

Ties: two figures within ``TIE_RTOL`` (relative) are tied. Tied systems share
the best rank they hold (competition ranking, 1-2-2-4) in ``ranks``; in
``rank_probabilities`` they split the positions they jointly occupy equally,
so each system's probabilities and each position's sum to 1. An undefined
figure (NaN, e.g. no class defined in a resample) ranks below every defined one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from lteval.errors import UsageError, did_you_mean
from lteval.metrics._validation import check_policy, check_targets, check_thresholds
from lteval.metrics.bootstrap import chunk_size, cluster_codes, percentile_ci, weight_chunks
from lteval.metrics.figures import (
    FIGURES, figure, group_key, group_keys, group_name, overall_keys, resampled_figures,
    sorted_state,
)

#: Relative tolerance under which two figures count as tied.
TIE_RTOL = 1e-12


def _per_class_figures() -> dict[str, str]:
    """Per-class statistic -> the macro figure that, over a one-class group, is that statistic."""
    return {f.per_class: f.key for f in FIGURES if f.scope == "macro"}


_CLASS_GROUP = "__class__"


@dataclass(frozen=True)
class MetricSpec:
    """A resolved ranking metric: the bootstrap figure key, direction and what it needs."""

    name: str                    # as the user names it (canonical spelling)
    key: str                     # key of bootstrap_distribution's output
    higher_is_better: bool
    calibration: bool
    groups: dict                 # group name -> class indices needed for ``key``


def metric_choices(group_names: Sequence[str] = (), classes: Sequence[str] = ()) -> list[str]:
    """Every metric name :func:`resolve_metric` accepts for these groups / classes."""
    out = list(overall_keys())
    out += [group_name(g, f) for g in group_names for f in group_keys()]
    out += [f"per_class.{c}.{f}" for c in classes for f in _per_class_figures()]
    return out


def resolve_metric(metric: str, *, groups: Mapping[str, np.ndarray] | None = None,
                   classes: Sequence[str] | None = None) -> MetricSpec:
    """Parse a figure of the score JSON into a :class:`MetricSpec`.

    Accepted: ``mAP mAUROC mF1 ece mce brier`` (``overall.`` prefix optional);
    group figures ``tail_mAP``, ``tail.mAP`` or ``groups.tail.mAP``; per-class
    figures ``per_class.<class>.ap|auroc|f1`` (needs ``classes``).
    """
    groups = dict(groups or {})
    classes = list(classes or [])
    m = str(metric).strip()
    if m.startswith("overall."):
        m = m[len("overall."):]
    if m in overall_keys():
        f = figure(m)
        return MetricSpec(m, m, f.higher_is_better, f.calibration, {})
    if m.startswith("per_class."):
        rest = m[len("per_class."):]
        cls, _, fig = rest.rpartition(".")
        per_class = _per_class_figures()
        if fig in per_class and cls in classes:
            idx = np.array([classes.index(cls)], dtype=np.int64)
            f = figure(per_class[fig])
            return MetricSpec(m, group_key(_CLASS_GROUP, f.key), f.higher_is_better,
                              f.calibration, {_CLASS_GROUP: idx})
    else:
        g = m[len("groups."):] if m.startswith("groups.") else m
        for sep in (".", "_"):
            name, _, fig = g.rpartition(sep)
            if fig in group_keys() and name in groups:
                if len(groups[name]) == 0:
                    raise UsageError(f"metric {metric!r}: group {name!r} has no classes")
                f = figure(fig)
                return MetricSpec(group_name(name, fig), group_key(name, fig), f.higher_is_better,
                                  f.calibration, {name: np.asarray(groups[name], dtype=np.int64)})
    choices = metric_choices(list(groups), [])
    hint = did_you_mean(m, metric_choices(list(groups), classes))
    raise UsageError(f"unknown metric {metric!r}{hint}; choose one of {', '.join(choices)}"
                     + (f" or per_class.<class>.{'|'.join(_per_class_figures())}" if classes else ""))


@dataclass
class RankResult:
    """Ranking of systems with bootstrap uncertainty; ``to_dict()`` is ``lteval rank --json``."""

    systems: list[str]
    metric: str
    higher_is_better: bool
    n_samples: int
    n_boot: int
    seed: int
    level: float
    values: np.ndarray            # (k,) full-data figure of each system
    ranks: np.ndarray             # (k,) full-data competition rank (1 = best)
    rank_probabilities: np.ndarray  # (k, k) P(system i at position r+1)
    pairwise: np.ndarray          # (k, k) P(i better than j), ties count half; diagonal NaN
    pairwise_p: np.ndarray        # (k, k) two-sided paired-bootstrap p-value; diagonal NaN
    pairwise_p_holm: np.ndarray   # (k, k) Holm-adjusted over the k(k-1)/2 pairs
    kendall_tau: np.ndarray       # (n_boot,) tau-b of each resampled ranking vs the full one
    boot_values: np.ndarray = field(repr=False)  # (n_boot, k) figure on every resample
    n_clusters: int | None = None
    cluster_by: str | None = None
    task: str | None = None

    @property
    def ranking(self) -> list[str]:
        """Systems best first (ties in input order)."""
        order = sorted(range(len(self.systems)), key=lambda i: (self.ranks[i], i))
        return [self.systems[i] for i in order]

    def mean_rank(self) -> np.ndarray:
        """(k,) expected rank over the resamples."""
        return self.rank_probabilities @ np.arange(1, len(self.systems) + 1)

    def rank_interval(self) -> np.ndarray:
        """(k, 2) central ``level`` interval of each system's resampled rank (positions 1..k)."""
        a = (1.0 - self.level) / 2.0
        cdf = np.cumsum(self.rank_probabilities, axis=1)
        lo = 1 + np.argmax(cdf > a - 1e-12, axis=1)
        hi = 1 + np.argmax(cdf >= 1 - a - 1e-12, axis=1)
        return np.stack([lo, hi], axis=1)

    def tau_summary(self) -> dict:
        t = self.kendall_tau[~np.isnan(self.kendall_tau)]
        lo, hi = percentile_ci(t, self.level)
        return {"mean": float(t.mean()) if t.size else None, "ci": [lo, hi],
                "n_defined": int(t.size)}

    def to_dict(self) -> dict:
        from lteval import __version__

        names = self.systems

        def mat(a):
            return {x: {y: _num(a[i, j]) for j, y in enumerate(names) if j != i}
                    for i, x in enumerate(names)}

        d = {
            "lteval_version": __version__,
            **({"task": self.task} if self.task else {}),
            "systems": list(names),
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "n_samples": self.n_samples,
            "n_boot": self.n_boot,
            "seed": self.seed,
            "level": self.level,
            "values": {x: _num(v) for x, v in zip(names, self.values)},
            "values_ci": {x: list(percentile_ci(self.boot_values[:, i], self.level))
                          for i, x in enumerate(names)},
            "ranking": self.ranking,
            "ranks": {x: int(r) for x, r in zip(names, self.ranks)},
            "mean_rank": {x: float(r) for x, r in zip(names, self.mean_rank())},
            "rank_ci": {x: [int(a), int(b)] for x, (a, b) in zip(names, self.rank_interval())},
            "rank_probabilities": {x: [float(v) for v in row]
                                   for x, row in zip(names, self.rank_probabilities)},
            "pairwise": mat(self.pairwise),
            "pairwise_p": mat(self.pairwise_p),
            "pairwise_p_holm": mat(self.pairwise_p_holm),
            "kendall_tau": self.tau_summary(),
        }
        if self.n_clusters is not None:
            d["cluster_by"] = self.cluster_by
            d["n_clusters"] = self.n_clusters
        return d


def _num(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x


def compare_matrix(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """(..., k, k) int8 sign of "i better than j": +1, -1, or 0 for a tie (NaN is worst)."""
    v = np.asarray(values, dtype=np.float64)
    s = v if higher_is_better else -v
    nan = np.isnan(s)
    a, b = s[..., :, None], s[..., None, :]
    with np.errstate(invalid="ignore"):
        diff = a - b
        tol = TIE_RTOL * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
        out = np.where(diff > tol, 1, np.where(diff < -tol, -1, 0)).astype(np.int8)
    na, nb = nan[..., :, None], nan[..., None, :]
    out = np.where(na & ~nb, -1, np.where(nb & ~na, 1, np.where(na & nb, 0, out)))
    return out.astype(np.int8)


def competition_ranks(cmp: np.ndarray) -> np.ndarray:
    """(..., k) rank 1 + (number of systems strictly better), from :func:`compare_matrix`."""
    return 1 + (cmp == -1).sum(axis=-1)


def position_shares(cmp: np.ndarray) -> np.ndarray:
    """(..., k, k) share of each rank position held by each system (ties split equally)."""
    k = cmp.shape[-1]
    r = competition_ranks(cmp)                  # (..., k)
    t = (cmp == 0).sum(axis=-1)                 # tie-group size, self included
    pos = np.arange(1, k + 1)
    inside = (pos >= r[..., None]) & (pos < (r + t)[..., None])
    return inside / t[..., None]


def kendall_tau_b(cmp_ref: np.ndarray, cmp: np.ndarray) -> np.ndarray:
    """Kendall's tau-b between a reference ranking (k, k) and each of (..., k, k); NaN if undefined."""
    k = cmp_ref.shape[-1]
    iu = np.triu_indices(k, 1)
    a = cmp_ref[iu].astype(np.float64)          # (m,)
    b = cmp[..., iu[0], iu[1]].astype(np.float64)  # (..., m)
    s = (b * a).sum(axis=-1)
    m = len(a)
    n1 = np.count_nonzero(a == 0)
    n2 = (b == 0).sum(axis=-1)
    den = np.sqrt((m - n1) * (m - n2).astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, s / np.where(den > 0, den, 1.0), np.nan)


def holm(pvalues) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values of a 1-D array (NaN entries left out)."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adj = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adj)
    return out


def paired_p_values(cmp_boot: np.ndarray, cmp_full: np.ndarray, defined: np.ndarray) -> np.ndarray:
    """(k, k) two-sided paired-bootstrap p-values of "i and j are equally good".

    ``cmp_boot`` (B, k, k), ``cmp_full`` (k, k); ``defined`` (B, k) marks resamples where
    a system's figure is defined. For a pair with observed i better than j, ``far`` counts
    defined resamples where i is not better (tie or worse); p = min(1, 2 (1 + far) / (1 + B_ij)).
    A tie on the full data has p = 1.
    """
    both = defined[:, :, None] & defined[:, None, :]       # (B, k, k)
    n_def = both.sum(axis=0)
    far_if_better = ((cmp_boot <= 0) & both).sum(axis=0)
    far_if_worse = ((cmp_boot >= 0) & both).sum(axis=0)
    far = np.where(cmp_full > 0, far_if_better, far_if_worse)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.minimum(1.0, 2.0 * (1 + far) / (1 + n_def))
    p = np.where(cmp_full == 0, 1.0, p)
    p = np.where(n_def == 0, np.nan, p)
    np.fill_diagonal(p, np.nan)
    return p


def rank_systems(y_true, systems: Mapping[str, np.ndarray] | Sequence[np.ndarray], *,
                 metric: str = "mAP", n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                 threshold=0.5, empty_class: str = "zero",
                 groups: Mapping[str, np.ndarray] | None = None,
                 classes: Sequence[str] | None = None, n_bins: int = 15,
                 strategy: str = "uniform", clusters=None) -> RankResult:
    """Rank ``systems`` ({name: (n, C) scores}, or a list named system1..k) on ``y_true`` (n, C).

    ``metric``: see :func:`resolve_metric` (``groups`` maps group names to class
    indices; ``classes`` names the columns for per-class metrics). ``clusters``
    (n,) resamples clusters (e.g. patients) instead of rows.
    """
    if isinstance(systems, Mapping):
        names, arrays = [str(k) for k in systems], list(systems.values())
    else:
        arrays = list(systems)
        names = [f"system{i + 1}" for i in range(len(arrays))]
    if len(arrays) < 2:
        raise UsageError(f"ranking needs at least 2 systems, got {len(arrays)}")
    if len(set(names)) != len(names):
        dup = next(x for x in names if names.count(x) > 1)
        raise UsageError(f"system name {dup!r} is given more than once; names must be unique")
    if not (0 < level < 1):
        raise UsageError(f"level must lie in (0, 1), got {level!r}")
    spec = resolve_metric(metric, groups=groups, classes=classes)
    y, _ = check_targets(y_true, arrays[0], probs=spec.calibration)
    ps = [check_targets(y, a, probs=spec.calibration)[1] for a in arrays]
    policy = check_policy(empty_class)
    thr = check_thresholds(threshold, y.shape[1])
    n, k = y.shape[0], len(ps)
    n_clusters = None
    if clusters is not None:
        _, n_clusters = cluster_codes(clusters, n)

    preps = [sorted_state(y, p, thr, n_bins, strategy, spec.calibration) for p in ps]

    def value_of(prep, W):
        return resampled_figures(prep, W, policy, spec.groups, spec.calibration)[spec.key]

    ones = np.ones((1, n))
    values = np.array([value_of(pr, ones)[0] for pr in preps])
    chunk = min(chunk_size(pr) for pr in preps)
    parts = []
    for W in weight_chunks(n, n_boot, seed, chunk, clusters):
        parts.append(np.stack([value_of(pr, W) for pr in preps], axis=1))
    boot = np.concatenate(parts, axis=0)                   # (B, k)

    cmp_full = compare_matrix(values, spec.higher_is_better)
    cmp_boot = compare_matrix(boot, spec.higher_is_better)  # (B, k, k)
    ranks = competition_ranks(cmp_full)
    rank_prob = position_shares(cmp_boot).mean(axis=0)
    better = (cmp_boot == 1).mean(axis=0) + 0.5 * (cmp_boot == 0).mean(axis=0)
    np.fill_diagonal(better, np.nan)
    p = paired_p_values(cmp_boot, cmp_full, ~np.isnan(boot))
    iu = np.triu_indices(k, 1)
    adj = holm(p[iu])
    p_holm = np.full((k, k), np.nan)
    p_holm[iu] = adj
    p_holm[(iu[1], iu[0])] = adj
    tau = kendall_tau_b(cmp_full, cmp_boot)
    return RankResult(names, spec.name, spec.higher_is_better, n, int(n_boot), int(seed),
                      float(level), values, ranks, rank_prob, better, p, p_holm, tau, boot,
                      n_clusters=n_clusters)


__all__ = ["RankResult", "MetricSpec", "rank_systems", "resolve_metric", "metric_choices",
           "holm", "kendall_tau_b", "compare_matrix"]
