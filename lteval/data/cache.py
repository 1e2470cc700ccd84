"""Decode cache: every image decoded and resized once into a memory-mapped uint8 array.

Layout of ``<root>/.lteval_cache/<size>px/`` (or ``cache_dir``)::

    images.npy     uint8 (N, size, size), NumPy format, opened with mmap_mode="r"
    index.csv      ImageID of each row
    chunks.done    one chunk number a line, appended (and fsynced) as chunks finish
    meta.json      written last: {"complete": true, "size", "n", "ids_sha1", ...}

Rows hold exactly :func:`lteval.data.imageio.decode_u8`, so training from the cache sees the
same pixels as decoding on the fly. An interrupted build resumes where it stopped (chunks
already done are kept); a build for a different image list starts over.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from lteval.errors import LtevalError, UsageError
from lteval.io.atomic import write_json_atomic, write_text_atomic
from lteval.io.jsonfile import read_json
from lteval.io.progress import progress_enabled

CACHE_VERSION = 1


def _ids_sha1(ids) -> str:
    h = hashlib.sha1()
    for i in ids:
        h.update(str(i).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def cache_dir_for(source, size: int, cache_dir: str | Path | None = None) -> Path:
    """Where the cache of ``source`` at ``size`` px lives (``cache_dir`` overrides; env LTEVAL_CACHE_DIR too)."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("LTEVAL_CACHE_DIR")
    if env:
        key = hashlib.sha1(str(Path(source.root).resolve()).encode()).hexdigest()[:10]
        return Path(env) / f"{Path(source.root).name}-{key}" / f"{int(size)}px"
    return Path(source.root) / ".lteval_cache" / f"{int(size)}px"


class Cache:
    """A complete decode cache: ``get(image_id)`` → uint8 (size, size); ``in`` tests membership."""

    def __init__(self, path: Path, size: int, ids: np.ndarray):
        self.path = Path(path)
        self.size = int(size)
        self.ids = ids
        self.index = {v: i for i, v in enumerate(ids.tolist())}
        self._arr = None

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, image_id) -> bool:
        return str(image_id) in self.index

    @property
    def array(self) -> np.ndarray:
        if self._arr is None:
            self._arr = np.load(self.path / "images.npy", mmap_mode="r")
        return self._arr

    def get(self, image_id: str) -> np.ndarray:
        return np.asarray(self.array[self.index[str(image_id)]])

    def __getstate__(self):  # memmaps are reopened in each DataLoader worker
        d = dict(self.__dict__)
        d["_arr"] = None
        return d


def _decode_chunk(args):
    from lteval.data.imageio import decode_u8

    arr_path, chunk_no, rows, paths, size = args
    arr = np.load(arr_path, mmap_mode="r+")
    for r, p in zip(rows, paths):
        arr[r] = decode_u8(p, size)
    arr.flush()
    del arr
    return chunk_no, len(rows)


def build_cache(source, size: int = 512, workers: int | None = None, progress: bool = True, *,
                ids=None, cache_dir: str | Path | None = None, chunk: int = 256,
                on_chunk: Callable[[int, int], None] | None = None) -> Path:
    """Decode every image of ``source`` (training and evaluation lists, or ``ids``) into the cache.

    Parallel over ``workers`` processes (default: all cores), with a progress bar; resumable.
    ``on_chunk(done, total)`` is called after every finished chunk. Returns the cache folder.
    """
    if not 8 <= int(size) <= 4096:
        raise UsageError(f"cache size must be between 8 and 4096 pixels, got {size}")
    ids = np.asarray(source.all_ids() if ids is None else ids).astype(str)
    source.check_images(ids)
    d = cache_dir_for(source, size, cache_dir)
    d.mkdir(parents=True, exist_ok=True)
    n, size = len(ids), int(size)
    sha = _ids_sha1(ids)
    want = {"version": CACHE_VERSION, "size": size, "n": n, "ids_sha1": sha, "chunk": int(chunk),
            "image_dir": str(source.image_dir)}
    meta_p, build_p, arr_p, done_p = d / "meta.json", d / "building.json", d / "images.npy", d / "chunks.done"
    if meta_p.is_file():
        try:
            meta = read_json(meta_p, "cache metadata", expect=dict)
        except LtevalError:  # unreadable or not ours: rebuilt below
            meta = {}
        if meta.get("complete") and all(meta.get(k) == v for k, v in want.items() if k != "image_dir"):
            return d
        meta_p.unlink()
    resume = False
    if build_p.is_file() and arr_p.is_file():
        try:
            resume = read_json(build_p, "cache build record") == want
        except LtevalError:
            resume = False
    if not resume:
        for p in (arr_p, done_p, d / "index.csv"):
            p.unlink(missing_ok=True)
        np.lib.format.open_memmap(arr_p, mode="w+", dtype=np.uint8, shape=(n, size, size)).flush()
        write_text_atomic(d / "index.csv", "ImageID\n" + "".join(f"{i}\n" for i in ids))
        write_json_atomic(build_p, want)
        done_p.write_text("")
    done = {int(s) for s in done_p.read_text().split()} if done_p.is_file() else set()
    n_chunks = (n + chunk - 1) // chunk
    jobs = []
    for c in range(n_chunks):
        if c in done:
            continue
        rows = list(range(c * chunk, min(n, (c + 1) * chunk)))
        jobs.append((str(arr_p), c, rows, [str(source.image_path(ids[r])) for r in rows], size))
    workers = max(1, int(workers) if workers else (os.cpu_count() or 1))
    show = progress_enabled(progress)
    bar = task = None
    if show:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
        bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                       TimeRemainingColumn())
        bar.start()
        task = bar.add_task(f"decoding images at {size}px", total=n,
                            completed=sum(min(chunk, n - c * chunk) for c in done))
    n_done = len(done)
    try:
        with open(done_p, "a") as log:
            def record(c, k):
                nonlocal n_done
                log.write(f"{c}\n")
                log.flush()
                os.fsync(log.fileno())
                n_done += 1
                if bar:
                    bar.advance(task, k)
                if on_chunk:
                    on_chunk(n_done, n_chunks)

            if workers <= 1 or len(jobs) <= 1:
                for j in jobs:
                    record(*_decode_chunk(j))
            else:
                import multiprocessing as mp
                ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
                with ctx.Pool(min(workers, len(jobs))) as pool:
                    for c, k in pool.imap_unordered(_decode_chunk, jobs):
                        record(c, k)
    finally:
        if bar:
            bar.stop()
    write_json_atomic(meta_p, dict(want, complete=True))
    build_p.unlink(missing_ok=True)
    return d


def open_cache(source, size: int, *, cache_dir: str | Path | None = None) -> Cache | None:
    """The complete cache of ``source`` at ``size`` px, or None (absent, incomplete or for other images)."""
    d = cache_dir_for(source, size, cache_dir)
    try:
        meta = read_json(d / "meta.json", "cache metadata", expect=dict)
    except LtevalError:
        return None
    if not meta.get("complete") or meta.get("size") != int(size) or meta.get("version") != CACHE_VERSION:
        return None
    from lteval.data.source import read_id_list

    try:
        ids = read_id_list(d / "index.csv", "cache index")
    except Exception:
        return None
    if len(ids) != meta.get("n") or _ids_sha1(ids) != meta.get("ids_sha1"):
        return None
    return Cache(d, int(size), ids)


__all__ = ["build_cache", "open_cache", "Cache", "cache_dir_for"]
