"""``lteval score`` and ``lteval compare``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from lteval.commands._common import (check_json_out, console, echo_json, err_console, guarded,
                                     json_to_stdout, write_json_out)
from lteval.commands._options import (EmptyClass, bins_option, bootstrap_option, cluster_by_option,
                                      counts_option, empty_class_option, force_option,
                                      json_out_option, labels_option, metadata_option, seed_option,
                                      strata_by_option, task_option, threshold_option,
                                      train_labels_option)
from lteval.commands._tables import fmt, fmt_ci


def print_report(report, *, title: str = "", show_classes: bool = True) -> None:
    """Tables of a ScoreReport: overall, groups, per class by training frequency.

    Class names are printed whole at any width (lteval.commands._tables).
    """
    from rich.markup import escape

    from lteval.commands._tables import Col, print_table
    from lteval.metrics.figures import figure, group_key, group_keys

    d = report.to_dict()
    ci = d.get("ci")
    head = (f"{title}overall — {d['task']}, {d['n_samples']} samples"
            + (f", {int(ci['level'] * 100)}% CI from {ci['n_boot']} resamples" if ci else ""))
    cols = [Col("figure", "left", name=True), Col("value")] + ([Col("CI", drop=1)] if ci else [])
    print_table(console, escape(head), cols,
                [[k, fmt(v), *([fmt_ci(ci, k)] if ci else [])] for k, v in d["overall"].items()])
    if d["groups"]:
        keys = group_keys()  # mAP, mAUROC, mF1: the first never dropped, the others 2, 3, ...
        cols = [Col("group", "left", name=True), Col("classes", drop=4),
                *(Col(figure(k).label, drop=i + 1 if i else 0) for i, k in enumerate(keys))]
        rows = [[name, str(len(v["classes"])),
                 *(fmt(v[k]) + (f"\n[dim]{fmt_ci(ci, group_key(name, k))}[/]" if ci else "")
                   for k in keys)] for name, v in d["groups"].items()]
        print_table(console, escape(f"groups by training prevalence ({report.groups_source})"),
                    cols, rows)
    if show_classes:
        group_of = {c: name for name, v in d["groups"].items() for c in v["classes"]}
        cols = [Col("class", "left", name=True), Col("group", "left", drop=2), Col("n_pos"),
                Col("AP"), Col("AUROC"), Col("F1", drop=1), Col("precision", drop=5),
                Col("recall", drop=4), Col(figure("ece").label, drop=3)]
        rows = []
        for c in report.class_order_by_frequency():
            v = d["per_class"][c]
            rows.append([escape(c), group_of.get(c, ""), str(v["n_pos"]), fmt(v["ap"]),
                         fmt(v["auroc"]), fmt(v["f1"]), fmt(v["precision"]), fmt(v["recall"]),
                         fmt(v["ece"])])
        print_table(console, "per class, by training frequency" if report.prevalence
                    else "per class, by positives in this set", cols, rows)
    if d["empty_classes"]:
        err_console.print(
            f"[yellow]warning:[/] {len(d['empty_classes'])} class(es) have no positives in the "
            f"labels: {', '.join(d['empty_classes'])}. Policy '{d['empty_class_policy']}': "
            + ("their AP counts as 0 in mAP (scikit-learn's behaviour)."
               if d["empty_class_policy"] == "zero" else "they are left out of mAP and mF1."),
            highlight=False)


def score_command(
    predictions: Path = typer.Argument(..., help="Predictions CSV: ImageID (or dicom_id) + one probability column per class, any order.", show_default=False),
    labels: Path = labels_option("Labels CSV: ImageID + one 0/1 column per class (other columns ignored)."),
    task: str = task_option(),
    train_labels: Optional[Path] = train_labels_option("Training labels CSV used to form head/medium/tail groups (default for cxrlt2026-task1: the published training counts)."),
    counts: Optional[Path] = counts_option("Training counts file instead of --train-labels: JSON {\"n_images\": N, \"counts\": {class: n}} or CSV 'class,count' with a '__total__,N' row."),
    threshold: float = threshold_option("Probability threshold for precision/recall/F1 (predict positive when p >= threshold)."),
    empty_class: EmptyClass = empty_class_option("Classes without positives: 'zero' counts their AP as 0 (scikit-learn), 'exclude' leaves them out of mAP/mF1."),
    bootstrap: int = bootstrap_option(0, 0, "Bootstrap resamples for 95% confidence intervals (0 = none; 1000 is usual)."),
    seed: int = seed_option("Seed of the bootstrap resamples."),
    head: float = typer.Option(0.10, "--head", help="Head group: training prevalence above this."),
    tail: float = typer.Option(0.01, "--tail", help="Tail group: training prevalence below this."),
    json_out: Optional[Path] = json_out_option("Also write all figures as JSON to this file ('-' prints JSON instead of tables)."),
    metadata: Optional[Path] = metadata_option(),
    cluster_by: Optional[str] = cluster_by_option(),
    strata_by: Optional[List[str]] = strata_by_option("Metadata column to score each value of separately (repeatable), e.g. view, sex, age."),
    bins: str = bins_option(),
    no_classes: bool = typer.Option(False, "--no-classes", help="Skip the per-class table."),
    force: bool = force_option(),
) -> None:
    """Score a predictions file against labels: mAP, mAUROC, mF1, ECE, MCE, Brier, per class and per head/medium/tail group.

    Rows are joined by ImageID, never by position. Figures equal scikit-learn's
    average_precision_score / roc_auc_score / f1_score and netcal's ECE.
    """
    from lteval.commands._strata import metadata_warnings, print_cluster_note, print_strata
    from lteval.scoring import score

    check_json_out(json_out, force)
    with metadata_warnings():
        report = score(predictions, labels, task=task, train_labels=train_labels, counts=counts,
                       threshold=threshold, empty_class=empty_class.value, n_boot=bootstrap,
                       seed=seed, head=head, tail=tail, metadata=metadata, cluster_by=cluster_by,
                       strata_by=strata_by or (), bins=bins)
    if json_to_stdout(json_out):
        echo_json(report.to_dict())
        return
    print_report(report, show_classes=not no_classes)
    print_cluster_note(report.to_dict())
    print_strata(report.to_dict())
    if json_out is not None:
        write_json_out(json_out, report.to_dict(), force)


def compare_command(
    a: Path = typer.Argument(..., help="Predictions CSV of model A (the baseline).", show_default=False),
    b: Path = typer.Argument(..., help="Predictions CSV of model B (compared against A).", show_default=False),
    labels: Path = labels_option("Labels CSV shared by both."),
    task: str = task_option(),
    train_labels: Optional[Path] = train_labels_option(),
    counts: Optional[Path] = counts_option(),
    threshold: float = threshold_option(),
    empty_class: EmptyClass = empty_class_option(),
    bootstrap: int = bootstrap_option(1000, 1, "Paired bootstrap resamples."),
    seed: int = seed_option(),
    metadata: Optional[Path] = metadata_option(),
    cluster_by: Optional[str] = cluster_by_option(),
    strata_by: Optional[List[str]] = strata_by_option("Metadata column whose strata are compared separately too (repeatable)."),
    bins: str = bins_option(),
    json_out: Optional[Path] = json_out_option("Write the comparison as JSON ('-' prints JSON only)."),
    force: bool = force_option(),
) -> None:
    """Compare two prediction files on the same labels with a paired bootstrap: B − A, its 95% CI and a two-sided p-value for every figure."""
    from lteval.commands._strata import metadata_warnings, print_cluster_note, print_compare_strata
    from lteval.scoring import compare

    check_json_out(json_out, force)
    with metadata_warnings():
        res = compare(a, b, labels, task=task, train_labels=train_labels, counts=counts,
                      threshold=threshold, empty_class=empty_class.value, n_boot=bootstrap, seed=seed,
                      metadata=metadata, cluster_by=cluster_by, strata_by=strata_by or (),
                      bins=bins)
    if json_to_stdout(json_out):
        echo_json(res)
        return
    from rich.markup import escape

    from lteval.commands._tables import Col, print_table

    cols = [Col("figure", "left", name=True), Col("A", drop=3), Col("B", drop=4), Col("B − A"),
            Col("95% CI", drop=1), Col("p", drop=2)]
    rows = []
    for k, v in res["figures"].items():
        lo, hi = v["ci"]
        sig = lo is not None and (lo > 0 or hi < 0)
        diff = "—" if v["diff"] is None else f"{v['diff']:+.4f}"
        rows.append([escape(k), fmt(v["a"]), fmt(v["b"]), f"[bold]{diff}[/]" if sig else diff,
                     "" if lo is None else f"[{lo:+.4f}, {hi:+.4f}]",
                     "—" if v["p_value"] is None else f"{v['p_value']:.4f}"])
    print_table(console, escape(f"B − A, paired bootstrap ({bootstrap} resamples, 95% CI)\n"
                                f"A = {a}\nB = {b}"), cols, rows)
    print_cluster_note(res)
    print_compare_strata(res)
    if json_out is not None:
        write_json_out(json_out, res, force)


def register(app: typer.Typer) -> None:
    app.command("score")(guarded(score_command))
    app.command("compare")(guarded(compare_command))
