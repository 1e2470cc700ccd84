"""The ``calib`` stage: calibration and decision thresholds fitted on the run's ``calib`` split only.

``calib_stage(prev_dir, base_dir, out_dir, method=..., thresholds=...)``:

1. fits the calibrator (``lteval.calibration``; input: the previous stage's logits) on
   ``<prev>/logits/calib.csv`` against ``<base>/labels/calib.csv`` — the held-out part of the
   training file that the engine never trained on or selected with;
2. fits the thresholds (``lteval.thresholds``) on the *calibrated* probabilities of that same split;
3. applies both to every split the previous stage predicted (val, calib, dev, test) and writes
   ``predictions/`` (calibrated probabilities), ``logits/`` (their logits), ``labels/`` (copied from
   the base run where known), ``scores/<split>.json`` (via ``lteval.score``; F1/precision/recall at
   the fitted per-class thresholds), ``calibration.json`` (the CALIB.json artifact, thresholds
   included) and ``thresholds.json`` (the thresholds alone, by class name).

Dev and test labels are never opened for fitting: they are only used, when present, to score the
outputs, after everything is fitted (a run without them works the same). The calib split's own
scores are in-sample and flagged as such in ``config.json``.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np

from lteval.calibration._arrays import sigmoid
from lteval.errors import UsageError
from lteval.io.atomic import write_json_atomic

__all__ = ["calib_stage", "DEFAULT_METHOD", "DEFAULT_THRESHOLDS", "SPLITS", "write_stage_split", "map_stage_splits",
           "sigmoid", "logit"]

DEFAULT_METHOD = "temperature"
DEFAULT_THRESHOLDS = "f1"
SPLITS = ("val", "calib", "dev", "test")
_EPS = 1e-12


def logit(p) -> np.ndarray:
    """log(p / (1 - p)) with p clipped to [1e-12, 1 - 1e-12] (finite for the logits CSV)."""
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1.0 - _EPS)
    return np.log(p) - np.log1p(-p)


def map_stage_splits(prev_dir: Path, out_dir: Path, base_dir: Path, splits, task, transform, *,
                     threshold=0.5, n_boot: int = 0) -> list[str]:
    """For each split with ``prev_dir/logits/<split>.csv``: ``probs, logits = transform(z)`` on its
    (n, C) logits, written by :func:`write_stage_split` (labels from ``base_dir``). Returns the
    splits written, in order."""
    from lteval.io.tables import read_predictions

    done = []
    for split in splits:
        src = Path(prev_dir) / "logits" / f"{split}.csv"
        if not src.is_file():
            continue
        prd = read_predictions(src, task, kind="logits")
        probs, logits = transform(prd.p)
        write_stage_split(out_dir, split, prd.ids, probs, logits, task,
                          label_src=Path(base_dir) / "labels" / f"{split}.csv", threshold=threshold, n_boot=n_boot)
        done.append(split)
    return done


def write_stage_split(stage_dir, split: str, ids, probs, logits, task, *, label_src: Path | None,
                      threshold=0.5, n_boot: int = 0) -> dict | None:
    """Write ``predictions/``, ``logits/`` and, when ``label_src`` exists, ``labels/`` (a copy) and
    ``scores/<split>.json`` (``lteval.score`` at ``threshold``) for one split of a stage."""
    from lteval.io.tables import PROB_DECIMALS, write_predictions
    from lteval.scoring import score

    d = Path(stage_dir)
    pred = write_predictions(d / "predictions" / f"{split}.csv", ids, probs, task, force=True,
                             decimals=PROB_DECIMALS)
    write_predictions(d / "logits" / f"{split}.csv", ids, logits, task, force=True)
    if label_src is None or not Path(label_src).is_file():
        return None
    lab = d / "labels" / f"{split}.csv"
    lab.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(label_src, lab)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # classes without positives are reported in the JSON itself
        rep = score(pred, lab, task=task, threshold=threshold, n_boot=n_boot)
    out = rep.to_dict()
    write_json_atomic(d / "scores" / f"{split}.json", out)
    return out


def calib_stage(prev_dir, base_dir, out_dir, *, task, method: str = DEFAULT_METHOD,
                thresholds: str | None = DEFAULT_THRESHOLDS, options: dict | None = None,
                splits=SPLITS, n_boot: int = 0) -> dict:
    """Fit on ``prev_dir``'s calib split, apply to every split, write ``out_dir`` (see module doc).

    ``prev_dir``: the stage (or base run) whose ``logits/<split>.csv`` are calibrated;
    ``base_dir``: the base run holding ``labels/calib.csv`` (and labels of other splits, used
    only for scoring). Returns a summary dict (what was fitted, on how many images).
    """
    from lteval.calibration.pipeline import fit_calibration
    from lteval.tasks import get_task

    task = get_task(task)
    prev_dir, base_dir, out_dir = Path(prev_dir), Path(base_dir), Path(out_dir)
    calib_logits = prev_dir / "logits" / "calib.csv"
    calib_labels = base_dir / "labels" / "calib.csv"
    if not calib_logits.is_file():
        raise UsageError(f"the calib stage needs the run's calib split predictions ({calib_logits} is missing); "
                         "train with a non-empty calib split (split_fractions)", file=str(calib_logits))
    if not calib_labels.is_file():
        raise UsageError(f"the calib stage needs the calib split's labels ({calib_labels} is missing)",
                         file=str(calib_labels))
    art = fit_calibration(calib_logits, calib_labels, method=method, input="logits", task=task,
                          thresholds=thresholds, options=options)
    art.fit["fitted_on"] = "calib"
    art.save(out_dir / "calibration.json", force=True)
    thr_values = None
    if art.thresholds is not None:
        thr_values = art.thresholds.values
        write_json_atomic(out_dir / "thresholds.json", {
            "format": "lteval-thresholds", "task": task.name, "classes": list(task.classes),
            "fitted_on": "calib", "applied_to": f"probabilities calibrated by {method}",
            "strategy": str(art.thresholds.strategy),
            "thresholds": {c: float(v) for c, v in zip(task.classes, thr_values)},
            "fit": art.thresholds.to_dict()})
    def calibrated(z):
        q = art.calibrator.transform(z)
        return q, logit(q)

    done = map_stage_splits(prev_dir, out_dir, base_dir, splits, task, calibrated,
                            threshold=0.5 if thr_values is None else thr_values, n_boot=n_boot)
    return {"method": method, "thresholds": thresholds, "fitted_on": "calib",
            "n_fit": int(art.fit.get("n_samples", 0)), "splits": done,
            "in_sample_splits": ["calib"],
            "passthrough_classes": art.fit.get("passthrough_classes", [])}
