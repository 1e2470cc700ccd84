"""Text for Markdown tables: one escape for every cell the leaderboard and rank tables write."""

from __future__ import annotations

_MD_SPECIAL = "\\`*_[]|<>&~"


def md_escape(text: str) -> str:
    """Escape ``text`` for a Markdown table cell (no HTML, no formatting, no column breaks)."""
    out = []
    for ch in str(text).replace("\r", " ").replace("\n", " "):
        if ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == "&":
            out.append("&amp;")
        elif ch in _MD_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)
