"""The identity "calibrator" (``method="none"``): probabilities pass through unchanged.

Useful as the baseline row of ``lteval calibrate cv --method all`` and to fit
thresholds alone (``lteval calibrate fit --method none --thresholds f1``).
"""

from __future__ import annotations

from lteval.calibration._arrays import to_probs
from lteval.calibration.base import Calibrator, _expect_keys, register


@register
class Identity(Calibrator):
    """No calibration: the output is the input probability (or the sigmoid of the logit)."""

    method = "none"
    monotone = "strict"
    per_class = False

    def _fit(self, s, y, ok):
        pass

    def _transform(self, s):
        return to_probs(s, self.input).copy()

    def _get_params(self):
        return {}

    def _set_params(self, params, n_classes, where):
        _expect_keys(params, (), where)
