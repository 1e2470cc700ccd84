"""Bootstrap confidence intervals and paired comparisons, without re-sorting.

A bootstrap resample draws n rows with replacement; row i then appears
``w_i`` times. Every figure of the metrics core is a function of weighted
counts, so resample b is scored by weighting the rows of the data *as sorted
once*: the tie groups of each class are fixed, and the per-group positive /
negative counts of all resamples come from one sparse product ``W @ M``
(W: (B, n) multiplicities, M: (n, groups) one-hot). Results equal scoring
``y[idx], p[idx]`` with scikit-learn for every resample (tested), at a
fraction of the cost.

Figures (keys): every figure of :data:`lteval.metrics.figures.FIGURES` (``mAP``,
``mAUROC``, ``mF1``, ``ece``, ``mce``, ``brier``) and, for each group g, its macro
figures ``g.mAP``, ``g.mAUROC``, ``g.mF1``; each is computed by the table's function on
the sorted state (:func:`~lteval.metrics.figures.resampled_figures`). Intervals are
percentile intervals. Calibration bins are those of the full sample (for ``"quantile"``
binning the edges are not re-estimated per resample).

Clustered bootstrap: with ``clusters`` (one label per row, e.g. a patient ID),
a resample draws the *clusters* with replacement (as many as there are) and
every row of a drawn cluster gets that cluster's multiplicity. Clusters are
numbered in order of first appearance, so with one row per cluster the
resamples are exactly the image-level ones.
"""

from __future__ import annotations

import numpy as np

from lteval.errors import UsageError
from lteval.metrics._validation import check_policy, check_targets
from lteval.metrics.figures import SortedState, resampled_figures, sorted_state

#: Floats per working array in one chunk of resamples (bounds peak memory).
_CHUNK_FLOATS = 4_000_000


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


def chunk_size(state: SortedState) -> int:
    """Resamples per chunk for ``state``: keeps each working array near ``_CHUNK_FLOATS`` floats."""
    width = max(2 * state.G, 3 * state.C, 3 * state.n_bins, state.n)
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
    prep = sorted_state(y, p, threshold, n_bins, strategy, calibration)
    parts: list[dict[str, np.ndarray]] = []
    if weights is not None:
        W_all = np.asarray(weights, dtype=np.float64)
        if W_all.ndim != 2 or W_all.shape[1] != y.shape[0]:
            raise UsageError(f"weights must have shape (B, {y.shape[0]}), got {W_all.shape}")
        step = chunk_size(prep)
        chunks = [W_all[i:i + step] for i in range(0, len(W_all), step)]
    else:
        chunks = weight_chunks(y.shape[0], n_boot, seed, chunk_size(prep), clusters)
    for W in chunks:
        parts.append(resampled_figures(prep, W, policy, groups, calibration))
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
    y, pa = check_targets(y_true, y_prob_a, names=("y_true", "y_prob_a"))
    _, pb = check_targets(y_true, y_prob_b, names=("y_true", "y_prob_b"))
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
