"""Per-class probability calibration for multi-label outputs (numpy/scipy; no torch).

Methods (``create_calibrator(name, input=...)``): ``none``, ``temperature``
(one T for all classes), ``temperature-per-class``, ``platt``, ``beta``,
``isotonic``, ``histogram``. Each maps (n, C) logits or probabilities (stated
by ``input``) to (n, C) calibrated probabilities, one binary map per class.
Fitted calibrators are saved as JSON (:mod:`.artifact`), never pickled.
Honest estimates of what a method does on unseen data: :mod:`.crossfit`.
"""

from lteval.calibration._arrays import INPUT_KINDS
from lteval.calibration.base import REGISTRY, Calibrator, create_calibrator
from lteval.calibration.identity import Identity
from lteval.calibration.temperature import PerClassTemperatureScaling, TemperatureScaling
from lteval.calibration.platt import PlattScaling
from lteval.calibration.beta import BetaCalibration
from lteval.calibration.isotonic import IsotonicCalibration
from lteval.calibration.histogram import HistogramBinning

from lteval.calibration.artifact import CalibrationArtifact, load_calibration
from lteval.calibration.crossfit import CrossFitResult, cross_fit, evaluate, make_folds

#: Method names in the order they are listed and ranked.
METHODS: tuple[str, ...] = tuple(REGISTRY)

__all__ = [
    "INPUT_KINDS", "METHODS", "REGISTRY", "Calibrator", "create_calibrator", "Identity",
    "TemperatureScaling", "PerClassTemperatureScaling", "PlattScaling", "BetaCalibration",
    "IsotonicCalibration", "HistogramBinning", "CalibrationArtifact", "load_calibration",
    "CrossFitResult", "cross_fit", "evaluate", "make_folds",
]
