"""``lteval calibrate fit | apply | cv``: probability calibration and thresholds without leakage."""

from __future__ import annotations

import warnings
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from lteval.commands._common import (check_json_out, console, echo_json, err_console, guarded,
                                     json_to_stdout, write_json_out)
from lteval.commands._options import (EmptyClass, bootstrap_option, counts_option,
                                      empty_class_option, force_option, json_out_option,
                                      labels_option, seed_option, task_option, train_labels_option)
from lteval.commands._tables import fmt, fmt_ci
from lteval.io.progress import progress_enabled

METHOD_HELP = ("Calibration method: none, temperature (one T for all classes), temperature-per-class, "
               "platt, beta, isotonic, histogram.")
THRESHOLDS_HELP = ("Also fit decision thresholds on the calibrated outputs: f1 (per-class F1-optimal, "
                   "exact), global (one threshold maximising macro F1), precision@X, recall@X "
                   "(per-class target, e.g. precision@0.9), prevalence (top k% of each class, k = "
                   "training prevalence), fixed@X.")
INPUT_HELP = ("What the score columns hold: 'probs' (probabilities in [0, 1]) or 'logits' "
              "(unbounded). Stated explicitly, never guessed from the values.")


class InputKind(str, Enum):
    probs = "probs"
    logits = "logits"


class Targets(str, Enum):
    platt = "platt"
    raw = "raw"


class BinStrategy(str, Enum):
    uniform = "uniform"
    quantile = "quantile"


class RankBy(str, Enum):
    ece = "ece"
    mAP = "mAP"
    mF1 = "mF1"


TRAIN_LABELS_HELP = "Training labels CSV (for --thresholds prevalence)."


def input_option():
    """``--input`` (required): whether the score columns hold probabilities or logits."""
    return typer.Option(..., "--input", help=INPUT_HELP, show_default=False)


def targets_option(help: str):
    """``--targets`` (default ``platt``): the fitting targets of platt and beta."""
    return typer.Option(Targets.platt, "--targets", help=help)


def n_bins_option():
    """``--bins`` (default 15, at least 1): the number of bins of histogram binning."""
    return typer.Option(15, "--bins", min=1, help="histogram: number of bins.")


def bin_strategy_option(help: str):
    """``--bin-strategy`` (default ``uniform``): how histogram binning places its bins."""
    return typer.Option(BinStrategy.uniform, "--bin-strategy", help=help)


def tie_break_option(help: str):
    """``--tie-break``: isotonic regression keeps the original order inside flat steps."""
    return typer.Option(False, "--tie-break", help=help)


