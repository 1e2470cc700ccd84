"""The leaderboard store: one SQLite file of scored entries, written in single transactions.

Every ``add`` (and ``remove``) is one ``BEGIN IMMEDIATE … COMMIT`` transaction in
SQLite's rollback-journal mode with ``synchronous=FULL``: a process killed in the
middle leaves a hot journal that SQLite rolls back on the next open, so the
store is exactly as it was before. Reading never creates the file.

The published reference rows (:mod:`lteval.leaderboard.published`) are not stored:
they are shipped with the code and merged in by :func:`all_entries`.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sqlite3
from pathlib import Path
from typing import Any, Iterator

from lteval.errors import InputError, UsageError
from lteval.leaderboard.entry import METRICS, Entry, Result
from lteval.leaderboard.published import published_entries

#: Environment variable naming the store (overridden by ``--db``).
ENV_VAR = "LTEVAL_LEADERBOARD"
#: Store used when neither ``--db`` nor ``$LTEVAL_LEADERBOARD`` is given (relative to the cwd).
DEFAULT_DB = Path("leaderboard") / "leaderboard.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    task TEXT NOT NULL,
    source TEXT,
    added_at TEXT NOT NULL,
    lteval_version TEXT,
    config_json TEXT,
    UNIQUE (task, name)
);
CREATE TABLE IF NOT EXISTS results (
    entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    split TEXT NOT NULL,
    n_samples INTEGER,
    ci_level REAL,
    n_boot INTEGER,
    note TEXT,
    score_json TEXT,
    PRIMARY KEY (entry_id, split)
);
CREATE TABLE IF NOT EXISTS figures (
    entry_id INTEGER NOT NULL,
    split TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL,
    ci_lo REAL,
    ci_hi REAL,
    PRIMARY KEY (entry_id, split, metric),
    FOREIGN KEY (entry_id, split) REFERENCES results(entry_id, split) ON DELETE CASCADE
);
"""


