"""``lteval validate`` and ``lteval make-submission``: thin shells over :mod:`lteval.submission`."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from lteval.commands._common import err_console, guarded
from lteval.commands._options import force_option, task_option
from lteval.errors import InputError, UsageError

_IDS_HELP = ("Evaluation ID list: the organisers' file (ImageID column plus metadata and empty "
             "columns) or a plain one-column list. Every ID must appear exactly once, no others.")


class OutputFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"


def _note(msg: str) -> None:
    err_console.print(msg, markup=False, highlight=False, soft_wrap=True)


@guarded
def validate_command(
    submissions: List[Path] = typer.Argument(
        ..., metavar="SUBMISSION...", show_default=False,
        help="Submission .csv file(s), or the platform .zip (one predictions CSV plus a code/ "
             "folder)."),
    task: str = task_option(),
    ids: Optional[Path] = typer.Option(None, "--ids", metavar="EVAL_LIST.csv", help=_IDS_HELP),
    fmt: OutputFormat = typer.Option(
        OutputFormat.text, "--format", "-f",
        help="text: a readable report; json: one object per file (a list for several files); "
             "github: ::error annotations for GitHub Actions."),
    strict: bool = typer.Option(
        False, "--strict",
        help="Treat warnings (column order, alias ID column, whitespace, more than 8 decimals, "
             "blank lines) as errors."),
    write_fixed: Optional[Path] = typer.Option(
        None, "--write-fixed", metavar="OUT.csv",
        help="Write a corrected copy, fixing only unambiguous problems (column order, ID column "
             "name, whitespace, blank lines, delimiter, BOM). Never changes a value."),
    force: bool = force_option("Allow --write-fixed to overwrite OUT.csv."),
    max_examples: int = typer.Option(
        5, "--max-examples", min=1,
        help="Problems shown per kind before the rest are summarised as 'N more rows like this'."),
) -> None:
    """Check submission files before uploading: every problem, with line and column.

    Exit status: 0 all files valid, 1 a file is invalid, 2 the command itself was used wrongly (missing file, unknown task, unreadable evaluation list).
    """
    from lteval.submission import (
        render_github, render_json, render_text, validate_submission, write_fixed as fix,
    )
    from lteval.submission.validate import resolve_eval_ids
    from lteval.tasks import get_task

    if write_fixed is not None and len(submissions) != 1:
        raise UsageError("--write-fixed takes exactly one SUBMISSION")
    task_obj = get_task(task)
    try:
        eval_ids = resolve_eval_ids(ids)
    except InputError as e:  # the command's input, not the submission, is wrong
        raise UsageError(f"cannot use the evaluation list: {e.message}", file=e.file,
                         line=e.line, column=e.column) from None
    results = [validate_submission(p, task_obj, eval_ids, strict=strict,
                                   max_examples=max_examples) for p in submissions]
    if fmt is OutputFormat.json:
        typer.echo(render_json(results))
    else:
        render = render_text if fmt is OutputFormat.text else render_github
        typer.echo("\n".join(render(r) for r in results))
    if write_fixed is not None:
        fixed = fix(submissions[0], write_fixed, task_obj, result=None if strict else results[0],
                    force=force)
        _note(f"wrote {fixed.path}")
        for change in fixed.changes or ["nothing needed fixing; wrote a normalised copy"]:
            _note(f"  - {change}")
        state = "valid" if fixed.result.valid else "still INVALID"
        _note(f"  the fixed file is {state} ({len(fixed.result.errors)} error(s), "
              f"{len(fixed.result.warnings)} warning(s)); the exit status is about {submissions[0]}")
    if not all(r.valid for r in results):
        raise typer.Exit(1)


@guarded
def make_submission_command(
    predictions: Path = typer.Argument(
        ..., metavar="PREDICTIONS.csv", show_default=False,
        help="Any predictions CSV with an ID column (ImageID or dicom_id) and one probability "
             "column per class, in any order; extra columns and extra images are ignored."),
    ids: Path = typer.Option(..., "--ids", metavar="EVAL_LIST.csv", show_default=False,
                             help=_IDS_HELP),
    output: Path = typer.Option(..., "--output", "-o", metavar="OUT.csv", show_default=False,
                                help="Submission CSV to write (ImageID, then the classes in "
                                     "the official order, rows in evaluation-list order)."),
    code_dir: Optional[Path] = typer.Option(
        None, "--zip", metavar="CODE_DIR",
        help="Also write OUT.zip for the platform: the CSV plus CODE_DIR as its code/ folder "
             "(.git, __pycache__ and virtual environments left out)."),
    task: str = task_option(),
    decimals: Optional[int] = typer.Option(
        None, "--decimals", min=1, max=8,
        help="Round every value to this many decimals (default: copy values exactly as given, "
             "rounding only those given to more than 8 decimals, which --strict refuses)."),
    force: bool = force_option("Overwrite OUT.csv / OUT.zip if they exist."),
) -> None:
    """Write an upload-ready submission from a predictions file and the evaluation list.

    Refuses when an evaluation image has no prediction or a value is not a probability in [0, 1]: it never clips, fills or invents values. The result is validated before it is reported as written.
    """
    from lteval.submission import make_submission

    made = make_submission(predictions, ids, output, task, code_dir=code_dir, force=force,
                           decimals=decimals)
    typer.echo(f"wrote {made.csv_path}: {made.n_rows:,} rows in evaluation-list order, "
               "ImageID then the classes in the official order")
    if made.n_dropped:
        typer.echo(f"  left out {made.n_dropped:,} prediction row(s) for images outside the "
                   "evaluation list")
    if made.n_rounded:
        typer.echo(f"  rounded {made.n_rounded:,} value(s) given to more than 8 decimals to 8 "
                   "(what 'lteval validate --strict' accepts)")
    if made.ignored_columns:
        shown = ", ".join(repr(c) for c in made.ignored_columns[:8])
        typer.echo(f"  ignored column(s) that are not classes: {shown}")
    if made.zip_path is not None:
        typer.echo(f"wrote {made.zip_path}: the CSV plus code/ ({made.n_code_files:,} file(s))")
    r = made.result
    typer.echo(f"validated: valid ({len(r.warnings)} warning(s))")
    for w in r.warnings:
        typer.echo(f"  warning {w.where() + ': ' if w.where() else ''}{w.message} [{w.code}]")


def register(app: typer.Typer) -> None:
    app.command("validate")(validate_command)
    app.command("make-submission")(make_submission_command)
