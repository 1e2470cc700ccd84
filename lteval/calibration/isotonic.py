"""Isotonic regression calibration (Zadrozny & Elkan, 2002), per class.

Fitted exactly as scikit-learn's ``IsotonicRegression(y_min=0, y_max=1,
out_of_bounds="clip")`` (the estimator netcal's ``IsotonicRegression`` wraps)
fits, without importing either: duplicate scores pooled into their mean label
(:func:`_pool_duplicates`, sklearn's ``_make_unique``), pool-adjacent-violators
by ``scipy.optimize.isotonic_regression`` (what sklearn calls), ``y`` clipped to
[0, 1], redundant knots dropped. ``tests/test_calibration_reference.py`` checks
the knots are identical to sklearn's. The fitted step function is stored as its
knots ``x`` (in the input's own space: logits or probabilities) and values
``y``, and applied by linear interpolation between knots (constant
extrapolation) exactly as scikit-learn's ``transform`` does.

The map is non-decreasing but flat on each pooled block, so it creates ties:
per-class AUROC and AP change (usually down, a lot for rare classes); see
``docs/calibration.md`` for the measured effect on mAP. ``tie_break=True``
returns ``(1 - 1e-6) * iso(p) + 1e-6 * p`` instead: strictly increasing, so the
original order inside each block (and per-class AP / AUROC) is kept, while the
probabilities move by at most 1e-6.
"""

from __future__ import annotations

import numpy as np

from lteval.calibration._arrays import to_probs
from lteval.calibration.base import Calibrator, _expect_keys, _nested_float_lists, register
from lteval.errors import InputError, UsageError

#: Weight of the original probability in the tie-breaking blend.
TIE_BREAK_EPS = 1e-6


def _pool_duplicates(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted ``x`` (n,) → unique ``x``, mean ``y`` and count of each group (sklearn's ``_make_unique``).

    A value joins the current group while it is less than float64 ``resolution`` (1e-15) above the
    group's first value, as in scikit-learn; the group keeps that first value.
    """
    eps = np.finfo(np.float64).resolution
    start = np.ones(x.size, dtype=bool)
    gaps = np.diff(x)
    start[1:] = gaps >= eps
    near = np.flatnonzero((gaps > 0) & (gaps < eps)) + 1  # distinct values closer than eps: walk them
    walked = 0
    for j in near:
        if j < walked:  # already decided by the walk of its chain
            continue
        i = j - 1
        while not start[i]:
            i -= 1
        first = x[i]
        k = j
        while k < x.size and not start[k]:  # re-decide this chain left to right
            if x[k] - first >= eps:
                start[k] = True
                first = x[k]
            k += 1
        walked = k
    idx = np.flatnonzero(start)
    counts = np.diff(np.append(idx, x.size)).astype(np.float64)
    return x[idx], np.add.reduceat(y, idx) / counts, counts


def isotonic_knots(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Knots ``(x, y)`` of the non-decreasing least-squares fit of ``y`` on ``x`` (both (n,)), ``y`` in [0, 1].

    Identical to scikit-learn's ``IsotonicRegression(y_min=0, y_max=1).fit(x, y)``
    ``X_thresholds_`` / ``y_thresholds_``.
    """
    from scipy.optimize import isotonic_regression

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    order = np.lexsort((y, x))
    ux, uy, w = _pool_duplicates(x[order], y[order])
    fit = np.asarray(isotonic_regression(uy, weights=w, increasing=True).x, dtype=np.float64)
    np.clip(fit, 0.0, 1.0, out=fit)
    keep = np.ones(fit.size, dtype=bool)  # drop a knot equal to both neighbours
    keep[1:-1] = (fit[1:-1] != fit[:-2]) | (fit[1:-1] != fit[2:])
    return ux[keep], fit[keep]


@register
class IsotonicCalibration(Calibrator):
    """Per-class isotonic regression of the labels on the scores."""

    method = "isotonic"
    monotone = "weak"  # "strict" with tie_break=True

    def __init__(self, input: str = "probs", tie_break: bool = False) -> None:
        super().__init__(input)
        if not isinstance(tie_break, (bool, np.bool_)):
            raise UsageError(f"tie_break must be true or false, got {tie_break!r}")
        self.tie_break = bool(tie_break)

    def options(self):
        return {"tie_break": self.tie_break}

    def _fit(self, s, y, ok):
        C = s.shape[1]
        lo, hi = (0.0, 1.0)
        self.x_: list[np.ndarray] = []
        self.y_: list[np.ndarray] = []
        for c in range(C):
            if not ok[c]:
                self.x_.append(np.array([lo, hi]))
                self.y_.append(np.array([lo, hi]))
                continue
            kx, ky = isotonic_knots(s[:, c], y[:, c])
            self.x_.append(kx)
            self.y_.append(ky)

    def _transform(self, s):
        out = np.empty_like(s)
        for c in range(s.shape[1]):
            out[:, c] = np.interp(s[:, c], self.x_[c], self.y_[c])
        if self.tie_break:
            out *= 1.0 - TIE_BREAK_EPS
            out += TIE_BREAK_EPS * to_probs(s, self.input)
        return out

    def _get_params(self):
        return {"x": [a.tolist() for a in self.x_], "y": [a.tolist() for a in self.y_]}

    def _set_params(self, params, n_classes, where):
        _expect_keys(params, ("x", "y"), where)
        xs = _nested_float_lists(params["x"], n_classes, f"{where}.x")
        ys = _nested_float_lists(params["y"], n_classes, f"{where}.y")
        for c, (x, v) in enumerate(zip(xs, ys)):
            if x.size != v.size:
                raise InputError(f"{where}.x[{c}] and {where}.y[{c}] differ in length")
            if np.any(np.diff(x) < 0):
                raise InputError(f"{where}.x[{c}] must be sorted ascending")
            if np.any(np.diff(v) < 0) or v.min() < 0 or v.max() > 1:
                raise InputError(f"{where}.y[{c}] must be non-decreasing values in [0, 1]")
        self.x_, self.y_ = xs, ys
