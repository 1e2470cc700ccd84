"""File-level calibration: what ``lteval calibrate fit | apply | cv`` run, callable from Python.

CSV files are read with :mod:`lteval.io.tables` (validated, rows joined by ID),
arrays go through the calibrators / thresholds / cross-fitting, results come
back as a :class:`~lteval.calibration.artifact.CalibrationArtifact` or a plain
JSON-ready dict.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from lteval.calibration.artifact import CalibrationArtifact, load_calibration
from lteval.calibration.base import REGISTRY, create_calibrator
from lteval.errors import InputError, UsageError, did_you_mean
from lteval.tasks import BUILTIN_TASKS, Task, get_task

#: Constructor options understood per method (CLI flags map onto these).
METHOD_OPTIONS = {"platt": ("targets",), "beta": ("targets",), "histogram": ("n_bins", "strategy"),
                  "isotonic": ("tie_break",)}

PATIENT_ID_NOTE = ("PatientID in the official CXR-LT files is stored in rounded scientific notation "
                   "(e.g. 1.90E+38), which merges different patients into one group: folds stay free "
                   "of patient leakage (merged patients share a fold) but are coarser than real patients.")


def method_options(method: str, **given) -> dict:
    """The subset of ``given`` (non-None) options that ``method`` accepts."""
    keep = METHOD_OPTIONS.get(method, ())
    return {k: v for k, v in given.items() if k in keep and v is not None}


def parse_methods(text: str) -> list[str]:
    """``"all"`` or a comma-separated list of method names -> list of names."""
    if text.strip().lower() == "all":
        return list(REGISTRY)
    out = []
    for m in (x.strip() for x in text.split(",")):
        if not m:
            continue
        if m not in REGISTRY:
            raise UsageError(f"unknown calibration method {m!r}{did_you_mean(m, REGISTRY)}; choose from "
                             f"{', '.join(REGISTRY)} or 'all'")
        if m not in out:
            out.append(m)
    if not out:
        raise UsageError("no calibration method given")
    return out


def prevalence_for(task: Task, *, train_labels=None, counts=None) -> tuple[np.ndarray | None, str | None]:
    """Per-class training prevalence (C,) and its source, from labels, a counts file or the task default."""
    from lteval.io.tables import read_labels
    from lteval.metrics.groups import read_counts_file

    if train_labels is not None and counts is not None:
        raise UsageError("give either --train-labels or --counts, not both")
    if train_labels is not None:
        tl = read_labels(train_labels, task)
        return tl.y.mean(axis=0).astype(np.float64), f"training labels {train_labels}"
    tc = read_counts_file(counts, task) if counts is not None else task.default_counts
    if tc is None:
        return None, None
    return np.array(tc.prevalence(task.classes), dtype=np.float64), tc.source


def _read(preds, labels, task, kind):
    from lteval.io.tables import align, read_labels, read_predictions

    labs = read_labels(labels, task)
    prd = read_predictions(preds, task, kind=kind)
    ids, y, s = align(labs, prd)
    return labs, ids, y, s


def fit_calibration(predictions, labels, *, method: str, input: str, task=None,
                    thresholds: str | None = None, train_labels=None, counts=None,
                    fallback: float = 0.5, options: dict | None = None) -> CalibrationArtifact:
    """Fit ``method`` (and optionally thresholds on its outputs) on a predictions + labels CSV pair."""
    from lteval.thresholds import fit_thresholds, parse_strategy

    task = get_task(task)
    cal = create_calibrator(method, input=input, **(options or {}))
    strategy = parse_strategy(thresholds) if thresholds else None
    prevalence = None
    prev_source = None
    if strategy is not None and strategy.name == "prevalence":
        prevalence, prev_source = prevalence_for(task, train_labels=train_labels, counts=counts)
        if prevalence is None:
            raise UsageError("--thresholds prevalence needs --train-labels or --counts for this task")
    _, _, y, s = _read(predictions, labels, task, input)
    cal.fit(s, y)
    fit = dict(cal.fit_info_)
    fit.update({"predictions": str(predictions), "labels": str(labels)})
    thr = None
    if strategy is not None:
        thr = fit_thresholds(y, cal.transform(s), strategy, prevalence=prevalence, fallback=fallback)
        if prev_source:
            thr.notes.append(f"prevalence from {prev_source}")
    fit["warnings"] = [_name_classes(w, task.classes) for w in fit.get("warnings", [])]
    return CalibrationArtifact(task.name, task.classes, cal, thr, fit)


def _name_classes(msg: str, classes) -> str:
    """Replace 'class index(es) [1, 2]' by the class names in a warning."""
    def repl(m):
        idx = [int(i) for i in re.findall(r"\d+", m.group(1))]
        return "class(es) " + ", ".join(repr(classes[i]) for i in idx if 0 <= i < len(classes))

    return re.sub(r"class index\(es\) \[([0-9, ]*)\]", repl, msg)


def task_of(art: CalibrationArtifact) -> Task:
    """The task a calibration file was fitted for (built-in if the names match, else its class list)."""
    t = BUILTIN_TASKS.get(art.task)
    if t is not None and t.classes == art.classes:
        return t
    return Task(art.task, art.classes)


def apply_calibration(calibration, predictions, output, *, force: bool = False,
                      decisions=None) -> dict:
    """Calibrate a predictions CSV with a CALIB.json; write a submission-format CSV.

    Same IDs in the same order, classes in the task's official order, values
    probabilities in [0, 1]. With ``decisions`` (a path), also writes 0/1
    decisions from the file's thresholds. Returns a small summary dict.
    """
    from lteval.io.atomic import check_writable
    from lteval.io.tables import (PROB_DECIMALS, read_predictions, round_probabilities, write_labels,
                                  write_predictions)

    art = calibration if isinstance(calibration, CalibrationArtifact) else load_calibration(calibration)
    task = task_of(art)
    if decisions is not None and art.thresholds is None:
        raise UsageError("the calibration file holds no thresholds: refit with --thresholds to write "
                         "decisions")
    check_writable(output, force)
    if decisions is not None:
        check_writable(decisions, force)
        if Path(decisions).resolve() == Path(output).resolve():
            raise UsageError("--decisions must be a different file from --output")
    prd = read_predictions(predictions, task, kind=art.calibrator.input)
    q = round_probabilities(art.calibrator.transform(prd.p))  # as written (and decided on)
    write_predictions(output, prd.ids, q, task, force=force, decimals=PROB_DECIMALS)
    out = {"n_samples": int(len(prd.ids)), "output": str(output), "method": art.calibrator.method}
    if decisions is not None:
        d = art.thresholds.predict(q)
        write_labels(decisions, prd.ids, d, task, force=force)
        out["decisions"] = str(decisions)
        out["positives_per_class"] = {c: int(v) for c, v in zip(task.classes, d.sum(axis=0))}
    return out


def read_group_column(labels_path, ids: np.ndarray, column: str, task: Task) -> np.ndarray:
    """The ``column`` of the labels CSV as (n,) str, in the order of ``ids``."""
    import pandas as pd

    path = Path(labels_path)
    try:
        header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns.tolist()
    except Exception as e:  # already read successfully once by read_labels; be safe anyway
        raise InputError(f"cannot read header: {e}", file=str(path)) from None
    if column not in header:
        raise UsageError(f"group column {column!r} is not in the labels file"
                         f"{did_you_mean(column, header)}", file=str(path))
    id_col = next((c for c in (task.id_column, *task.id_aliases) if c in header), None)
    df = pd.read_csv(path, usecols=[id_col, column], dtype=str, encoding="utf-8-sig",
                     keep_default_na=False)
    df[id_col] = df[id_col].str.strip()
    vals = df[column].str.strip()
    empty = (vals == "").to_numpy()
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise InputError(f"empty group value ({int(empty.sum())} row(s)); every row needs a group",
                         file=str(path), line=i + 2, column=column)
    lookup = dict(zip(df[id_col], vals))
    return np.array([lookup[i] for i in ids], dtype=object).astype(str)


def looks_rounded(groups: np.ndarray) -> bool:
    """True if group IDs look like rounded scientific notation (the official PatientID quirk)."""
    sample = groups[: min(len(groups), 200)]
    return bool(sample.size) and np.mean([bool(re.fullmatch(r"-?\d\.\d+E[+-]?\d+", str(g), re.I))
                                          for g in sample]) > 0.5


def cross_validate(predictions, labels, *, methods, input: str, task=None, folds: int = 5,
                   group_column: str | None = None, thresholds: str | None = None,
                   train_labels=None, counts=None, n_boot: int = 1000, seed: int = 0,
                   empty_class: str = "zero", rank_by: str = "ece", options: dict | None = None,
                   progress=None) -> dict:
    """Cross-fitted before/after figures (ECE, mAP, mF1 with bootstrap CIs) for each method.

    ``methods``: a list of names or ``"all"``. ``progress(method)`` is called
    before each method (for a progress display). Returns a JSON-ready dict.
    """
    from lteval import __version__
    from lteval.calibration.crossfit import before_probs, cross_fit, evaluate, make_folds
    from lteval.thresholds import parse_strategy

    task = get_task(task)
    names = parse_methods(methods) if isinstance(methods, str) else list(methods)
    strategy = str(parse_strategy(thresholds)) if thresholds else None
    prevalence, prev_source = (None, None)
    if strategy == "prevalence":
        prevalence, prev_source = prevalence_for(task, train_labels=train_labels, counts=counts)
        if prevalence is None:
            raise UsageError("--thresholds prevalence needs --train-labels or --counts for this task")
    _, ids, y, s = _read(predictions, labels, task, input)
    groups = None
    notes = []
    if group_column:
        groups = read_group_column(labels, ids, group_column, task)
        if looks_rounded(groups):
            notes.append(PATIENT_ID_NOTE)
    fold = make_folds(y, folds, groups=groups, seed=seed)
    results = []
    for m in names:
        if progress is not None:
            progress(m)
        opts = method_options(m, **(options or {}))
        results.append(cross_fit(s, y, m, input=input, folds=fold, thresholds=strategy,
                                 prevalence=prevalence, options=opts))
    rep = evaluate(y, before_probs(s, input), results, n_boot=n_boot, seed=seed,
                   empty_class=empty_class, rank_by=rank_by)
    for r in results:
        rep["methods"][r.method]["warnings"] = [_name_classes(w, task.classes) for w in r.warnings]
    head = {
        "lteval_version": __version__,
        "task": task.name,
        "predictions": str(predictions),
        "labels": str(labels),
        "input": input,
        "folds": int(folds),
        "group_column": group_column,
        "n_groups": None if groups is None else int(np.unique(groups).size),
        "fold_sizes": np.bincount(fold, minlength=folds).tolist(),
        "thresholds": strategy,
        "prevalence_source": prev_source,
        "notes": notes,
    }
    head.update(rep)
    return head
