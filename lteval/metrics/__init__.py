"""Metrics core: pure numpy functions over ``y_true`` (n, C) in {0, 1} and scores (n, C).

No torch, no pandas. Every per-class function matches its scikit-learn / netcal
counterpart (see ``docs/metrics.md`` and the tests).
"""

from lteval.metrics.bootstrap import (
    bootstrap_ci, bootstrap_distribution, paired_bootstrap, percentile_ci, resample_indices,
    resample_weights,
)
from lteval.metrics.calibration import (
    brier_score, calibration_error, per_class_calibration_error, reliability_table,
)
from lteval.metrics.classification import confusion_counts, precision_recall_f1, prf_from_counts
from lteval.metrics.groups import (
    GROUP_NAMES, Groups, assign_groups, counts_from_labels, read_counts_file,
)
from lteval.metrics.rank import RankResult, rank_systems
from lteval.metrics.ranking import average_precision, roc_auc
from lteval.metrics.score_report import EmptyClassWarning, ScoreReport, score_arrays
from lteval.metrics.summary import macro_f1, macro_mean, mean_average_precision, mean_roc_auc

__all__ = [
    "average_precision", "roc_auc", "precision_recall_f1", "confusion_counts", "prf_from_counts",
    "calibration_error", "per_class_calibration_error", "brier_score", "reliability_table",
    "mean_average_precision", "mean_roc_auc", "macro_f1", "macro_mean",
    "Groups", "GROUP_NAMES", "assign_groups", "counts_from_labels", "read_counts_file",
    "bootstrap_ci", "bootstrap_distribution", "paired_bootstrap", "percentile_ci",
    "resample_indices", "resample_weights",
    "ScoreReport", "score_arrays", "EmptyClassWarning", "RankResult", "rank_systems",
]
