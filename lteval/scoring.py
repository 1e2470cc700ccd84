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
from lteval.metrics.score_report import ScoreReport, score_arrays
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


def load_metadata(labels: LabelTable, metadata=None, *, needed: bool = True):
    """Metadata of the labelled images, in the labels' row order (None when not ``needed``).

    ``metadata``: a metadata CSV path or :class:`~lteval.io.metadata.MetadataTable`; without
    one, the labels CSV's own non-class columns (e.g. PatientID) are used.
    """
    from lteval.io.metadata import MetadataTable, read_metadata

    if metadata is None and not needed:
        return None
    if metadata is None:
        if labels.path == "<array>":
            raise UsageError("--cluster-by / --strata-by need --metadata (the labels are not a file)")
        meta = read_metadata(labels.path, labels.task, drop_classes=True)
    elif isinstance(metadata, MetadataTable):
        meta = metadata
    else:
        meta = read_metadata(metadata, labels.task)
    return meta.align(labels.ids, labels_path=str(labels.path))


def _clusters(meta, cluster_by: str | None):
    from lteval.io.metadata import cluster_labels

    return None if cluster_by is None else cluster_labels(meta, cluster_by)


def score(predictions: str | Path | PredictionTable, labels: str | Path | LabelTable, *,
          task: str | Task | None = None, train_labels=None, counts=None, threshold=0.5,
          empty_class: str = "zero", n_boot: int = 0, seed: int = 0, head: float = 0.10,
          tail: float = 0.01, n_bins: int = 15, strategy: str = "uniform", metadata=None,
          cluster_by: str | None = None, strata_by=(), bins=4) -> ScoreReport:
    """Score a predictions CSV against a labels CSV (joined by ID) -> :class:`ScoreReport`.

    ``metadata`` (CSV joined by ID; default: the labels CSV's extra columns), ``cluster_by``
    (resample clusters of that column), ``strata_by`` (columns to score each value of alone;
    numeric ones cut by ``bins``): see ``docs/metrics.md``.
    """
    task, preds, labs = _tables(predictions, labels, task)
    groups = resolve_groups(task, train_labels=train_labels, counts=counts, head=head, tail=tail)
    _, y, p = align(labs, preds)
    strata_by = [strata_by] if isinstance(strata_by, str) else list(strata_by or ())
    meta = load_metadata(labs, metadata, needed=bool(cluster_by or strata_by))
    clusters = _clusters(meta, cluster_by)
    kw = dict(task=task.name, threshold=threshold, empty_class=empty_class, groups=groups,
              n_boot=n_boot, seed=seed, n_bins=n_bins, strategy=strategy)
    report = score_arrays(y, p, task.classes, clusters=clusters, **kw)
    report.cluster_by = cluster_by
    if strata_by:
        from lteval.metrics.strata import score_strata, strata_gap_by_column, stratum_labels

        if len(set(strata_by)) != len(strata_by):
            raise UsageError(f"--strata-by names a column twice: {strata_by}")
        strata: dict = {}
        for col in strata_by:
            lab, order = stratum_labels(meta.column(col, what="--strata-by column"), bins)
            strata.update(score_strata(y, p, task.classes, lab, order, column=col,
                                       prefix="" if len(strata_by) == 1 else f"{col}=",
                                       clusters=clusters, **kw))
        report.strata, report.strata_by = strata, strata_by
        report.strata_gap = strata_gap_by_column(strata)
    return report


