"""Labels and predictions CSVs: read, check, join by ID, write.

A labels CSV has the task's ID column (``ImageID``, alias ``dicom_id``) and one
0/1 column per class; other columns (``StudyDate_DICOM``, ``PatientID``, ...)
are ignored. A predictions CSV has the ID column and one probability (or
logit, with ``kind="logits"``) column per class, in any order. Rows are
always joined by ID, never by position.

Every problem is raised as :class:`~lteval.errors.InputError` naming the file,
the line (1-based, as an editor shows it: the header is line 1), the column and
what was expected.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lteval.errors import InputError, UsageError, did_you_mean
from lteval.tasks import Task, get_task

#: Columns of the official training file that are metadata, not classes.
METADATA_COLUMNS = ("StudyDate_DICOM", "PatientID")
_MAX_LISTED = 5


@dataclass(frozen=True)
class LabelTable:
    """Ground truth: ``ids`` (n,) str, ``y`` (n, C) int8 in {0, 1}, columns in task order."""

    ids: np.ndarray
    y: np.ndarray
    task: Task
    path: str = "<array>"
    extra: dict | None = None  # ignored columns kept as str arrays (e.g. PatientID)


@dataclass(frozen=True)
class PredictionTable:
    """Scores: ``ids`` (n,) str, ``p`` (n, C) float64, columns in task order."""

    ids: np.ndarray
    p: np.ndarray
    task: Task
    path: str = "<array>"


def _read_head(path: Path) -> tuple[str, bytes]:
    """Check the file exists, is not empty, is UTF-8 text; return its first line and raw head."""
    if not path.exists():
        raise UsageError("file does not exist", file=str(path))
    if path.is_dir():
        raise UsageError("expected a CSV file, got a directory", file=str(path))
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError as e:
        raise UsageError(f"cannot read file: {e.strerror or e}", file=str(path)) from None
    if not head.strip():
        raise InputError("file is empty (expected a header line and data rows)", file=str(path))
    if head.startswith(b"PK\x03\x04"):
        raise InputError("this is a zip archive (or an Excel .xlsx file), not a CSV file",
                         file=str(path))
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputError("this is an Excel .xls file, not a CSV file", file=str(path))
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError("file is UTF-16 encoded; save it as UTF-8 CSV", file=str(path))
    if b"\x00" in head:
        raise InputError("file is binary, not CSV text", file=str(path))
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # not merely a multi-byte char cut at the buffer end
            raise InputError(f"file is not UTF-8 text (invalid byte at offset {e.start})",
                             file=str(path)) from None
    first = text.splitlines()[0] if text.splitlines() else ""
    low = first.lstrip().lower()
    if low.startswith(("<!doctype", "<html", "<?xml")):
        raise InputError("file is an HTML/XML page, not CSV (a failed download?)", file=str(path))
    return first, head


def _parse_header(path: Path, first_line: str, task: Task) -> list[str]:
    header = next(csv.reader(io.StringIO(first_line)))
    if len(header) <= 1:
        for sep, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if sep in first_line:
                raise InputError(f"wrong delimiter: the header is separated by {name}s; "
                                 "expected commas", file=str(path), line=1)
    return header


def _id_column(path: Path, header: list[str], task: Task) -> str:
    stripped = [h.strip() for h in header]
    for cand in (task.id_column, *task.id_aliases):
        if stripped.count(cand) > 1:
            raise InputError(f"ID column {cand!r} appears more than once", file=str(path), line=1)
        if cand in stripped:
            return header[stripped.index(cand)]
    raise InputError(
        f"no ID column: expected {task.id_column!r} (or {', '.join(map(repr, task.id_aliases))})"
        f"{did_you_mean(task.id_column, stripped)}", file=str(path), line=1)


def _class_columns(path: Path, header: list[str], id_col: str, task: Task,
                   allow_extra: bool) -> dict[str, str]:
    """Map each class to its header cell; errors for missing, duplicate or (optionally) extra."""
    counts: dict[str, int] = {}
    for h in header:
        counts[h] = counts.get(h, 0) + 1
    dup = [h for h, k in counts.items() if k > 1 and h in task.classes]
    if dup:
        raise InputError(f"class column {dup[0]!r} appears {counts[dup[0]]} times (expected once)",
                         file=str(path), line=1, column=dup[0])
    present = set(header)
    missing = [c for c in task.classes if c not in present]
    known = set(task.classes) | {id_col, task.id_column, *task.id_aliases}
    extra = [h for h in header if h not in known]
    if missing:
        hints = []
        for c in missing[:_MAX_LISTED]:
            near = [e for e in extra if e.strip().lower() == c.lower()] or \
                   [e for e in extra if did_you_mean(e, [c])]
            hints.append(f"{c!r}" + (f" (found {near[0]!r})" if near else ""))
        more = f" and {len(missing) - _MAX_LISTED} more" if len(missing) > _MAX_LISTED else ""
        from lteval.tasks import BUILTIN_TASKS

        other = [t.name for t in BUILTIN_TASKS.values()
                 if t.name != task.name and set(t.classes) <= present]
        if other:
            more += f"; the columns match task {other[0]!r}: pass --task {other[0]}"
        raise InputError(f"missing class column(s) of task {task.name}: {', '.join(hints)}{more}",
                         file=str(path), line=1, column=missing[0])
    if extra and not allow_extra:
        unknown = [e for e in extra if e not in METADATA_COLUMNS and e.strip() != ""]
        if unknown:
            e = unknown[0]
            raise InputError(f"unknown column {e!r}: not a class of task {task.name}"
                             f"{did_you_mean(e, task.classes)}", file=str(path), line=1, column=e)
    return {c: c for c in task.classes}


def _read_frame(path: Path, id_col: str, usecols: list[str]):
    import pandas as pd

    try:
        # No ``usecols``: pandas would then silently accept rows with too many fields.
        dtype = {id_col: str, **{m: str for m in METADATA_COLUMNS}}
        df = pd.read_csv(path, dtype=dtype, skip_blank_lines=False,
                         encoding="utf-8-sig", keep_default_na=True, na_values=[""],
                         low_memory=False)
    except pd.errors.ParserError as e:
        msg = str(e)
        line = None
        import re

        m = re.search(r"line (\d+), saw (\d+)", msg)
        if m:
            line = int(m.group(1))
            exp = re.search(r"Expected (\d+) fields", msg)
            raise InputError(f"row has {m.group(2)} fields, expected {exp.group(1) if exp else '?'} "
                             "(as many as the header)", file=str(path), line=line) from None
        raise InputError(f"cannot parse CSV: {msg}", file=str(path)) from None
    except UnicodeDecodeError as e:
        raise InputError(f"file is not UTF-8 text ({e.reason})", file=str(path)) from None
    except ValueError as e:
        raise InputError(f"cannot parse CSV: {e}", file=str(path)) from None
    if len(set(df.columns)) != len(df.columns) or not set(usecols) <= set(df.columns):
        raise InputError("header has repeated or unreadable column names", file=str(path), line=1)
    return df[usecols]


def _check_ids(path: Path, raw_ids, id_col: str) -> np.ndarray:
    import pandas as pd

    s = pd.Series(raw_ids, dtype=object)
    empty = s.isna() | (s.astype(str).str.strip() == "")
    if empty.any():
        i = int(np.flatnonzero(empty.to_numpy())[0])
        raise InputError(f"empty ID ({int(empty.sum())} row(s) without an ID)", file=str(path),
                         line=i + 2, column=id_col)
    ids = s.astype(str).str.strip().to_numpy(dtype=object)
    dup = pd.Series(ids).duplicated(keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        first_id = ids[rows[0]]
        lines = [int(r) + 2 for r in rows if ids[r] == first_id][:_MAX_LISTED]
        n_dup = int(pd.Series(ids).duplicated().sum())
        raise InputError(f"duplicate ID {first_id!r} on lines {', '.join(map(str, lines))} "
                         f"({n_dup} duplicate row(s) in all); every ID must appear once",
                         file=str(path), line=lines[0], column=id_col)
    return ids.astype(str)


def _numeric_matrix(path: Path, df, classes: tuple[str, ...], what: str) -> np.ndarray:
    """(n, C) float64 from the class columns; InputError at the first bad cell."""
    import pandas as pd

    out = np.empty((len(df), len(classes)), dtype=np.float64)
    for j, c in enumerate(classes):
        col = df[c]
        if col.dtype.kind in "fiub":
            vals = col.to_numpy(dtype=np.float64)
        else:
            vals = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
            bad = np.isnan(vals) & col.notna().to_numpy()
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InputError(f"non-numeric value {str(col.iloc[i])!r}: expected {what} "
                                 f"({int(bad.sum())} such cell(s) in this column)",
                                 file=str(path), line=i + 2, column=c)
        nan = np.isnan(vals)
        if nan.any():
            i = int(np.flatnonzero(nan)[0])
            raise InputError(f"empty or NaN value: expected {what} ({int(nan.sum())} such cell(s) "
                             "in this column)", file=str(path), line=i + 2, column=c)
        out[:, j] = vals
    return out


def _load(path, task, *, allow_extra: bool, what: str):
    """Checked ``(path, task, ids (n,) str, values (n, C) float64, extra {col: (n,) str})``.

    Plain files (see :mod:`lteval.io.plaincsv`) take the fast numpy path; any other
    file, and every file with a problem, goes through pandas, which names the line.
    """
    path = Path(path)
    task = get_task(task)
    first, _ = _read_head(path)
    header = _parse_header(path, first, task)
    id_col = _id_column(path, header, task)
    _class_columns(path, header, id_col, task, allow_extra)
    text_cols = [m for m in METADATA_COLUMNS if m in header] if allow_extra else []
    from lteval.io.plaincsv import read_plain

    fast = read_plain(path, header, id_col, task.classes, text_cols)
    if fast is not None:
        return (path, task, *fast)
    df = _read_frame(path, id_col, [id_col, *task.classes, *text_cols])
    if len(df) == 0:
        raise InputError("file has a header but no data rows", file=str(path))
    ids = _check_ids(path, df[id_col].to_numpy(dtype=object), id_col)
    vals = _numeric_matrix(path, df, task.classes, what)
    extra = {m: df[m].astype(str).to_numpy() for m in text_cols}
    return path, task, ids, vals, extra


def read_labels(path: str | Path, task: Task | str | None = None) -> LabelTable:
    """Read a labels CSV: ID column + one 0/1 column per class (extra columns ignored)."""
    path, task, ids, vals, extra = _load(path, task, allow_extra=True, what="a label 0 or 1")
    bad = (vals != 0) & (vals != 1)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise InputError(f"label {float(vals[i, j])!r} is not 0 or 1 ({int(bad.sum())} such cell(s))",
                         file=str(path), line=int(i) + 2, column=task.classes[j])
    return LabelTable(ids, vals.astype(np.int8), task, str(path), extra or None)


def read_predictions(path: str | Path, task: Task | str | None = None, *,
                     kind: str = "probs") -> PredictionTable:
    """Read a predictions CSV: ID column + one column per class, any column order.

    ``kind="probs"`` requires finite values in [0, 1]; ``kind="logits"`` any finite value.
    """
    if kind not in ("probs", "logits"):
        raise UsageError(f"kind must be 'probs' or 'logits', got {kind!r}")
    what = "a probability in [0, 1]" if kind == "probs" else "a finite number (logit)"
    path, task, ids, p, _ = _load(path, task, allow_extra=False, what=what)
    inf = ~np.isfinite(p)
    if inf.any():
        i, j = np.argwhere(inf)[0]
        raise InputError(f"infinite value: expected {what}", file=str(path), line=int(i) + 2,
                         column=task.classes[j])
    if kind == "probs":
        out = (p < 0) | (p > 1)
        if out.any():
            i, j = np.argwhere(out)[0]
            raise InputError(f"value {float(p[i, j])!r} is outside [0, 1] ({int(out.sum())} such "
                             "cell(s)); expected probabilities (pass logits through a sigmoid first)",
                             file=str(path), line=int(i) + 2, column=task.classes[j])
    return PredictionTable(ids, p, task, str(path))


def align(labels: LabelTable, preds: PredictionTable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Join by ID: ``(ids, y (n, C) int8, p (n, C) float64)`` in the labels' row order.

    Every labelled ID must have a prediction and every prediction a label.
    """
    if labels.task.classes != preds.task.classes:
        raise UsageError("labels and predictions use different tasks")
    a, b = np.asarray(labels.ids), np.asarray(preds.ids)
    if a.shape == b.shape:
        if np.array_equal(a, b):
            return labels.ids, labels.y, preds.p.copy()
        # one sort of each side; used when the sorted IDs agree and are unique
        oa, ob = np.argsort(a, kind="stable"), np.argsort(b, kind="stable")
        sa = a[oa]
        if np.array_equal(sa, b[ob]) and (len(sa) < 2 or bool(np.all(sa[1:] != sa[:-1]))):
            idx = np.empty(len(a), dtype=np.int64)
            idx[oa] = ob
            return labels.ids, labels.y, preds.p[idx]
    lab_ids, pred_ids = a.tolist(), b.tolist()  # plain str, not np.str_
    pos = dict(zip(pred_ids, range(len(pred_ids))))
    idx = [pos.get(k, -1) for k in lab_ids]
    # Unique IDs on both sides, equal counts and no missing ID make a bijection: no other check.
    if len(lab_ids) != len(pred_ids) or -1 in idx or len(set(idx)) != len(idx):
        missing = [k for k, i in zip(lab_ids, idx) if i < 0]
        lab = set(lab_ids)
        unexpected = [k for k in pred_ids if k not in lab]
        parts = []
        if missing:
            ex = ", ".join(map(repr, missing[:3]))
            parts.append(f"{len(missing)} labelled ID(s) have no prediction (e.g. {ex})")
        if unexpected:
            ex = ", ".join(map(repr, unexpected[:3]))
            parts.append(f"{len(unexpected)} predicted ID(s) are not in the labels "
                         f"{labels.path} (e.g. {ex})")
        if parts:
            raise InputError("; ".join(parts), file=preds.path, column=labels.task.id_column)
    return labels.ids, labels.y, preds.p[np.asarray(idx, dtype=np.int64)]


