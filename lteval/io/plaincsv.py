"""Fast reader for *plain* CSV files: numpy's C parser, no pandas import.

A plain file is UTF-8 text with ``\\n`` (or ``\\r\\n``) line ends, no quotes, no
blank lines, no spaces or tabs after the header, the same number of fields on
every line, and values that are all valid: every ID non-empty, not a pandas NA
token and unique; every numeric cell a number (not NaN). That is what lteval,
pandas and every training script write.

:func:`read_plain` returns ``None`` for any file that is not plain, so the caller
falls back to the general reader (pandas), which gives the file/line/column
messages. Whatever the fast path accepts, the general reader would read to the
same IDs and the same float64 values (both parse with correctly rounded
conversions; the tests compare the two on random and adversarial files).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: Fields pandas reads as missing by default (``keep_default_na=True``); an ID or
#: metadata cell equal to one of these is left to the general reader.
PANDAS_NA_TOKENS = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
})


def read_plain(path: Path, header: list[str], id_col: str, numeric: tuple[str, ...] | list[str],
               text_cols: list[str] = ()) -> tuple[np.ndarray, np.ndarray, dict] | None:
    """Read a plain CSV -> ``(ids (n,) str, values (n, len(numeric)) float64, {col: (n,) str})``.

    ``header`` is the header as :mod:`csv` parsed it; ``numeric`` and ``text_cols``
    name header cells (columns come back in that order). Returns ``None`` when the
    file is not plain (see the module docstring), never raises for bad content.
    """
    if len(set(header)) != len(header):
        return None
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
    if '"' in text:
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            return None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if len(lines) < 2 or lines[0].split(",") != header:
        return None
    body = lines[1:]
    del lines
    start = text.find("\n") + 1
    if (text.find(" ", start) >= 0 or text.find("\t", start) >= 0
            or text.find("\n\n", start - 1) >= 0):  # spaces, tabs or a blank line
        return None
    k = len(header) - 1
    col = {h: i for i, h in enumerate(header)}
    usecols = [col[c] for c in numeric]
    # Every line must have k commas. When the last column is parsed, a short line fails
    # numpy's parser, so the total count suffices; otherwise count line by line.
    if text.count(",", start) != k * len(body):
        return None
    if k not in usecols and any(line.count(",") != k for line in body):
        return None
    j = col[id_col]
    if j == 0:
        raw_ids = [line.partition(",")[0] for line in body]
    else:
        raw_ids = [line.split(",", j + 1)[j] for line in body]
    if not PANDAS_NA_TOKENS.isdisjoint(raw_ids):
        return None
    ids = [s.strip() for s in raw_ids]
    if "" in ids or len(set(ids)) != len(ids):
        return None
    extra = {}
    if text_cols:
        rows = [line.split(",") for line in body]
        for c in text_cols:
            cells = [r[col[c]] for r in rows]
            if not PANDAS_NA_TOKENS.isdisjoint(cells):
                return None
            extra[c] = np.array(cells, dtype=str)
    values = None
    if j == 0 and text.isascii():
        values = _single_digits(text[start:], body, raw_ids, k, [c - 1 for c in usecols])
    del text
    if values is not None:
        return np.array(ids, dtype=str), values, extra
    try:
        values = np.loadtxt(body, dtype=np.float64, delimiter=",", comments=None,
                            quotechar=None, usecols=usecols, ndmin=2)
    except ValueError:
        return None
    if values.shape != (len(body), len(numeric)) or np.isnan(values).any():
        return None
    return np.array(ids, dtype=str), values, extra


def _single_digits(body_text: str, body: list[str], raw_ids: list[str], k: int,
                   cols: list[int]) -> np.ndarray | None:
    """Values of a file whose k non-ID cells are all one digit (a labels file), else None.

    ``body_text`` is ``"\\n".join(body)`` (ASCII), the ID is the first column. Every
    line then reads ``ID,d,d,...,d``: after the ID, 2k characters whose odd positions
    are digits (the line's k commas must then sit at the even ones).
    """
    n = len(body)
    lens = np.fromiter(map(len, body), dtype=np.int64, count=n)
    id_lens = np.fromiter(map(len, raw_ids), dtype=np.int64, count=n)
    if not np.array_equal(lens - id_lens, np.full(n, 2 * k)):
        return None
    buf = np.frombuffer(body_text.encode("ascii"), dtype=np.uint8)
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(lens[:-1] + 1, out=starts[1:])
    first = starts + id_lens + 1  # the first digit of every line
    digits = buf[first[:, None] + 2 * np.arange(k, dtype=np.int64)] - np.uint8(48)
    if (digits > 9).any():  # every cell, not only the ones asked for: see above
        return None
    return digits[:, cols].astype(np.float64)
