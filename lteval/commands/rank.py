"""``lteval rank``: rank several prediction files on the same labels, with bootstrap uncertainty."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from lteval.commands._common import (check_json_out, console, echo_json, guarded, json_to_stdout,
                                     write_json_out)
from lteval.commands._options import (EmptyClass, bootstrap_option, cluster_by_option,
                                      counts_option, empty_class_option, force_option,
                                      json_out_option, labels_option, metadata_option, seed_option,
                                      task_option, threshold_option, train_labels_option)


def _p(x) -> str:
    return "—" if x is None else ("< 0.001" if x < 0.001 else f"{x:.3f}")


def print_rank(d: dict) -> None:
    """Tables of a RankResult dict: the ranking with rank uncertainty, then every pair.

    Printed with :func:`lteval.commands._tables.print_table`: system names stay whole on
    one line at 80 columns and when piped (figures are dropped first, then rows stacked).
    """
    from rich.markup import escape

    from lteval.commands._strata import cluster_note
    from lteval.commands._tables import Col, _table_width, cell_width, print_table

    order = d["ranking"]
    direction = "higher" if d["higher_is_better"] else "lower"
    level = int(d["level"] * 100)
    head = (f"ranking by {d['metric']} ({direction} is better): {d['n_samples']} samples, "
            f"{d['n_boot']} paired resamples{cluster_note(d)}")
    tag = {name: f"#{i + 1}" for i, name in enumerate(order)}
    cols = [Col("#"), Col("rank"), Col("system", "left", name=True), Col(escape(d["metric"])),
            Col("mean rank", drop=2), Col(f"{level}% rank CI", drop=3), Col("P(rank 1)", drop=1)]
    rows = []
    for name in order:
        v = d["values"][name]
        lo, hi = d["rank_ci"][name]
        rows.append([tag[name], str(d["ranks"][name]), escape(name), "—" if v is None else f"{v:.4f}",
                     f"{d['mean_rank'][name]:.2f}", f"{lo}–{hi}" if lo != hi else str(lo),
                     f"{d['rank_probabilities'][name][0]:.3f}"])
    print_table(console, escape(head), cols, rows)
    # pairs by name when two names fit beside the figures, else by position (#k above)
    firsts, seconds = order[:-1], order[1:]
    fits = _table_width([max(cell_width(escape(x)) for x in firsts + ["first"]),
                         max(cell_width(escape(x)) for x in seconds + ["second"]),
                         9, 7, 8]) <= console.width
    label = (lambda x: escape(x)) if fits else (lambda x: tag[x])
    cols = [Col("first", "left", name=True), Col("second", "left", name=True),
            Col("P(better)", drop=1), Col("p", drop=2), Col("p (Holm)")]
    rows = []
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            holm = d["pairwise_p_holm"][a][b]
            sig = holm is not None and holm < 0.05
            rows.append([label(a), label(b), f"{d['pairwise'][a][b]:.3f}",
                         _p(d["pairwise_p"][a][b]), f"[bold]{_p(holm)}[/]" if sig else _p(holm)])
    print_table(console, "pairs: P(first better than second) over the resamples; two-sided "
                "paired bootstrap p-value, raw and Holm-adjusted over all pairs"
                + ("" if fits else "; systems by their # in the ranking above"), cols, rows)
    tau = d["kendall_tau"]
    if tau["mean"] is not None:
        lo, hi = tau["ci"]
        console.print(f"Kendall's tau-b, resampled vs full-data ranking: mean {tau['mean']:.3f}, "
                      f"{level}% CI [{lo:.3f}, {hi:.3f}]", highlight=False)


def rank_command(
    predictions: List[str] = typer.Argument(..., help="Two or more predictions CSVs, each optionally named: NAME=PREDS.csv (default name: the file stem).", show_default=False),
    labels: Path = labels_option("Labels CSV shared by every system."),
    metric: str = typer.Option("mAP", "--metric", "-m", help="Figure to rank by: mAP, mAUROC, mF1, ece, mce, brier (lower-is-better ones rank ascending), a group figure such as tail_mAP, or per_class.<class>.ap."),
    task: str = task_option(),
    train_labels: Optional[Path] = train_labels_option(),
    counts: Optional[Path] = counts_option(),
    threshold: float = threshold_option(),
    empty_class: EmptyClass = empty_class_option(),
    bootstrap: int = bootstrap_option(1000, 1, "Paired bootstrap resamples (the same rows for every system)."),
    seed: int = seed_option(),
    metadata: Optional[Path] = metadata_option("Metadata CSV: ImageID + any columns (PatientID, view, ...), joined by ID. Default: the labels CSV's extra columns."),
    cluster_by: Optional[str] = cluster_by_option("Metadata column (e.g. PatientID) whose clusters are resampled instead of images."),
    json_out: Optional[Path] = json_out_option("Write the ranking as JSON ('-' prints JSON only)."),
    force: bool = force_option(),
) -> None:
    """Rank two or more systems on the same labels: full-data ranking, each system's bootstrap rank distribution, pairwise P(A better than B) with Holm-adjusted p-values, and Kendall's tau of resampled vs full ranking.

    Every resample draws the same images (or --cluster-by clusters) for every
    system, so the comparison is paired. Definitions: docs/metrics.md.
    """
    from lteval.commands._strata import metadata_warnings
    from lteval.errors import UsageError
    from lteval.scoring import rank, system_names

    if len(predictions) < 2:
        raise UsageError(f"lteval rank needs at least two predictions files, got {len(predictions)}")
    check_json_out(json_out, force)
    systems = system_names(predictions)
    with metadata_warnings():
        res = rank(systems, labels, metric=metric, task=task, train_labels=train_labels,
                   counts=counts, threshold=threshold, empty_class=empty_class.value,
                   n_boot=bootstrap, seed=seed, metadata=metadata, cluster_by=cluster_by)
    d = res.to_dict()
    if json_to_stdout(json_out):
        echo_json(d)
        return
    print_rank(d)
    if json_out is not None:
        write_json_out(json_out, d, force)


def register(app: typer.Typer) -> None:
    app.command("rank")(guarded(rank_command))
