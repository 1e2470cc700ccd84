"""``lteval score`` and ``lteval compare``."""

from __future__ import annotations

import json
import warnings
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from lteval.commands._common import TASK_HELP, console, err_console, guarded


class EmptyClass(str, Enum):
    zero = "zero"
    exclude = "exclude"


def fmt(x, digits: int = 4) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def fmt_ci(ci: dict | None, key: str) -> str:
    if not ci or key not in ci or ci[key][0] is None:
        return ""
    lo, hi = ci[key]
    return f"[{lo:.4f}, {hi:.4f}]"


def print_report(report, *, title: str = "", show_classes: bool = True) -> None:
    """Tables of a ScoreReport: overall, groups, per class by training frequency.

    Class names are printed whole at any width (lteval.commands._tables).
    """
    from rich.markup import escape

    from lteval.commands._tables import Col, print_table

    d = report.to_dict()
    ci = d.get("ci")
    head = (f"{title}overall — {d['task']}, {d['n_samples']} samples"
            + (f", {int(ci['level'] * 100)}% CI from {ci['n_boot']} resamples" if ci else ""))
    cols = [Col("figure", "left", name=True), Col("value")] + ([Col("CI", drop=1)] if ci else [])
    print_table(console, escape(head), cols,
                [[k, fmt(v), *([fmt_ci(ci, k)] if ci else [])] for k, v in d["overall"].items()])
    if d["groups"]:
        cols = [Col("group", "left", name=True), Col("classes", drop=4), Col("mAP"),
                Col("mAUROC", drop=2), Col("mF1", drop=3)]
        rows = [[name, str(len(v["classes"])),
                 *(fmt(v[k]) + (f"\n[dim]{fmt_ci(ci, f'{name}.{k}')}[/]" if ci else "")
                   for k in ("mAP", "mAUROC", "mF1"))] for name, v in d["groups"].items()]
        print_table(console, escape(f"groups by training prevalence ({report.groups_source})"),
                    cols, rows)
    if show_classes:
        group_of = {c: name for name, v in d["groups"].items() for c in v["classes"]}
        cols = [Col("class", "left", name=True), Col("group", "left", drop=2), Col("n_pos"),
                Col("AP"), Col("AUROC"), Col("F1", drop=1), Col("precision", drop=5),
                Col("recall", drop=4), Col("ECE", drop=3)]
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


def _write_json(path: Path, obj, force: bool) -> None:
    from lteval.io.atomic import write_json_atomic

    write_json_atomic(path, obj, force=force)
    err_console.print(f"wrote {path}", highlight=False)


