"""The submission validator: one streaming pass over a CSV, every problem reported.

:func:`validate_submission` checks a ``.csv`` (or a platform ``.zip``, see
:mod:`lteval.submission.zipcheck`) against a task and, optionally, an
evaluation ID list, and returns a :class:`~lteval.submission.result.ValidationResult`.
It raises only for usage problems (missing file, unknown task, unreadable ID
list); everything wrong with the submission itself is a reported problem.

Speed: each row is first matched against one regular expression built from the
header that accepts only valid rows (IDs in the ID column, plain probabilities
in every class column). Rows that do not match are re-checked field by field
to say exactly what is wrong, so a clean 1,000,000-row file takes seconds.
"""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Sequence

from lteval.errors import InputError, UsageError, closest
from lteval.submission.result import Collector, Problem, ValidationResult
from lteval.submission import textstream
from lteval.submission.textstream import LineReader, is_zip, sniff
from lteval.submission.values import LOOSE_NUMBER, MAX_DECIMALS, STRICT_NUMBER, check_value, decimals
from lteval.tasks import BUILTIN_TASKS, Task, get_task

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


_LONG_DECIMALS = re.compile(r"\.[0-9]{9}").search

#: Above this many columns the row regex is not built (every row is checked field by field).
_MAX_FAST_FIELDS = 512


def _no_match(line: str) -> None:
    return None


def _split(line: str, delim: str) -> list[str]:
    if '"' not in line:
        return line.split(delim)
    try:
        return next(csv.reader([line], delimiter=delim, strict=True))
    except (csv.Error, StopIteration):
        return line.split(delim)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


