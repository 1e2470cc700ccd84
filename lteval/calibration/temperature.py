"""Temperature scaling (Guo et al., 2017) for multi-label outputs: ``q = sigmoid(z / T)``.

``temperature``: one T shared by all classes, fitted on all n x C entries pooled.
``temperature-per-class``: one T_c per class.

Why not netcal's ``TemperatureScaling``: it fits through torch and
``scipy.optimize.minimize`` with numerical gradients, one model per call, and
for 2-D input it treats the classes as a softmax (multi-class) problem; for
multi-label we need independent sigmoids. The 1-parameter NLL is convex in
``1/T``, so a safeguarded Newton iteration on its derivative gives the exact
optimum in numpy (checked against
netcal and a scipy minimisation in the tests). ``1/T`` is kept in
[1e-4, 1e4]: a class whose fitting data are perfectly separated has no finite
optimum (T -> 0), and an uninformative one pushes T -> inf.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from lteval.calibration._arrays import to_logits
from lteval.calibration.base import Calibrator, _expect_keys, _float, _float_list, register

#: Bounds on the inverse temperature 1/T.
INV_T_BOUNDS = (1e-4, 1e4)


def _grad_hess(z: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d/dw and d2/dw2 of the NLL sum_i softplus(w z_i) - y_i w z_i, per row of (C, n) arrays."""
    p = expit(z * w[:, None])
    g = np.einsum("cn,cn->c", p - y, z)
    p -= p * p
    p *= z
    return g, np.einsum("cn,cn->c", p, z)


def _fit_inverse_temperature(z: np.ndarray, y: np.ndarray, max_iter: int = 100,
                             warm_start_rows: int = 32768) -> tuple[np.ndarray, np.ndarray]:
    """(C,) inverse temperatures maximising the likelihood of each column of (n, C) arrays.

    The NLL is convex in w = 1/T, so its derivative is increasing in w: Newton
    steps on that derivative, taken in log w (w is a scale), safeguarded by a
    bracket (bisection in log w when a step leaves it), find the root to
    ~1e-12 relative without evaluating the loss itself (one sigmoid pass per
    iteration, typically 4-6). A root outside ``INV_T_BOUNDS`` stops at the
    bound (reported as not converged). With more than ``4 * warm_start_rows``
    rows, the root on an evenly strided subsample is the starting point
    (2-3 full passes instead of ~8; same root).
    """
    lo, hi = INV_T_BOUNDS
    w0 = np.ones(z.shape[1])
    if warm_start_rows and z.shape[0] > 4 * warm_start_rows:
        stride = z.shape[0] // warm_start_rows
        w0, _ = _fit_inverse_temperature(z[::stride], y[::stride], max_iter, 0)
    zt = np.ascontiguousarray(z.T)
    yt = np.ascontiguousarray(y.T)
    C = zt.shape[0]
    scale = np.abs(zt).sum(axis=1) + 1e-300  # |g| below 1e-13 of this: flat to machine precision
    w = np.clip(w0, lo, hi)
    conv = np.ones(C, dtype=bool)
    a = np.full(C, lo)
    b = np.full(C, hi)
    active = np.arange(C)
    for _ in range(max_iter):
        if active.size == 0:
            break
        wa = w[active]
        g, h = _grad_hess(zt[active], yt[active], wa)
        a[active] = np.where(g < 0, wa, a[active])
        b[active] = np.where(g > 0, wa, b[active])
        aa, bb = a[active], b[active]
        # at a bound with the root beyond it, or flat (perfectly separated / no signal)
        stuck = ((wa <= lo) & (g > 0)) | ((wa >= hi) & (g < 0))
        flat = np.abs(g) <= 1e-13 * scale[active]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            cand = np.clip(wa * np.exp(np.clip(-g / (wa * h), -30.0, 30.0)), lo, hi)
        # flat yet Newton still wants to move far: no finite optimum (separated classes)
        degenerate = flat & ~(np.abs(cand - wa) <= 1e-6 * wa)
        conv[active[stuck | degenerate]] = False
        newton = np.isfinite(cand) & (cand >= aa) & (cand <= bb)
        new = np.where(newton, cand, np.sqrt(aa * bb))
        done = stuck | flat | (newton & (np.abs(cand - wa) <= 1e-12 * wa)) | (bb - aa <= 1e-12 * wa)
        w[active] = np.where(stuck | flat, wa, new)
        active = active[~done]
    conv[active] = False
    return w, conv


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
