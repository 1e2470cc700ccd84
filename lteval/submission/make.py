"""``make-submission``: turn any predictions CSV into an upload-ready submission.

Input: a CSV with an ID column (``ImageID`` or an alias such as ``dicom_id``)
and one probability column per class, in any order, possibly with extra columns
and extra images. Output: ``ImageID`` then the classes in the official order,
exactly the evaluation IDs, each once, in evaluation-list order; values copied
verbatim when given to at most 8 decimals (what ``lteval validate --strict`` accepts),
else rounded to 8 (or all rounded with ``decimals``). Optionally also the platform ``.zip``
(the CSV at the top level plus a ``code/`` folder).
"""

from __future__ import annotations

import csv
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from lteval.errors import InputError, UsageError, did_you_mean
from lteval.io.atomic import atomic_open, check_writable
from lteval.submission.evallist import read_eval_ids
from lteval.submission.result import ValidationResult
from lteval.submission.textstream import LineReader, sniff
from lteval.submission.validate import validate_submission
from lteval.submission.values import MAX_DECIMALS, check_value
from lteval.submission.values import decimals as n_decimals
from lteval.tasks import Task, get_task

#: Folders and files left out of the ``code/`` folder of the zip.
SKIP_DIRS = {".git", "__pycache__", ".ipynb_checkpoints", ".venv", "venv", ".mypy_cache",
             ".pytest_cache", ".tox", "node_modules"}
SKIP_FILES = {".DS_Store", "Thumbs.db"}
_MAX_LISTED = 5


@dataclass
class MadeSubmission:
    """What ``make_submission`` wrote and what it left out."""

    csv_path: Path
    zip_path: Path | None
    n_rows: int
    n_dropped: int  # prediction rows for images outside the evaluation list
    ignored_columns: list[str] = field(default_factory=list)
    n_code_files: int = 0
    result: ValidationResult | None = None
    n_rounded: int = 0  # values given to more than 8 decimals, rounded to 8


def _read_predictions(path: Path, task: Task, wanted: set[str], decimals: int | None):
    """``{id: [value strings in task order]}`` for the wanted IDs, plus counts; strict checks.

    Counts: rows dropped, columns ignored, values rounded (more than 8 decimals given).
    """
    name = str(path)
    if not path.exists():
        raise UsageError("predictions file does not exist", file=name)
    if path.is_dir():
        raise UsageError("expected a predictions CSV, got a directory", file=name)
    problems: list[str] = []
    with open(path, "rb") as f:
        found = sniff(f.read(1 << 16))
        if found is not None:
            raise InputError(found[1], file=name, code=found[0])
        f.seek(0)
        reader = LineReader(f, lambda sev, code, msg, line: problems.append((code, msg, line)))
        lines = iter(reader)
        header_line, h = None, 0
        for text in lines:
            h += 1
            if text.strip():
                header_line = text
                break
        if header_line is None:
            raise InputError("the file is empty", file=name)
        header = next(csv.reader([header_line]))
        names = [h.strip() for h in header]
        id_pos = None
        for cand in (task.id_column, *task.id_aliases):
            if cand in names:
                id_pos = names.index(cand)
                break
        if id_pos is None:
            raise InputError(f"no ID column: expected {task.id_column!r} (or "
                             f"{', '.join(repr(a) for a in task.id_aliases)})"
                             f"{did_you_mean(names[0], [task.id_column])}", file=name, line=1)
        pos = {}
        for i, n in enumerate(names):
            if n in task.classes and n not in pos:
                pos[n] = i
        missing = [c for c in task.classes if c not in pos]
        if missing:
            others = [n for i, n in enumerate(names) if i != id_pos and n not in task.classes]
            listed = "; ".join(f"{c!r}{did_you_mean(c, others)}" for c in missing[:_MAX_LISTED])
            more = f" and {len(missing) - _MAX_LISTED} more" if len(missing) > _MAX_LISTED else ""
            raise InputError(f"no column for {len(missing)} class(es) of task {task.name}: "
                             f"{listed}{more} (names are case- and space-sensitive)",
                             file=name, line=1)
        ignored = [n for i, n in enumerate(names) if i != id_pos and i not in pos.values()]
        order = [pos[c] for c in task.classes]
        out: dict[str, list[str]] = {}
        first: dict[str, int] = {}
        n_dropped = n_rounded = 0
        ln = 1
        rows = csv.reader(ln_ + "\n" for ln_ in lines)
        for fields in rows:
            ln = h + rows.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if len(fields) != len(header):
                raise InputError(f"expected {len(header)} fields like the header, found "
                                 f"{len(fields)}", file=name, line=ln)
            rid = fields[id_pos].strip()
            if rid not in wanted:
                n_dropped += 1
                continue
            vals = []
            for c, i in zip(task.classes, order):
                errs = [m for s, _c, m in check_value(fields[i]) if s == "error"]
                if errs:
                    raise InputError(errs[0] + " (make-submission never clips, fills or invents "
                                     "values)", file=name, line=ln, column=header[i])
                v = fields[i].strip()
                if decimals is not None:
                    v = f"{float(v):.{decimals}f}"
                elif n_decimals(v) > MAX_DECIMALS:
                    v = _round(v)
                    n_rounded += 1
                vals.append(v)
            if rid in out:
                if out[rid] != vals:
                    raise InputError(f"ID {rid!r} has two different predictions (lines "
                                     f"{first[rid]} and {ln})", file=name, line=ln)
                continue
            out[rid] = vals
            first[rid] = ln
    if problems:
        code, msg, line = problems[0]
        raise InputError(msg, file=name, line=line, code=code)
    return out, n_dropped, ignored, n_rounded


