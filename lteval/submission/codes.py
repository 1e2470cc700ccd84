"""The validator's problem codes: one table, read by the docs, the fix-up and the tests.

Every problem :func:`~lteval.submission.validate_submission` reports has a stable ``code``
listed here with its severity, what it means (Markdown, as printed in docs/validate.md) and
whether ``--write-fixed`` repairs it. :data:`FIXABLE_CODES` and the table in docs/validate.md
(:func:`markdown_table`) are derived from :data:`PROBLEM_KINDS`; ``tests/test_validate_codes.py``
checks that every code the validator can emit is listed and that the docs show this table.
A new check is one entry here plus the line that emits it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProblemKind:
    """One row of the table: ``codes`` (one, or two closely related ones sharing a
    description), ``severity`` ("error" or "warning", before ``--strict``), ``what`` (Markdown)
    and ``fixable`` (``--write-fixed`` repairs it without changing a value)."""

    codes: tuple[str, ...]
    severity: str
    what: str
    fixable: bool = False


def _kind(*args, fixable: bool = False) -> ProblemKind:
    *codes, severity, what = args
    return ProblemKind(tuple(codes), severity, what, fixable)


#: Every problem code, in the order docs/validate.md lists them (roughly the order checked).
PROBLEM_KINDS: tuple[ProblemKind, ...] = (
    _kind('empty-file', 'error', 'no header at all (0 bytes, only blank lines or a BOM)'),
    _kind('not-csv', 'error',
          'the file is something else: binary, an HTML/XML page (a saved login or error page), '
          'JSON, Excel `.xlsx`/`.xls`, PDF, gzip, Parquet, an image, pickle'),
    _kind('encoding', 'error',
          'not UTF-8: UTF-16/32 (with or without BOM), or bytes that are not UTF-8 (says which '
          'byte on which line and suggests Windows-1252/Latin-1)'),
    _kind('delimiter', 'error',
          'fields separated by `;`, tab or `|` instead of commas (the rest of the file is then '
          'checked with that delimiter)', fixable=True),
    _kind('line-endings', 'warning',
          'old-Mac bare-CR line endings (LF and CRLF are both fine)', fixable=True),
    _kind('blank-header', 'error', 'blank lines before the header'),
    _kind('missing-header', 'error', 'line 1 is a data row'),
    _kind('missing-id-column', 'error',
          'no `ImageID` column (suggests a near miss such as `image_id`)'),
    _kind('alias-id-column', 'warning', 'the ID column is `dicom_id`, the 2024 name', fixable=True),
    _kind('header-whitespace', 'error',
          'a column name with surrounding spaces (`" Mass"`)', fixable=True),
    _kind('missing-column', 'unknown-column', 'error',
          'every class exactly once, names exact (case- and space-sensitive); near misses get '
          '"did you mean" (`Pneumoperitoneo`, `pneumoperitoneum` → `pneumoperitoneo`); metadata'
          ' columns (`PatientID`, `StudyDate_DICOM`) and unnamed columns (a trailing comma) are'
          ' unknown columns'),
    _kind('duplicate-column', 'error', 'a class or the ID column twice'),
    _kind('wrong-task', 'error',
          "the header holds the other task's classes (`pass --task cxrlt2026-task2`)"),
    _kind('column-order', 'warning',
          'columns differ from the official order (`ImageID`, then the classes as '
          '`Train_CLASS.txt` lists them)', fixable=True),
    _kind('field-count', 'error',
          'a row with more or fewer fields than the header (hints: trailing comma, decimal '
          'comma, truncated row)'),
    _kind('bad-quoting', 'error', 'a malformed or never-closed quoted field'),
    _kind('empty-id', 'error', 'a row without an ID'),
    _kind('id-whitespace', 'warning', 'an ID with surrounding whitespace', fixable=True),
    _kind('duplicate-id', 'error', 'an ID appears again (names the first line)'),
    _kind('unexpected-id', 'error',
          '(`--ids`) an ID not in the evaluation list (hints: a path instead of a file name, a '
          'missing `.png`)'),
    _kind('missing-id', 'error', '(`--ids`) an evaluation ID without a row'),
    _kind('wrong-id-set', 'error',
          '(`--ids`) none of the evaluation IDs appears (wrong list or phase)'),
    _kind('empty-value', 'error', 'an empty value or a missing-value marker (`NA`, `null`, `-`)'),
    _kind('not-a-number', 'error',
          'text, a decimal comma, a percentage, `True`; digits must be ASCII, `1_000`-style '
          'underscores are refused'),
    _kind('non-finite', 'error', '`nan`, `inf`, or a number that overflows (`1e999`)'),
    _kind('out-of-range', 'error',
          'below 0 (hint: logits?) or above 1 (hint: percentages or logits?)'),
    _kind('value-whitespace', 'warning', 'a value with surrounding whitespace', fixable=True),
    _kind('precision', 'warning',
          'a value given to more than 8 decimals (`0.123456789`, `1.2345e-05`)'),
    _kind('blank-line', 'warning', 'a blank line (most readers skip it)', fixable=True),
    _kind('no-rows', 'error', 'a header and nothing else'),
    _kind('read-error', 'error', 'the file could not be read to the end (I/O or zip CRC error)'),
    _kind('zip-unreadable', 'error',
          'not a readable zip archive, or the CSV member cannot be opened'),
    _kind('zip-unsafe-path', 'error',
          'a member with an absolute path, a drive letter or `..` (refused, never extracted)'),
    _kind('zip-bomb', 'error',
          'a member declaring an absurd uncompressed size (> 4 GiB, or > 64 MiB at a '
          'compression ratio over 200), members adding up to > 16 GiB, or a member that '
          'decompresses to more than it declares; refused, never extracted'),
    _kind('zip-encrypted', 'error', 'an encrypted member'),
    _kind('zip-no-code', 'error',
          'no top-level `code/` folder (points at `team/code/` if the folder itself was zipped)'),
    _kind('zip-no-csv', 'zip-several-csv', 'error',
          'not exactly one `.csv` outside `code/` (`__MACOSX/` and `.DS_Store` are ignored)'),
    _kind('zip-nested-csv', 'warning', 'the predictions CSV is inside a folder of the archive'),
)

#: code -> its :class:`ProblemKind`.
KINDS_BY_CODE: dict[str, ProblemKind] = {c: k for k in PROBLEM_KINDS for c in k.codes}

#: Every code, in table order.
CODES: tuple[str, ...] = tuple(KINDS_BY_CODE)

#: Problems ``write_fixed`` can repair without touching a value.
FIXABLE_CODES: frozenset[str] = frozenset(c for k in PROBLEM_KINDS if k.fixable for c in k.codes)


def markdown_table() -> str:
    """The "What is checked" table of docs/validate.md (Markdown, no trailing newline):
    one row per :class:`ProblemKind` with its code(s), severity, meaning and fix-up mark."""
    rows = ["| code | severity | what | fixed by `--write-fixed` |", "|---|---|---|---|"]
    for k in PROBLEM_KINDS:
        codes = " / ".join(f"`{c}`" for c in k.codes)
        rows.append(f"| {codes} | {k.severity} | {k.what} | {'yes |' if k.fixable else '|'}")
    return "\n".join(rows)
