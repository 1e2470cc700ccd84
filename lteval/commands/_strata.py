"""Rendering shared by score / compare / rank for metadata options: strata tables, warnings."""

from __future__ import annotations

import contextlib
import warnings
from typing import Iterator

from lteval.commands._common import console, err_console
from lteval.commands._tables import fmt


def print_metadata_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Print the MetadataWarnings among ``caught`` (others stay silent, as before)."""
    from lteval.io.metadata import MetadataWarning

    for w in caught:
        if issubclass(w.category, MetadataWarning):
            err_console.print(f"[yellow]warning:[/] {w.message}", highlight=False)


@contextlib.contextmanager
def metadata_warnings() -> Iterator[None]:
    """Record every warning raised inside the block; when it ends without an error, print the
    MetadataWarnings among them (:func:`print_metadata_warnings`)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    print_metadata_warnings(caught)


def cluster_note(d: dict) -> str:
    """``, clustered by PatientID (812 clusters)`` or ``""``."""
    if d.get("n_clusters") is None:
        return ""
    return f", resampling {d['n_clusters']} clusters of {d['cluster_by']!r}"


def print_cluster_note(d: dict) -> None:
    """One line saying the intervals resampled clusters, when they did."""
    if d.get("n_clusters") is not None and not (d.get("ci") or d.get("figures")):
        err_console.print(f"[yellow]note:[/] --cluster-by {d['cluster_by']!r} only changes "
                          "intervals: add --bootstrap 1000", highlight=False)
    elif d.get("n_clusters") is not None:
        console.print(f"intervals and tests resample the {d['n_clusters']} clusters of "
                      f"{d['cluster_by']!r} (all images of a cluster together)", highlight=False)


def _ci_cell(v, lo, hi) -> str:
    return fmt(v, 3) + (f"\n[dim]{lo:.3f}–{hi:.3f}[/]" if lo is not None else "")


def print_strata(d: dict) -> None:
    """One table per --strata-by column: every stratum's figures (with CI), then the gaps.

    Printed with :func:`lteval.commands._tables.print_table`: stratum names stay whole on
    one line at any width; figures are dropped from the right (ECE, mF1, tail mAP, mAUROC)
    when the table does not fit, and the table says which.
    """
    from rich.markup import escape

    from lteval.commands._tables import Col, print_table
    from lteval.metrics.figures import figure, group_key

    strata = d.get("strata")
    if not strata:
        return
    figures = [("mAP", figure("mAP").label, 0), ("mAUROC", figure("mAUROC").label, 2)]
    if any("tail" in (e.get("groups") or {}) for e in strata.values()):
        figures.append((group_key("tail", "mAP"), f"tail {figure('mAP').label}", 3))
    figures += [("mF1", figure("mF1").label, 4), ("ece", figure("ece").label, 5)]
    by_col: dict[str, list] = {}
    for e in strata.values():
        by_col.setdefault(e["column"], []).append(e)
    for col, entries in by_col.items():
        has_ci = any(e.get("ci") for e in entries)
        cols = [Col(escape(col), "left", name=True), Col("n")] + [
            Col(head, drop=drop) for _, head, drop in figures]
        rows = []
        for e in entries:
            ci = e.get("ci") or {}
            cells = []
            for key, _, _ in figures:
                if "." in key:
                    g, k = key.split(".", 1)
                    v = (e["groups"].get(g) or {}).get(k)
                else:
                    v = e["overall"][key]
                lo, hi = ci.get(key, [None, None]) if ci else (None, None)
                cells.append(_ci_cell(v, lo, hi))
            rows.append([escape(e["value"]), str(e["n_samples"]), *cells])
        level = (f" ({int(d['ci']['level'] * 100)}% CI)" if has_ci and d.get("ci") else "")
        print_table(console, escape(f"strata by {col!r}{level}"), cols, rows)
        gap = (d.get("strata_gap") or {}).get(col) or {}
        parts = [f"{k} {v['gap']:.4f} ({v['high']} vs {v['low']})"
                 for k, v in ((k, gap.get(k)) for k in ("mAP", "mAUROC")) if v]
        if parts:
            console.print(f"largest gap between {col!r} strata: {'; '.join(parts)}",
                          highlight=False, markup=False)
        empty = [e["value"] for e in entries if e["n_samples"] == 0]
        if empty:
            console.print(f"no images in: {', '.join(empty)} (figures null)", highlight=False,
                          markup=False)
        short = [f"{e['value']} ({e['n_empty_classes']})" for e in entries
                 if e["n_samples"] and e.get("n_empty_classes")]
        if short:
            policy = d.get("empty_class_policy", "zero")
            console.print(f"classes without positives, by stratum: {', '.join(short)}; "
                          + ("their AP counts as 0" if policy == "zero" else "left out of mAP"),
                          highlight=False, markup=False)


def print_compare_strata(d: dict, figure: str = "mAP") -> None:
    """Per-stratum B − A of ``figure`` for ``lteval compare --strata-by`` (names whole)."""
    from rich.markup import escape

    from lteval.commands._tables import Col, print_table

    strata = d.get("strata")
    if not strata:
        return
    by_col: dict[str, list] = {}
    for e in strata.values():
        by_col.setdefault(e["column"], []).append(e)
    for col, entries in by_col.items():
        cols = [Col(escape(col), "left", name=True), Col("n", drop=4), Col("A", drop=2),
                Col("B", drop=3), Col("B − A"), Col("95% CI", drop=1), Col("p", drop=5)]
        rows = []
        for e in entries:
            v = (e.get("figures") or {}).get(figure)
            if not v:
                rows.append([escape(e["value"]), str(e["n_samples"]), "—", "—", "—", "", "—"])
                continue
            lo, hi = v["ci"]
            rows.append([escape(e["value"]), str(e["n_samples"]), fmt(v["a"]), fmt(v["b"]),
                         "—" if v["diff"] is None else f"{v['diff']:+.4f}",
                         "" if lo is None else f"[{lo:+.3f}, {hi:+.3f}]",
                         "—" if v["p_value"] is None else f"{v['p_value']:.3f}"])
        print_table(console, escape(f"{figure}, B − A by {col!r} (each stratum resampled alone)"),
                    cols, rows)
