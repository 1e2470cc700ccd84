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
    r = np.asarray(fractions, float)
    k = len(r)
    sizes = np.ones(n) if sizes is None else np.asarray(sizes, float)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    y, sizes = y[perm], sizes[perm]
    pos = y > 0
    want_total = r * sizes.sum()
    want_label = np.outer(r, y.sum(0)).astype(float)          # (k, C)
    have_label = np.zeros((k, C))
    fold = np.full(n, -1)
    remaining = pos.sum(0).astype(float)                      # units per label not yet assigned
    unassigned = np.ones(n, bool)
    tie = rng.random(k) * 1e-9                                 # deterministic tie-break
    while True:
        live = remaining > 0
        if not live.any():
            break
        lab = int(np.flatnonzero(live)[np.argmin(remaining[live])])
        units = np.flatnonzero(unassigned & pos[:, lab])
        for u in units:
            absent = (have_label[:, lab] == 0) & (r > 0)
            key = want_label[:, lab] + tie
            if absent.any() and remaining[lab] >= absent.sum():
                key = np.where(absent, key + 1e6, key)
            # among equals prefer the split that most lacks images overall
            best = np.flatnonzero(np.isclose(key, key.max(), atol=1e-6))
            j = int(best[np.argmax(want_total[best])]) if len(best) > 1 else int(np.argmax(key))
            fold[u] = j
            unassigned[u] = False
            want_total[j] -= sizes[u]
            want_label[j] -= y[u]
            have_label[j] += y[u]
            remaining -= pos[u]
    # units without any label: fill the splits that lack the most images
    for u in np.flatnonzero(unassigned):
        j = int(np.argmax(want_total + tie))
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
