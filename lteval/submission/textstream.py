"""Bytes to text lines, safely: recognise files that are not CSV, check the encoding.

:func:`sniff` looks at the first bytes and names what a non-CSV file is (Excel,
HTML, PDF, UTF-16 ...). :class:`LineReader` streams a binary file as decoded
lines (LF, CRLF or old-Mac CR endings), strips a UTF-8 BOM and reports bytes that
are not UTF-8 with the line they are on, decoding them as replacement characters
so that checking can go on.
"""

from __future__ import annotations

import itertools
from typing import BinaryIO, Callable, Iterator

BLOCK_BYTES = 1 << 22
#: A "line" longer than this is not a CSV row; stop instead of holding it in memory.
MAX_LINE_BYTES = 1 << 26

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls) or another "
                                          "Office document; export it as 'CSV UTF-8'"),
    (b"\x1f\x8b", "gzip-compressed; decompress it first"),
    (b"%PDF", "a PDF document"),
    (b"PAR1", "a Parquet file; write CSV instead"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x93NUMPY", "a NumPy .npy array; write CSV instead"),
    (b"\x80\x04", "a Python pickle; write CSV instead"),
    (b"\x80\x05", "a Python pickle; write CSV instead"),
    (b"7z\xbc\xaf", "a 7-Zip archive; use a .zip or a plain CSV"),
    (b"Rar!", "a RAR archive; use a .zip or a plain CSV"),
    (b"SQLite format 3", "an SQLite database"),
)

_UTF_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"),
    (b"\xfe\xff", "UTF-16 (big-endian)"),
)

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def is_zip(head: bytes) -> bool:
    return head[:4] in ZIP_MAGIC


