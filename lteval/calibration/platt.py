"""Platt scaling (per class): ``q_c = sigmoid(a_c * z_c + b_c)``, z the logit of the input.

Fitted by exact Newton steps (numpy, vectorised over classes) rather than via
netcal's ``LogisticCalibration`` (torch + scipy numerical-gradient optimiser,
and multi-class/softmax for 2-D input) or one scikit-learn
``LogisticRegression`` per class (slower, and its L2 penalty must be switched
off by hand). Results equal scikit-learn's to ~1e-6 (tests).

``targets="platt"`` (default) uses Platt's (1999) prior-corrected targets
``(N+ + 1) / (N+ + 2)`` and ``1 / (N- + 2)`` instead of 1 and 0, exactly as
scikit-learn's ``CalibratedClassifierCV(method="sigmoid")`` does: the fit stays
finite when a rare class is perfectly separated. ``targets="raw"`` is the plain
maximum-likelihood logistic fit. Both add a 1e-6 ridge on the slope (see :func:`ridge`).
The slope is not constrained: a negative slope (scores anti-correlated with the
labels on the fitting data) reverses the class ranking and is reported.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from lteval.calibration._arrays import to_logits
from lteval.calibration._logistic import fit_logistic
from lteval.calibration.base import Calibrator, _expect_keys, _float_list, register
from lteval.errors import UsageError

TARGETS = ("platt", "raw")


def logistic_targets(y: np.ndarray, targets: str) -> np.ndarray:
    """Fitting targets: the labels, or Platt's prior-corrected versions of them (per column)."""
    if targets == "raw":
        return y
    pos = y.sum(axis=0)
    neg = y.shape[0] - pos
    hi = (pos + 1.0) / (pos + 2.0)
    lo = 1.0 / (neg + 2.0)
    return np.where(y > 0, hi, lo)


def ridge(targets: str, n: int) -> float:
    """L2 weight on the slopes (not the intercept), in units of the summed log-loss.

    1e-6 keeps nearly separable directions (a rare class whose few top-scored
    samples are all positive) at a finite, quickly reached optimum; for any
    informative class it moves the parameters by far less than 1e-6 relative.
    """
    return 1e-6


@register
class PlattScaling(Calibrator):
    """Per-class logistic calibration on the logit: ``q = sigmoid(a * z + b)``."""

    method = "platt"
    monotone = "strict"  # when every fitted slope is > 0 (reported otherwise)

    def __init__(self, input: str = "probs", targets: str = "platt") -> None:
        super().__init__(input)
        if targets not in TARGETS:
            raise UsageError(f"targets must be one of {TARGETS}, got {targets!r}")
        self.targets = targets

    def options(self):
        return {"targets": self.targets}

    def _fit(self, s, y, ok):
        C = s.shape[1]
        self.slope_ = np.ones(C)
        self.intercept_ = np.zeros(C)
        if not ok.any():
            return
        z = to_logits(s, self.input)[:, ok]
        t = logistic_targets(y[:, ok], self.targets)
        init = np.tile([1.0, 0.0], (int(ok.sum()), 1))
        theta, _, conv = fit_logistic([z], t, intercept=True, init=init,
                                      l2=ridge(self.targets, s.shape[0]))
        self.slope_[ok] = theta[:, 0]
        self.intercept_[ok] = theta[:, 1]
        neg = np.flatnonzero(ok)[theta[:, 0] <= 0]
        if neg.size:
            self.fit_info_["warnings"].append(
                f"non-positive Platt slope for class index(es) {neg.tolist()}: the scores are not "
                "informative (or anti-correlated) on the fitting data; the class ranking is lost "
                "or reversed")
        bad = np.flatnonzero(ok)[~conv]
        if bad.size:
            self.fit_info_["warnings"].append(f"Platt fit did not converge for class index(es) "
                                              f"{bad.tolist()}")

    def _transform(self, s):
        return expit(self.slope_ * to_logits(s, self.input) + self.intercept_)

    def _get_params(self):
        return {"slope": self.slope_.tolist(), "intercept": self.intercept_.tolist()}

    def _set_params(self, params, n_classes, where):
        _expect_keys(params, ("slope", "intercept"), where)
        self.slope_ = _float_list(params["slope"], n_classes, f"{where}.slope")
        self.intercept_ = _float_list(params["intercept"], n_classes, f"{where}.intercept")