class _CsvChecker:
    """Checks one CSV text stream; problems go to ``col``."""

    def __init__(self, task: Task, eval_ids: Sequence[str] | None, col: Collector) -> None:
        self.task = task
        self.eval_ids = eval_ids
        self.eval_set = set(eval_ids) if eval_ids is not None else None
        self.col = col
        self.n_rows = 0
        self.seen: dict[str, int] = {}
        self.layout: Layout | None = None
        self.bom = False
        self._numeric_row = None
        self._value_idx: list[int] = []
        self._value_slice: slice | None = None
        self._strict_value = re.compile(STRICT_NUMBER).fullmatch

    # -- header ------------------------------------------------------------------------------
    def _detect_delimiter(self, line: str, ln: int = 1) -> str:
        if "," in line:
            return ","
        counts = {d: line.count(d) for d in _DELIMITERS[1:]}
        best = max(counts, key=counts.get)
        if counts[best] > 0:
            self.col.add("error", "delimiter",
                         f"fields are separated by {_DELIM_NAMES[best]}s, not commas "
                         f"(expected a comma-separated file; checking the rest as "
                         f"{_DELIM_NAMES[best]}-separated)", ln, None, unit="lines")
            return best
        return ","

    def _header(self, line: str, ln: int) -> Layout | None:
        """Analyse the header line; return the layout used to check rows (None: give up)."""
        task, add = self.task, self.col.add
        delim = self._detect_delimiter(line, ln)
        fields = _split(line, delim)
        quoted = '"' in line
        classes = task.classes
        class_set = set(classes)
        id_names = (task.id_column,) + tuple(task.id_aliases)

        # a data row where the header should be?
        numeric = sum(1 for f in fields[1:] if not any(s == "error" for s, _, _ in check_value(f)))
        if len(fields) > 2 and numeric >= (len(fields) - 1) / 2 and not (set(fields) & class_set):
            exp = 1 + len(classes)
            add("error", "missing-header",
                f"line {ln} looks like a data row, not a header: the first line must name the "
                f"columns ({task.id_column}, then the {len(classes)} classes)", ln, None,
                unit="lines")
            if len(fields) == exp:
                layout = Layout([task.id_column, *classes], delim, 0,
                                {c: i + 1 for i, c in enumerate(classes)}, quoted)
                self.layout = layout
                self._slow_row(fields, ln, ln)  # still check the row itself
                return layout
            return Layout(fields, delim, 0, {}, quoted)

        # the ID column
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

        # class columns
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
            elif not self.col.wants_example("error", "unknown-column"):
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
        if (id_pos is not None and not missing and not unknown
                and len(fields) == 1 + len(classes)):
            expected = [fields[id_pos]] + list(classes)
            actual = [fields[id_pos]] + [f for i, f in enumerate(fields) if i != id_pos]
            if id_pos != 0 or actual != expected:
                k = next((j for j, (a, b) in enumerate(zip(fields, expected)) if a != b), 0)
                add("warning", "column-order",
                    f"columns are not in the official order ({task.id_column}, then the classes "
                    f"as the task lists them): column {k + 1} is {fields[k]!r}, expected "
                    f"{expected[k] if k else task.id_column!r}", ln, fields[k], unit="columns")
        value_pos = dict(class_pos)
        for i in unknown:  # values of misnamed columns are still checked
            if fields[i].strip() and fields[i] not in METADATA_COLUMNS and fields[i] not in value_pos:
                value_pos[fields[i]] = i
        value_pos = dict(sorted(value_pos.items(), key=lambda kv: kv[1]))
        return Layout(fields, delim, id_pos, class_pos, quoted, value_pos)

    # -- rows --------------------------------------------------------------------------------
    def _build_regexes(self, layout: Layout):
        # Atomic groups (?>...) and possessive *+ stop the engine from backtracking into a
        # field once it matched: no field can match a shorter prefix and still be followed by
        # the delimiter, so the language is unchanged and a failing row fails fast. The number
        # patterns use possessive repeats inside; the loose one's alternatives overlap ('1' and
        # '1.5e-1'), so its alternation itself must stay backtrackable.
        if layout.n_fields > _MAX_FAST_FIELDS:  # compiling would take longer than checking
            return _no_match, _no_match
        d = re.escape(layout.delimiter)
        if layout.quoted:
            id_p = f'(?>"([^"\\s](?:[^"]*[^"\\s])?)"|([^"\\s{d}](?:[^"{d}]*[^"\\s{d}])?))'
            other = f'(?>"[^"]*"|[^"{d}]*)'
            strict = f'(?>{STRICT_NUMBER}|"{STRICT_NUMBER}")'
            loose = f'(?:{LOOSE_NUMBER}|"{LOOSE_NUMBER}")'
        else:
            id_p = f'((?>[^"\\s{d}](?:[^"{d}]*[^"\\s{d}])?))'  # non-empty, no surrounding space
            other, strict, loose = f'[^"{d}]*+', STRICT_NUMBER, LOOSE_NUMBER
        num_positions = set(layout.value_pos.values())
        parts_s, parts_l = [], []
        for i in range(layout.n_fields):
            if i == layout.id_pos:
                parts_s.append(id_p)
                parts_l.append(id_p)
            elif i in num_positions:
                parts_s.append(strict)
                parts_l.append(loose)
            else:
                parts_s.append(other)
                parts_l.append(other)
        return re.compile(d.join(parts_s)).fullmatch, re.compile(d.join(parts_l)).fullmatch

    def _build_numeric_row(self, layout: Layout):
        """``search(line, pos)`` finding a character that cannot occur in a row of plain
        numbers (None when the layout does not allow the shortcut)."""
        if layout.quoted or not layout.value_pos:
            return None
        if sorted(layout.value_pos.values()) != [i for i in range(layout.n_fields)
                                                 if i != layout.id_pos]:
            return None  # other columns (metadata ...) may hold anything
        return re.compile(f"[^0-9.+\\-{re.escape(layout.delimiter)}]").search

    def _id(self, raw: str, ln: int) -> str | None:
        """Check one ID field; return the ID to record (stripped) or None."""
        s = raw.strip()
        idc = self.layout.fields[self.layout.id_pos] if self.layout else None
        if not s:
            self.col.add("error", "empty-id", "empty ID (every row needs the image's ID)", ln, idc)
            return None
        if s != raw:
            self.col.add("warning", "id-whitespace", f"ID {raw!r} has surrounding whitespace "
                         f"(it may not match {s!r})", ln, idc)
        self._record_id(s, ln)
        return s

    def _record_id(self, rid: str, ln: int) -> None:
        """Remember that ID ``rid`` is on line ``ln``; report it if seen before or not in the
        evaluation list. The one place row IDs are recorded (fast and slow paths)."""
        prev = self.seen.setdefault(rid, ln)
        if prev != ln:
            self._duplicate(rid, ln, prev)
        if self.eval_set is not None and rid not in self.eval_set:
            self._unexpected(rid, ln)

    def _duplicate(self, rid: str, ln: int, prev: int) -> None:
        if self.col.wants_example("error", "duplicate-id"):
            self.col.add("error", "duplicate-id", f"ID {rid!r} appears again (first on line "
                         f"{prev}); each image must appear exactly once", ln,
                         self.layout.fields[self.layout.id_pos])
        else:
            self.col.count("error", "duplicate-id", ln)

    def _unexpected(self, rid: str, ln: int) -> None:
        if not self.col.wants_example("error", "unexpected-id"):
            self.col.count("error", "unexpected-id", ln)
            return
        hint = ""
        base = rid.replace("\\", "/").rsplit("/", 1)[-1]
        if base != rid and base in self.eval_set:
            hint = f" (a path? use the file name {base!r})"
        elif rid + ".png" in self.eval_set:
            hint = " (missing the '.png' extension?)"
        else:
            near = closest(rid, [i for i in self.eval_ids[:5000]]) if len(rid) < 200 else []
            if near:
                hint = f" (did you mean {near[0]!r}?)"
        self.col.add("error", "unexpected-id", f"ID {rid!r} is not in the evaluation list{hint}",
                     ln, self.layout.fields[self.layout.id_pos])

    def _precision(self, line: str, ln: int) -> None:
        """A row the loose regex accepted but the strict one did not: count long decimals."""
        d = self.layout.delimiter
        start = line.find(d) if self.layout.id_pos == 0 else 0
        has_e = line.find("e", start) >= 0 or line.find("E", start) >= 0
        if not has_e and not self.col.wants_example("warning", "precision"):
            self.col.count("warning", "precision", ln)
            return
        fields = _split(line, d)
        bad = []
        for name, pos in self.layout.value_pos.items():
            v = fields[pos].strip('"')
            if decimals(v) > MAX_DECIMALS:
                bad.append((name, v))
        if not bad:
            return
        if not self.col.wants_example("warning", "precision"):
            self.col.count("warning", "precision", ln)
            return
        name, v = bad[0]
        more = f" ({len(bad) - 1} more in this row)" if len(bad) > 1 else ""
        self.col.add("warning", "precision", f"{v} is given to {decimals(v)} decimals (more than "
                     f"{MAX_DECIMALS}){more}", ln, name)

    def _slow_row(self, fields: list[str], ln: int, end_ln: int) -> None:
        """Check a parsed row field by field (rows the fast path did not accept)."""
        layout, col = self.layout, self.col
        self.n_rows += 1
        if len(fields) != layout.n_fields:
            hint = ""
            if len(fields) == layout.n_fields + 1 and fields[-1].strip() == "":
                hint = " (a trailing delimiter?)"
            elif len(fields) > layout.n_fields and layout.delimiter == ",":
                hint = " (a comma inside a value? decimal commas are not allowed)"
            elif len(fields) < layout.n_fields:
                hint = " (a truncated or incomplete row?)"
            span = f" (lines {ln}-{end_ln})" if end_ln != ln else ""
            col.add("error", "field-count", f"expected {layout.n_fields} fields (one per header "
                    f"column), found {len(fields)}{hint}{span}", ln, None)
            if layout.id_pos is not None and layout.id_pos < len(fields):
                self._id(fields[layout.id_pos], ln)
            return
        if layout.id_pos is not None:
            self._id(fields[layout.id_pos], ln)
        by_code: dict[tuple[str, str], list[tuple[str, str]]] = {}
        ok = self._strict_value
        for name, pos in layout.value_pos.items():
            v = fields[pos]
            if ok(v) is not None:
                continue
            for sev, code, msg in check_value(v):
                by_code.setdefault((sev, code), []).append((name, msg))
        for (sev, code), items in by_code.items():
            if not col.wants_example(sev, code):
                col.count(sev, code, ln)
                continue
            name, msg = items[0]
            if len(items) > 1:
                others = ", ".join(repr(n) for n, _ in items[1:4])
                more = ", ..." if len(items) > 4 else ""
                msg += f"; also in {_plural(len(items) - 1, 'other column')} of this row ({others}{more})"
            col.add(sev, code, msg, ln, name)

    def _count_numeric_row(self, line: str, ln: int) -> bool:
        """Count a row of plain numbers with some outside [0, 1] (logits, percentages) without
        checking it field by field, once examples of ``out-of-range`` are full. False: the row
        needs the field-by-field check."""
        if self._numeric_row is None or '"' in line:
            return False
        col = self.col
        if col.wants_example("error", "out-of-range"):
            return False
        layout = self.layout
        d = layout.delimiter
        start = line.find(d) + 1 if layout.id_pos == 0 else 0
        # only digits, '.', signs and delimiters after the ID (no e-notation, no text, no
        # whitespace, no NaN), and no value with more than 8 decimals
        if self._numeric_row(line, start) is not None or _LONG_DECIMALS(line, start) is not None:
            return False
        fields = line.split(d)
        if len(fields) != layout.n_fields:
            return False
        try:
            if self._value_slice is not None:
                vals = list(map(float, fields[self._value_slice]))
            else:
                vals = [float(fields[p]) for p in self._value_idx]
        except ValueError:  # '', '.', '1.2.3', '+-1': not plain numbers
            return False
        lo, hi = min(vals), max(vals)
        if (lo >= 0.0 and hi <= 1.0) or hi == math.inf or lo == -math.inf:
            return False
        self.n_rows += 1
        if layout.id_pos is not None:
            self._id(fields[layout.id_pos], ln)
        col.count("error", "out-of-range", ln)
        return True

    def _slow(self, line: str, ln: int, it: Iterator[str]) -> int:
        """Handle a line the fast path rejected; return the last line number it consumed."""
        if self._count_numeric_row(line, ln):
            return ln
        if not line.strip():
            self.col.add("warning", "blank-line", "blank line (most readers skip it; remove it)",
                         ln, None, unit="lines")
            return ln
        end = ln
        d = self.layout.delimiter
        if '"' in line:
            record = line
            while record.count('"') % 2:
                try:
                    nxt = next(it)
                except StopIteration:
                    self.col.add("error", "bad-quoting", f"a quoted field opened on line {ln} is "
                                 "never closed", ln, None)
                    break
                end += 1
                record += "\n" + nxt
            try:
                fields = next(csv.reader([record], delimiter=d, strict=True))
            except (csv.Error, StopIteration) as e:
                self.n_rows += 1
                self.col.add("error", "bad-quoting", f"malformed quoting: {e}", ln, None)
                return end
        else:
            fields = line.split(d)
        self._slow_row(fields, ln, end)
        return end

    def run(self, reader: LineReader) -> None:
        it = iter(reader)
        ln = 0
        header = None
        for line in it:
            ln += 1
            if line.strip():
                header = line
                break
            self.col.add("error", "blank-header", f"line {ln} is blank: the header must be on "
                         "line 1", ln, None, unit="lines")
        if header is None:
            if not reader.truncated:
                self.col.add("error", "empty-file", "the file is empty (expected a header line "
                             "and one row per image)", None, None)
            self.bom = reader.bom
            return
        layout = self.layout = self._header(header, ln)
        if layout is None:
            return
        fs, fl = self._build_regexes(layout)
        self._value_idx = idx = list(layout.value_pos.values())
        self._value_slice = (slice(idx[0], idx[-1] + 1) if idx and idx == list(range(idx[0], idx[-1] + 1))
                             else None)
        self._numeric_row = self._build_numeric_row(layout)
        has_id = layout.id_pos is not None
        quoted = layout.quoted
        record_id = self._record_id
        rows = 0
        # rows with long decimals once the examples are full: counted here, not per call
        n_long, first_long, last_long = 0, None, None
        col = self.col
        find_from = layout.delimiter if layout.id_pos == 0 else None
        for line in it:
            ln += 1
            m = fs(line)
            if m is None:
                m = fl(line)
                if m is None:
                    ln = self._slow(line, ln, it)
                    continue
                imprecise = True
            else:
                imprecise = False
            rows += 1
            if has_id:
                rid = m.group(1)
                if quoted and rid is None:
                    rid = m.group(2)
                record_id(rid, ln)
            if imprecise:
                if find_from is not None and n_long | (not col.wants_example("warning", "precision")):
                    start = line.find(find_from)
                    if line.find("e", start) < 0 and line.find("E", start) < 0:
                        n_long += 1  # a value with > 8 decimals and no e-notation: surely long
                        if first_long is None:
                            first_long = ln
                        last_long = ln
                        continue
                self._precision(line, ln)
        if n_long:
            col.count("warning", "precision", first_long, n=n_long, last=last_long)
        self.n_rows += rows
        self.bom = reader.bom

    def finish(self) -> None:
        if self.layout is None:
            return
        if self.n_rows == 0 and not self.col.has_errors():
            self.col.add("error", "no-rows", "the file has a header but no rows", None, None)
        if self.eval_ids is not None and self.layout.id_pos is not None:
            if len(self.seen) == len(self.eval_set) and self.eval_set.issuperset(self.seen):
                missing = []  # as many distinct IDs as the list has, all from the list
            else:
                missing = [i for i in self.eval_ids if i not in self.seen]
            if missing and len(missing) == len(self.eval_ids) and self.n_rows:
                self.col.add("error", "wrong-id-set",
                             f"none of the {len(self.eval_ids):,} evaluation IDs appears in the "
                             "submission (wrong evaluation list or phase?)", None,
                             self.layout.fields[self.layout.id_pos], unit="files")
            for rid in missing:
                if self.col.wants_example("error", "missing-id"):
                    self.col.add("error", "missing-id", f"evaluation ID {rid!r} has no row "
                                 "(every evaluation image needs a row)", None,
                                 self.layout.fields[self.layout.id_pos], unit="IDs")
                else:
                    self.col.count("error", "missing-id", None, unit="IDs")