def default_db_path() -> Path:
    """``$LTEVAL_LEADERBOARD`` if set, else ``leaderboard/leaderboard.sqlite`` under the cwd."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else DEFAULT_DB


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


class LeaderboardStore:
    """An open SQLite leaderboard file. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not self.path.exists() and not create:
            raise UsageError(f"no leaderboard store at {self.path}", file=str(self.path))
        if self.path.is_dir():
            raise UsageError("leaderboard store path is a directory; give a .sqlite file path",
                             file=str(self.path))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so one add is one transaction.
            self.conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=30)
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute("PRAGMA synchronous = FULL")
            self._init_schema()
        except sqlite3.DatabaseError as e:
            raise InputError(f"not a readable lteval leaderboard store ({e})",
                             file=str(self.path)) from None

    # -- schema ---------------------------------------------------------------------------
    def _init_schema(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise InputError(f"leaderboard store has schema version {version}; this lteval "
                             f"reads version {SCHEMA_VERSION} (upgrade lteval)", file=str(self.path))
        if version == SCHEMA_VERSION:
            return
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables - {"entries", "results", "figures", "sqlite_sequence"}:
            raise InputError("file is an SQLite database but not an lteval leaderboard store "
                             f"(tables: {', '.join(sorted(tables))})", file=str(self.path))
        with self.transaction() as c:
            c.executescript_in_tx(_SCHEMA)
            c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- transactions ---------------------------------------------------------------------
    def transaction(self) -> "_Tx":
        """``with store.transaction() as tx:`` — one BEGIN IMMEDIATE … COMMIT, rolled back on error."""
        return _Tx(self.conn)

    # -- writes ---------------------------------------------------------------------------
    def add(self, entry: Entry, *, replace: bool = False) -> Entry:
        """Store ``entry`` (kind 'lteval'); an existing (task, name) needs ``replace=True``."""
        if entry.kind != "lteval":
            raise UsageError("published rows are shipped with lteval and cannot be added")
        if not entry.results:
            raise InputError(f"entry {entry.name!r} has no results to add")
        reserved = {e.name for e in published_entries()}
        if entry.name in reserved:
            raise UsageError(f"{entry.name!r} is the name of a published reference row; "
                             "choose another with --name")
        added_at = entry.added_at or _now()
        with self.transaction() as tx:
            row = tx.execute("SELECT id FROM entries WHERE task = ? AND name = ?",
                             (entry.task, entry.name)).fetchone()
            if row is not None:
                if not replace:
                    raise UsageError(f"the leaderboard already has an entry {entry.name!r} for "
                                     f"{entry.task}; pass --replace to overwrite it or --name "
                                     "to add it under another name")
                tx.execute("DELETE FROM entries WHERE id = ?", (row[0],))
            cur = tx.execute(
                "INSERT INTO entries (name, task, source, added_at, lteval_version, config_json) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (entry.name, entry.task, entry.source, added_at, entry.lteval_version,
                 json.dumps(entry.config, sort_keys=True) if entry.config is not None else None))
            entry_id = cur.lastrowid
            for r in entry.results:
                self._insert_result(tx, entry_id, r)
        return self.get(entry.name, entry.task)  # type: ignore[return-value]

    def _insert_result(self, tx: "_Tx", entry_id: int, r: Result) -> None:
        tx.execute(
            "INSERT INTO results (entry_id, split, n_samples, ci_level, n_boot, note, score_json) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (entry_id, r.split, r.n_samples, r.ci_level, r.n_boot, r.note,
             json.dumps(r.score, allow_nan=False) if r.score is not None else None))
        for m in METRICS:
            if m not in r.metrics and m not in r.ci:
                continue
            lo, hi = r.ci.get(m, (None, None))
            tx.execute("INSERT INTO figures (entry_id, split, metric, value, ci_lo, ci_hi) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (entry_id, r.split, m, r.metrics.get(m), lo, hi))

    def remove(self, name: str, task: str | None = None) -> int:
        """Delete the entries called ``name`` (of ``task`` if given); returns how many."""
        with self.transaction() as tx:
            if task is None:
                cur = tx.execute("DELETE FROM entries WHERE name = ?", (name,))
            else:
                cur = tx.execute("DELETE FROM entries WHERE name = ? AND task = ?", (name, task))
            return cur.rowcount

    # -- reads ----------------------------------------------------------------------------
    def entries(self, task: str | None = None) -> list[Entry]:
        """Stored entries (no published rows), in insertion order."""
        q = "SELECT id, name, task, source, added_at, lteval_version, config_json FROM entries"
        args: tuple = ()
        if task is not None:
            q += " WHERE task = ?"
            args = (task,)
        out = []
        for (eid, name, etask, source, added, version, cfg) in self.conn.execute(q + " ORDER BY id", args):
            out.append(Entry(name=name, task=etask, kind="lteval", source=source, added_at=added,
                             lteval_version=version, config=json.loads(cfg) if cfg else None,
                             results=tuple(self._results(eid))))
        return out

    def get(self, name: str, task: str) -> Entry | None:
        for e in self.entries(task):
            if e.name == name:
                return e
        return None

    def _results(self, entry_id: int) -> Iterator[Result]:
        rows = self.conn.execute(
            "SELECT split, n_samples, ci_level, n_boot, note, score_json FROM results "
            "WHERE entry_id = ? ORDER BY split", (entry_id,)).fetchall()
        for split, n, level, n_boot, note, score_json in rows:
            metrics: dict[str, float | None] = {}
            ci: dict[str, tuple[float, float]] = {}
            for metric, value, lo, hi in self.conn.execute(
                    "SELECT metric, value, ci_lo, ci_hi FROM figures WHERE entry_id = ? AND split = ?",
                    (entry_id, split)):
                metrics[metric] = value
                if lo is not None and hi is not None:
                    ci[metric] = (lo, hi)
            yield Result(split=split, metrics=metrics, ci=ci, ci_level=level, n_boot=n_boot,
                         n_samples=n, note=note, score=json.loads(score_json) if score_json else None)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "LeaderboardStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Tx:
    """One explicit SQLite transaction: BEGIN IMMEDIATE on enter, COMMIT or ROLLBACK on exit."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> "_Tx":
        self.conn.execute("BEGIN IMMEDIATE")
        return self

    def execute(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, args)

    def executescript_in_tx(self, script: str) -> None:
        # sqlite3.executescript would COMMIT first; run the statements one by one instead.
        for stmt in script.split(";"):
            if stmt.strip():
                self.conn.execute(stmt)

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")


def all_entries(db: str | Path | None = None, *, task: str | None = None,
                include_published: bool = True) -> list[Entry]:
    """Published rows plus the entries stored in ``db`` (a missing store has none; not created)."""
    out = list(published_entries(task)) if include_published else []
    path = Path(db) if db is not None else default_db_path()
    if path.exists():
        with LeaderboardStore(path, create=False) as store:
            out.extend(store.entries(task))
    return out
