"""``--write-fixed``: repair only what is unambiguous, never a value.

Fixed: column order, an alias ID column name (``dicom_id`` → ``ImageID``),
whitespace around column names, IDs and values, blank lines, a non-comma
delimiter, a UTF-8 BOM and old-Mac line endings. Never fixed: anything that would
need a value to be clipped, filled, rounded or invented.
"""

from __future__ import annotations

import contextlib
import csv
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from lteval.errors import InputError, UsageError
from lteval.io.atomic import atomic_open, check_writable
from lteval.submission.codes import FIXABLE_CODES
from lteval.submission.header import read_header
from lteval.submission.result import Collector, ValidationResult
from lteval.submission.textstream import LineReader, is_zip
from lteval.submission.validate import validate_submission
from lteval.tasks import Task, get_task


@dataclass
class FixResult:
    """The written file, what was changed, and the validation of the written file."""

    path: Path
    changes: list[str]
    result: ValidationResult


@contextlib.contextmanager
def _open_csv(src: Path) -> Iterator[BinaryIO]:
    """The CSV bytes of ``src``: the file itself, or the one CSV inside a platform zip."""
    with open(src, "rb") as f:
        head = f.read(8)
        f.seek(0)
        if not is_zip(head):
            yield f
            return
        from lteval.submission.zipcheck import check_zip
        with check_zip(f, Collector()) as opened:
            if opened is None:
                raise InputError("the archive holds no single readable CSV to fix", file=str(src))
            yield opened[1]


def write_fixed(src: str | Path, out: str | Path, task: str | Task | None = None, *,
                result: ValidationResult | None = None, force: bool = False) -> FixResult:
    """Write a corrected copy of submission ``src`` to ``out`` (a CSV); see the module doc.

    Refuses (:class:`~lteval.errors.InputError`) when ``src`` has a problem that is not
    safely fixable; refuses to overwrite ``out`` unless ``force``.
    """
    task = get_task(task)
    src, out = Path(src), Path(out)
    if out.exists() and out.resolve() == src.resolve():
        raise UsageError("--write-fixed must name a new file, not the submission itself",
                         file=str(out))
    check_writable(out, force)
    if result is None:
        result = validate_submission(src, task)
    blocking = [p for p in result.errors if p.code not in FIXABLE_CODES
                and not p.code.startswith("zip-")]
    if blocking:
        codes = ", ".join(sorted({p.code for p in blocking}))
        raise InputError(f"not writing a fixed file: {sum(p.count for p in blocking):,} problem(s) "
                         f"cannot be fixed without changing values or guessing ({codes}); the "
                         "fix-up only repairs column order, the ID column's name, whitespace, "
                         "blank lines, the delimiter and a BOM", file=str(src))
    changes: list[str] = []
    n_id_ws = n_val_ws = n_blank = n_rows = 0
    with _open_csv(src) as stream:
        col = Collector()
        reader = LineReader(stream, lambda *a: None)
        lines = iter(reader)
        header = next((ln for ln in lines if ln.strip()), None)
        if header is None:
            raise InputError("the file is empty", file=str(src))
        layout, _ = read_header(header, 1, task, col)
        if layout.id_pos is None or len(layout.class_pos) != task.n_classes:
            raise InputError("the header cannot be mapped onto the task's columns", file=str(src))
        order = [layout.class_pos[c] for c in task.classes]
        with atomic_open(out, "w", force=force, newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow([task.id_column, *task.classes])
            rows = csv.reader((ln + "\n" for ln in lines), delimiter=layout.delimiter)
            for fields in rows:
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    n_blank += 1
                    continue
                if len(fields) != layout.n_fields:
                    raise InputError(f"a row has {len(fields)} fields, expected {layout.n_fields}",
                                     file=str(src))
                rid = fields[layout.id_pos]
                if rid != rid.strip():
                    n_id_ws += 1
                vals = [fields[i] for i in order]
                n_val_ws += sum(1 for v in vals if v != v.strip())
                w.writerow([rid.strip(), *(v.strip() for v in vals)])
                n_rows += 1
    if reader.bom:
        changes.append("removed the UTF-8 byte-order mark")
    if layout.delimiter != ",":
        changes.append(f"changed the delimiter from {layout.delimiter!r} to ','")
    id_name = layout.fields[layout.id_pos]
    if id_name.strip() != task.id_column:
        changes.append(f"renamed the ID column {id_name!r} to {task.id_column!r}")
    stripped_names = [f for f in layout.fields if f != f.strip()]
    if stripped_names:
        changes.append("removed whitespace around column name(s) "
                       + ", ".join(repr(f) for f in stripped_names[:5]))
    if layout.id_pos != 0 or order != sorted(order):
        changes.append("put the columns in the official order (ID, then the classes as listed "
                       "by the task)")
    if n_id_ws:
        changes.append(f"removed surrounding whitespace from {n_id_ws:,} ID(s)")
    if n_val_ws:
        changes.append(f"removed surrounding whitespace from {n_val_ws:,} value(s)")
    if n_blank:
        changes.append(f"removed {n_blank:,} blank line(s)")
    if reader.cr_only:
        changes.append("converted old-Mac CR line endings to LF")
    fixed = validate_submission(out, task)
    return FixResult(out, changes, fixed)


__all__ = ["write_fixed", "FixResult"]
