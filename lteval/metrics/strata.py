"""Per-stratum figures: score each subset of images (a view, a centre, an age band) alone.

``stratum_labels(values, bins)`` turns one metadata column (text) into a stratum
per image: categorical columns keep their values; a numeric column (every
non-missing value a number and more than ``CATEGORICAL_MAX`` distinct values,
or any numeric column when cut points are given) is cut into ``bins``
equal-count bins, or at explicit cut points ``[c1, ..., cm]`` into
``< c1``, ``[c1, c2)``, ..., ``>= cm``. A missing value (empty cell) is its own
stratum, ``(missing)``.

``score_strata`` runs :func:`~lteval.metrics.score_report.score_arrays` on each
subset, so every stratum's figures and intervals equal scoring that subset
alone (same seed). A figure undefined on a stratum (no samples, no class with
both labels, ...) is ``None``, never NaN. ``strata_gap`` gives, for every
figure, the largest difference between two strata and which two.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from lteval.errors import UsageError
from lteval.metrics.figures import group_key, group_keys, overall_keys

MISSING = "(missing)"
#: A numeric column with at most this many distinct values is treated as categorical.
CATEGORICAL_MAX = 10


def _fmt(x: float) -> str:
    return f"{x:g}"


def _as_numbers(values: np.ndarray) -> np.ndarray | None:
    present = values[values != ""]
    try:
        nums = present.astype(np.float64)
    except ValueError:
        return None
    if not np.isfinite(nums).all():
        return None
    out = np.full(len(values), np.nan)
    out[values != ""] = nums
    return out


def parse_bins(bins) -> int | list[float]:
    """``4`` / ``"4"`` (equal-count bins) or ``"40,60"`` / ``[40, 60]`` (cut points)."""
    if isinstance(bins, (int, np.integer)):
        b = int(bins)
    elif isinstance(bins, str) and "," not in bins:
        try:
            b = int(bins.strip())
        except ValueError:
            raise UsageError(f"--bins must be a number of bins (e.g. 4) or comma-separated cut "
                             f"points (e.g. 40,60,80), got {bins!r}") from None
    else:
        parts = bins.split(",") if isinstance(bins, str) else list(bins)
        try:
            cuts = [float(str(x).strip()) for x in parts if str(x).strip() != ""]
        except ValueError:
            raise UsageError(f"--bins cut points must be numbers, got {bins!r}") from None
        if not cuts or any(b <= a for a, b in zip(cuts, cuts[1:])) or not np.isfinite(cuts).all():
            raise UsageError(f"--bins cut points must be finite and increasing, got {bins!r}")
        return cuts
    if b < 2:
        raise UsageError(f"--bins must be at least 2, got {b}")
    return b


def stratum_labels(values, bins=4) -> tuple[np.ndarray, list[str]]:
    """``(labels (n,) str, ordered strata)`` for one metadata column (see module docstring)."""
    v = np.asarray(values).astype(str)
    v = np.char.strip(v)
    bins = parse_bins(bins)
    nums = _as_numbers(v)
    n_distinct = len(np.unique(v[v != ""]))
    numeric = nums is not None and n_distinct > 0 and (
        isinstance(bins, list) or n_distinct > CATEGORICAL_MAX)
    labels = np.where(v == "", MISSING, v).astype(object)
    if numeric:
        x = nums[~np.isnan(nums)]
        if isinstance(bins, list):
            cuts = list(bins)
        else:
            q = np.quantile(x, np.arange(1, bins) / bins, method="higher")  # cut at data values
            cuts = sorted({float(c) for c in q if c > x.min()})
        names = ([f"< {_fmt(cuts[0])}"] + [f"[{_fmt(a)}, {_fmt(b)})" for a, b in zip(cuts, cuts[1:])]
                 + [f">= {_fmt(cuts[-1])}"]) if cuts else [f"all ({_fmt(x.min())})"]
        have = ~np.isnan(nums)
        k = np.searchsorted(np.asarray(cuts), nums[have], side="right") if cuts else np.zeros(have.sum(), int)
        labels[have] = np.asarray(names, dtype=object)[k]
        order = list(names)
    else:
        present = sorted(set(labels.tolist()) - {MISSING},
                         key=(lambda s: float(s)) if nums is not None else None)
        order = present
    if (labels == MISSING).any():
        order.append(MISSING)
    return labels.astype(str), order


def _empty_stratum(groups: dict) -> dict:
    return {"n_samples": 0, "overall": {k: None for k in overall_keys()},
            "groups": {g: {k: None for k in group_keys()} for g in groups}, "ci": None,
            "n_empty_classes": None, "note": "no images in this stratum"}


def score_strata(y_true, y_prob, classes, labels, order: Sequence[str], *, column: str = "",
                 prefix: str = "", clusters=None, **score_kw) -> dict[str, dict]:
    """``{stratum: {"n_samples", "overall", "groups", "ci", ...}}`` scoring each subset alone.

    ``labels`` (n,) is each row's stratum, ``order`` the strata to report (a stratum with
    no rows is reported with ``n_samples`` 0 and null figures). ``score_kw`` goes to
    :func:`~lteval.metrics.score_report.score_arrays`; ``clusters`` (n,) is cut to each subset.
    Keys are ``prefix + stratum``.
    """
    from lteval.metrics.score_report import score_arrays

    y = np.asarray(y_true)
    p = np.asarray(y_prob)
    labels = np.asarray(labels).astype(str)
    groups = score_kw.get("groups")
    group_names = list(groups.members) if groups is not None else []
    out: dict[str, dict] = {}
    for s in order:
        m = labels == s
        key = f"{prefix}{s}"
        if not m.any():
            out[key] = _empty_stratum(group_names)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = score_arrays(y[m], p[m], classes,
                                 clusters=None if clusters is None else np.asarray(clusters)[m],
                                 **score_kw)
            d = r.to_dict()
            out[key] = {
                "n_samples": int(m.sum()),
                "overall": d["overall"],
                "groups": {g: {k: v[k] for k in group_keys()} for g, v in d["groups"].items()},
                "ci": d.get("ci"),
                "n_empty_classes": len(d["empty_classes"]),
            }
            if d["empty_classes"]:
                k = len(d["empty_classes"])
                out[key]["note"] = (f"{k} of {len(classes)} classes have no positives here; "
                                    + ("their AP counts as 0 in mAP" if d["empty_class_policy"] == "zero"
                                       else "they are left out of mAP and mF1"))
            if clusters is not None:
                out[key]["n_clusters"] = d["n_clusters"]
        out[key]["column"] = column
        out[key]["value"] = s
    return out


def figure_keys(strata: dict) -> list[str]:
    """Figures present in the strata: overall keys, then ``<group>.<figure>``."""
    keys = list(overall_keys())
    for v in strata.values():
        for g in v["groups"]:
            keys += [group_key(g, k) for k in group_keys() if group_key(g, k) not in keys]
    return keys


def _value(entry: dict, key: str):
    if "." in key:
        g, k = key.split(".", 1)
        return (entry["groups"].get(g) or {}).get(k)
    return entry["overall"].get(key)


def strata_gap(strata: dict) -> dict[str, dict | None]:
    """For every figure: ``{"gap": max - min, "high": stratum, "low": stratum}`` over strata
    where the figure is defined (None when fewer than two are)."""
    out: dict[str, dict | None] = {}
    for key in figure_keys(strata):
        vals = [(name, _value(e, key)) for name, e in strata.items()]
        vals = [(nm, v) for nm, v in vals if v is not None]
        if len(vals) < 2:
            out[key] = None
            continue
        hi = max(vals, key=lambda t: t[1])
        lo = min(vals, key=lambda t: t[1])
        out[key] = {"gap": float(hi[1] - lo[1]), "high": hi[0], "low": lo[0]}
    return out


def strata_gap_by_column(strata: dict) -> dict:
    """:func:`strata_gap` within each metadata column: ``{column: {figure: {...}}}``."""
    cols: dict[str, dict] = {}
    for name, e in strata.items():
        cols.setdefault(e["column"], {})[name] = e
    return {c: strata_gap(s) for c, s in cols.items()}


__all__ = ["stratum_labels", "parse_bins", "score_strata", "strata_gap", "strata_gap_by_column",
           "MISSING", "CATEGORICAL_MAX"]
