"""The submission validator: one streaming pass over a CSV, every problem reported.

:func:`validate_submission` checks a ``.csv`` (or a platform ``.zip``, see
:mod:`lteval.submission.zipcheck`) against a task and, optionally, an
evaluation ID list, and returns a :class:`~lteval.submission.result.ValidationResult`.
It raises only for usage problems (missing file, unknown task, unreadable ID
list); everything wrong with the submission itself is a reported problem.

The header is read by :mod:`lteval.submission.header` (a :class:`Layout`). Speed: each
row is first matched against one regular expression built from the layout that accepts
only valid rows (:mod:`lteval.submission.rowmatch`: IDs in the ID column, plain
probabilities in every class column). Rows that do not match are re-checked field by field
here to say exactly what is wrong, so a clean 1,000,000-row file takes seconds. The codes
of the problems are listed in :mod:`lteval.submission.codes`.
"""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator, Sequence

from lteval.errors import UsageError, closest
from lteval.submission import textstream
from lteval.submission.header import Layout, read_header, split_fields
from lteval.submission.result import Collector, Problem, ValidationResult
from lteval.submission.rowmatch import LONG_DECIMALS, numeric_row_finder, row_matchers
from lteval.submission.textstream import LineReader, is_zip, sniff
from lteval.submission.values import MAX_DECIMALS, STRICT_NUMBER, check_value, decimals
from lteval.tasks import Task, get_task


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

    # -- rows --------------------------------------------------------------------------------
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
        fields = split_fields(line, d)
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
        if self._numeric_row(line, start) is not None or LONG_DECIMALS(line, start) is not None:
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
        layout, data_row = read_header(header, ln, self.task, self.col)
        self.layout = layout
        if data_row is not None:
            self._slow_row(data_row, ln, ln)  # a data row where the header should be
        fs, fl = row_matchers(layout)
        self._value_idx = idx = list(layout.value_pos.values())
        self._value_slice = (slice(idx[0], idx[-1] + 1) if idx and idx == list(range(idx[0], idx[-1] + 1))
                             else None)
        self._numeric_row = numeric_row_finder(layout)
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


__all__ = ["validate_submission", "check_csv_stream", "resolve_eval_ids"]
