"""The report's content as plain data (what the template shows), built from loaded runs.

``build_model`` scores every run on dev and test through the metrics core
(:mod:`lteval.report.analysis`), then assembles the leaderboard table, the per-class
and per-group dev-vs-test gaps, the figures (inline SVG) and the per-run detail tables.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from lteval import __version__
from lteval.metrics.figures import figure, group_key, headline_keys
from lteval.report import figures
from lteval.report.analysis import CLASS_KEY, SplitResult, evaluate_all, gap
from lteval.report.sources import LoadedRun


def table_metrics() -> list[tuple[str, str, bool]]:
    """Leaderboard columns ``(score key, header, higher is better)``: the headline figures of
    the table of figures (:mod:`lteval.metrics.figures`)."""
    return [(k, figure(k).label, figure(k).higher_is_better) for k in headline_keys()]


GROUP_ORDER = ("head", "medium", "tail")
#: Most points kept per precision–recall curve (corners of the step curve, subsampled).
PR_MAX_POINTS = 400


@dataclass
class ReportOptions:
    bootstrap: int = 200
    seed: int = 0
    pr_classes: Sequence[str] | None = None
    title: str | None = None
    workers: int | None = None
    rank_metric: str = "mAP"
    metadata: Any = None               # lteval.io.metadata.MetadataTable joined by ID, or None
    metadata_note: str | None = None   # where it came from (said on the page)
    cluster_by: str | None = None      # resample clusters of this column in every interval / test
    strata_by: Sequence[str] = ()      # metadata columns scored per stratum
    bins: Any = 4                      # --bins for numeric strata columns


@dataclass
class RunResult:
    run: LoadedRun
    anchor: str
    dev: SplitResult | None = None
    test: SplitResult | None = None
    notes: list[str] = field(default_factory=list)
    strata: dict[str, dict] = field(default_factory=dict)  # split → {"strata", "strata_gap"}

    def split(self, s: str) -> SplitResult | None:
        return self.dev if s == "dev" else self.test


def _fmt(v: float | None, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _fmt_signed(v: float | None, digits: int = 3) -> str:
    return "–" if v is None else f"{v:+.{digits}f}"


def _ci_text(ci, digits: int = 3) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return ""
    return f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def _get(score: dict | None, key: str) -> float | None:
    if score is None:
        return None
    if "." in key:
        g, m = key.split(".", 1)
        v = (score.get("groups") or {}).get(g, {}).get(m)
    else:
        v = (score.get("overall") or {}).get(key)
    return _finite(v)


def _finite(v) -> float | None:
    if v is None or isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


def _aligned_meta(opts: ReportOptions, sd):
    """The metadata rows of split ``sd``'s images (InputError naming the labels if any lacks one)."""
    from lteval.errors import InputError

    try:
        return opts.metadata.align(sd.ids, labels_path=sd.labels_from or sd.pred_path or "the labels")
    except InputError as e:
        if opts.metadata_note and "synthetic set" in opts.metadata_note:
            raise InputError(f"{e.message}: the runs' images are not all in their synthetic "
                             "set's metadata (was the set regenerated since they were "
                             "trained?); pass --metadata META.csv", file=e.file) from None
        raise


def _clusters_of(opts: ReportOptions, meta) -> np.ndarray | None:
    from lteval.io.metadata import cluster_labels

    return None if opts.cluster_by is None else cluster_labels(meta, opts.cluster_by)


def _split_strata(y, p, task, groups, opts: ReportOptions, meta, clusters, threshold, seed) -> dict:
    """``lteval score --strata-by`` on one split: the same calls, so the same figures."""
    from lteval.metrics.strata import score_strata, strata_gap_by_column, stratum_labels

    kw = dict(task=task.name, threshold=threshold, groups=groups, n_boot=int(opts.bootstrap),
              seed=seed)
    strata: dict = {}
    cols = list(opts.strata_by)
    for col in cols:
        lab, order = stratum_labels(meta.column(col, what="--strata-by column"), opts.bins)
        strata.update(score_strata(y, p, task.classes, lab, order, column=col,
                                   prefix="" if len(cols) == 1 else f"{col}=", clusters=clusters,
                                   **kw))
    return {"strata": strata, "strata_gap": strata_gap_by_column(strata),
            "cluster_by": opts.cluster_by if clusters is not None else None}


