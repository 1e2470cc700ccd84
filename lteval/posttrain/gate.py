"""The ``gate`` stage: Normal gating, fitted on the run's ``calib`` split only.

For every image and every finding ``c`` other than the Normal class::

    p'_c = p_c · (1 − α · p_Normal)            α ∈ [0, 1];   p'_Normal = p_Normal

where ``p = sigmoid(z)`` are the probabilities of the stage's input logits ``z``
(``<prev>/logits/<split>.csv``: the evaluation logits, i.e. LDAM's ``s·cos`` and DB's ``z + ν``, the
same convention ``predictions/`` of the previous stage is made with). A confident "Normal" pulls every
finding down, in proportion to α; α = 0 is the ungated input, bit for bit.

α is chosen to maximise the ``calib`` split's mAP (``lteval.metrics.mean_average_precision``, the
score's mAP) on a grid — 0, 0.01, …, 1 — refined around the best coarse point with step 0.0005
(±0.01); ties go to the smallest α, so a gate that does not help on calib is α = 0 (identity).
An exact sweep over breakpoints is not used: AP_c(α) changes only where a positive and a negative of
class c swap order, which is O(n_pos · n_neg) candidates per class (≈ 10⁸ on the real 12.9k-image
calib split), while calib mAP is itself a noisy estimate at a resolution far coarser than 0.0005.

Outputs (``gate_stage``): ``predictions/`` (gated probabilities), ``logits/`` (their logits, computed
stably from ``z``: equal to ``z`` wherever the gate is 1), ``labels/`` and ``scores/`` as every stage,
and ``gate.json`` (JSON, no pickle: α, the Normal class, the search table, calib mAP before/after).
Only ``<base>/labels/calib.csv`` is read for fitting; dev/test labels only score the outputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lteval.errors import ConfigError, UsageError
from lteval.io.atomic import write_json_atomic

__all__ = ["gate_probs", "gate_logits", "fit_alpha", "normal_index", "gate_stage", "COARSE_STEP",
           "FINE_STEP", "FINE_HALF_WIDTH", "DEFAULT_NORMAL"]

DEFAULT_NORMAL = "Normal"
COARSE_STEP = 0.01
FINE_STEP = 0.0005
FINE_HALF_WIDTH = 0.01


def normal_index(classes, name: str = DEFAULT_NORMAL) -> int:
    """Column of the Normal class ``name`` in ``classes``; ConfigError when the task has none."""
    classes = list(classes)
    if name not in classes:
        raise ConfigError(f"the gate stage needs a {name!r} class, which this task does not have "
                          f"(classes: {', '.join(classes[:8])}{', ...' if len(classes) > 8 else ''}); "
                          "set gate.normal=<class> to the task's no-finding class, or drop +gate")
    if len(classes) < 2:
        raise ConfigError("the gate stage needs at least one finding besides the Normal class")
    return classes.index(name)


def _check_alpha(alpha) -> float:
    a = float(alpha)
    if not 0.0 <= a <= 1.0:
        raise ConfigError(f"gate alpha must be in [0, 1], got {alpha!r}")
    return a


def gate_probs(p, alpha: float, normal: int) -> np.ndarray:
    """(n, C) probabilities → gated (n, C): ``p_c · (1 − α·p[:, normal])`` for c ≠ normal."""
    p = np.asarray(p, dtype=np.float64)
    a = _check_alpha(alpha)
    g = 1.0 - a * p[:, normal]
    out = p * g[:, None]
    out[:, normal] = p[:, normal]
    return out


def gate_logits(z, alpha: float, normal: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, C) logits → ``(gated probabilities, their logits)``.

    Probabilities: ``gate_probs(sigmoid(z))``. Logits without the round trip through ``p`` (which
    saturates for |z| > 36): ``log p + log g − log(sigmoid(−z) + p·α·p_N)``, since
    ``1 − p·g = (1 − p) + p·α·p_N``, with ``g = (1 − α) + α·sigmoid(−z_N)``; always finite for
    finite ``z``; elements whose gate is exactly 1 (α = 0 or p_N = 0) keep ``z`` itself.
    """
    from lteval.calibration._arrays import sigmoid

    z = np.asarray(z, dtype=np.float64)
    a = _check_alpha(alpha)
    p = sigmoid(z)
    q = gate_probs(p, a, normal)
    zn = z[:, normal]
    u = a * p[:, normal]  # 1 − gate, per image
    with np.errstate(divide="ignore"):
        # log g = log((1 − α) + α·sigmoid(−z_N)): finite even where p_N rounds to 1
        log_g = np.logaddexp(np.log1p(-a), np.log(a) - np.logaddexp(0.0, zn))[:, None]
        log_p = -np.logaddexp(0.0, -z)
        log_1mp = -np.logaddexp(0.0, z)
        log_pu = log_p + (np.log(a) - np.logaddexp(0.0, -zn))[:, None]  # log(p_c · α · p_N)
        zg = log_p + log_g - np.logaddexp(log_1mp, log_pu)
    zg = np.where(u[:, None] > 0, zg, z)
    zg[:, normal] = zn
    return q, zg


