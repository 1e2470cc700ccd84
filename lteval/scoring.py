"""Score prediction files: CSV -> aligned arrays -> :class:`ScoreReport`.

``score`` and ``compare`` are what ``lteval score`` / ``lteval compare`` run,
available from Python as ``lteval.score`` / ``lteval.compare``.
"""

from __future__ import annotations

from pathlib import Path


from lteval import __version__
from lteval.errors import UsageError
from lteval.io.tables import LabelTable, PredictionTable, align, read_labels, read_predictions
from lteval.metrics.bootstrap import paired_bootstrap
from lteval.metrics.groups import Groups, assign_groups, counts_from_labels, read_counts_file
from lteval.metrics.report import ScoreReport, score_arrays
from lteval.tasks import Task, get_task


def resolve_groups(task: Task, *, train_labels=None, counts=None, head: float = 0.10,
                   tail: float = 0.01) -> Groups | None:
    """Head/medium/tail groups from a training labels CSV, a counts file, or the task default."""
    if train_labels is not None and counts is not None:
        raise UsageError("give either --train-labels or --counts, not both")
    if train_labels is not None:
        tl = train_labels if isinstance(train_labels, LabelTable) else read_labels(train_labels, task)
        tc = counts_from_labels(tl.y, task.classes, f"training labels {tl.path}")
    elif counts is not None:
        tc = read_counts_file(counts, task)
    elif task.default_counts is not None:
        tc = task.default_counts
    else:
        return None
    return assign_groups(tc, task.classes, head=head, tail=tail)


def _tables(predictions, labels, task):
    task = get_task(task)
    preds = predictions if isinstance(predictions, PredictionTable) else read_predictions(predictions, task)
    labs = labels if isinstance(labels, LabelTable) else read_labels(labels, task)
    return task, preds, labs


def score(predictions: str | Path | PredictionTable, labels: str | Path | LabelTable, *,
          task: str | Task | None = None, train_labels=None, counts=None, threshold=0.5,
          empty_class: str = "zero", n_boot: int = 0, seed: int = 0, head: float = 0.10,
          tail: float = 0.01, n_bins: int = 15, strategy: str = "uniform") -> ScoreReport:
    """Score a predictions CSV against a labels CSV (joined by ID) -> :class:`ScoreReport`."""
    task, preds, labs = _tables(predictions, labels, task)
    groups = resolve_groups(task, train_labels=train_labels, counts=counts, head=head, tail=tail)
    _, y, p = align(labs, preds)
    return score_arrays(y, p, task.classes, task=task.name, threshold=threshold,
                        empty_class=empty_class, groups=groups, n_boot=n_boot, seed=seed,
                        n_bins=n_bins, strategy=strategy)


def compare(predictions_a, predictions_b, labels, *, task=None, train_labels=None, counts=None,
            threshold=0.5, empty_class: str = "zero", n_boot: int = 1000, seed: int = 0,
            head: float = 0.10, tail: float = 0.01) -> dict:
    """Paired bootstrap comparison of two prediction files on the same labels.

    Returns ``{"lteval_version", "task", "n_samples", "n_boot", "a", "b",
    "figures": {figure: {"a", "b", "diff", "ci", "p_value"}}}`` with diff = b - a.
    """
    task = get_task(task)
    labs = labels if isinstance(labels, LabelTable) else read_labels(labels, task)
    pa = predictions_a if isinstance(predictions_a, PredictionTable) else read_predictions(predictions_a, task)
    pb = predictions_b if isinstance(predictions_b, PredictionTable) else read_predictions(predictions_b, task)
    groups = resolve_groups(task, train_labels=train_labels, counts=counts, head=head, tail=tail)
    _, y, a = align(labs, pa)
    _, _, b = align(labs, pb)
    idx = groups.indices(task.classes) if groups else None
    figs = paired_bootstrap(y, a, b, n_boot=n_boot, seed=seed, threshold=threshold,
                            empty_class=empty_class, groups=idx)
    return {"lteval_version": __version__, "task": task.name, "n_samples": int(len(y)),
            "n_boot": int(n_boot), "seed": int(seed), "a": str(pa.path), "b": str(pb.path),
            "figures": figs}


__all__ = ["score", "compare", "resolve_groups"]
