"""Evaluation ID lists: the organisers' file or a plain one-column list.

The organisers ship ``CXRLT_2026_TEST_ALL_TASK1.csv`` as a header
``ImageID,StudyDate_DICOM,PatientID`` followed by 30 empty column names, with 30
empty trailing fields on every row (33 fields a line). Any CSV with an
``ImageID`` (or ``dicom_id``) column works the same way; a file with a single
column is read as one ID a line, with or without a header line.
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

from lteval.errors import InputError, UsageError
from lteval.submission.textstream import sniff
from lteval.tasks import ID_ALIASES, ID_COLUMN

_ID_NAMES = (ID_COLUMN,) + tuple(ID_ALIASES)
#: Single-column header names taken as a header rather than an ID.
_ONE_COLUMN_HEADERS = {"imageid", "image_id", "dicom_id", "id", "ids", "image", "filename",
                       "file", "path"}


def _fast_ids(text: str) -> list[str] | None:
    """The IDs when the file is plain (no quotes, ID first, the header's field count on every
    line, no blank line inside, no empty, padded or repeated ID); None to take the careful path."""
    end = text.find("\n")
    header = text if end < 0 else text[:end]
    if '"' in text or not (header.startswith((ID_COLUMN + ",", "dicom_id,"))
                           or header in _ID_NAMES):
        return None
    lines = text.split("\n")  # no copy of the body: one list of lines
    while lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 2:
        return None
    n = header.count(",")
    if not all(line.count(",") == n for line in itertools.islice(lines, 1, None)):
        return None
    ids = [line.partition(",")[0] for line in itertools.islice(lines, 1, None)]
    del lines
    if not all(ids) or any(i != i.strip() for i in ids) or len(set(ids)) != len(ids):
        return None
    return ids


def read_eval_ids(path: str | Path) -> list[str]:
    """The evaluation IDs of ``path``, in file order; every ID must be non-empty and unique.

    Surrounding whitespace is removed from IDs. Raises :class:`~lteval.errors.UsageError`
    when the file is missing or unreadable and :class:`~lteval.errors.InputError` (with the
    file and 1-based line) when it is malformed.
    """
    p = Path(path)
    name = str(p)
    if not p.exists():
        raise UsageError("evaluation ID list does not exist", file=name)
    if p.is_dir():
        raise UsageError("expected an evaluation ID list file, got a directory", file=name)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read the evaluation ID list: {e.strerror or e}", file=name) from None
    found = sniff(raw[:1 << 16])
    if found is not None:
        raise InputError(f"not an evaluation ID list: {found[1]}", file=name, code=found[0])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise InputError(f"byte 0x{raw[e.start]:02X} is not valid UTF-8 (save the list as UTF-8)",
                         file=name, line=line, code="encoding") from None
    del raw  # the list can be large (1,000,000 IDs): keep one copy of it
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    fast = _fast_ids(text)
    if fast is not None:
        return fast
    lines = text.split("\n")
    reader = csv.reader(lines, strict=True)
    ids: list[str] = []
    first_line: dict[str, int] = {}
    id_pos = None
    n_fields = None
    header_seen = False
    ln = 0
    try:
        for row in reader:
            ln = reader.line_num
            if not row or all(not f.strip() for f in row) and len(row) <= 1:
                continue  # blank line
            if not header_seen:
                header_seen = True
                n_fields = len(row)
                stripped = [f.strip() for f in row]
                for cand in _ID_NAMES:
                    if cand in stripped:
                        id_pos = stripped.index(cand)
                        break
                if id_pos is not None:
                    continue
                if len(row) == 1:
                    id_pos = 0
                    if stripped[0].lower() in _ONE_COLUMN_HEADERS:
                        continue
                else:
                    raise InputError(f"no {ID_COLUMN!r} column in the header (expected the "
                                     f"organisers' list with an {ID_COLUMN} column, or one ID "
                                     "a line)", file=name, line=ln, code="missing-id-column")
            if len(row) != n_fields:
                raise InputError(f"expected {n_fields} fields like the header, found {len(row)}",
                                 file=name, line=ln, code="field-count")
            rid = row[id_pos].strip()
            if not rid:
                raise InputError("empty ID", file=name, line=ln, column=ID_COLUMN, code="empty-id")
            if rid in first_line:
                raise InputError(f"ID {rid!r} is listed twice (first on line {first_line[rid]})",
                                 file=name, line=ln, column=ID_COLUMN, code="duplicate-id")
            first_line[rid] = ln
            ids.append(rid)
    except csv.Error as e:
        raise InputError(f"malformed CSV: {e}", file=name, line=reader.line_num or None,
                         code="bad-quoting") from None
    if not ids:
        raise InputError("the evaluation ID list holds no IDs", file=name, code="no-rows")
    return ids


__all__ = ["read_eval_ids"]
