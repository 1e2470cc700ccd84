"""Checks on the platform upload: a ``.zip`` with one predictions CSV and a ``code/`` folder.

Nothing is extracted: member names and declared sizes are checked first, and the
one CSV is streamed from the archive (with its declared size as a hard limit).
"""

from __future__ import annotations

import contextlib
import zipfile
from pathlib import PurePosixPath
from typing import BinaryIO, Iterator

from lteval.submission.result import Collector

#: A member larger than this when uncompressed is refused (a real predictions CSV is < 1 GiB).
MAX_MEMBER_BYTES = 4 << 30
#: ... as is one that compresses better than this ratio while being over ``_RATIO_MIN_BYTES``.
MAX_RATIO = 200
_RATIO_MIN_BYTES = 64 << 20
#: ... and an archive whose members add up to more than this.
MAX_TOTAL_BYTES = 16 << 30
_IGNORED_PREFIXES = ("__MACOSX/",)
_IGNORED_NAMES = (".DS_Store", "Thumbs.db", "desktop.ini")


def unsafe_member(name: str) -> str | None:
    """Why a member path is unsafe to extract (absolute, drive letter, ``..``), else None."""
    norm = name.replace("\\", "/")
    if norm.startswith("/"):
        return "an absolute path"
    if len(norm) > 1 and norm[1] == ":":
        return "a drive-letter path"
    if ".." in norm.split("/"):
        return "a path containing '..'"
    return None


def _ignored(name: str) -> bool:
    return name.startswith(_IGNORED_PREFIXES) or PurePosixPath(name).name in _IGNORED_NAMES


@contextlib.contextmanager
def check_zip(f: BinaryIO, col: Collector) -> Iterator[tuple[zipfile.ZipInfo, BinaryIO] | None]:
    """Check the archive in file object ``f``; yield ``(info, stream)`` of its CSV or None.

    Problems (codes ``zip-*``, ``not-csv``) go to ``col``. The stream is only
    yielded when the CSV member itself is safe to read.
    """
    add = col.add
    try:
        zf = zipfile.ZipFile(f)
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
            NotImplementedError, RuntimeError) as e:
        add("error", "zip-unreadable", f"the archive cannot be read: {e}", unit="files")
        yield None
        return
    with zf:
        names = [i.filename for i in infos]
        if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
            add("error", "not-csv", "the file is an Excel workbook (.xlsx), not a submission: "
                "export the sheet as 'CSV UTF-8 (Comma delimited)'", unit="files")
            yield None
            return
        total = 0
        refused: set[str] = set()
        for info in infos:
            why = unsafe_member(info.filename)
            if why:
                add("error", "zip-unsafe-path", f"member {info.filename!r} has {why}; refusing "
                    "to extract it (use paths relative to the archive root)", unit="members")
                refused.add(info.filename)
            total += info.file_size
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > MAX_MEMBER_BYTES or (info.file_size > _RATIO_MIN_BYTES
                                                     and ratio > MAX_RATIO):
                add("error", "zip-bomb", f"member {info.filename!r} declares "
                    f"{info.file_size:,} bytes uncompressed ({ratio:,.0f}x its compressed size); "
                    "refusing to extract it", unit="members")
                refused.add(info.filename)
            if info.flag_bits & 0x1:
                add("error", "zip-encrypted", f"member {info.filename!r} is encrypted; the "
                    "platform cannot read it", unit="members")
                refused.add(info.filename)
        if total > MAX_TOTAL_BYTES:
            add("error", "zip-bomb", f"the members add up to {total:,} bytes uncompressed; "
                "refusing to extract the archive", unit="files")
        files = [i for i in infos if not i.is_dir() and not _ignored(i.filename)]
        csvs = [i for i in files if i.filename.lower().endswith(".csv")
                and not i.filename.replace("\\", "/").startswith("code/")]
        top_dirs = {n.replace("\\", "/").split("/", 1)[0] for n in names if "/" in n.replace("\\", "/")}
        has_code = "code" in top_dirs
        if not has_code:
            nested = sorted({n.split("/code/")[0] + "/code/" for n in (x.replace("\\", "/")
                                                                       for x in names)
                             if "/code/" in n})
            hint = (f"; found {nested[0]!r}: zip the folder's contents, not the folder itself"
                    if nested else "")
            add("error", "zip-no-code", "the archive has no top-level 'code/' folder (the "
                f"platform requires the code that produced the predictions){hint}",
                unit="files")
        if not csvs:
            others = [i.filename for i in files if not i.filename.startswith("code/")]
            hint = f" (found {', '.join(repr(o) for o in others[:3])})" if others else ""
            add("error", "zip-no-csv", f"the archive has no predictions .csv outside 'code/'{hint}",
                unit="files")
            yield None
            return
        if len(csvs) > 1:
            listed = ", ".join(repr(i.filename) for i in csvs[:5])
            add("error", "zip-several-csv", f"the archive has {len(csvs)} .csv files outside "
                f"'code/' ({listed}); it must hold exactly one predictions file", unit="files")
            yield None
            return
        info = csvs[0]
        if "/" in info.filename.replace("\\", "/"):
            add("warning", "zip-nested-csv", f"the predictions file {info.filename!r} is inside a "
                "folder; put it at the top level of the archive", unit="files")
        if info.filename in refused:
            yield None
            return
        try:
            stream = zf.open(info)
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError,
                EOFError) as e:
            add("error", "zip-unreadable", f"member {info.filename!r} cannot be read: {e}",
                unit="files")
            yield None
            return
        with stream:
            yield info, stream
