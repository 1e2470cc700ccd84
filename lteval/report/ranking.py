"""Rank robustness in the report: which runs share labels, their paired-bootstrap ranking,
and the view of an ``lteval rank`` result (blob plot, significance map, table).

The computation is :func:`lteval.metrics.rank.rank_systems` (what ``lteval rank`` runs);
this module only picks the runs and rows it is given and draws the result.
:func:`rank_view` takes the plain ``RankResult.to_dict()`` dictionary, so the leaderboard
draws a stored or loaded ``lteval rank --json`` file with the same code.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping, Sequence

import numpy as np

from lteval.report import figures

#: Significance level of the map's marks (Holm-adjusted paired p-values).
ALPHA = 0.05


def _fmt(v, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def rank_view(rank: Mapping[str, Any], *, label: str | None = None) -> dict[str, Any]:
    """Table rows and the two figures for one rank result dict (``lteval rank --json``)."""
    names = [str(s) for s in rank["ranking"]]
    values = rank.get("values") or {}
    ranks = rank.get("ranks") or {s: i + 1 for i, s in enumerate(names)}
    mean_rank = rank.get("mean_rank") or {}
    rank_ci = rank.get("rank_ci") or {}
    probs = rank["rank_probabilities"]
    rows = []
    for s in names:
        p = [float(x) for x in probs[s]]
        ci = rank_ci.get(s)
        vci = (rank.get("values_ci") or {}).get(s)
        rows.append({"name": s, "rank": ranks.get(s), "value": _fmt(values.get(s), 4),
                     "value_ci": f"[{vci[0]:.3f}, {vci[1]:.3f}]" if vci and None not in vci else "",
                     "mean_rank": _fmt(mean_rank.get(s), 2),
                     "rank_ci": f"{ci[0]}–{ci[1]}" if ci and None not in ci else "–",
                     "p_first": _fmt(p[0]), "p": p})
    pairs = []
    pw, ph = rank["pairwise"], rank.get("pairwise_p_holm") or {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            q = (ph.get(a) or {}).get(b)
            pairs.append({"a": a, "b": b, "p_better": _fmt((pw.get(a) or {}).get(b)),
                          "p_holm": "–" if q is None else (f"{q:.3g}" if q >= 1e-3 else "<0.001"),
                          "significant": q is not None and q < ALPHA})
    tau = rank.get("kendall_tau") or {}
    tau_text = None
    if tau.get("mean") is not None:
        ci = tau.get("ci") or [None, None]
        tau_text = (f"Kendall's τ between each resampled ranking and the full-data one: mean "
                    f"{tau['mean']:.3f}" + (f", 95 % interval [{ci[0]:.3f}, {ci[1]:.3f}]"
                                            if None not in ci else ""))
    metric = str(rank.get("metric", "?"))
    what = f"{metric}{' on ' + label if label else ''}"
    blob = figures.rank_blobs(rank, title=f"rank probabilities ({what})")
    smap = figures.significance_map(rank, alpha=ALPHA,
                                    title=f"P(A better than B), {what}; * Holm p < {ALPHA}")
    return {"metric": metric, "higher_is_better": rank.get("higher_is_better", True),
            "n_boot": rank.get("n_boot"), "n_samples": rank.get("n_samples"),
            "cluster_by": rank.get("cluster_by"), "n_clusters": rank.get("n_clusters"),
            "rows": rows, "pairs": pairs, "n_significant": sum(p["significant"] for p in pairs),
            "tau": tau_text, "blob_svg": blob, "map_svg": smap, "systems": names}


def shared_label_sets(items: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]]
                      ) -> tuple[list[dict[str, Any]], list[str]]:
    """Group labelled runs ``(name, ids (n,), y (n, C), p (n, C))`` for paired ranking.

    When every run's labels agree on the images all of them share, one group holds them
    all, restricted to those shared rows (same order for every run). Otherwise runs are
    grouped by identical label sets (ids and labels). Returns ``(groups, notes)``; each
    group is ``{"names", "ids", "y", "p": {name: (m, C)}}`` with at least two runs.
    """
    notes: list[str] = []
    if len(items) < 2:
        return [], notes
    common = None
    for _, ids, _, _ in items:
        s = set(ids.tolist())
        common = s if common is None else common & s
    if common:
        order = np.array(sorted(common))
        aligned = []
        for name, ids, y, p in items:
            pos = {v: i for i, v in enumerate(ids.tolist())}
            idx = np.fromiter((pos[v] for v in order.tolist()), dtype=np.int64, count=len(order))
            aligned.append((name, y[idx], p[idx], len(ids)))
        y0 = aligned[0][1]
        if all(np.array_equal(y0, a[1]) for a in aligned[1:]):
            larger = [f"{n} ({m})" for n, _, _, m in aligned if m != len(order)]
            if larger:
                notes.append(f"ranked on the {len(order)} images every run shares; runs scored on "
                             "more: " + ", ".join(larger))
            return [{"names": [a[0] for a in aligned], "ids": order, "y": y0,
                     "p": {a[0]: a[2] for a in aligned}}], notes
    by_key: dict[str, list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]] = {}
    for name, ids, y, p in items:
        o = np.argsort(ids, kind="stable")
        h = hashlib.sha256()
        h.update("\n".join(ids[o].tolist()).encode("utf-8"))
        h.update(np.ascontiguousarray(y[o]).tobytes())
        by_key.setdefault(h.hexdigest(), []).append((name, ids[o], y[o], p[o]))
    groups, alone = [], []
    for members in by_key.values():
        if len(members) < 2:
            alone.append(members[0][0])
            continue
        groups.append({"names": [m[0] for m in members], "ids": members[0][1], "y": members[0][2],
                       "p": {m[0]: m[3] for m in members}})
    notes.append("the runs were not all scored on the same labels: runs are ranked only "
                 "against runs with identical labels" + (f"; not ranked: {', '.join(alone)}"
                                                          if alone else ""))
    return groups, notes


def rank_groups(groups_: Sequence[Mapping[str, Any]], *, metric: str, n_boot: int, seed: int,
                task, label_groups, split: str, clusters: Sequence[np.ndarray] | None = None,
                cluster_by: str | None = None) -> list[dict[str, Any]]:
    """Rank each group with :func:`lteval.metrics.rank.rank_systems`; their views.

    ``clusters``: one (m,) cluster array per group (rows of its ``ids``), resampled instead
    of images, as ``lteval rank --cluster-by`` does."""
    from lteval.metrics.rank import rank_systems

    out = []
    gidx = dict(label_groups.indices(task.classes)) if label_groups is not None else {}
    gidx = {g: i for g, i in gidx.items() if len(i)}
    for k, g in enumerate(groups_):
        res = rank_systems(g["y"], g["p"], metric=metric, n_boot=n_boot, seed=seed,
                           groups=gidx, classes=list(task.classes),
                           clusters=None if clusters is None else clusters[k])
        res.task = task.name
        if clusters is not None:
            res.cluster_by = cluster_by
        d = res.to_dict()
        label = split + (f", group {k + 1}" if len(groups_) > 1 else "")
        out.append({**rank_view(d, label=label), "data": d, "split": split})
    return out