#: What reading a file or zip member can raise midway (I/O, CRC, decompression errors).
_READ_ERRORS = (OSError, EOFError, ValueError, RuntimeError, zipfile.BadZipFile, zlib.error)


def check_csv_stream(stream: BinaryIO, task: Task, eval_ids: Sequence[str] | None,
                     col: Collector, max_bytes: int | None = None) -> tuple[int, bool]:
    """Check a CSV byte stream; problems go to ``col``. Returns ``(n_rows, had_bom)``.

    ``eval_ids``: the evaluation IDs (n,) every row's ID is checked against (None: any ID).
    ``max_bytes``: the most bytes the stream may hold (a zip member's declared size).
    """
    try:
        head = stream.read(1 << 16)
    except _READ_ERRORS as e:
        col.add("error", "read-error", f"reading stopped: {e}", None, None, unit="files")
        return 0, False
    found = sniff(head)
    if found is not None:
        col.add("error", found[0], found[1], None, None, unit="files")
        return 0, False
    stream = _Prefixed(head, stream)
    checker = _CsvChecker(task, eval_ids, col)
    reader = LineReader(stream, lambda sev, code, msg, line: col.add(sev, code, msg, line, None,
                                                                       unit="lines"),
                        block_bytes=textstream.BLOCK_BYTES, max_bytes=max_bytes)
    try:
        checker.run(reader)
    except _READ_ERRORS as e:
        col.add("error", "read-error", f"reading stopped: {e}", None, None, unit="files")
    checker.finish()
    return checker.n_rows, checker.bom


