"""Temperature scaling (Guo et al., 2017) for multi-label outputs: ``q = sigmoid(z / T)``.

``temperature``: one T shared by all classes, fitted on all n x C entries pooled.
``temperature-per-class``: one T_c per class.

Why not netcal's ``TemperatureScaling``: it fits through torch and
``scipy.optimize.minimize`` with numerical gradients, one model per call, and
for 2-D input it treats the classes as a softmax (multi-class) problem; for
multi-label we need independent sigmoids. The 1-parameter NLL is convex in
``1/T``, so a few Newton steps give the exact optimum in numpy (checked against
netcal and a scipy minimisation in the tests). ``1/T`` is kept in
[1e-4, 1e4]: a class whose fitting data are perfectly separated has no finite
optimum (T -> 0), and an uninformative one pushes T -> inf.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from lteval.calibration._arrays import to_logits
from lteval.calibration._logistic import fit_logistic
from lteval.calibration.base import Calibrator, _expect_keys, _float, _float_list, register

#: Bounds on the inverse temperature 1/T.
INV_T_BOUNDS = (1e-4, 1e4)


def _fit_inverse_temperature(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(C,) inverse temperatures maximising the likelihood of each column; converged flags."""
    C = z.shape[1]
    theta, _, conv = fit_logistic([z], y, intercept=False, init=np.ones((C, 1)),
                                  lower=np.array([INV_T_BOUNDS[0]]),
                                  upper=np.array([INV_T_BOUNDS[1]]))
    return theta[:, 0], conv


@register
class TemperatureScaling(Calibrator):
    """One temperature for all classes: ``q = sigmoid(z / T)``, z the logit of the input."""

    method = "temperature"
    monotone = "strict"
    per_class = False

    def _fit(self, s, y, ok):
        z = to_logits(s, self.input)
        w, conv = _fit_inverse_temperature(z.reshape(-1, 1), y.reshape(-1, 1))
        self.temperature_ = float(1.0 / w[0])
        if not conv[0]:
            self.fit_info_["warnings"].append("temperature fit did not converge (bound reached)")

    def _transform(self, s):
        return expit(to_logits(s, self.input) / self.temperature_)

    def _get_params(self):
        return {"temperature": self.temperature_}

    def _set_params(self, params, n_classes, where):
        _expect_keys(params, ("temperature",), where)
        self.temperature_ = _float(params["temperature"], f"{where}.temperature", positive=True)


@register
class PerClassTemperatureScaling(Calibrator):
    """One temperature per class: ``q_c = sigmoid(z_c / T_c)``."""

    method = "temperature-per-class"
    monotone = "strict"

    def _fit(self, s, y, ok):
        z = to_logits(s, self.input)
        T = np.ones(s.shape[1])
        if ok.any():
            w, conv = _fit_inverse_temperature(z[:, ok], y[:, ok])
            T[ok] = 1.0 / w
            idx = np.flatnonzero(ok)[~conv]
            if idx.size:
                self.fit_info_["warnings"].append(
                    f"temperature of class index(es) {idx.tolist()} hit a bound (separable or "
                    "uninformative scores)")
        self.temperature_ = T

    def _transform(self, s):
        return expit(to_logits(s, self.input) / self.temperature_)

    def _get_params(self):
        return {"temperature": self.temperature_.tolist()}

    def _set_params(self, params, n_classes, where):
        _expect_keys(params, ("temperature",), where)
        self.temperature_ = _float_list(params["temperature"], n_classes, f"{where}.temperature",
                                        positive=True)
