"""Leakage-free train / val / calib splits of the training file.

* ``train`` fits the model, ``val`` selects checkpoints and stops early, ``calib`` fits
  calibrators and thresholds only. The official dev/test lists are never part of any split.
* Patient-grouped when the patient IDs are usable: all images of a patient land in one split.
  The official PatientIDs are rounded (``1.90E+38``) and merge patients: that is detected
  (:func:`lteval.data.source.groups_usable`), a :class:`~lteval.data.DataWarning` says so, and
  the split falls back to image-level multi-label iterative stratification.
* Both modes use iterative stratification (Sechidis et al., ECML 2011) over *units*
  (patients or images): rarest label first, each unit to the split that most lacks that
  label. One change: while a label is still absent from a split and has enough units left
  to give every split one, the split without it comes first — so every tail class appears
  in each split whenever it has at least three units.
* Deterministic for a seed; written to and read from ``<run_dir>/splits/<split>.csv``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from lteval.data import DataWarning
from lteval.errors import InputError, UsageError
from lteval.io.atomic import write_text_atomic

SPLIT_NAMES = ("train", "val", "calib")


def iterative_stratification(y: np.ndarray, fractions, *, sizes: np.ndarray | None = None,
                             seed: int = 0) -> np.ndarray:
    """Fold index (0..k-1) of each unit. ``y``: (n, C) label counts per unit; ``sizes``: images per unit."""
    y = np.asarray(y)
    n, C = y.shape
    r = [float(v) for v in fractions]
    k = len(r)
    sizes = np.ones(n) if sizes is None else np.asarray(sizes, float)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    y, sizes = y[perm], sizes[perm].tolist()
    # sparse rows: (label, count) pairs of each unit
    rows, cols = np.nonzero(y > 0)
    vals = y[rows, cols].astype(float).tolist()
    labels_of: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for u, c, v in zip(rows.tolist(), cols.tolist(), vals):
        labels_of[u].append((c, v))
    units_of: list[list[int]] = [[] for _ in range(C)]
    for u, c in zip(rows.tolist(), cols.tolist()):
        units_of[c].append(u)
    tot = y.sum(0).astype(float).tolist()
    want_total = [rj * sum(sizes) for rj in r]
    want = [[rj * tot[c] for c in range(C)] for rj in r]        # (k, C) still wanted
    have = [[0.0] * C for _ in range(k)]
    remaining = [len(units_of[c]) for c in range(C)]            # units of each label not yet assigned
    fold = [-1] * n
    tie = (rng.random(k) * 1e-9).tolist()
    folds = range(k)
    while True:
        live = [c for c in range(C) if remaining[c] > 0]
        if not live:
            break
        lab = min(live, key=lambda c: (remaining[c], c))
        for u in units_of[lab]:
            if fold[u] >= 0:
                continue
            absent = [j for j in folds if have[j][lab] == 0 and r[j] > 0]
            boost = bool(absent) and remaining[lab] >= len(absent)
            best_key, j_best = None, 0
            for j in folds:
                key = (1 if (boost and j in absent) else 0, round(want[j][lab], 9), want_total[j], tie[j])
                if best_key is None or key > best_key:
                    best_key, j_best = key, j
            fold[u] = j_best
            want_total[j_best] -= sizes[u]
            for c, v in labels_of[u]:
                want[j_best][c] -= v
                have[j_best][c] += v
                remaining[c] -= 1
    # units without any label: fill the splits that lack the most images
    for u in range(n):
        if fold[u] < 0:
            j = max(folds, key=lambda j: (want_total[j], tie[j]))
            fold[u] = j
            want_total[j] -= sizes[u]
    out = np.empty(n, int)
    out[perm] = fold
    return out


def make_splits(ids, y, groups=None, *, fractions=(0.8, 0.1, 0.1), seed: int = 0) -> dict[str, np.ndarray]:
    """``{"train", "val", "calib"}`` → image IDs. Patient-grouped when ``groups`` is usable.

    ``ids``: (n,) str; ``y``: (n, C) 0/1; ``groups``: (n,) patient IDs or None. Falls back to
    image-level iterative stratification, with a :class:`DataWarning` saying why, when the
    groups are missing or unusable (rounded official PatientIDs).
    """
    from lteval.data.source import groups_usable

    ids = np.asarray(ids).astype(str)
    y = np.asarray(y)
    if y.ndim != 2 or len(y) != len(ids):
        raise UsageError(f"y must be (n, C) with n = len(ids) = {len(ids)}, got shape {y.shape}")
    fr = np.asarray(fractions, float)
    if len(fr) != len(SPLIT_NAMES) or (fr < 0).any() or not np.isclose(fr.sum(), 1.0) or fr[0] <= 0:
        raise UsageError(f"fractions must be three non-negative numbers (train, val, calib) summing to 1 with "
                         f"train > 0, got {tuple(fractions)}")
    if len(np.unique(ids)) != len(ids):
        raise InputError("image IDs passed to make_splits are not unique")
    if groups is not None:
        ok, why = groups_usable(groups, len(ids))
        if not ok:
            warnings.warn(f"patient grouping disabled: {why}. Falling back to image-level multi-label iterative "
                          "stratification; images of one patient may fall in different splits.",
                          DataWarning, stacklevel=2)
            groups = None
    else:
        warnings.warn("no patient IDs given: using image-level multi-label iterative stratification",
                      DataWarning, stacklevel=2)
    if groups is None:
        fold = iterative_stratification((y > 0).astype(np.int64), fr, seed=seed)
    else:
        g = np.asarray(groups).astype(str)
        uniq, inv = np.unique(g, return_inverse=True)
        counts = np.zeros((len(uniq), y.shape[1]), np.int64)
        np.add.at(counts, inv, (y > 0).astype(np.int64))
        sizes = np.bincount(inv, minlength=len(uniq))
        fold = iterative_stratification(counts, fr, sizes=sizes, seed=seed)[inv]
    return {name: ids[fold == j] for j, name in enumerate(SPLIT_NAMES)}


def write_splits(run_dir: str | Path, splits: dict[str, np.ndarray]) -> Path:
    """Write ``<run_dir>/splits/<split>.csv`` (one ``ImageID`` column each); return the folder."""
    d = Path(run_dir) / "splits"
    for name, ids in splits.items():
        write_text_atomic(d / f"{name}.csv", "ImageID\n" + "".join(f"{i}\n" for i in ids))
    return d


def read_splits(run_dir: str | Path) -> dict[str, np.ndarray]:
    """Read what :func:`write_splits` wrote (every ``splits/*.csv``)."""
    from lteval.data.source import read_id_list

    d = Path(run_dir) / "splits"
    if not d.is_dir():
        raise UsageError(f"no splits folder in {run_dir}")
    out = {p.stem: read_id_list(p, f"{p.stem} split") for p in sorted(d.glob("*.csv"))}
    if not out:
        raise UsageError(f"{d} holds no split files")
    return out


__all__ = ["make_splits", "write_splits", "read_splits", "iterative_stratification", "SPLIT_NAMES"]