def _map(y, p) -> float:
    from lteval.metrics.summary import mean_average_precision

    return mean_average_precision(y, p, empty_class="zero")


def fit_alpha(y, p, normal: int, *, coarse_step: float = COARSE_STEP, fine_step: float = FINE_STEP,
              fine_half_width: float = FINE_HALF_WIDTH) -> tuple[float, dict]:
    """α ∈ [0, 1] maximising mAP(y, gate_probs(p, α)) on a grid refined around the best point.

    ``y``, ``p``: (n, C) labels and probabilities of the fitting split. Ties → smallest α.
    Returns ``(alpha, info)``; ``info`` has the coarse table ``{"alpha": [...], "mAP": [...]}``, the
    refined window and the mAP at α = 0 and at the chosen α.
    """
    y = np.asarray(y)
    p = np.asarray(p, dtype=np.float64)
    if y.shape != p.shape or p.ndim != 2:
        raise UsageError(f"labels {y.shape} and probabilities {p.shape} must be the same (n, C) shape")

    def grid(lo, hi, step):
        k = int(round((hi - lo) / step))
        return np.round(lo + step * np.arange(k + 1), 10)

    coarse = grid(0.0, 1.0, coarse_step)
    cm = np.array([_map(y, gate_probs(p, a, normal)) for a in coarse])
    best = float(coarse[int(np.argmax(cm))])  # argmax: first (smallest) α at the maximum
    lo, hi = max(0.0, best - fine_half_width), min(1.0, best + fine_half_width)
    fine = grid(lo, hi, fine_step)
    fm = np.array([_map(y, gate_probs(p, a, normal)) for a in fine])
    # the fine window contains the coarse best, so the refined maximum is never below it
    cand = np.concatenate([coarse, fine])
    vals = np.concatenate([cm, fm])
    top = vals.max()
    alpha = float(cand[vals == top].min())
    info = {"criterion": "calib mAP (empty classes count 0)", "tie_break": "smallest alpha",
            "coarse": {"step": coarse_step, "alpha": coarse.tolist(), "mAP": cm.tolist()},
            "fine": {"step": fine_step, "from": lo, "to": hi, "best_mAP": float(fm.max())},
            "mAP_ungated": float(cm[0]), "mAP_gated": float(top)}
    return alpha, info


def gate_stage(prev_dir, base_dir, out_dir, *, task, alpha="auto", normal: str = DEFAULT_NORMAL,
               splits=None, n_boot: int = 0) -> dict:
    """Fit α on ``prev_dir``'s calib split (labels: ``base_dir/labels/calib.csv``), gate every split
    ``prev_dir`` predicted, write ``out_dir`` (see the module doc). Returns a summary dict."""
    from lteval.calibration._arrays import sigmoid
    from lteval.io.tables import align, read_labels, read_predictions
    from lteval.posttrain.calib_stage import SPLITS, map_stage_splits
    from lteval.tasks import get_task

    task = get_task(task)
    k = normal_index(task.classes, normal)
    prev_dir, base_dir, out_dir = Path(prev_dir), Path(base_dir), Path(out_dir)
    splits = SPLITS if splits is None else splits
    n_fit = 0
    if str(alpha).strip().lower() == "auto":
        src, lab = prev_dir / "logits" / "calib.csv", base_dir / "labels" / "calib.csv"
        for f, what in ((src, "predictions (logits)"), (lab, "labels")):
            if not f.is_file():
                raise UsageError(f"the gate stage fits alpha on the run's calib split: its {what} {f} are missing; "
                                 "train with a non-empty calib split (split_fractions) or fix gate.alpha",
                                 file=str(f))
        _, y, z = align(read_labels(lab, task), read_predictions(src, task, kind="logits"))
        n_fit = int(len(y))
        a, search = fit_alpha(y, sigmoid(z), k)
        fitted = "calib"
    else:
        a, search, fitted = _check_alpha(alpha), None, None
    write_json_atomic(out_dir / "gate.json", {
        "format": "lteval-gate", "version": 1, "task": task.name, "classes": list(task.classes),
        "normal_class": normal, "alpha": a, "fitted_on": fitted, "n_fit": n_fit,
        "formula": "p_c <- p_c * (1 - alpha * p_Normal) for c != Normal; p = sigmoid(input logits)",
        "search": search})
    done = map_stage_splits(prev_dir, out_dir, base_dir, splits, task, lambda z: gate_logits(z, a, k),
                            n_boot=n_boot)
    out = {"alpha": a, "normal_class": normal, "fitted_on": fitted, "n_fit": n_fit, "splits": done,
           "in_sample_splits": ["calib"] if fitted else []}
    if search:
        out["calib_mAP_ungated"], out["calib_mAP_gated"] = search["mAP_ungated"], search["mAP_gated"]
    return out
