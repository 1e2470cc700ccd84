"""``lteval report``: one self-contained HTML page comparing runs, dev vs test."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from lteval.commands._common import TASK_HELP, console, guarded


@guarded
def report(
    runs: Optional[List[Path]] = typer.Argument(
        None, help="Run directories to compare. Each post/<stage> sub-directory is included as "
        "a run named '<run>+<stage>' (see --no-stages)."),
    output: Path = typer.Option(Path("report.html"), "-o", "--output",
                                help="HTML file to write (one self-contained file)."),
    pred: Optional[List[str]] = typer.Option(
        None, "--pred", help="Predictions made elsewhere: NAME=DEV.csv or NAME=DEV.csv:TEST.csv "
        "(submission-format CSVs). Repeat for several models. Needs --dev-labels."),
    dev_labels: Optional[Path] = typer.Option(None, "--dev-labels",
                                              help="Labels CSV of the dev split (for --pred, or runs "
                                              "without labels/dev.csv)."),
    test_labels: Optional[Path] = typer.Option(None, "--test-labels",
                                               help="Labels CSV of the test split. Without test labels "
                                               "the report shows dev only and says so."),
    train_labels: Optional[Path] = typer.Option(None, "--train-labels",
                                                help="Training labels CSV: class prevalence for the "
                                                "head / medium / tail groups and the frequency order."),
    counts: Optional[Path] = typer.Option(None, "--counts", help="Training counts file instead of "
                                          "--train-labels (JSON or class,count CSV)."),
    task: Optional[str] = typer.Option(None, "--task", help=TASK_HELP + " Default: from the runs' "
                                       "config, else cxrlt2026-task1."),
    bootstrap: int = typer.Option(200, "--bootstrap", min=0,
                                  help="Bootstrap resamples for the 95 % intervals (0: none)."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed (dev uses SEED, test SEED+1)."),
    pr_class: Optional[List[str]] = typer.Option(None, "--pr-class", help="Class to draw a "
                                                 "precision-recall curve for (repeatable; default: "
                                                 "the tail group)."),
    rank_metric: str = typer.Option("mAP", "--rank-metric", help="Figure the rank-robustness "
                                    "section ranks the runs by (paired bootstrap, as 'lteval rank "
                                    "--metric'): mAP, mAUROC, mF1, ece, mce, brier, a group figure "
                                    "such as tail_mAP, or per_class.<class>.ap."),
    metadata: Optional[Path] = typer.Option(
        None, "--metadata", help="Metadata CSV: ImageID + any columns (PatientID, view, centre, "
        "sex, age, ...), joined by ID with every run's images. Default, for run directories on "
        "one synthetic set: that set's metadata.csv (the page says so)."),
    cluster_by: Optional[str] = typer.Option(
        None, "--cluster-by", help="Metadata column (e.g. PatientID): every interval and paired "
        "test on the page (leaderboard, dev-vs-test gaps, rank robustness, strata) resamples its "
        "clusters instead of images, as 'lteval score --cluster-by'."),
    strata_by: Optional[List[str]] = typer.Option(
        None, "--strata-by", help="Metadata column to score each value of separately, for every "
        "run and split (repeatable), as 'lteval score --strata-by'; e.g. view, centre, age."),
    bins: str = typer.Option("4", "--bins", help="How --strata-by cuts a numeric column: a "
                             "number of equal-count bins, or cut points such as 40,60,80."),
    stages: bool = typer.Option(True, "--stages/--no-stages",
                                help="Include the post-training stages of each run directory."),
    title: Optional[str] = typer.Option(None, "--title", help="Page title."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output file."),
) -> None:
    """Write an HTML report comparing runs: leaderboard with intervals, dev-vs-test gaps per
    class and group, rank robustness (blob plot, pairwise significance map), AP vs prevalence,
    reliability, PR curves, thresholds, training curves, configs.

    Examples: 'lteval report runs/* -o report.html';
    'lteval report --pred mine=dev.csv:test.csv --dev-labels dev_labels.csv
    --test-labels test_labels.csv -o report.html';
    'lteval report runs/* --metadata metadata.csv --cluster-by PatientID --strata-by view'.
    """
    from lteval.errors import UsageError
    from lteval.io.atomic import check_writable
    from lteval.report import parse_pred_spec, render_report

    if output.is_dir():
        raise UsageError(f"{output} is a directory; give the HTML file to write, e.g. "
                         f"{output / 'report.html'}")
    check_writable(output, force)  # fail before any work
    sources: list = list(runs or [])
    sources += [parse_pred_spec(s) for s in (pred or [])]
    if not sources:
        raise UsageError("nothing to report: give run directories or --pred NAME=DEV.csv[:TEST.csv]")
    from lteval.commands._strata import metadata_warnings

    with metadata_warnings():
        out = render_report(sources, output, dev_labels=dev_labels, test_labels=test_labels,
                            train_labels=train_labels, counts=counts, task=task,
                            bootstrap=bootstrap, seed=seed, pr_classes=pr_class or None,
                            with_stages=stages, title=title, force=force, progress=True,
                            rank_metric=rank_metric, metadata=metadata, cluster_by=cluster_by,
                            strata_by=strata_by or (), bins=bins)
    console.print(f"wrote {out}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
