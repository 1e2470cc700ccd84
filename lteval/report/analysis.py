"""Score every (run, split) through the metrics core, with bootstrap replicates for the gaps.

The report computes no metric itself: point figures come from
:func:`lteval.metrics.score_report.score_arrays` (the function behind ``lteval score``) and
intervals from :func:`lteval.metrics.bootstrap.bootstrap_distribution`. A dev-vs-test gap
compares two different sample sets, so dev and test are resampled independently (test
uses ``seed + 1``) and the gap's interval is the percentile interval of the differences of
the two replicate series. Per-class AP replicates are obtained by passing one-class
"groups" to the bootstrap (its group mAP of a single class is that class's AP, under the
same empty-class policy).
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

CLASS_KEY = "__c{}"
LEVEL = 0.95


@dataclass
class SplitResult:
    """Figures of one run on one split.

    ``score``: the ``lteval score --json`` dictionary (with ``ci`` when bootstrapped);
    ``dist``: bootstrap replicates ``{figure: (B,)}`` incl. ``"__c<j>.mAP"`` per class;
    ``computed``: False when copied from a stored score file (no labels available).
    """

    score: dict[str, Any] | None
    dist: dict[str, np.ndarray] | None
    computed: bool
    note: str | None = None


def _evaluate(y: np.ndarray, p: np.ndarray, classes: Sequence[str], task: str, groups,
              threshold, n_boot: int, seed: int, clusters=None) -> tuple[dict, dict | None]:
    from lteval.metrics.bootstrap import bootstrap_distribution, percentile_ci
    from lteval.metrics.figures import group_key
    from lteval.metrics.score_report import EmptyClassWarning, score_arrays

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyClassWarning)
        rep = score_arrays(y, p, classes, task=task, threshold=threshold, groups=groups, n_boot=0)
    score = rep.to_dict()
    if clusters is not None:  # as lteval score --cluster-by records it
        from lteval.metrics.bootstrap import cluster_codes

        score["n_clusters"] = int(cluster_codes(clusters, len(y))[1])
    dist = None
    if n_boot:
        gidx = dict(groups.indices(classes)) if groups is not None else {}
        gidx = {g: i for g, i in gidx.items() if len(i)}
        for j in range(len(classes)):
            gidx[CLASS_KEY.format(j)] = np.array([j], dtype=np.int64)
        dist = bootstrap_distribution(y, p, n_boot=n_boot, seed=seed, threshold=threshold,
                                      groups=gidx, clusters=clusters)
        ci: dict[str, Any] = {"level": LEVEL, "n_boot": int(n_boot)}
        for k, v in dist.items():
            if not k.startswith("__c"):
                lo, hi = percentile_ci(v, LEVEL)
                ci[k] = [lo, hi]
        score["ci"] = ci
        dist = {k: v for k, v in dist.items()
                if not k.startswith("__c") or k.endswith(group_key("", "mAP"))}
    return score, dist


def evaluate_all(jobs: Sequence[dict], *, workers: int | None = None,
                 progress: Callable[[], None] | None = None) -> list[tuple[dict, dict | None]]:
    """Run :func:`_evaluate` for each job dict (its keyword arguments).

    Several jobs run in a thread pool (default: CPU count, at most 8): the metrics core
    spends its time in numpy / scipy kernels that release the GIL, and threads need no
    process start-up, no pickling and no ``__main__`` guard in the caller's script.
    """
    if workers is None:
        workers = min(8, os.cpu_count() or 1)
    if workers <= 1 or len(jobs) < 2:
        out = []
        for j in jobs:
            out.append(_evaluate(**j))
            if progress:
                progress()
        return out
    with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        futures = [pool.submit(_evaluate, **j) for j in jobs]
        out = []
        for f in futures:
            out.append(f.result())
            if progress:
                progress()
    return out


def gap(dev: SplitResult | None, test: SplitResult | None, key: str, point_dev: float | None,
        point_test: float | None) -> dict[str, Any]:
    """``{"diff": test - dev, "ci": [lo, hi] | None, "significant": bool}`` for one figure."""
    from lteval.metrics.bootstrap import percentile_ci

    out: dict[str, Any] = {"diff": None, "ci": None, "significant": False}
    if point_dev is None or point_test is None:
        return out
    out["diff"] = point_test - point_dev
    if dev is None or test is None or dev.dist is None or test.dist is None:
        return out
    a, b = dev.dist.get(key), test.dist.get(key)
    if a is None or b is None or len(a) != len(b):
        return out
    lo, hi = percentile_ci(b - a, LEVEL)
    if lo is not None and hi is not None:
        out["ci"] = [lo, hi]
        out["significant"] = bool(lo > 0 or hi < 0)
    return out
