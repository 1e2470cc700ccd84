"""The lteval leaderboard: an SQLite store of scored runs plus shipped published reference rows.

``add`` copies figures from ``lteval score --json`` files (a run directory's ``scores/``);
``all_entries`` merges them with the published rows; ``render_markdown`` writes the table.
"""

from lteval.leaderboard.entry import METRICS, Entry, Result, result_from_score
from lteval.leaderboard.load import entry_from_path, run_name
from lteval.leaderboard.published import PUBLISHED, published_entries
from lteval.leaderboard.store import (
    DEFAULT_DB, ENV_VAR, LeaderboardStore, all_entries, default_db_path,
)
from lteval.leaderboard.mdtext import md_escape
from lteval.leaderboard.table import Row, render_markdown, rows

__all__ = [
    "METRICS", "Entry", "Result", "result_from_score", "entry_from_path", "run_name", "PUBLISHED",
    "published_entries", "DEFAULT_DB", "ENV_VAR", "LeaderboardStore", "all_entries",
    "default_db_path", "Row", "md_escape", "render_markdown", "rows",
]