def format_float(x: float) -> str:
    """Shortest repr that round-trips exactly."""
    return repr(float(x))


#: Most decimals lteval writes for a probability it outputs: what ``lteval validate --strict``
#: accepts (lteval.submission.values.MAX_DECIMALS; a test keeps the two equal).
PROB_DECIMALS = 8


def format_probability(x: float, decimals: int = PROB_DECIMALS) -> str:
    """``x`` rounded to ``decimals`` places, trailing zeros dropped: ``0.5``, ``1``, ``0``.

    A value whose shortest repr has at most ``decimals`` places is written exactly.
    """
    s = f"{float(x) + 0.0:.{decimals}f}".rstrip("0")
    return s[:-1] if s.endswith(".") else s


def round_probabilities(p, decimals: int = PROB_DECIMALS) -> np.ndarray:
    """The float64 values a file written with ``decimals`` reads back as (same shape as ``p``)."""
    p = np.asarray(p, dtype=np.float64)
    fmt = f"{{:.{int(decimals)}f}}".format
    return np.array([float(fmt(v)) for v in (p + 0.0).ravel().tolist()], dtype=np.float64).reshape(p.shape)


def write_predictions(path: str | Path, ids, p, task: Task | str | None = None, *,
                      force: bool = False, decimals: int | None = None) -> Path:
    """Write a submission-format CSV: ID column then classes in official order.

    ``p`` is (n, C) float; values are written with the shortest exact repr, or with
    ``decimals`` (:func:`format_probability`; lteval's own probability outputs use
    :data:`PROB_DECIMALS`, so they pass ``lteval validate --strict``).
    """
    from lteval.io.atomic import atomic_open

    task = get_task(task)
    p = np.asarray(p, dtype=np.float64)
    ids = np.asarray(ids).astype(str)
    if p.ndim != 2 or p.shape != (len(ids), task.n_classes):
        raise UsageError(f"p must have shape ({len(ids)}, {task.n_classes}), got {p.shape}")
    with atomic_open(path, "w", force=force, newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([task.id_column, *task.classes])
        if decimals is None:
            for i, row in zip(ids, p.tolist()):
                w.writerow([i, *map(repr, row)])
        else:
            fmt = f"{{:.{int(decimals)}f}}".format
            for i, row in zip(ids, (p + 0.0).tolist()):
                w.writerow([i, *(_trim(fmt(v)) for v in row)])
    return Path(path)


def _trim(s: str) -> str:
    s = s.rstrip("0")
    return s[:-1] if s.endswith(".") else s


def write_labels(path: str | Path, ids, y, task: Task | str | None = None, *,
                 force: bool = False) -> Path:
    """Write a labels CSV: ID column then 0/1 class columns in official order."""
    from lteval.io.atomic import atomic_open

    task = get_task(task)
    y = np.asarray(y)
    ids = np.asarray(ids).astype(str)
    if y.shape != (len(ids), task.n_classes):
        raise UsageError(f"y must have shape ({len(ids)}, {task.n_classes}), got {y.shape}")
    with atomic_open(path, "w", force=force, newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([task.id_column, *task.classes])
        for i, row in zip(ids, y.astype(int).tolist()):
            w.writerow([i, *row])
    return Path(path)
