"""Bootstrap confidence intervals and paired comparisons, without re-sorting.

A bootstrap resample draws n rows with replacement; row i then appears
``w_i`` times. Every figure of the metrics core is a function of weighted
counts, so resample b is scored by weighting the rows of the data *as sorted
once*: the tie groups of each class are fixed, and the per-group positive /
negative counts of all resamples come from one sparse product ``W @ M``
(W: (B, n) multiplicities, M: (n, groups) one-hot). Results equal scoring
``y[idx], p[idx]`` with scikit-learn for every resample (tested), at a
fraction of the cost.

Figures (keys): ``mAP``, ``mAUROC``, ``mF1``, ``ece``, ``mce``, ``brier`` and,
for each group g, ``g.mAP``, ``g.mAUROC``, ``g.mF1``. Intervals are percentile
intervals. Calibration bins are those of the full sample (for ``"quantile"``
binning the edges are not re-estimated per resample).

Clustered bootstrap: with ``clusters`` (one label per row, e.g. a patient ID),
a resample draws the *clusters* with replacement (as many as there are) and
every row of a drawn cluster gets that cluster's multiplicity. Clusters are
numbered in order of first appearance, so with one row per cluster the
resamples are exactly the image-level ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lteval.errors import UsageError
from lteval.metrics._validation import check_policy, check_targets, check_thresholds
from lteval.metrics.calibration import bin_edges, bin_index, clip_probs, errors_from_bins
from lteval.metrics.ranking import group_ends, sort_scores
from lteval.metrics.summary import macro_mean

OVERALL_FIGURES = ("mAP", "mAUROC", "mF1", "ece", "mce", "brier")
GROUP_FIGURES = ("mAP", "mAUROC", "mF1")
#: Floats per working array in one chunk of resamples (bounds peak memory).
_CHUNK_FLOATS = 4_000_000


@dataclass
class _Prepared:
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


def _prepare(y: np.ndarray, p: np.ndarray, threshold, n_bins: int, strategy: str,
             calibration: bool) -> _Prepared:
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
    return _Prepared(n, C, M, G, seg_starts, seg_of_col, A, bins, n_bins, sq)


def _per_class(prep: _Prepared, W: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class weighted figures for each resample: ap, auc, f1, n_pos — each (B, C)."""
    R = np.asarray(W @ prep.M)  # (B, 2G)
    Rp, Rn = R[:, :prep.G], R[:, prep.G:]
    starts = prep.seg_starts

    def within_class_cumsum(X):
        cs = np.cumsum(X, axis=1)
        base = np.zeros((X.shape[0], prep.C))
        base[:, 1:] = cs[:, starts[1:] - 1]
        return cs - base[:, prep.seg_of_col]

    TP = within_class_cumsum(Rp)
    FP = within_class_cumsum(Rn)
    ends = np.concatenate([starts[1:], [prep.G]]) - 1
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

    F = W @ prep.A
    C = prep.C
    tp, npred, npos = F[:, :C], F[:, C:2 * C], F[:, 2 * C:]
    den = npred + npos
    f1 = np.zeros_like(tp)
    np.divide(2 * tp, den, out=f1, where=den > 0)
    return {"ap": ap, "auc": auc, "f1": f1, "n_pos": P}


def _figures(prep: _Prepared, W: np.ndarray, policy: str, groups: dict[str, np.ndarray] | None,
             calibration: bool) -> dict[str, np.ndarray]:
    pc = _per_class(prep, W)
    out = {
        "mAP": macro_mean(pc["ap"], pc["n_pos"], policy, kind="ap"),
        "mAUROC": macro_mean(pc["auc"], pc["n_pos"], policy, kind="auc"),
        "mF1": macro_mean(pc["f1"], pc["n_pos"], policy, kind="f1"),
    }
    if calibration:
        nb = prep.n_bins
        S = W @ prep.bins
        ece, mce = errors_from_bins(S[:, :nb], S[:, nb:2 * nb], S[:, 2 * nb:])
        out["ece"], out["mce"] = ece, mce
        out["brier"] = (W @ prep.sq_err) / (W.sum(axis=1) * prep.C)
    for g, idx in (groups or {}).items():
        if len(idx) == 0:
            continue
        out[f"{g}.mAP"] = macro_mean(pc["ap"][:, idx], pc["n_pos"][:, idx], policy, kind="ap")
        out[f"{g}.mAUROC"] = macro_mean(pc["auc"][:, idx], pc["n_pos"][:, idx], policy, kind="auc")
        out[f"{g}.mF1"] = macro_mean(pc["f1"][:, idx], pc["n_pos"][:, idx], policy, kind="f1")
    return out


