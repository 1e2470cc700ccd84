"""Cross-fitting: what a calibrator (and thresholds) will do on data it was not fitted on.

The rows are split into k folds (patient-grouped when a group per row is
given: all rows of a group share a fold). For each fold the calibrator and the
thresholds are fitted on the other k - 1 folds and applied to the held-out
fold, so every row gets an out-of-fold calibrated probability and decision.
Figures computed on those (ECE, mAP, mF1 with bootstrap CIs) estimate the
method's effect on unseen data; figures computed in-sample would not.

Folds are balanced for rare classes: rows (or groups) are ordered by their
rarest positive class, randomly within it, and dealt to the folds in turn, so
each class's positives are spread as evenly as the data allow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lteval.calibration._arrays import check_kind_scores, to_probs
from lteval.calibration.base import create_calibrator
from lteval.errors import InputError, UsageError
from lteval.metrics._validation import check_labels
from lteval.metrics.figures import lower_is_better


def make_folds(y, n_folds: int = 5, *, groups=None, seed: int = 0) -> np.ndarray:
    """(n,) int64 fold index in [0, n_folds) for each row of ``y`` (n, C) in {0, 1}.

    Rows of one group (``groups`` (n,)) share a fold; folds are stratified by
    each row's rarest positive class.

    >>> make_folds([[1], [0], [1], [0]], 2, seed=0).tolist()
    [1, 0, 0, 1]
    """
    y = check_labels(y, "y")
    n = y.shape[0]
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or n_folds < 2:
        raise UsageError(f"folds must be an integer >= 2, got {n_folds!r}")
    if groups is None:
        unit = np.arange(n)
        n_units = n
    else:
        g = np.asarray(groups)
        if g.shape != (n,):
            raise InputError(f"groups must have one entry per row ({n}), got shape {g.shape}")
        _, unit = np.unique(g.astype(str), return_inverse=True)
        n_units = int(unit.max()) + 1
    if n_units < n_folds:
        what = "groups" if groups is not None else "rows"
        raise UsageError(f"cannot make {n_folds} folds from {n_units} {what}")
    C = y.shape[1]
    yu = np.zeros((n_units, C))
    np.add.at(yu, unit, (y > 0).astype(np.float64))
    pos = yu > 0
    freq = pos.sum(axis=0)
    rank = np.where(pos, freq[None, :], np.inf)
    key = np.where(pos.any(axis=1), np.argmin(rank, axis=1), C)  # rarest positive class
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.permutation(n_units), key))
    fold_of_unit = np.empty(n_units, dtype=np.int64)
    fold_of_unit[order] = (np.arange(n_units) + int(rng.integers(n_folds))) % n_folds
    return fold_of_unit[unit]


@dataclass
class CrossFitResult:
    """Out-of-fold outputs of one method: probabilities (n, C), decisions (n, C) or None, folds (n,)."""

    method: str
    probs: np.ndarray
    decisions: np.ndarray | None
    folds: np.ndarray
    warnings: list[str] = field(default_factory=list)
    fold_params: list[dict] = field(default_factory=list)


def cross_fit(scores, y, method: str, *, input: str, folds=5, groups=None, seed: int = 0,
              thresholds: str | None = None, prevalence=None, options: dict | None = None
              ) -> CrossFitResult:
    """Out-of-fold calibrated probabilities (and thresholded decisions) for ``method``.

    ``folds`` is a number of folds or a precomputed (n,) fold index array.
    ``thresholds`` is a strategy for :func:`lteval.thresholds.fit_thresholds`
    fitted on each training part's calibrated outputs, or None.
    """
    from lteval.thresholds import fit_thresholds, parse_strategy

    s = check_kind_scores(scores, input)
    yy = check_labels(y, "y", shape=s.shape, shape_of="scores", order="C")
    if isinstance(folds, (int, np.integer)) and not isinstance(folds, bool):
        fold = make_folds(yy, int(folds), groups=groups, seed=seed)
    else:
        fold = np.asarray(folds)
        if fold.shape != (s.shape[0],):
            raise InputError(f"folds must be a number or one fold index per row, got shape {fold.shape}")
    strategy = parse_strategy(thresholds) if thresholds is not None else None
    probs = np.empty_like(s)
    dec = np.empty(s.shape, dtype=np.int8) if strategy is not None else None
    warnings: list[str] = []
    fold_params = []
    passed: dict[int, list[int]] = {}
    for f in np.unique(fold):
        test = fold == f
        train = ~test
        cal = create_calibrator(method, input=input, **(options or {}))
        cal.fit(s[train], yy[train])
        probs[test] = cal.transform(s[test])
        warnings += [f"fold {int(f)}: {w}" for w in cal.fit_info_.get("warnings", [])]
        if cal.passthrough_ is not None:
            for c in np.flatnonzero(cal.passthrough_):
                passed.setdefault(int(c), []).append(int(f))
        fold_params.append(cal.get_params())
        if strategy is not None:
            th = fit_thresholds(yy[train], cal.transform(s[train]), strategy, prevalence=prevalence)
            dec[test] = th.predict(probs[test])
    if passed:
        warnings.insert(0, f"class index(es) {sorted(passed)} lacked positives (or negatives) in the "
                           f"training part of some folds and passed through uncalibrated there")
    return CrossFitResult(method, probs, dec, fold, warnings, fold_params)


FIGURES = ("ece", "mAP", "mF1")


def _point(y, p, empty_class, n_bins, threshold=0.5, calibration=True):
    from lteval.metrics import bootstrap_distribution

    d = bootstrap_distribution(y, p, weights=np.ones((1, y.shape[0])), threshold=threshold,
                               empty_class=empty_class, n_bins=n_bins, calibration=calibration)
    return {k: float(v[0]) for k, v in d.items()}


def _dist(y, p, n_boot, seed, empty_class, n_bins, calibration=True):
    from lteval.metrics import bootstrap_distribution

    return bootstrap_distribution(y, p, n_boot=n_boot, seed=seed, empty_class=empty_class,
                                  n_bins=n_bins, calibration=calibration)


def _nn(x):
    return None if x is None or not np.isfinite(x) else float(x)


def evaluate(y, before_probs, results: list[CrossFitResult], *, n_boot: int = 1000, seed: int = 0,
             level: float = 0.95, empty_class: str = "zero", n_bins: int = 15,
             rank_by: str = "ece") -> dict:
    """Figures before / after for each cross-fitted method, with bootstrap CIs and paired deltas.

    ``mF1`` after uses the out-of-fold decisions when thresholds were cross-fitted,
    else 0.5 on the out-of-fold probabilities; before, 0.5 on ``before_probs``.
    The same resamples are used for every method (paired comparisons).
    ``delta_within_fold.mAP`` is the mean per-fold change of mAP (see
    :func:`_within_fold_delta_map`). Returns a JSON-ready dict (undefined values are None).
    """
    from lteval.metrics import percentile_ci

    if rank_by not in FIGURES:
        raise UsageError(f"rank_by must be one of {FIGURES}, got {rank_by!r}")
    y = check_labels(y, "y")
    boot = n_boot > 0

    def figures(p, dec):
        pt = _point(y, p, empty_class, n_bins)
        out = {"ece": pt["ece"], "mAP": pt["mAP"], "mF1": pt["mF1"]}
        dist = None
        if boot:
            d = _dist(y, p, n_boot, seed, empty_class, n_bins)
            dist = {"ece": d["ece"], "mAP": d["mAP"], "mF1": d["mF1"]}
        if dec is not None:
            decf = dec.astype(np.float64)
            out["mF1"] = _point(y, decf, empty_class, n_bins, calibration=False)["mF1"]
            if boot:
                dist["mF1"] = _dist(y, decf, n_boot, seed, empty_class, n_bins, calibration=False)["mF1"]
        return out, dist

    before, dist_b = figures(before_probs, None)
    report = {
        "n_samples": int(y.shape[0]),
        "n_boot": int(n_boot),
        "level": level,
        "seed": seed,
        "empty_class_policy": empty_class,
        "n_bins": n_bins,
        "rank_by": rank_by,
        "before": {k: _nn(v) for k, v in before.items()},
        "methods": {},
    }
    if boot:
        report["before"]["ci"] = {k: list(percentile_ci(dist_b[k], level)) for k in FIGURES}
    for r in results:
        after, dist_a = figures(r.probs, r.decisions)
        entry = {k: _nn(v) for k, v in after.items()}
        entry["delta"] = {k: _nn(after[k] - before[k]) for k in FIGURES}
        if boot:
            entry["ci"] = {k: list(percentile_ci(dist_a[k], level)) for k in FIGURES}
            entry["delta_ci"] = {k: list(percentile_ci(dist_a[k] - dist_b[k], level)) for k in FIGURES}
        entry["delta_within_fold"] = {"mAP": _nn(_within_fold_delta_map(y, before_probs, r, empty_class))}
        entry["warnings"] = r.warnings
        report["methods"][r.method] = entry
    sign = 1.0 if lower_is_better(rank_by) else -1.0  # ece: lower is better
    report["ranking"] = sorted(
        report["methods"],
        key=lambda m: (np.inf if report["methods"][m][rank_by] is None
                       else sign * report["methods"][m][rank_by]))
    return report


def _within_fold_delta_map(y, before, r: CrossFitResult, empty_class: str) -> float:
    """Mean over folds of mAP(after) - mAP(before), each fold scored on its own rows.

    Pooling out-of-fold outputs mixes k different maps, which changes pooled
    per-class rankings even for a strictly monotone method; within one fold a
    single map is applied, as on a test set, so this isolates the method's own
    effect on ranking (exactly 0 for strictly monotone maps; ties from
    isotonic / histogram binning show up here).
    """
    from lteval.metrics import mean_average_precision

    deltas = []
    for f in np.unique(r.folds):
        m = r.folds == f
        deltas.append(mean_average_precision(y[m], r.probs[m], empty_class)
                      - mean_average_precision(y[m], before[m], empty_class))
    return float(np.mean(deltas))


def before_probs(scores, input: str) -> np.ndarray:
    """The uncalibrated probabilities the "before" figures are computed on."""
    return to_probs(check_kind_scores(scores, input), input)
