"""Isotonic regression calibration (Zadrozny & Elkan, 2002), per class.

Fitted with scikit-learn's ``IsotonicRegression`` (pool-adjacent-violators,
``y`` clipped to [0, 1], constant extrapolation), the same estimator netcal's
``IsotonicRegression`` wraps, without netcal's torch import. The fitted step
function is stored as its knots ``x`` (in the input's own space: logits or
probabilities) and values ``y``, and applied by linear interpolation between
knots exactly as scikit-learn's ``transform`` does.

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
        from sklearn.isotonic import IsotonicRegression

        C = s.shape[1]
        lo, hi = (0.0, 1.0)
        self.x_: list[np.ndarray] = []
        self.y_: list[np.ndarray] = []
        for c in range(C):
            if not ok[c]:
                self.x_.append(np.array([lo, hi]))
                self.y_.append(np.array([lo, hi]))
                continue
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
            iso.fit(s[:, c], y[:, c])
            self.x_.append(np.asarray(iso.X_thresholds_, dtype=np.float64))
            self.y_.append(np.asarray(iso.y_thresholds_, dtype=np.float64))

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