def fit_command(
    predictions: Path = typer.Argument(..., help="Dev predictions CSV: ImageID + one score column per class.", show_default=False),
    labels: Path = labels_option("Dev labels CSV: ImageID + one 0/1 column per class."),
    method: str = typer.Option(..., "--method", "-m", help=METHOD_HELP, show_default=False),
    input: InputKind = input_option(),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the calibration JSON (CALIB.json).", show_default=False),
    task: str = task_option(),
    thresholds: Optional[str] = typer.Option(None, "--thresholds", help=THRESHOLDS_HELP),
    train_labels: Optional[Path] = train_labels_option(TRAIN_LABELS_HELP),
    counts: Optional[Path] = counts_option("Training counts file (for --thresholds prevalence; cxrlt2026-task1 has built-in counts)."),
    fallback: float = typer.Option(0.5, "--fallback", help="Threshold for classes without positives in the dev labels."),
    targets: Targets = targets_option("platt/beta: 'platt' = Platt's prior-corrected targets (finite fits for rare classes), 'raw' = plain maximum likelihood."),
    n_bins: int = n_bins_option(),
    bin_strategy: BinStrategy = bin_strategy_option("histogram: equal-width ('uniform') or equal-mass ('quantile') bins."),
    tie_break: bool = tie_break_option("isotonic: keep the original order inside each flat step (per-class AP/AUROC unchanged; probabilities move by at most 1e-6)."),
    force: bool = force_option("Overwrite an existing output file."),
) -> None:
    """Fit a per-class calibrator (and optionally thresholds) on dev predictions + labels; save it as JSON.

    The figures printed here are in-sample. For what the method will do on
    unseen data, run [bold]lteval calibrate cv[/] on the same files.
    """
    from lteval.calibration.pipeline import fit_calibration, method_options
    from lteval.io.atomic import check_writable

    check_writable(output, force)
    opts = method_options(method, targets=targets.value, n_bins=n_bins, strategy=bin_strategy.value,
                          tie_break=tie_break)
    art = fit_calibration(predictions, labels, method=method, input=input.value, task=task,
                          thresholds=thresholds, train_labels=train_labels, counts=counts,
                          fallback=fallback, options=opts)
    art.save(output, force=force)
    cal = art.calibrator
    console.print(f"fitted [bold]{cal.method}[/] on {art.fit['n_samples']} samples, "
                  f"{len(art.classes)} classes (input: {cal.input})", highlight=False)
    params = cal.get_params()
    if cal.method == "temperature":
        console.print(f"temperature T = {params['temperature']:.4f}", highlight=False)
    pt = art.to_dict()["fit"].get("passthrough_classes", [])
    if pt:
        err_console.print(f"[yellow]note:[/] {len(pt)} class(es) lack positives or negatives in the dev "
                          f"labels and pass through unchanged: {', '.join(pt)}", highlight=False)
    for w in art.fit.get("warnings", []):
        err_console.print(f"[yellow]warning:[/] {w}", highlight=False)
    if art.thresholds is not None:
        th = art.thresholds
        from rich.markup import escape

        from lteval.commands._tables import Col, print_table

        cols = [Col("class", "left", name=True), Col("threshold"), Col("F1"),
                Col("precision", drop=2), Col("recall", drop=1), Col("n_pred", drop=3)]
        det = th.details
        rows = []
        for i, c in enumerate(art.classes):
            def g(k):
                v = det.get(k)
                return v[i] if isinstance(v, list) and i < len(v) else None
            unmet = det.get("unmet", []) if isinstance(det.get("unmet"), list) else []
            fb = " (fallback)" if i in th.fallback_classes else (" (unmet)" if i in unmet else "")
            rows.append([escape(c), f"{th.values[i]:.4g}{fb}", fmt(g("f1")), fmt(g("precision")),
                         fmt(g("recall")), "—" if g("n_predicted") is None else str(g("n_predicted"))])
        print_table(console, f"thresholds ({th.strategy}), in-sample on the dev set", cols, rows)
        for n in th.notes:
            err_console.print(f"[yellow]note:[/] {n}", highlight=False)
    err_console.print(f"wrote {output}", highlight=False)


def apply_command(
    calibration: Path = typer.Argument(..., help="Calibration JSON written by 'lteval calibrate fit'.", show_default=False),
    predictions: Path = typer.Argument(..., help="Predictions CSV to calibrate (same kind of scores the calibrator was fitted on).", show_default=False),
    output: Path = typer.Option(..., "--output", "-o", help="Calibrated predictions CSV (submission format: ImageID + classes in official order).", show_default=False),
    decisions: Optional[Path] = typer.Option(None, "--decisions", help="Also write 0/1 decisions from the file's thresholds to this CSV."),
    force: bool = force_option("Overwrite existing output files."),
) -> None:
    """Apply a fitted calibrator to a predictions CSV and write calibrated probabilities.

    The output keeps every ID of the input, in the same order, with the task's
    classes in official order and probabilities in [0, 1]: a valid submission
    whenever the input was one.
    """
    from lteval.calibration.pipeline import apply_calibration

    res = apply_calibration(calibration, predictions, output, force=force, decisions=decisions)
    err_console.print(f"calibrated {res['n_samples']} rows with {res['method']}; wrote {res['output']}"
                      + (f" and {res['decisions']}" if "decisions" in res else ""), highlight=False)