def score_command(
    predictions: Path = typer.Argument(..., help="Predictions CSV: ImageID (or dicom_id) + one probability column per class, any order.", show_default=False),
    labels: Path = typer.Option(..., "--labels", "-l", help="Labels CSV: ImageID + one 0/1 column per class (other columns ignored).", show_default=False),
    task: str = typer.Option("cxrlt2026-task1", "--task", "-t", help=TASK_HELP),
    train_labels: Optional[Path] = typer.Option(None, "--train-labels", help="Training labels CSV used to form head/medium/tail groups (default for cxrlt2026-task1: the published training counts)."),
    counts: Optional[Path] = typer.Option(None, "--counts", help="Training counts file instead of --train-labels: JSON {\"n_images\": N, \"counts\": {class: n}} or CSV 'class,count' with a '__total__,N' row."),
    threshold: float = typer.Option(0.5, "--threshold", help="Probability threshold for precision/recall/F1 (predict positive when p >= threshold)."),
    empty_class: EmptyClass = typer.Option(EmptyClass.zero, "--empty-class", help="Classes without positives: 'zero' counts their AP as 0 (scikit-learn), 'exclude' leaves them out of mAP/mF1."),
    bootstrap: int = typer.Option(0, "--bootstrap", "-b", min=0, help="Bootstrap resamples for 95% confidence intervals (0 = none; 1000 is usual)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resamples."),
    head: float = typer.Option(0.10, "--head", help="Head group: training prevalence above this."),
    tail: float = typer.Option(0.01, "--tail", help="Tail group: training prevalence below this."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write all figures as JSON to this file ('-' prints JSON instead of tables)."),
    metadata: Optional[Path] = typer.Option(None, "--metadata", help="Metadata CSV: ImageID + any columns (PatientID, view, centre, sex, age, ...), joined by ID. Default: the labels CSV's extra columns."),
    cluster_by: Optional[str] = typer.Option(None, "--cluster-by", help="Metadata column (e.g. PatientID) whose clusters the bootstrap resamples instead of images."),
    strata_by: Optional[List[str]] = typer.Option(None, "--strata-by", help="Metadata column to score each value of separately (repeatable), e.g. view, sex, age."),
    bins: str = typer.Option("4", "--bins", help="How --strata-by cuts a numeric column: a number of equal-count bins, or cut points such as 40,60,80."),
    no_classes: bool = typer.Option(False, "--no-classes", help="Skip the per-class table."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --json file."),
) -> None:
    """Score a predictions file against labels: mAP, mAUROC, mF1, ECE, MCE, Brier, per class and per head/medium/tail group.

    Rows are joined by ImageID, never by position. Figures equal scikit-learn's
    average_precision_score / roc_auc_score / f1_score and netcal's ECE.
    """
    from lteval.io.atomic import check_writable
    from lteval.scoring import score

    if json_out is not None and str(json_out) != "-":
        check_writable(json_out, force)
    from lteval.commands._strata import print_cluster_note, print_metadata_warnings, print_strata

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = score(predictions, labels, task=task, train_labels=train_labels, counts=counts,
                       threshold=threshold, empty_class=empty_class.value, n_boot=bootstrap,
                       seed=seed, head=head, tail=tail, metadata=metadata, cluster_by=cluster_by,
                       strata_by=strata_by or (), bins=bins)
    print_metadata_warnings(caught)
    if json_out is not None and str(json_out) == "-":
        typer.echo(json.dumps(report.to_dict(), indent=2, allow_nan=False))
        return
    print_report(report, show_classes=not no_classes)
    print_cluster_note(report.to_dict())
    print_strata(report.to_dict())
    if json_out is not None:
        _write_json(json_out, report.to_dict(), force)


def compare_command(
    a: Path = typer.Argument(..., help="Predictions CSV of model A (the baseline).", show_default=False),
    b: Path = typer.Argument(..., help="Predictions CSV of model B (compared against A).", show_default=False),
    labels: Path = typer.Option(..., "--labels", "-l", help="Labels CSV shared by both.", show_default=False),
    task: str = typer.Option("cxrlt2026-task1", "--task", "-t", help=TASK_HELP),
    train_labels: Optional[Path] = typer.Option(None, "--train-labels", help="Training labels CSV for head/medium/tail groups."),
    counts: Optional[Path] = typer.Option(None, "--counts", help="Training counts file instead of --train-labels."),
    threshold: float = typer.Option(0.5, "--threshold", help="Probability threshold for F1."),
    empty_class: EmptyClass = typer.Option(EmptyClass.zero, "--empty-class", help="Policy for classes without positives."),
    bootstrap: int = typer.Option(1000, "--bootstrap", "-b", min=1, help="Paired bootstrap resamples."),
    seed: int = typer.Option(0, "--seed", help="Seed of the resamples."),
    metadata: Optional[Path] = typer.Option(None, "--metadata", help="Metadata CSV: ImageID + any columns (PatientID, view, centre, sex, age, ...), joined by ID. Default: the labels CSV's extra columns."),
    cluster_by: Optional[str] = typer.Option(None, "--cluster-by", help="Metadata column (e.g. PatientID) whose clusters the bootstrap resamples instead of images."),
    strata_by: Optional[List[str]] = typer.Option(None, "--strata-by", help="Metadata column whose strata are compared separately too (repeatable)."),
    bins: str = typer.Option("4", "--bins", help="How --strata-by cuts a numeric column: a number of equal-count bins, or cut points such as 40,60,80."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the comparison as JSON ('-' prints JSON only)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --json file."),
) -> None:
    """Compare two prediction files on the same labels with a paired bootstrap: B − A, its 95% CI and a two-sided p-value for every figure."""
    from lteval.io.atomic import check_writable
    from lteval.scoring import compare

    if json_out is not None and str(json_out) != "-":
        check_writable(json_out, force)
    from lteval.commands._strata import (print_cluster_note, print_compare_strata,
                                         print_metadata_warnings)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = compare(a, b, labels, task=task, train_labels=train_labels, counts=counts,
                      threshold=threshold, empty_class=empty_class.value, n_boot=bootstrap, seed=seed,
                      metadata=metadata, cluster_by=cluster_by, strata_by=strata_by or (),
                      bins=bins)
    print_metadata_warnings(caught)
    if json_out is not None and str(json_out) == "-":
        typer.echo(json.dumps(res, indent=2, allow_nan=False))
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
        _write_json(json_out, res, force)


def register(app: typer.Typer) -> None:
    app.command("score")(guarded(score_command))
    app.command("compare")(guarded(compare_command))