class _Prefixed(io.RawIOBase):
    """A stream that first returns ``head`` (already read) and then the rest of ``stream``."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n is None or n < 0:
                out, self._head = self._head + self._stream.read(), b""
                return out
            out, self._head = self._head[:n], self._head[n:]
            if len(out) < n:
                out += self._stream.read(n - len(out))
            return out
        return self._stream.read(n)

    def readable(self) -> bool:
        return True


def resolve_eval_ids(ids) -> list[str] | None:
    """``ids`` as a list: None, a path to an evaluation list, or a sequence of IDs."""
    if ids is None:
        return None
    if isinstance(ids, (str, Path)):
        from lteval.submission.evallist import read_eval_ids
        return read_eval_ids(ids)
    return [str(i) for i in ids]


def validate_submission(path: str | Path, task: str | Task | None = None, ids=None, *,
                        strict: bool = False, max_examples: int = 5) -> ValidationResult:
    """Validate a submission ``.csv`` or platform ``.zip``; never raises for a bad submission.

    ``task``: a task name, class-list path or :class:`Task` (default Task 1).
    ``ids``: evaluation IDs (a path to the organisers' list or a one-column list, or a
    sequence); when given, every ID must appear exactly once and no others.
    ``strict``: turn warnings into errors. ``max_examples``: problems shown per code
    before the rest are summarised as "N more rows like this".
    Raises :class:`~lteval.errors.UsageError` for a missing/unreadable file, task or ID list.
    """
    task = get_task(task)
    eval_ids = resolve_eval_ids(ids)
    p = Path(path)
    if not p.exists():
        raise UsageError("submission file does not exist", file=str(p))
    if p.is_dir():
        raise UsageError("expected a .csv or .zip file, got a directory", file=str(p))
    try:
        f = open(p, "rb")
    except OSError as e:
        raise UsageError(f"cannot read the file: {e.strerror or e}", file=str(p)) from None
    result = ValidationResult(file=str(p), task=task.name, strict=strict,
                              n_ids_expected=len(eval_ids) if eval_ids is not None else None)
    with f:
        try:
            head = f.read(8)
            f.seek(0)
        except OSError as e:
            raise UsageError(f"cannot read the file: {e.strerror or e}", file=str(p)) from None
        top = Collector(max_examples)
        if is_zip(head):
            from lteval.submission.zipcheck import check_zip
            member_col: Collector | None = None
            with check_zip(f, top) as opened:
                if opened is not None:
                    info, stream = opened
                    result.member = info.filename
                    member_col = Collector(max_examples, file=info.filename)
                    result.n_rows, result.bom = check_csv_stream(stream, task, eval_ids,
                                                                 member_col,
                                                                 max_bytes=info.file_size)
            cols = [top] + ([member_col] if member_col is not None else [])
        else:
            result.n_rows, result.bom = check_csv_stream(f, task, eval_ids, top)
            cols = [top]
    for c in cols:
        result.errors.extend(c.problems("error"))
        result.warnings.extend(c.problems("warning"))
    if strict and result.warnings:
        result.errors.extend(Problem(w.code, w.message + " (an error under --strict)", w.line,
                                     w.column, "error", w.file, w.count)
                             for w in result.warnings)
        result.warnings = []
    return result


__all__ = ["validate_submission", "check_csv_stream", "resolve_eval_ids", "Layout",
           "METADATA_COLUMNS", "InputError"]