def cv_command(
    predictions: Path = typer.Argument(..., help="Dev predictions CSV: ImageID + one score column per class.", show_default=False),
    labels: Path = labels_option("Dev labels CSV (may hold a group column such as PatientID)."),
    input: InputKind = input_option(),
    method: str = typer.Option("all", "--method", "-m", help=METHOD_HELP + " 'all' (default) compares and ranks every method; a comma-separated list picks some."),
    task: str = task_option(),
    folds: int = typer.Option(5, "--folds", "-k", min=2, help="Number of cross-fitting folds."),
    group_column: Optional[str] = typer.Option(None, "--group-column", help="Column of the labels CSV grouping rows (e.g. PatientID): a group never straddles folds."),
    thresholds: Optional[str] = typer.Option(None, "--thresholds", help=THRESHOLDS_HELP + " mF1 after uses the cross-fitted thresholds; without it, 0.5."),
    train_labels: Optional[Path] = train_labels_option(TRAIN_LABELS_HELP),
    counts: Optional[Path] = counts_option("Training counts file (for --thresholds prevalence)."),
    bootstrap: int = bootstrap_option(1000, 0, "Bootstrap resamples for 95% CIs (0 = none)."),
    seed: int = seed_option("Seed of the folds and the bootstrap."),
    rank_by: RankBy = typer.Option(RankBy.ece, "--rank-by", help="Figure the methods are ranked by (ECE: lower is better; mAP, mF1: higher)."),
    empty_class: EmptyClass = empty_class_option("Classes without positives: 'zero' counts AP/F1 as 0, 'exclude' leaves them out."),
    targets: Targets = targets_option("platt/beta fitting targets (see 'fit --help')."),
    n_bins: int = n_bins_option(),
    bin_strategy: BinStrategy = bin_strategy_option("histogram: bin strategy."),
    tie_break: bool = tie_break_option("isotonic: break its ties by the original score (see 'fit --help')."),
    json_out: Optional[Path] = json_out_option("Also write the results as JSON ('-' prints JSON only)."),
    force: bool = force_option(),
) -> None:
    """Estimate what calibration (and thresholds) will do on unseen data, by k-fold cross-fitting.

    Each fold is calibrated by a model fitted on the other folds only; ECE, mAP
    and mF1 of the out-of-fold outputs are shown before/after with bootstrap
    CIs and the paired change. Fit on the whole dev set afterwards with
    [bold]lteval calibrate fit[/].
    """
    from lteval.calibration.pipeline import cross_validate, parse_methods

    to_stdout = json_to_stdout(json_out)
    check_json_out(json_out, force)
    names = parse_methods(method)
    opts = {"targets": targets.value, "n_bins": n_bins, "strategy": bin_strategy.value,
            "tie_break": tie_break}
    def run(progress=None) -> dict:
        return cross_validate(predictions, labels, methods=names, input=input.value, task=task,
                              folds=folds, group_column=group_column, thresholds=thresholds,
                              train_labels=train_labels, counts=counts, n_boot=bootstrap,
                              seed=seed, empty_class=empty_class.value, rank_by=rank_by.value,
                              options=opts, progress=progress)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if progress_enabled() and not to_stdout:
            from rich.progress import Progress

            with Progress(console=err_console, transient=True) as prog:
                bar = prog.add_task("cross-fitting", total=len(names))
                seen: list[str] = []

                def tick(m):
                    prog.update(bar, completed=len(seen), description=f"cross-fitting {m}")
                    seen.append(m)

                rep = run(tick)
        else:
            rep = run()
    if to_stdout:
        echo_json(rep)
        return
    print_cv(rep)
    if json_out is not None:
        write_json_out(json_out, rep, force=True)