def _score_runs(runs: list[LoadedRun], task, groups, opts: ReportOptions,
                progress: Callable[[], None] | None) -> list[RunResult]:
    results = [RunResult(r, f"run-{i + 1}", notes=list(r.notes)) for i, r in enumerate(runs)]
    jobs, where, metas = [], [], []
    for rr in results:
        for s in ("dev", "test"):
            sd = rr.run.splits.get(s)
            if sd is None:
                continue
            if sd.y is not None and sd.p is not None:
                thr = rr.run.thresholds if rr.run.thresholds is not None else 0.5
                meta = _aligned_meta(opts, sd) if opts.metadata is not None else None
                clusters = _clusters_of(opts, meta) if meta is not None else None
                jobs.append(dict(y=sd.y, p=sd.p, classes=list(task.classes), task=task.name,
                                 groups=groups, threshold=thr, n_boot=int(opts.bootstrap),
                                 seed=int(opts.seed) + (1 if s == "test" else 0),
                                 clusters=clusters))
                where.append((rr, s))
                metas.append(meta)
            elif sd.stored_score is not None:
                res = SplitResult(sd.stored_score, None, computed=False)
                setattr(rr, s, res)
                rr.notes.append(f"{s}: no labels here, figures copied from "
                                f"scores/{sd.source_split}.json (no curves, no intervals)")
            elif rr.run.kind != "pred":  # (prediction files already carry their own note)
                rr.notes.append(f"{s}: predictions without labels, not scored")
    outs = evaluate_all(jobs, workers=opts.workers, progress=progress)
    for (rr, s), (score, dist), job, meta in zip(where, outs, jobs, metas):
        setattr(rr, s, SplitResult(score, dist, computed=True))
        if job["clusters"] is not None:
            score["cluster_by"] = opts.cluster_by
        if opts.strata_by and meta is not None:
            rr.strata[s] = _split_strata(job["y"], job["p"], task, groups, opts, meta,
                                         job["clusters"], job["threshold"], job["seed"])
        stored = rr.run.splits[s].stored_score
        if stored is not None:
            a, b = _get(stored, "mAP"), _get(score, "mAP")
            if a is not None and b is not None and abs(a - b) > 1e-9:
                rr.notes.append(f"{s}: scores/{rr.run.splits[s].source_split}.json says mAP "
                                f"{a:.4f} but the predictions and labels give {b:.4f} "
                                "(stale score file?); the report shows the latter")
    return results


def _table(results: list[RunResult], has_test: bool) -> dict[str, Any]:
    splits = ("dev", "test", "gap") if has_test else ("dev",)
    columns = []
    metrics = table_metrics()
    for key, label, higher in metrics:
        for s in splits:
            columns.append({"key": key, "label": label, "split": s,
                            "better": "high" if (higher and s != "gap") else "low",
                            "gap": s == "gap"})
    rows = []
    for rr in results:
        cells = []
        for col in columns:
            key, s = col["key"], col["split"]
            if s == "gap":
                g = gap(rr.dev, rr.test, key, _get(rr.dev and rr.dev.score, key),
                        _get(rr.test and rr.test.score, key))
                cells.append({"value": g["diff"], "text": _fmt_signed(g["diff"]),
                              "ci": _ci_text(g["ci"]), "significant": g["significant"],
                              "sort": g["diff"], "best": False})
            else:
                res = rr.split(s)
                v = _get(res.score if res else None, key)
                ci = (res.score.get("ci") or {}).get(key) if res and res.score else None
                cells.append({"value": v, "text": _fmt(v), "ci": _ci_text(ci),
                              "significant": False, "sort": v, "best": False})
        cfg = rr.run.config or {}
        detail = " · ".join(str(cfg[k]) for k in ("backbone", "loss", "preset") if cfg.get(k))
        if rr.run.stage:
            detail += f" · post-training: {rr.run.stage}"
        elif rr.run.kind == "pred":
            detail = "prediction files"
        rows.append({"name": rr.run.name, "anchor": rr.anchor, "kind": rr.run.kind,
                     "detail": detail, "cells": cells})
    for j, col in enumerate(columns):
        vals = [r["cells"][j]["value"] for r in rows]
        finite = [v for v in vals if v is not None]
        if len(finite) < 2:
            continue
        if col["gap"]:
            best = min(abs(v) for v in finite)
            hits = [abs(v) == best if v is not None else False for v in vals]
        else:
            best = max(finite) if col["better"] == "high" else min(finite)
            hits = [v == best for v in vals]
        for r, h in zip(rows, hits):
            r["cells"][j]["best"] = h
    return {"columns": columns, "rows": rows, "splits": splits,
            "metrics": [{"key": k, "label": lab} for k, lab, _ in metrics]}