def _resample_rngs(n_boot: int, seed: int):
    """One independent generator per resample (so chunking never changes a resample)."""
    return (np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(n_boot))


def resample_indices(n: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """The (n_boot, n) row indices of the resamples behind :func:`resample_weights`."""
    return np.stack([rng.integers(0, n, size=n) for rng in _resample_rngs(n_boot, seed)])


def resample_weights(n: int, n_boot: int, seed: int = 0, chunk: int | None = None):
    """Yield (b, n) float64 row multiplicities of ``n_boot`` resamples, ``chunk`` at a time.

    Resample k draws ``n`` rows with replacement from its own generator
    (``SeedSequence(seed).spawn(n_boot)[k]``), so results do not depend on chunking.
    """
    chunk = chunk or n_boot
    rngs = _resample_rngs(n_boot, seed)
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        W = np.empty((b, n), dtype=np.float64)
        for i in range(b):
            W[i] = np.bincount(next(rngs).integers(0, n, size=n), minlength=n)
        yield W
        done += b


def cluster_codes(clusters, n: int | None = None) -> tuple[np.ndarray, int]:
    """``(codes (n,) int64, n_clusters)``: clusters numbered by first appearance."""
    c = np.asarray(clusters)
    if c.ndim != 1 or (n is not None and c.shape[0] != n):
        raise UsageError(f"clusters must have shape ({n},), got {c.shape}")
    _, first, inv = np.unique(c, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inv.ravel()], int(len(first))


def cluster_resample_weights(clusters, n_boot: int, seed: int = 0, chunk: int | None = None):
    """Yield (b, n) row multiplicities of ``n_boot`` cluster resamples, ``chunk`` at a time.

    Resample k draws ``K`` (number of clusters) cluster numbers with replacement from
    ``SeedSequence(seed).spawn(n_boot)[k]``; each row gets its cluster's count.
    """
    codes, K = cluster_codes(clusters)
    chunk = chunk or n_boot
    rngs = _resample_rngs(n_boot, seed)
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        W = np.empty((b, len(codes)), dtype=np.float64)
        for i in range(b):
            W[i] = np.bincount(next(rngs).integers(0, K, size=K), minlength=K)[codes]
        yield W
        done += b


def weight_chunks(n: int, n_boot: int, seed: int = 0, chunk: int | None = None, clusters=None):
    """Image-level (``clusters=None``) or clustered resample weights, ``chunk`` rows at a time."""
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise UsageError(f"n_boot must be a positive integer, got {n_boot!r}")
    if clusters is None:
        return resample_weights(n, int(n_boot), seed, chunk)
    if len(clusters) != n:
        raise UsageError(f"clusters must have one label per row ({n}), got {len(clusters)}")
    return cluster_resample_weights(clusters, int(n_boot), seed, chunk)


def _chunk_size(prep: _Prepared) -> int:
    width = max(2 * prep.G, 3 * prep.C, 3 * prep.n_bins, prep.n)
    return max(1, _CHUNK_FLOATS // width)


def bootstrap_distribution(y_true, y_prob, *, n_boot: int = 1000, seed: int = 0, threshold=0.5,
                           empty_class: str = "zero", groups: dict[str, np.ndarray] | None = None,
                           n_bins: int = 15, strategy: str = "uniform",
                           calibration: bool = True, weights: np.ndarray | None = None,
                           clusters=None) -> dict[str, np.ndarray]:
    """Every figure on every resample: ``{figure: (n_boot,) array}`` (NaN where undefined).

    ``groups`` maps a group name to class indices. ``weights`` (B, n) overrides
    the random resamples (row multiplicities). ``calibration=False`` skips
    ECE/MCE/Brier (e.g. for logits). ``clusters`` (n,) resamples clusters
    instead of rows (see the module docstring).
    """
    y, p = check_targets(y_true, y_prob, probs=calibration)
    policy = check_policy(empty_class)
    if weights is None and (not isinstance(n_boot, (int, np.integer)) or n_boot < 1):
        raise UsageError(f"n_boot must be a positive integer, got {n_boot!r}")
    prep = _prepare(y, p, threshold, n_bins, strategy, calibration)
    parts: list[dict[str, np.ndarray]] = []
    if weights is not None:
        W_all = np.asarray(weights, dtype=np.float64)
        if W_all.ndim != 2 or W_all.shape[1] != y.shape[0]:
            raise UsageError(f"weights must have shape (B, {y.shape[0]}), got {W_all.shape}")
        step = _chunk_size(prep)
        chunks = [W_all[i:i + step] for i in range(0, len(W_all), step)]
    else:
        chunks = weight_chunks(y.shape[0], n_boot, seed, _chunk_size(prep), clusters)
    for W in chunks:
        parts.append(_figures(prep, W, policy, groups, calibration))
    return {k: np.concatenate([d[k] for d in parts]) for k in parts[0]}


def percentile_ci(dist: np.ndarray, level: float = 0.95) -> tuple[float | None, float | None]:
    """Percentile interval of a bootstrap distribution, ignoring undefined (NaN) resamples."""
    d = np.asarray(dist, dtype=np.float64)
    d = d[~np.isnan(d)]
    if d.size == 0:
        return None, None
    alpha = (1.0 - level) / 2.0
    lo, hi = np.percentile(d, [100 * alpha, 100 * (1 - alpha)])
    return float(lo), float(hi)


def bootstrap_ci(y_true, y_prob, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                 **kw) -> dict[str, tuple[float | None, float | None]]:
    """Percentile CI of every figure: ``{figure: (lo, hi)}``."""
    dist = bootstrap_distribution(y_true, y_prob, n_boot=n_boot, seed=seed, **kw)
    return {k: percentile_ci(v, level) for k, v in dist.items()}


def paired_bootstrap(y_true, y_prob_a, y_prob_b, *, n_boot: int = 1000, seed: int = 0,
                     level: float = 0.95, clusters=None, **kw) -> dict[str, dict]:
    """Paired comparison of two prediction sets on the same labels (same resamples for both).

    For every figure: ``{"a", "b", "diff" (= b - a on the full data), "ci" [lo, hi] of the
    resampled differences, "p_value"}``. The two-sided p-value is
    ``min(1, 2 * (1 + k) / (1 + B))`` with ``k`` the number of resampled differences on the
    far side of zero (``<= 0`` when diff > 0, ``>= 0`` otherwise); B counts defined resamples.
    ``clusters`` (n,) resamples clusters instead of rows.
    """
    y, pa = check_targets(y_true, y_prob_a)
    _, pb = check_targets(y_true, y_prob_b)
    n = y.shape[0]
    ones = np.ones((1, n))
    point_a = bootstrap_distribution(y, pa, weights=ones, **kw)
    point_b = bootstrap_distribution(y, pb, weights=ones, **kw)
    da = bootstrap_distribution(y, pa, n_boot=n_boot, seed=seed, clusters=clusters, **kw)
    db = bootstrap_distribution(y, pb, n_boot=n_boot, seed=seed, clusters=clusters, **kw)
    out = {}
    for k in da:
        a, b = float(point_a[k][0]), float(point_b[k][0])
        diff = db[k] - da[k]
        ok = diff[~np.isnan(diff)]
        obs = b - a
        if ok.size == 0 or np.isnan(obs):
            out[k] = {"a": _none(a), "b": _none(b), "diff": _none(obs), "ci": [None, None],
                      "p_value": None}
            continue
        far = np.count_nonzero(ok <= 0) if obs > 0 else np.count_nonzero(ok >= 0)
        pval = min(1.0, 2.0 * (1 + far) / (1 + ok.size))
        lo, hi = percentile_ci(ok, level)
        out[k] = {"a": a, "b": b, "diff": obs, "ci": [lo, hi], "p_value": pval}
    return out


def _none(x: float):
    return None if x is None or np.isnan(x) else float(x)
