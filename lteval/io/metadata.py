"""Per-image metadata CSVs (patient, view, centre, sex, age, ...), joined by ID.

A metadata CSV has the task's ID column (``ImageID``, alias ``dicom_id``) and
any other columns, kept as text (an empty cell is a missing value, ``""``).
The organisers' files work as they are: the training CSV and the evaluation
lists carry ``StudyDate_DICOM`` and ``PatientID``, and every column is passed
through. Without a metadata file the labels CSV's own extra columns serve.

Checks (each an :class:`~lteval.errors.InputError` naming file, line, column):
the file exists and is UTF-8 CSV text, the ID column is there once, every row
has as many fields as the header, IDs are non-empty and unique, and every
evaluated ID has a metadata row (rows for other images are allowed: one file
may describe every split).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lteval.errors import InputError, UsageError, did_you_mean
from lteval.tasks import Task, get_task

_MAX_LISTED = 3
_ROUNDED = re.compile(r"^[+-]?\d(\.\d+)?[eE][+-]?\d+$")


class MetadataWarning(UserWarning):
    """A metadata column can be used but its values look doubtful (e.g. rounded patient IDs)."""


@dataclass(frozen=True)
class MetadataTable:
    """``ids`` (n,) str and ``columns`` {name: (n,) str array}; ``""`` is a missing value."""

    ids: np.ndarray
    columns: dict[str, np.ndarray]
    path: str = "<array>"

    def column(self, name: str, *, what: str = "column") -> np.ndarray:
        """The (n,) values of column ``name``; UsageError naming the choices otherwise."""
        if name not in self.columns:
            choices = ", ".join(map(repr, self.columns)) or "none"
            raise UsageError(f"{what} {name!r} is not a metadata column{did_you_mean(name, list(self.columns))}"
                             f"; {self.path} has: {choices}")
        return self.columns[name]

    def align(self, ids, *, labels_path: str = "the labels") -> "MetadataTable":
        """Rows in the order of ``ids``; InputError if any ID has no metadata row."""
        ids = np.asarray(ids).astype(str)
        pos = {k: i for i, k in enumerate(self.ids.tolist())}
        missing = [k for k in ids.tolist() if k not in pos]
        if missing:
            ex = ", ".join(map(repr, missing[:_MAX_LISTED]))
            raise InputError(f"{len(missing)} ID(s) of {labels_path} have no metadata row (e.g. {ex})",
                             file=self.path)
        idx = np.fromiter((pos[k] for k in ids.tolist()), dtype=np.int64, count=len(ids))
        return MetadataTable(ids, {c: v[idx] for c, v in self.columns.items()}, self.path)


def _open_text(path: Path) -> str:
    if not path.exists():
        raise UsageError("file does not exist", file=str(path))
    if path.is_dir():
        raise UsageError("expected a CSV file, got a directory", file=str(path))
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read file: {e.strerror or e}", file=str(path)) from None
    if not raw.strip():
        raise InputError("file is empty (expected a header line and data rows)", file=str(path))
    if raw.startswith(b"PK\x03\x04"):
        raise InputError("this is a zip archive (or an Excel .xlsx file), not a CSV file", file=str(path))
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError("file is UTF-16 encoded; save it as UTF-8 CSV", file=str(path))
    if b"\x00" in raw[:1 << 16]:
        raise InputError("file is binary, not CSV text", file=str(path))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"file is not UTF-8 text (invalid byte at offset {e.start})",
                         file=str(path)) from None


def read_metadata(path: str | Path, task: Task | str | None = None, *,
                  drop_classes: bool = False) -> MetadataTable:
    """Read a metadata CSV: the ID column + any columns, as text.

    ``drop_classes`` leaves out the task's class columns (reading a labels CSV's metadata).
    """
    path = Path(path)
    task = get_task(task)
    text = _open_text(path)
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(rows)
    except (StopIteration, csv.Error) as e:
        raise InputError(f"cannot parse CSV header: {e}", file=str(path), line=1) from None
    stripped = [h.strip() for h in header]
    if len(header) <= 1:
        for sep, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if sep in text.splitlines()[0]:
                raise InputError(f"wrong delimiter: the header is separated by {name}s; expected commas",
                                 file=str(path), line=1)
    id_at = None
    for cand in (task.id_column, *task.id_aliases):
        if stripped.count(cand) > 1:
            raise InputError(f"ID column {cand!r} appears more than once", file=str(path), line=1)
        if cand in stripped:
            id_at = stripped.index(cand)
            break
    if id_at is None:
        raise InputError(f"no ID column: expected {task.id_column!r} (or "
                         f"{', '.join(map(repr, task.id_aliases))}){did_you_mean(task.id_column, stripped)}",
                         file=str(path), line=1)
    seen: dict[str, int] = {}
    for i, h in enumerate(stripped):
        if h and h in seen and i != id_at:
            raise InputError(f"column {h!r} appears more than once", file=str(path), line=1, column=h)
        seen[h] = i
    skip = set(task.classes) if drop_classes else set()
    keep = [i for i, h in enumerate(stripped) if i != id_at and h and h not in skip]
    width = len(header)
    ids: list[str] = []
    line_of: list[int] = []
    cols: list[list[str]] = [[] for _ in keep]
    try:
        for row in rows:
            line_no = rows.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            if len(row) != width:
                raise InputError(f"row has {len(row)} fields, expected {width} (as many as the header)",
                                 file=str(path), line=line_no)
            ids.append(row[id_at].strip())
            line_of.append(line_no)
            for j, i in enumerate(keep):
                cols[j].append(row[i].strip())
    except csv.Error as e:
        raise InputError(f"cannot parse CSV: {e}", file=str(path)) from None
    if not ids:
        raise InputError("file has a header but no data rows", file=str(path))
    id_arr = np.array(ids, dtype=str)
    empty = np.flatnonzero(id_arr == "")
    if len(empty):
        raise InputError(f"empty ID ({len(empty)} row(s) without an ID)", file=str(path),
                         line=line_of[int(empty[0])], column=stripped[id_at])
    u, counts = np.unique(id_arr, return_counts=True)
    if (counts > 1).any():
        dup = u[np.argmax(counts > 1)]
        lines = [line_of[int(r)] for r in np.flatnonzero(id_arr == dup)[:5]]
        raise InputError(f"duplicate ID {str(dup)!r} on lines {', '.join(map(str, lines))}; "
                         "every ID must appear once", file=str(path), line=lines[0],
                         column=stripped[id_at])
    columns = {stripped[i]: np.array(c, dtype=str) for i, c in zip(keep, cols)}
    return MetadataTable(id_arr, columns, str(path))


def cluster_labels(meta: MetadataTable, column: str) -> np.ndarray:
    """The (n,) cluster of every row from ``column``; InputError on a missing value.

    Warns (:class:`MetadataWarning`) when values look like the official file's rounded
    scientific-notation PatientIDs (distinct patients would share a cluster).
    """
    import warnings

    v = meta.column(column, what="--cluster-by column")
    empty = np.flatnonzero(v == "")
    if len(empty):
        raise InputError(f"{len(empty)} evaluated image(s) have no {column!r} value (e.g. "
                         f"{meta.ids[empty[0]]!r}); every image needs a cluster", file=meta.path,
                         column=column)
    sample = v[: 5000]
    if np.mean([bool(_ROUNDED.match(s)) for s in sample]) >= 0.5:
        warnings.warn(f"{column!r} values look like rounded scientific notation (e.g. {sample[0]!r}): "
                      "different patients may share a value, which widens clustered intervals",
                      MetadataWarning, stacklevel=2)
    return v


__all__ = ["MetadataTable", "MetadataWarning", "read_metadata", "cluster_labels"]
