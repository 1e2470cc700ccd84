"""Atomic, non-clobbering writes: an output appears whole or not at all."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

from lteval.errors import OutputExistsError


def check_writable(path: str | Path, force: bool = False) -> Path:
    """Refuse an existing ``path`` unless ``force``; return it as a Path."""
    p = Path(path)
    if p.exists() and not force:
        raise OutputExistsError(f"{p} already exists; pass --force to overwrite it", file=None)
    return p


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", *, force: bool = True,
                encoding: str | None = "utf-8", newline: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only on success."""
    p = check_writable(path, force)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    binary = "b" in mode
    try:
        with os.fdopen(fd, mode, **({} if binary else {"encoding": encoding, "newline": newline})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | Path, text: str, *, force: bool = True) -> Path:
    with atomic_open(path, "w", force=force) as f:
        f.write(text)
    return Path(path)


def write_bytes_atomic(path: str | Path, data: bytes, *, force: bool = True) -> Path:
    with atomic_open(path, "wb", force=force) as f:
        f.write(data)
    return Path(path)


def write_json_atomic(path: str | Path, obj, *, force: bool = True, indent: int = 2) -> Path:
    """Write strict JSON (NaN/inf are refused: convert them to None first)."""
    text = json.dumps(obj, indent=indent, allow_nan=False, ensure_ascii=False) + "\n"
    return write_text_atomic(path, text, force=force)