def _class_order(task, groups, results: list[RunResult]) -> tuple[list[str], dict[str, float], str]:
    """Classes by decreasing training prevalence (and the prevalence + where it came from)."""
    if groups is not None:
        prev = dict(groups.prevalence)
        src = groups.source or "training counts"
    else:
        # no training counts: fall back to the dev set's own prevalence (said in the report)
        ys = [rr.run.splits["dev"].y for rr in results
              if "dev" in rr.run.splits and rr.run.splits["dev"].y is not None]
        if ys:
            y = ys[0]
            prev = {c: float(y[:, j].mean()) for j, c in enumerate(task.classes)}
            src = "dev-set prevalence (no training counts given: pass --train-labels)"
        else:
            prev = {c: float("nan") for c in task.classes}
            src = "unknown (no training counts, no dev labels)"
    order = sorted(task.classes, key=lambda c: (-(prev.get(c) or 0.0), task.classes.index(c)))
    return order, prev, src


def _class_group(groups, c: str) -> str | None:
    if groups is None:
        return None
    for g, members in groups.members.items():
        if c in members:
            return g
    return None


def _dumbbells(results, task, groups, order, has_test) -> tuple[list[dict], list[dict]]:
    cls_index = {c: j for j, c in enumerate(task.classes)}
    out, group_rows = [], []
    for rr in results:
        if rr.dev is None and rr.test is None:
            continue
        labels, dev_v, test_v, sig, rows = [], [], [], [], []
        sections = []
        last_group = object()
        for c in order:
            g = _class_group(groups, c)
            if g != last_group and g is not None:
                sections.append((g, len(labels)))
            last_group = g
            j = cls_index[c]
            dv = _pc(rr.dev, c, "ap")
            tv = _pc(rr.test, c, "ap")
            gp = gap(rr.dev, rr.test, group_key(CLASS_KEY.format(j), "mAP"), dv, tv)
            labels.append(c)
            dev_v.append(dv)
            test_v.append(tv)
            sig.append(gp["significant"])
            rows.append({"label": c, "group": g or "", "dev": _fmt(dv), "test": _fmt(tv),
                         "gap": _fmt_signed(gp["diff"]), "ci": _ci_text(gp["ci"]),
                         "significant": gp["significant"]})
        grow = {"name": rr.run.name, "anchor": rr.anchor, "cells": []}
        gsec = len(labels)
        for g in [*[g for g in GROUP_ORDER if groups is not None and g in groups.members
                    and groups.members[g]], None]:
            key = group_key(g, "mAP") if g else "mAP"
            label = f"{g} group mAP" if g else "overall mAP"
            dv = _get(rr.dev.score if rr.dev else None, key)
            tv = _get(rr.test.score if rr.test else None, key)
            gp = gap(rr.dev, rr.test, key, dv, tv)
            labels.append(label)
            dev_v.append(dv)
            test_v.append(tv)
            sig.append(gp["significant"])
            rows.append({"label": label, "group": "summary", "dev": _fmt(dv), "test": _fmt(tv),
                         "gap": _fmt_signed(gp["diff"]), "ci": _ci_text(gp["ci"]),
                         "significant": gp["significant"]})
            grow["cells"].append({"label": label, "dev": _fmt(dv), "test": _fmt(tv),
                                  "gap": _fmt_signed(gp["diff"]), "ci": _ci_text(gp["ci"]),
                                  "significant": gp["significant"], "sort": gp["diff"]})
        sections.append(("summary", gsec))
        svg = figures.dumbbell(labels, dev_v, test_v if has_test else [None] * len(labels),
                               significant=sig, sections=sections,
                               title=f"{rr.run.name}: AP per class, dev vs test")
        out.append({"name": rr.run.name, "anchor": rr.anchor, "svg": svg, "rows": rows,
                    "n_significant": int(sum(sig))})
        group_rows.append(grow)
    return out, group_rows


