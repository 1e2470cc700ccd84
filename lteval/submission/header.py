"""A submission's header: which column holds the IDs and which the classes.

:func:`read_header` checks the header line against the task (delimiter, ID column, every class
exactly once, near misses, the other task's classes, column order) and returns the
:class:`Layout` the rows are checked with.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

from lteval.errors import closest
from lteval.submission.result import Collector
from lteval.submission.values import check_value
from lteval.tasks import BUILTIN_TASKS, Task

#: Columns of the organisers' files that are metadata, never part of a submission.
METADATA_COLUMNS = ("StudyDate_DICOM", "PatientID")
_DELIMITERS = (",", ";", "\t", "|")
_DELIM_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


@dataclass
class Layout:
    """How a header maps onto the task: ``fields`` as read, where the IDs and classes are."""

    fields: list[str]
    delimiter: str
    id_pos: int | None
    class_pos: dict[str, int]
    quoted: bool = False
    #: every column whose values must be probabilities (classes, and unknown named columns)
    value_pos: dict[str, int] | None = None

    def __post_init__(self) -> None:
        if self.value_pos is None:
            self.value_pos = dict(self.class_pos)

    @property
    def n_fields(self) -> int:
        return len(self.fields)


def split_fields(line: str, delim: str) -> list[str]:
    """The fields of one CSV line split at ``delim`` (quotes honoured when present and well
    formed; a malformed quoted line is split naively, for messages)."""
    if '"' not in line:
        return line.split(delim)
    try:
        return next(csv.reader([line], delimiter=delim, strict=True))
    except (csv.Error, StopIteration):
        return line.split(delim)


def detect_delimiter(line: str, col: Collector, ln: int = 1) -> str:
    """The delimiter of header ``line`` (line ``ln``): a comma when there is one, else the
    most frequent of ``;``, tab and ``|`` (reported as a ``delimiter`` error to ``col``)."""
    if "," in line:
        return ","
    counts = {d: line.count(d) for d in _DELIMITERS[1:]}
    best = max(counts, key=counts.get)
    if counts[best] > 0:
        col.add("error", "delimiter",
                f"fields are separated by {_DELIM_NAMES[best]}s, not commas "
                f"(expected a comma-separated file; checking the rest as "
                f"{_DELIM_NAMES[best]}-separated)", ln, None, unit="lines")
        return best
    return ","

def read_header(line: str, ln: int, task: Task,
                col: Collector) -> tuple[Layout, list[str] | None]:
    """Check header ``line`` (line ``ln`` of the file) against ``task``; problems go to ``col``.

    Returns the :class:`Layout` used to check the rows and, when the line is a data row of
    the right width instead of a header (a ``missing-header`` error), its fields (the caller
    checks them as a row; else None).
    """
    add = col.add
    delim = detect_delimiter(line, col, ln)
    fields = split_fields(line, delim)
    quoted = '"' in line
    classes = task.classes
    class_set = set(classes)

    # a data row where the header should be?
    numeric = sum(1 for f in fields[1:] if not any(s == "error" for s, _, _ in check_value(f)))
    if len(fields) > 2 and numeric >= (len(fields) - 1) / 2 and not (set(fields) & class_set):
        exp = 1 + len(classes)
        add("error", "missing-header",
            f"line {ln} looks like a data row, not a header: the first line must name the "
            f"columns ({task.id_column}, then the {len(classes)} classes)", ln, None,
            unit="lines")
        if len(fields) == exp:  # the caller still checks the row itself
            return Layout([task.id_column, *classes], delim, 0,
                          {c: i + 1 for i, c in enumerate(classes)}, quoted), fields
        return Layout(fields, delim, 0, {}, quoted), None

    id_pos = _find_id_column(fields, ln, task, col)
    class_pos, unknown = _map_classes(fields, id_pos, ln, task, col)
    missing = _report_unmapped(fields, class_pos, unknown, ln, task, col)
    if (id_pos is not None and not missing and not unknown
            and len(fields) == 1 + len(classes)):
        _check_order(fields, id_pos, ln, task, col)
    value_pos = dict(class_pos)
    for i in unknown:  # values of misnamed columns are still checked
        if fields[i].strip() and fields[i] not in METADATA_COLUMNS and fields[i] not in value_pos:
            value_pos[fields[i]] = i
    value_pos = dict(sorted(value_pos.items(), key=lambda kv: kv[1]))
    return Layout(fields, delim, id_pos, class_pos, quoted, value_pos), None


def _find_id_column(fields: list[str], ln: int, task: Task, col: Collector) -> int | None:
    """Position of the ID column among ``fields`` (an alias, a name with stray spaces or a
    near miss is reported and still used); None when there is no plausible one."""
    add = col.add
    class_set = set(task.classes)
    id_names = (task.id_column,) + tuple(task.id_aliases)
    id_pos = None
    positions = {}
    for i, f in enumerate(fields):
        positions.setdefault(f, []).append(i)
    for name in id_names:
        if name in positions:
            id_pos = positions[name][0]
            if name != task.id_column:
                add("warning", "alias-id-column",
                    f"the ID column is named {name!r} (the 2024 name); the official name "
                    f"is {task.id_column!r}", ln, name, unit="columns")
            for extra in positions[name][1:]:
                add("error", "duplicate-column", f"the ID column appears twice (columns "
                    f"{id_pos + 1} and {extra + 1})", ln, name, unit="columns")
            break
    if id_pos is None:
        for i, f in enumerate(fields):
            if f.strip() in id_names:
                id_pos = i
                add("error", "header-whitespace",
                    f"column name {f!r} has surrounding whitespace (expected "
                    f"{task.id_column!r}; names are space-sensitive)", ln, f, unit="columns")
                break
    if id_pos is None:
        candidates = [f for f in fields if f not in class_set]
        guess = None
        for f in candidates:
            if closest(f, id_names) or f.strip().lower() in ("id", "image_id", "imageid",
                                                           "image", "filename", "path"):
                guess = f
                break
        if guess is None and fields and fields[0] not in class_set:
            guess = fields[0]
        hint = f" (did you mean to call {guess!r} {task.id_column!r}?)" if guess else ""
        add("error", "missing-id-column",
            f"no {task.id_column!r} column: the first column must hold the image IDs"
            f"{hint}", ln, task.id_column, unit="columns")
        if guess is not None:
            id_pos = fields.index(guess)

    return id_pos


def _map_classes(fields: list[str], id_pos: int | None, ln: int, task: Task,
                 col: Collector) -> tuple[dict[str, int], list[int]]:
    """``(class_pos, unknown)``: the position of each class column found (a name with stray
    spaces is reported and still used) and the positions of the other columns."""
    add = col.add
    class_set = set(task.classes)
    id_names = (task.id_column,) + tuple(task.id_aliases)
    class_pos: dict[str, int] = {}
    unknown: list[int] = []
    for i, f in enumerate(fields):
        if i == id_pos or f in id_names:
            continue
        if f in class_set:
            if f in class_pos:
                add("error", "duplicate-column", f"class column appears twice (columns "
                    f"{class_pos[f] + 1} and {i + 1})", ln, f, unit="columns")
            else:
                class_pos[f] = i
        else:
            unknown.append(i)
    for i in list(unknown):
        s = fields[i].strip()
        if s != fields[i] and s in class_set and s not in class_pos:
            class_pos[s] = i
            unknown.remove(i)
            add("error", "header-whitespace", f"column name {fields[i]!r} has surrounding "
                f"whitespace (expected {s!r}; names are space-sensitive)", ln, fields[i],
                unit="columns")
    return class_pos, unknown


def _report_unmapped(fields: list[str], class_pos: dict[str, int], unknown: list[int], ln: int,
                     task: Task, col: Collector) -> list[str]:
    """Report the unknown columns, the classes without a column and a header of another
    task; return the missing classes."""
    add = col.add
    classes = task.classes
    missing = [c for c in classes if c not in class_pos]
    unknown_names = [fields[i] for i in unknown]
    for i in unknown:
        f = fields[i]
        if f.strip() == "":
            add("error", "unknown-column", f"column {i + 1} has no name (a trailing "
                "delimiter? every column must be the ID or a class)", ln, f, unit="columns")
        elif f in METADATA_COLUMNS:
            add("error", "unknown-column", f"{f!r} is a metadata column of the evaluation "
                "list, not a class; remove it", ln, f, unit="columns")
        elif not col.wants_example("error", "unknown-column"):
            add("error", "unknown-column", "", ln, f, unit="columns")  # only counted
        else:
            hits = closest(f, missing) or closest(f, classes)
            hint = ""
            if hits:
                why = (" names are case- and space-sensitive"
                       if hits[0].lower() == f.strip().lower() else "")
                hint = f" (did you mean {hits[0]!r}?{why})"
            add("error", "unknown-column", f"{f!r} is not a class of task {task.name}{hint}",
                ln, f, unit="columns")
    for c in missing:
        hits = closest(c, unknown_names[:200]) if len(missing) <= 50 else []
        hint = f" (is {hits[0]!r} meant to be this class?)" if hits else ""
        add("error", "missing-column", f"no column for class {c!r}{hint}", ln, c,
            unit="columns")
    if len(missing) > len(classes) / 2:
        present = set(fields) | {f.strip() for f in fields}
        for other in BUILTIN_TASKS.values():
            n_other = len(set(other.classes) & present)
            if (other.name != task.name and n_other > len(other.classes) / 2
                    and n_other > len(classes) - len(missing)):
                add("error", "wrong-task", f"the header has the classes of task {other.name}; "
                    f"pass --task {other.name}", ln, None, unit="columns")
    return missing


def _check_order(fields: list[str], id_pos: int, ln: int, task: Task, col: Collector) -> None:
    """Warn (``column-order``) when the complete, exact columns are not in the official order."""
    add = col.add
    classes = task.classes
    expected = [fields[id_pos]] + list(classes)
    actual = [fields[id_pos]] + [f for i, f in enumerate(fields) if i != id_pos]
    if id_pos != 0 or actual != expected:
        k = next((j for j, (a, b) in enumerate(zip(fields, expected)) if a != b), 0)
        add("warning", "column-order",
            f"columns are not in the official order ({task.id_column}, then the classes "
            f"as the task lists them): column {k + 1} is {fields[k]!r}, expected "
            f"{expected[k] if k else task.id_column!r}", ln, fields[k], unit="columns")
