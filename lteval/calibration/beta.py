"""Beta calibration (Kull, Silva Filho & Flach, 2017), per class.

``logit(q) = a * ln(p) - b * ln(1 - p) + c`` with ``a, b >= 0`` (so the map is
non-decreasing; strictly increasing when ``a + b > 0``). The identity map is
``a = b = 1, c = 0``; Platt scaling on the logit is the special case ``a = b``.

Why not netcal's ``BetaCalibration``: it fits through torch and a numerical-
gradient scipy optimiser one model at a time, treats 2-D input as a softmax
problem, and its re-fit when ``a`` or ``b`` comes out negative passes the bounds
in a different order from the parameters (so the constraint is not what it
says). Here the constrained maximum-likelihood fit is solved exactly by
projected Newton steps on the convex NLL over ``a, b >= 0`` (the bound-
constrained optimum; Kull et al. instead drop a negative coefficient and refit,
which reaches the same point when one bound is active), vectorised over classes.
Targets are Platt's prior-corrected ones by default (see :mod:`.platt`).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, log_expit

from lteval.calibration._arrays import EPS
from lteval.calibration._logistic import fit_logistic
from lteval.calibration.base import Calibrator, _expect_keys, _float_list, register
from lteval.calibration.platt import TARGETS, logistic_targets, ridge
from lteval.errors import UsageError


def beta_features(s: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """``(ln p, -ln(1 - p))`` for scores of the stated kind (probabilities clipped to [eps, 1-eps])."""
    if kind == "logits":
        return log_expit(s), -log_expit(-s)
    q = np.clip(s, EPS, 1.0 - EPS)
    return np.log(q), -np.log1p(-q)


@register
class BetaCalibration(Calibrator):
    """Per-class beta calibration ``logit(q) = a ln p - b ln(1-p) + c``, ``a, b >= 0``."""

    method = "beta"
    monotone = "strict"  # when a + b > 0 for every class (reported otherwise)

    def __init__(self, input: str = "probs", targets: str = "platt") -> None:
        super().__init__(input)
        if targets not in TARGETS:
            raise UsageError(f"targets must be one of {TARGETS}, got {targets!r}")
        self.targets = targets

    def options(self):
        return {"targets": self.targets}

    def _fit(self, s, y, ok):
        C = s.shape[1]
        self.a_, self.b_, self.c_ = np.ones(C), np.ones(C), np.zeros(C)
        if not ok.any():
            return
        cols = np.flatnonzero(ok)
        lp, lq = beta_features(s[:, cols], self.input)
        t = logistic_targets(y[:, cols], self.targets)
        l2 = ridge(self.targets, s.shape[0])
        k = cols.size
        theta, _, conv = fit_logistic([lp, lq], t, init=np.tile([1.0, 1.0, 0.0], (k, 1)), l2=l2,
                                      lower=[0.0, 0.0, -np.inf])
        a, b, c = theta[:, 0], theta[:, 1], theta[:, 2]
        self.a_[cols], self.b_[cols], self.c_[cols] = a, b, c
        flat = cols[(a + b) <= 0]
        if flat.size:
            self.fit_info_["warnings"].append(
                f"beta calibration is constant for class index(es) {flat.tolist()} (scores not "
                "informative on the fitting data); the class ranking is lost")
        nc = cols[~conv]
        if nc.size:
            self.fit_info_["warnings"].append(f"beta fit did not converge for class index(es) "
                                              f"{nc.tolist()}")

    def _transform(self, s):
        lp, lq = beta_features(s, self.input)
        return expit(self.a_ * lp + self.b_ * lq + self.c_)

    def _get_params(self):
        return {"a": self.a_.tolist(), "b": self.b_.tolist(), "c": self.c_.tolist()}

    def _set_params(self, params, n_classes, where):
        _expect_keys(params, ("a", "b", "c"), where)
        self.a_ = _float_list(params["a"], n_classes, f"{where}.a", nonneg=True)
        self.b_ = _float_list(params["b"], n_classes, f"{where}.b", nonneg=True)
        self.c_ = _float_list(params["c"], n_classes, f"{where}.c")