def _pc(res: SplitResult | None, c: str, key: str) -> float | None:
    if res is None or res.score is None:
        return None
    v = (res.score.get("per_class") or {}).get(c, {}).get(key)
    return _finite(v)


def _eval_split(results: list[RunResult], has_test: bool) -> str:
    return "test" if has_test else "dev"


def _pr_curve(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step PR curve corners (recall, precision) of one class, from the metrics core's tie groups."""
    from lteval.metrics.ranking import ranked_groups

    g = ranked_groups(y[:, None], p[:, None])
    if g.n_pos[0] == 0:
        return np.array([0.0]), np.array([0.0])
    tp = g.tp.astype(float)
    fp = g.fp.astype(float)
    keep = np.ones(len(tp), bool)
    keep[1:] = tp[1:] != tp[:-1]  # corners: where recall changes
    rec = np.concatenate([[0.0], tp[keep] / g.n_pos[0]])
    prec = np.concatenate([[1.0], tp[keep] / (tp[keep] + fp[keep])])
    if len(rec) > PR_MAX_POINTS:
        idx = np.unique(np.linspace(0, len(rec) - 1, PR_MAX_POINTS).round().astype(int))
        rec, prec = rec[idx], prec[idx]
    return rec, prec


def _notes(results: list[RunResult], has_test: bool, opts: ReportOptions) -> list[str]:
    """The page-level notes (plain text, one per paragraph): missing test labels, metadata, clusters."""
    notes: list[str] = []
    if not has_test:
        notes.append("No test labels were given: this report shows the dev split only, so it "
                     "cannot show a dev→test gap. Pass --test-labels (or runs with labels/test.csv).")
    if opts.metadata_note:
        notes.append(opts.metadata_note.rstrip(".") + ".")
    if opts.cluster_by is not None:
        n_cl = [f"{s} {getattr(rr, s).score['n_clusters']}" for rr in results for s in ("dev", "test")
                if getattr(rr, s) is not None and getattr(rr, s).score
                and getattr(rr, s).score.get("n_clusters") is not None]
        seen: list[str] = []
        for x in n_cl:  # runs on the same labels share the count
            if x not in seen:
                seen.append(x)
        notes.append(f"Every interval and paired test on this page (leaderboard intervals, "
                     f"dev-vs-test gap intervals, rank robustness, strata) resamples clusters of "
                     f"{opts.cluster_by!r} instead of images (all images of a cluster together; "
                     f"n_clusters: {', '.join(seen) or 'none'}), as 'lteval score --cluster-by'."
                     + ("" if opts.bootstrap else " With --bootstrap 0 there are no intervals."))
    return notes


def _ap_vs_prevalence(results: list[RunResult], order: list[str], prev: dict[str, float | None],
                      eval_split: str) -> str | None:
    """SVG of per-class AP on eval_split against training prevalence (a fraction), or None."""
    series = {}
    for rr in results:
        res = rr.split(eval_split)
        if res is not None and res.score is not None:
            series[rr.run.name] = [_pc(res, c, "ap") for c in order]
    if series and all(prev.get(c) is not None and prev[c] > 0 for c in order):
        return figures.ap_vs_prevalence(
            [prev[c] for c in order], series,
            title=f"Per-class AP on {eval_split} against training prevalence")
    return None


def _split_arrays(rr: RunResult, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(labels (N, C), probabilities (N, C)) of one run's split, or None if either is missing."""
    sd = rr.run.splits.get(split)
    return (sd.y, sd.p) if sd is not None and sd.y is not None and sd.p is not None else None


def _reliability_bins(yp: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    """15 equal-width bins of all N×C probabilities: edges (16,), confidence/accuracy/count (15,)."""
    from lteval.metrics.calibration import reliability_table

    t = reliability_table(yp[0], yp[1])
    return {"edges": t["edges"], "confidence": t["confidence"], "accuracy": t["frequency"],
            "count": t["count"]}


def _reliability(results: list[RunResult], eval_split: str) -> tuple[list[dict], str | None]:
    """Reliability figures: before/after per calibrated run, else one of all runs; plus a note."""
    by_name = {rr.run.name: rr for rr in results}
    rel = []
    calibrated = [rr for rr in results if rr.run.is_calibrated]
    for rr in calibrated:
        after = _split_arrays(rr, eval_split)
        before_rr = by_name.get(rr.run.uncalibrated_name or "")
        before = _split_arrays(before_rr, eval_split) if before_rr is not None else None
        if after is None:
            continue
        panels = []
        if before is not None:
            panels.append((f"before: {before_rr.run.name} (ECE {_fmt(_get(before_rr.split(eval_split).score, 'ece'))})", _reliability_bins(before)))
        panels.append((f"after: {rr.run.name} (ECE {_fmt(_get(rr.split(eval_split).score, 'ece'))})", _reliability_bins(after)))
        rel.append({"name": rr.run.name, "svg": figures.reliability(
            panels, title=f"Reliability on {eval_split}, all N×C probabilities, 15 equal-width bins")})
    rel_note = None
    if not calibrated:
        rel_note = ("No run has a calibrated stage (post/…+calib), so there is no 'after': the "
                    "diagrams show each run as it is.")
        panels = []
        for rr in results:
            a = _split_arrays(rr, eval_split)
            if a is not None:
                panels.append((f"{rr.run.name} (ECE {_fmt(_get(rr.split(eval_split).score, 'ece'))})",
                               _reliability_bins(a)))
        if panels:  # one small-multiples figure, shared axes
            rel.append({"name": f"all runs ({len(panels)})", "svg": figures.reliability(
                panels, title=f"Reliability on {eval_split}, all N×C probabilities, "
                              "15 equal-width bins")})
    return rel, rel_note


def _pr_section(results: list[RunResult], task, groups, order: list[str], opts: ReportOptions,
                eval_split: str) -> tuple[str | None, list[str], str]:
    """PR curves of the chosen (or tail, or three rarest) classes: (svg or None, classes, which)."""
    if opts.pr_classes:
        pr_classes = [task.classes[task.class_index(c)] for c in opts.pr_classes]
        pr_which = "chosen classes"
    elif groups is not None and groups.members.get("tail"):
        pr_classes = list(groups.members["tail"])
        pr_which = "tail group"
    else:
        pr_classes = order[-3:]
        pr_which = "three least frequent classes"
    curves: dict[str, dict] = {c: {} for c in pr_classes}
    pr_prev: dict[str, float] = {}
    for rr in results:
        a = _split_arrays(rr, eval_split)
        if a is None:
            continue
        for c in pr_classes:
            j = task.classes.index(c)
            curves[c][rr.run.name] = _pr_curve(a[0][:, j], a[1][:, j])
            pr_prev.setdefault(c, float(a[0][:, j].mean()))
    pr_svg = None
    if any(curves[c] for c in pr_classes):
        pr_svg = figures.pr_curves(curves, prevalence=pr_prev,
                                   title=f"Precision–recall on {eval_split} ({pr_which}); "
                                         "dotted: prevalence")
    return pr_svg, pr_classes, pr_which


def _thresholds(results: list[RunResult], task, groups, order: list[str]) -> list[dict]:
    """Per run with a score: threshold (4 decimals) and dev/test precision, recall, F1, n_pos per class."""
    thresholds = []
    for rr in results:
        if rr.dev is None and rr.test is None:
            continue
        thr = rr.run.thresholds
        src = rr.run.thresholds_source or "default 0.5 for every class"
        rows = []
        for c in order:
            j = task.classes.index(c)
            row = {"label": c, "group": _class_group(groups, c) or "",
                   "threshold": _fmt(float(thr[j]) if thr is not None else 0.5, 4)}
            for s in ("dev", "test"):
                res = rr.split(s)
                row[s] = {k: _fmt(_pc(res, c, k)) for k in ("precision", "recall", "f1")}
                row[s]["n_pos"] = (res.score or {}).get("per_class", {}).get(c, {}).get("n_pos", "–") \
                    if res is not None and res.score else "–"
            rows.append(row)
        thresholds.append({"name": rr.run.name, "anchor": rr.anchor, "source": src, "rows": rows})
    return thresholds


def _configs(results: list[RunResult]) -> list[dict]:
    """Per run: its config as sorted, indented JSON text (or None), input paths and notes."""
    configs = []
    for rr in results:
        cfg = rr.run.config
        configs.append({"name": rr.run.name, "anchor": rr.anchor,
                        "path": str(rr.run.path) if rr.run.path else None,
                        "json": json.dumps(cfg, indent=2, sort_keys=True, ensure_ascii=False,
                                           default=str) if cfg is not None else None,
                        "sources": {s: {"predictions": sd.pred_path, "labels": sd.labels_from}
                                    for s, sd in rr.run.splits.items()},
                        "notes": rr.notes})
    return configs


def _data_block(results: list[RunResult], task, opts: ReportOptions, ranking: dict) -> dict[str, Any]:
    """The page's machine-readable JSON block: version, options, every run's scores, rankings."""
    return {"lteval_version": __version__, "task": task.name, "bootstrap": int(opts.bootstrap),
            "seed": int(opts.seed),
            **({"cluster_by": opts.cluster_by} if opts.cluster_by else {}),
            "runs": [{"name": rr.run.name, "anchor": rr.anchor,
                      "dev": rr.dev.score if rr.dev else None,
                      "test": rr.test.score if rr.test else None,
                      **({"curves": rr.run.curves.to_dict()} if rr.run.curves is not None else {}),
                      **({"strata": rr.strata} if rr.strata else {})}
                     for rr in results],
            "rankings": [r["data"] for r in ranking["views"]]}


def build_model(runs: list[LoadedRun], task, groups, opts: ReportOptions, *,
                progress: Callable[[], None] | None = None) -> dict[str, Any]:
    """Everything the template renders, as plain data plus SVG strings."""
    results = _score_runs(runs, task, groups, opts, progress)
    has_test = any(rr.test is not None for rr in results)
    notes = _notes(results, has_test, opts)
    order, prev, prev_src = _class_order(task, groups, results)
    eval_split = _eval_split(results, has_test)

    table = _table(results, has_test)
    dumbbells, group_rows = _dumbbells(results, task, groups, order, has_test)
    ap_prev_svg = _ap_vs_prevalence(results, order, prev, eval_split)
    rel, rel_note = _reliability(results, eval_split)
    pr_svg, pr_classes, pr_which = _pr_section(results, task, groups, order, opts, eval_split)
    thresholds = _thresholds(results, task, groups, order)
    heat = _heatmap(results, has_test)  # loss × backbone heat map
    curves = _training_curves(results)
    ranking = _ranking(results, task, groups, opts, eval_split)
    strata = _strata(results)
    configs = _configs(results)
    data = _data_block(results, task, opts, ranking)
    group_table = {"labels": [c["label"] for c in group_rows[0]["cells"]] if group_rows else [],
                   "rows": group_rows}
    return {
        "title": opts.title or f"lteval report — {task.name}",
        "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "task": task.name,
        "n_classes": task.n_classes,
        "n_runs": len(results),
        "has_test": has_test,
        "eval_split": eval_split,
        "bootstrap": int(opts.bootstrap),
        "seed": int(opts.seed),
        "notes": notes,
        "run_notes": [(rr.run.name, n) for rr in results for n in rr.notes],
        "groups": [{"name": g, "classes": list(groups.members[g])} for g in GROUP_ORDER
                   if groups is not None and g in groups.members],
        "groups_source": prev_src,
        "table": table,
        "group_table": group_table,
        "dumbbells": dumbbells,
        "ap_prev_svg": ap_prev_svg,
        "reliability": rel,
        "reliability_note": rel_note,
        "pr_svg": pr_svg,
        "pr_classes": pr_classes,
        "pr_which": pr_which,
        "thresholds": thresholds,
        "heatmap": heat,
        "curves": curves,
        "ranking": ranking,
        "strata": strata,
        "configs": configs,
        "data": data,
    }


def _heatmap(results: list[RunResult], has_test: bool) -> dict[str, Any] | None:
    cells: dict[tuple[str, str], list[float]] = {}
    split = "test" if has_test else "dev"
    for rr in results:
        cfg = rr.run.config or {}
        if rr.run.kind != "run" or not cfg.get("loss") or not cfg.get("backbone"):
            continue
        res = rr.split(split)
        v = _get(res.score if res else None, "mAP")
        if v is not None:
            cells.setdefault((str(cfg["loss"]), str(cfg["backbone"])), []).append(v)
    losses = sorted({k[0] for k in cells})
    backbones = sorted({k[1] for k in cells})
    if len(losses) < 2 or len(backbones) < 2:
        return None
    vals = np.full((len(losses), len(backbones)), np.nan)
    ann = [["" for _ in backbones] for _ in losses]
    many = False
    for (l, b), v in cells.items():
        i, j = losses.index(l), backbones.index(b)
        vals[i, j] = float(np.mean(v))
        ann[i][j] = f"{vals[i, j]:.3f}" + (f"\n(n={len(v)})" if len(v) > 1 else "")
        many |= len(v) > 1
    svg = figures.heatmap(vals, losses, backbones, annotations=ann, cbar_label=f"{split} mAP",
                          title=f"{split} mAP by loss × backbone (base runs)")
    note = "Cells with several runs (e.g. seeds) show their mean mAP and n." if many else None
    return {"svg": svg, "note": note, "split": split, "missing": int(np.isnan(vals).sum())}


def _fmt_step(v: float | None) -> str:
    return "–" if v is None else f"{v:g}"


def _training_curves(results: list[RunResult]) -> list[dict[str, Any]]:
    """Small multiples of the trained runs' curves; val mAP on one y range across runs."""
    from lteval.report.curves import SERIES

    with_curves = [rr for rr in results if rr.run.curves is not None]
    vals = [v for rr in with_curves for v in rr.run.curves.series["val_mAP"] if v is not None]
    shared = None
    if vals:
        lo, hi = min(vals), max(vals)
        pad = max(0.02, 0.05 * (hi - lo))
        shared = {"val_mAP": (max(0.0, lo - pad), min(1.0, hi + pad))}
    out = []
    for rr in with_curves:
        c = rr.run.curves
        svg = figures.training_curves(c.step, c.series, dict(SERIES), selected=c.selected,
                                      drw=c.drw, shared_ylim=shared,
                                      title=f"{rr.run.name}: training curves")
        sel = c.selected
        if sel is None:
            sel_text = "no selected checkpoint recorded"
        else:
            sel_text = (f"selected checkpoint at step {_fmt_step(sel['step'])}"
                        + (f", val mAP {sel['val_mAP']:.4f}" if sel.get("val_mAP") is not None else "")
                        + f" ({sel['source']})")
        d = c.drw
        if d is None:
            drw_text = None
        elif d.get("step") is not None:
            drw_text = f"DRW on from step {_fmt_step(d['step'])} ({d['source']})"
        elif d.get("after") is not None:
            drw_text = (f"DRW switched on after step {_fmt_step(d['after'])}, by step "
                        f"{_fmt_step(d['by'])} ({d['source']}; hatched)")
        else:
            drw_text = f"DRW on by step {_fmt_step(d['by'])} ({d['source']})"
        rows = []
        for k, st in enumerate(c.step):
            rows.append({"step": _fmt_step(st), "epoch": _fmt_step(c.epoch[k]),
                         "train_loss": _fmt(c.series["train_loss"][k], 4),
                         "val_mAP": _fmt(c.series["val_mAP"][k], 4),
                         "lr": "–" if c.series["lr"][k] is None else f"{c.series['lr'][k]:.3g}",
                         "selected": sel is not None and sel["step"] == st})
        out.append({"name": rr.run.name, "anchor": rr.anchor, "svg": svg, "n_evals": len(c.step),
                    "selected": sel_text, "drw": drw_text, "notes": c.notes, "rows": rows,
                    "path": c.path})
    return out


def _ranking(results: list[RunResult], task, groups, opts: ReportOptions,
             split: str) -> dict[str, Any]:
    """Paired-bootstrap ranking of the runs that share labels on ``split`` (lteval rank)."""
    from lteval.report.ranking import rank_groups, shared_label_sets

    items = []
    for rr in results:
        sd = rr.run.splits.get(split)
        if sd is not None and sd.y is not None and sd.p is not None and sd.ids is not None:
            items.append((rr.run.name, np.asarray(sd.ids).astype(str), sd.y, sd.p))
    out: dict[str, Any] = {"views": [], "notes": [], "metric": opts.rank_metric, "split": split}
    if len(items) < 2:
        out["notes"].append("Ranking needs at least two runs with labelled predictions on "
                            f"{split}.")
        return out
    if not opts.bootstrap:
        out["notes"].append("No bootstrap (--bootstrap 0): rank probabilities and the "
                            "significance map need resamples.")
        return out
    sets, notes = shared_label_sets(items)
    out["notes"] += notes
    if any(r.run.thresholds is not None for r in results) and opts.rank_metric in ("mF1",):
        out["notes"].append("mF1 is ranked at threshold 0.5 for every run (not the stages' "
                            "fitted thresholds).")
    clusters = None
    if opts.metadata is not None and opts.cluster_by is not None:
        from lteval.io.metadata import cluster_labels

        clusters = [cluster_labels(opts.metadata.align(g["ids"], labels_path=f"the {split} labels"),
                                   opts.cluster_by) for g in sets]
    out["views"] = rank_groups(sets, metric=opts.rank_metric, n_boot=int(opts.bootstrap),
                               seed=int(opts.seed) + (1 if split == "test" else 0), task=task,
                               label_groups=groups, split=split, clusters=clusters,
                               cluster_by=opts.cluster_by)
    return out


def _strata(results: list[RunResult]) -> list[dict[str, Any]]:
    """Per-stratum tables: computed with --strata-by from the report's metadata (the same
    :func:`lteval.metrics.strata.score_strata` calls as ``lteval score --strata-by``), else
    copied from score files that carry ``"strata"``; a figure a stratum is too small for is
    shown as such (null there).
    """
    out = []
    for rr in results:
        for split in ("dev", "test"):
            sd = rr.run.splits.get(split)
            stored = sd.stored_score if sd is not None else None
            source = f"scores/{sd.source_split}.json" if sd is not None else ""
            if split in rr.strata:  # computed here from --metadata (lteval score --strata-by)
                stored = rr.strata[split]
                source = "the report's metadata, scored as 'lteval score --strata-by' does"
            st = stored.get("strata") if isinstance(stored, dict) else None
            if not isinstance(st, dict) or not st:
                continue
            gaps = stored.get("strata_gap") if isinstance(stored.get("strata_gap"), dict) else {}
            group_names = [g for g in GROUP_ORDER
                           if any(g in ((e or {}).get("groups") or {}) for e in st.values()
                                  if isinstance(e, dict))]
            columns: dict[str, list[dict]] = {}
            for key, e in st.items():
                if not isinstance(e, dict):
                    continue
                col = str(e.get("column") or "")
                ov = e.get("overall") or {}
                ci = e.get("ci") or {}
                mp = _finite(ov.get("mAP"))
                row = {"value": str(e.get("value", key)), "n": e.get("n_samples", "–"),
                       "mAP": _fmt(mp) if mp is not None else "too small",
                       "ci": _ci_text(ci.get("mAP")) if isinstance(ci, dict) else "",
                       "groups": [_fmt(_finite(((e.get("groups") or {}).get(g) or {}).get("mAP")))
                                  for g in group_names],
                       "ece": _fmt(_finite(ov.get("ece"))), "note": e.get("note") or "",
                       "sort": mp}
                columns.setdefault(col, []).append(row)
            blocks = []
            for col, rows in columns.items():
                g = (gaps.get(col) or {}).get("mAP") if isinstance(gaps.get(col), dict) else None
                gap_text = None
                if isinstance(g, dict) and _finite(g.get("gap")) is not None:
                    gap_text = (f"largest mAP gap {g['gap']:.3f}: {g.get('high')} (highest) vs "
                                f"{g.get('low')} (lowest)")
                blocks.append({"column": col, "rows": rows, "gap": gap_text})
            out.append({"name": rr.run.name, "anchor": rr.anchor, "split": split,
                        "source": source, "groups": group_names,
                        "blocks": blocks, "cluster_by": stored.get("cluster_by")})
    return out