def print_cv(rep: dict) -> None:
    """Rich tables of a cross-fitting report: figures in ranked order, then the paired changes."""
    from rich import box

    boot = rep["n_boot"] > 0
    grouped = f", grouped by {rep['group_column']} ({rep['n_groups']} groups)" if rep["group_column"] else ""
    thr = f"cross-fitted {rep['thresholds']} thresholds" if rep["thresholds"] else "threshold 0.5"
    from rich.markup import escape

    from lteval.commands._tables import Col, print_table
    from lteval.metrics.figures import figure, lower_is_better

    keys = ("ece", "mAP", "mF1")  # the figures cross-fitting reports (calibration.crossfit.FIGURES)
    cols = [Col("#", drop=2), Col("method", "left", name=True), *(Col(figure(k).label) for k in keys),
            Col(f"Δ {figure('mAP').label} in-fold", drop=1)]
    b = rep["before"]
    rows = [["", "[italic]before[/]", fmt(b["ece"]), fmt(b["mAP"]), fmt(b["mF1"]), ""]]
    for i, m in enumerate(rep["ranking"], 1):
        e = rep["methods"][m]
        wf = e.get("delta_within_fold", {}).get("mAP")
        rows.append([str(i), escape(m), fmt(e["ece"]), fmt(e["mAP"]), fmt(e["mF1"]),
                     "—" if wf is None else f"{wf:+.4f}"])
    print_table(console, escape(f"cross-fitted calibration — {rep['task']}, {rep['n_samples']} samples, "
                                f"{rep['folds']} folds{grouped}; mF1 at {thr}"), cols, rows,
                box=box.SIMPLE_HEAD)
    if boot:
        cols = [Col("method", "left", name=True)] + [Col(f"Δ {figure(k).label}", drop=d)
                                                      for k, d in zip(keys, (0, 0, 1))]
        rows = []
        for m in rep["ranking"]:
            e = rep["methods"][m]
            cells = []
            for k in keys:
                v = e["delta"][k]
                lo, hi = e["delta_ci"][k]
                if v is None or lo is None:
                    cells.append("—")
                    continue
                s = f"{v:+.4f}"
                cells.append((f"[bold]{s}[/]" if (lo > 0 or hi < 0) else s) + f"\n[dim][{lo:+.3f}, {hi:+.3f}][/]")
            rows.append([escape(m), *cells])
        print_table(console, f"after − before, paired, 95% CI from {rep['n_boot']} resamples "
                    "(bold: CI excludes 0)", cols, rows, box=box.SIMPLE_HEAD)
        ci = b["ci"]
        console.print(f"before, 95% CI: ECE {fmt_ci(ci, 'ece')}, mAP {fmt_ci(ci, 'mAP')}, mF1 {fmt_ci(ci, 'mF1')} "
                      "(CIs of the after values: --json)", highlight=False)
    console.print(f"Ranked by {rep['rank_by']} ({'lower' if lower_is_better(rep['rank_by']) else 'higher'} is better). "
                  "'none' = no calibration (same thresholds, if any). mAP pools the out-of-fold outputs "
                  "of k different fitted maps, which reorders rare classes even for a monotone map; "
                  "'Δ mAP in-fold' scores each fold on its own (one map, as on a test set).",
                  highlight=False)
    for n in rep.get("notes", []):
        err_console.print(f"[yellow]note:[/] {n}", highlight=False)
    seen: dict[str, list[str]] = {}
    for m, e in rep["methods"].items():
        for w in e.get("warnings", []):
            seen.setdefault(w, []).append(m)
    for i, (w, ms) in enumerate(seen.items()):
        if i == 8:
            err_console.print(f"[yellow]warning:[/] … {len(seen) - 8} more (see --json)", highlight=False)
            break
        who = "all methods" if len(ms) == len(rep["methods"]) else ", ".join(ms)
        err_console.print(f"[yellow]warning ({who}):[/] {w}", highlight=False)


def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        name="calibrate",
        help=("Calibrate probabilities per class (temperature, Platt, beta, isotonic, histogram) and "
              "fit decision thresholds, with honest cross-fitted estimates: fit on dev, apply to "
              "test, cv to see what it does on unseen data."),
        no_args_is_help=True,
        rich_markup_mode="rich",
    )
    sub.command("fit")(guarded(fit_command))
    sub.command("apply")(guarded(apply_command))
    sub.command("cv")(guarded(cv_command))
    app.add_typer(sub, name="calibrate")