def compare(predictions_a, predictions_b, labels, *, task=None, train_labels=None, counts=None,
            threshold=0.5, empty_class: str = "zero", n_boot: int = 1000, seed: int = 0,
            head: float = 0.10, tail: float = 0.01, metadata=None,
            cluster_by: str | None = None, strata_by=(), bins=4) -> dict:
    """Paired bootstrap comparison of two prediction files on the same labels.

    Returns ``{"lteval_version", "task", "n_samples", "n_boot", "a", "b",
    "figures": {figure: {"a", "b", "diff", "ci", "p_value"}}}`` with diff = b - a
    (plus ``"cluster_by"``, ``"n_clusters"`` when resampling clusters, and
    ``"strata": {"<value>": {"n_samples", "figures", "column", "value"}}`` with ``strata_by``:
    the same comparison on each stratum alone).
    """
    task = get_task(task)
    labs = labels if isinstance(labels, LabelTable) else read_labels(labels, task)
    pa = predictions_a if isinstance(predictions_a, PredictionTable) else read_predictions(predictions_a, task)
    pb = predictions_b if isinstance(predictions_b, PredictionTable) else read_predictions(predictions_b, task)
    groups = resolve_groups(task, train_labels=train_labels, counts=counts, head=head, tail=tail)
    _, y, a = align(labs, pa)
    _, _, b = align(labs, pb)
    idx = groups.indices(task.classes) if groups else None
    strata_by = [strata_by] if isinstance(strata_by, str) else list(strata_by or ())
    meta = load_metadata(labs, metadata, needed=bool(cluster_by or strata_by))
    clusters = _clusters(meta, cluster_by)
    kw = dict(n_boot=n_boot, seed=seed, threshold=threshold, empty_class=empty_class, groups=idx)
    figs = paired_bootstrap(y, a, b, clusters=clusters, **kw)
    out = {"lteval_version": __version__, "task": task.name, "n_samples": int(len(y)),
           "n_boot": int(n_boot), "seed": int(seed), "a": str(pa.path), "b": str(pb.path),
           "figures": figs}
    if clusters is not None:
        out["cluster_by"] = cluster_by
        out["n_clusters"] = int(len(set(clusters.tolist())))
    if strata_by:
        from lteval.metrics.strata import stratum_labels

        if len(set(strata_by)) != len(strata_by):
            raise UsageError(f"--strata-by names a column twice: {strata_by}")
        out["strata_by"], out["strata"] = strata_by, {}
        for col in strata_by:
            lab, order = stratum_labels(meta.column(col, what="--strata-by column"), bins)
            for s_ in order:
                m = lab == s_
                key = s_ if len(strata_by) == 1 else f"{col}={s_}"
                f_ = None
                if m.any():
                    f_ = paired_bootstrap(y[m], a[m], b[m],
                                          clusters=None if clusters is None else clusters[m], **kw)
                out["strata"][key] = {"n_samples": int(m.sum()), "figures": f_, "column": col,
                                      "value": s_}
    return out


def rank(predictions, labels, *, metric: str = "mAP", task=None, train_labels=None, counts=None,
         threshold=0.5, empty_class: str = "zero", n_boot: int = 1000, seed: int = 0,
         level: float = 0.95, head: float = 0.10, tail: float = 0.01, metadata=None,
         cluster_by: str | None = None):
    """Rank two or more prediction files on the same labels -> :class:`~lteval.metrics.rank.RankResult`.

    ``predictions``: ``{name: path or PredictionTable}`` or a list of paths (named by file
    stem, made unique). Every file is joined to the labels by ID with the checks of ``score``.
    """
    from lteval.metrics.rank import rank_systems

    task = get_task(task)
    labs = labels if isinstance(labels, LabelTable) else read_labels(labels, task)
    if not isinstance(predictions, dict):
        predictions = system_names(list(predictions))
    systems = {}
    for name, src in predictions.items():
        pt = src if isinstance(src, PredictionTable) else read_predictions(src, task)
        systems[name] = align(labs, pt)[2]
    groups = resolve_groups(task, train_labels=train_labels, counts=counts, head=head, tail=tail)
    idx = groups.indices(task.classes) if groups else None
    clusters = _clusters(load_metadata(labs, metadata, needed=bool(cluster_by)), cluster_by)
    res = rank_systems(labs.y, systems, metric=metric, n_boot=n_boot, seed=seed, level=level,
                       threshold=threshold, empty_class=empty_class, groups=idx,
                       classes=task.classes, clusters=clusters)
    res.cluster_by = cluster_by
    res.task = task.name
    return res


def system_names(paths) -> dict:
    """``{name: path}`` from ``NAME=PATH`` strings or paths (name = file stem, made unique)."""
    out: dict = {}
    for item in paths:
        s = str(item)
        name, sep, path = s.partition("=")
        if sep and name and not Path(s).exists():
            name, src = name.strip(), path
        else:
            name, src = Path(s).stem, item
        if name in out:
            if sep and not Path(s).exists():
                raise UsageError(f"system name {name!r} is given more than once; names must be unique")
            if Path(src).parent.name:
                name = f"{Path(src).parent.name}/{name}"
            base, i = name, 2
            while name in out:
                name, i = f"{base}_{i}", i + 1
        out[name] = Path(src) if isinstance(src, str) else src
    return out


__all__ = ["score", "compare", "rank", "resolve_groups", "load_metadata", "system_names"]
