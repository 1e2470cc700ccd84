"""Isotonic regression calibration (Zadrozny & Elkan, 2002), per class.

Fitted with scikit-learn's ``IsotonicRegression`` (pool-adjacent-violators,
``y`` clipped to [0, 1], constant extrapolation), the same estimator netcal's
``IsotonicRegression`` wraps, without netcal's torch import. The fitted step
function is stored as its knots ``x`` (in the input's own space: logits or
probabilities) and values ``y``, and applied by linear interpolation between
knots exactly as scikit-learn's ``transform`` does.

The map is non-decreasing but flat on each pooled block, so it creates ties:
per-class AUROC and AP can change (usually slightly down); see
``docs/calibration.md`` for the measured effect on mAP.
"""

from __future__ import annotations

import numpy as np

from lteval.calibration.base import Calibrator, _expect_keys, _nested_float_lists, register
from lteval.errors import InputError


@register
class IsotonicCalibration(Calibrator):
    """Per-class isotonic regression of the labels on the scores."""

    method = "isotonic"
    monotone = "weak"

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