def sniff(head: bytes) -> tuple[str, str] | None:
    """``(code, message)`` when ``head`` (the first bytes) cannot be a UTF-8 CSV, else None.

    Codes: ``empty-file``, ``encoding`` (UTF-16/32), ``not-csv``.
    """
    if not head.lstrip(b"\xef\xbb\xbf").strip():
        return ("empty-file", "the file is empty (expected a header line and one row per image)")
    for bom, name in _UTF_BOMS:
        if head.startswith(bom):
            return ("encoding", f"the file is {name} text, not UTF-8 (in Excel: "
                                "Save As 'CSV UTF-8 (Comma delimited)')")
    if is_zip(head):
        if b"[Content_Types].xml" in head or b"xl/" in head:
            return ("not-csv", "the file is an Excel workbook (.xlsx), not CSV: "
                               "export it as 'CSV UTF-8 (Comma delimited)'")
        return ("not-csv", "the file is a ZIP archive, not CSV (name it .zip to validate "
                           "it as a platform upload)")
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return ("not-csv", f"the file is {what}, not CSV")
    sample = head[:4096]
    if b"\x00" in sample:
        zeros_odd = sample[1::2].count(0)
        zeros_even = sample[0::2].count(0)
        if max(zeros_odd, zeros_even) > 0.3 * (len(sample) / 2) and min(zeros_odd, zeros_even) < 4:
            return ("encoding", "the file looks like UTF-16 text without a byte-order mark, "
                                "not UTF-8; save it as 'CSV UTF-8'")
        return ("not-csv", "the file is binary (it contains NUL bytes), not CSV text")
    start = sample.lstrip(b"\xef\xbb\xbf").lstrip().lower()
    if start.startswith((b"<!doctype", b"<html", b"<head", b"<body", b"<?xml", b"<!--", b"<meta",
                         b"<script", b"<div", b"<title")):
        return ("not-csv", "the file is an HTML/XML page, not CSV (a login or error page "
                           "saved instead of the file?)")
    if start[:1] in (b"{", b"["):
        return ("not-csv", "the file looks like JSON, not CSV")
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 13))
    if controls > max(8, len(sample) // 50):
        return ("not-csv", "the file is binary (many control bytes), not CSV text")
    return None


def _guess_8bit(raw: bytes) -> str:
    try:
        raw.decode("cp1252")
        return "Windows-1252 / Latin-1"
    except UnicodeDecodeError:
        return "an 8-bit code page such as Latin-1"


class LineReader:
    """Iterate the decoded lines of a binary stream (without line terminators).

    ``on_problem(severity, code, message, line)`` receives encoding and line-ending
    problems. After iteration, ``bom`` tells whether a UTF-8 BOM was removed,
    ``cr_only`` whether the file used old-Mac CR line endings, ``crlf`` whether
    it used CRLF, ``truncated`` whether reading stopped early (absurd line length).
    """

    def __init__(self, stream: BinaryIO, on_problem: Callable[..., None],
                 block_bytes: int = BLOCK_BYTES, max_bytes: int | None = None) -> None:
        """``block_bytes``: bytes read at a time; ``max_bytes``: stop (a ``zip-bomb`` error)
        after reading more than this many bytes (None: no limit)."""
        self.stream = stream
        self.on_problem = on_problem
        self.block_bytes = block_bytes
        self.max_bytes = max_bytes
        self.bom = False
        self.cr_only = False
        self.crlf = False
        self.truncated = False
        self.n_bad_lines = 0
        self._lines_before = 0  # lines fully delivered before the current block

    def _read(self) -> bytes:
        return self.stream.read(self.block_bytes)

    def blocks(self) -> Iterator[list[str]]:
        """Yield lists of decoded lines, block by block."""
        for text in self.text_blocks():
            yield text.split("\n")

    def text_blocks(self) -> Iterator[str]:
        """Yield decoded blocks of whole lines, joined by ``\\n`` (no trailing newline)."""
        rest = b""
        first = True
        total = 0
        while True:
            chunk = self._read()
            total += len(chunk)
            if self.max_bytes is not None and total > self.max_bytes:
                self.truncated = True
                self.on_problem("error", "zip-bomb", "the archive member decompresses to more "
                                "bytes than its header declares; refusing to read on", None)
                return
            if first and chunk:
                if chunk.startswith(b"\xef\xbb\xbf"):
                    self.bom = True
                    chunk = chunk[3:]
                head = chunk[:1 << 16]
                if b"\r" in head and b"\n" not in head:
                    self.cr_only = True
                    self.on_problem("warning", "line-endings", "lines end with a bare CR "
                                    "(old Mac format); use LF or CRLF", None)
                first = False
            if self.cr_only:
                chunk = chunk.replace(b"\r", b"\n")
            if not chunk:
                break
            data = rest + chunk if rest else chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                rest = data
                if len(rest) > MAX_LINE_BYTES:
                    self.truncated = True
                    self.on_problem("error", "not-csv", f"line {self._lines_before + 1} is longer "
                                    f"than {MAX_LINE_BYTES >> 20} MiB: not a CSV file", None)
                    return
                continue
            block, rest = data[:cut], data[cut + 1:]
            yield self._decode(block)
        if rest:
            yield self._decode(rest)

    def _decode(self, block: bytes) -> str:
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            text = "\n".join(self._decode_lines(block.split(b"\n")))
        else:
            if "\r" in text:
                self.crlf = True
                text = text.replace("\r\n", "\n")
                if text.endswith("\r"):
                    text = text[:-1]
        self._lines_before += text.count("\n") + 1
        return text

    def _decode_lines(self, raw_lines: list[bytes]) -> list[str]:
        out = []
        for i, raw in enumerate(raw_lines):
            try:
                s = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                self.n_bad_lines += 1
                bad = raw[e.start:e.start + 1]
                self.on_problem("error", "encoding",
                                f"byte 0x{bad.hex().upper()} at character {e.start + 1} is not "
                                f"valid UTF-8 (the file looks like {_guess_8bit(raw)} text; "
                                "save it as UTF-8)", self._lines_before + i + 1)
                s = raw.decode("utf-8", errors="replace")
            if s.endswith("\r"):
                self.crlf = True
                s = s[:-1]
            out.append(s.replace("\r\n", "\n"))
        return out

    def __iter__(self) -> Iterator[str]:
        return itertools.chain.from_iterable(self.blocks())
