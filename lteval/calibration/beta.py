"""Beta calibration (Kull, Silva Filho & Flach, 2017), per class.

``logit(q) = a * ln(p) - b * ln(1 - p) + c`` with ``a, b >= 0`` (so the map is
non-decreasing; strictly increasing when ``a + b > 0``). The identity map is
``a = b = 1, c = 0``; Platt scaling on the logit is the special case ``a = b``.

Why not netcal's ``BetaCalibration``: it fits through torch and a numerical-
gradient scipy optimiser one model at a time, treats 2-D input as a softmax
problem, and its re-fit when ``a`` or ``b`` comes out negative passes the bounds
in a different order from the parameters (so the constraint is not what it
says). Here the constrained maximum-likelihood fit is solved exactly: the NLL is
convex, so its minimum over ``a, b >= 0`` is the best of the unconstrained
optima of the faces {a, b free}, {a = 0}, {b = 0}, {a = b = 0} that satisfy the
constraint. Each face is a small logistic regression solved by Newton steps.
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
        theta, nll, conv = fit_logistic([lp, lq], t, init=np.tile([1.0, 1.0, 0.0], (k, 1)), l2=l2)
        a, b, c = theta[:, 0].copy(), theta[:, 1].copy(), theta[:, 2].copy()
        bad = (a < 0) | (b < 0)
        if bad.any():
            j = np.flatnonzero(bad)
            tb = t[:, j]
            best = np.full(j.size, np.inf)
            ba, bb, bc = np.zeros(j.size), np.zeros(j.size), np.zeros(j.size)
            # face b = 0: regress on ln p only
            th, f, _ = fit_logistic([lp[:, j]], tb, init=np.tile([1.0, 0.0], (j.size, 1)), l2=l2)
            take = (th[:, 0] >= 0) & (f < best)
            best[take], ba[take], bb[take], bc[take] = f[take], th[take, 0], 0.0, th[take, 1]
            # face a = 0: regress on -ln(1 - p) only
            th, f, _ = fit_logistic([lq[:, j]], tb, init=np.tile([1.0, 0.0], (j.size, 1)), l2=l2)
            take = (th[:, 0] >= 0) & (f < best)
            best[take], ba[take], bb[take], bc[take] = f[take], 0.0, th[take, 0], th[take, 1]
            # face a = b = 0: constant, closed form
            m = np.clip(tb.mean(axis=0), EPS, 1 - EPS)
            c0 = np.log(m) - np.log1p(-m)
            f0 = (np.logaddexp(0.0, c0) - tb * c0).sum(axis=0)
            take = f0 < best
            best[take], ba[take], bb[take], bc[take] = f0[take], 0.0, 0.0, c0[take]
            a[j], b[j], c[j] = ba, bb, bc
        self.a_[cols], self.b_[cols], self.c_[cols] = a, b, c
        flat = cols[(a + b) <= 0]
        if flat.size:
            self.fit_info_["warnings"].append(
                f"beta calibration is constant for class index(es) {flat.tolist()} (scores not "
                "informative on the fitting data); the class ranking is lost")
        nc = cols[~conv & ~bad]
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