def _round(text: str) -> str:
    """A probability rounded to 8 decimals, trailing zeros dropped (as io.tables.format_probability;
    kept here so the validator's package imports no numpy)."""
    s = f"{float(text) + 0.0:.{MAX_DECIMALS}f}".rstrip("0")
    return s[:-1] if s.endswith(".") else s


def _zip_code(zip_path: Path, csv_path: Path, code_dir: Path, force: bool) -> int:
    skip = {zip_path.resolve(), csv_path.resolve()}
    files = []
    for root, dirs, names in os.walk(code_dir):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for n in sorted(names):
            p = Path(root) / n
            if (n in SKIP_FILES or n.endswith(".pyc") or n.startswith(f".{zip_path.name}.")
                    or p.is_symlink() or not p.is_file() or p.resolve() in skip):
                continue
            files.append(p)
    with atomic_open(zip_path, "wb", force=force) as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.write(csv_path, csv_path.name)
            zf.writestr(zipfile.ZipInfo("code/"), b"")
            for p in files:
                zf.write(p, "code/" + p.relative_to(code_dir).as_posix())
    return len(files)


def make_submission(predictions: str | Path, ids, out: str | Path, task: str | Task | None = None,
                    *, code_dir: str | Path | None = None, force: bool = False,
                    decimals: int | None = None) -> MadeSubmission:
    """Write a valid submission CSV (and, with ``code_dir``, the platform zip beside it).

    ``ids``: the evaluation list (path, organisers' shape or one column) or a sequence of
    IDs. Refuses when an evaluation ID has no prediction, a value is not a probability in
    [0, 1], or an output exists and ``force`` is false. ``decimals`` (at most 8) rounds
    every value; by default values are copied verbatim, except those given to more than
    8 decimals, which are rounded to 8 so the file passes ``lteval validate --strict``.
    """
    task = get_task(task)
    out = Path(out)
    if out.suffix.lower() != ".csv":
        raise UsageError("the output must be a .csv file (use --zip CODE_DIR for the archive)",
                         file=str(out))
    if decimals is not None and not 1 <= decimals <= MAX_DECIMALS:
        raise UsageError(f"--decimals must be between 1 and {MAX_DECIMALS} (more decimals fail "
                         "'lteval validate --strict')")
    zip_path = out.with_suffix(".zip") if code_dir is not None else None
    if code_dir is not None:
        code_dir = Path(code_dir)
        if not code_dir.is_dir():
            raise UsageError("--zip needs the folder holding your code", file=str(code_dir))
    check_writable(out, force)
    if zip_path is not None:
        check_writable(zip_path, force)
    eval_ids = read_eval_ids(ids) if isinstance(ids, (str, Path)) else [str(i) for i in ids]
    if len(set(eval_ids)) != len(eval_ids):
        raise InputError("the evaluation IDs contain duplicates")
    preds, n_dropped, ignored, n_rounded = _read_predictions(Path(predictions), task, set(eval_ids), decimals)
    missing = [i for i in eval_ids if i not in preds]
    if missing:
        listed = ", ".join(repr(m) for m in missing[:_MAX_LISTED])
        more = f" and {len(missing) - _MAX_LISTED:,} more" if len(missing) > _MAX_LISTED else ""
        raise InputError(f"{len(missing):,} of {len(eval_ids):,} evaluation IDs have no "
                         f"prediction: {listed}{more}", file=str(predictions), code="missing-id")
    with atomic_open(out, "w", force=force, newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([task.id_column, *task.classes])
        for rid in eval_ids:
            w.writerow([rid, *preds[rid]])
    n_code = 0
    if zip_path is not None:
        n_code = _zip_code(zip_path, out, code_dir, force)
    result = validate_submission(zip_path or out, task, eval_ids)
    if not result.valid:  # would be a bug in this module: say so rather than hand over a bad file
        raise InputError("the written submission does not validate: "
                         + "; ".join(p.message for p in result.errors[:3]), file=str(out))
    return MadeSubmission(out, zip_path, len(eval_ids), n_dropped, ignored, n_code, result,
                          n_rounded)


__all__ = ["make_submission", "MadeSubmission"]
