"""Fast row matching: regular expressions built from a header's :class:`Layout`.

Each row is first matched against one expression that accepts only valid rows; only rows it
rejects are checked field by field (:mod:`lteval.submission.validate`), so a clean
1,000,000-row file takes seconds.
"""

from __future__ import annotations

import re
from typing import Callable

from lteval.submission.header import Layout
from lteval.submission.values import LOOSE_NUMBER, STRICT_NUMBER

#: Finds a value with more than 8 decimals (9 digits after a point).
LONG_DECIMALS = re.compile(r"\.[0-9]{9}").search

#: Above this many columns the row regex is not built (every row is checked field by field).
MAX_FAST_FIELDS = 512


def _no_match(line: str) -> None:
    return None


def row_matchers(layout: Layout) -> tuple[Callable, Callable]:
    """``(strict, loose)`` fullmatch functions for one row of ``layout``: ``strict`` accepts
    only valid rows (an ID, a plain probability with at most 8 decimals in every value
    column), ``loose`` also rows whose values have more decimals. Group 1 (or 2, for a
    quoted ID) is the ID. Above :data:`MAX_FAST_FIELDS` columns both match nothing."""
    # Atomic groups (?>...) and possessive *+ stop the engine from backtracking into a
    # field once it matched: no field can match a shorter prefix and still be followed by
    # the delimiter, so the language is unchanged and a failing row fails fast. The number
    # patterns use possessive repeats inside; the loose one's alternatives overlap ('1' and
    # '1.5e-1'), so its alternation itself must stay backtrackable.
    if layout.n_fields > MAX_FAST_FIELDS:  # compiling would take longer than checking
        return _no_match, _no_match
    d = re.escape(layout.delimiter)
    if layout.quoted:
        id_p = f'(?>"([^"\\s](?:[^"]*[^"\\s])?)"|([^"\\s{d}](?:[^"{d}]*[^"\\s{d}])?))'
        other = f'(?>"[^"]*"|[^"{d}]*)'
        strict = f'(?>{STRICT_NUMBER}|"{STRICT_NUMBER}")'
        loose = f'(?:{LOOSE_NUMBER}|"{LOOSE_NUMBER}")'
    else:
        id_p = f'((?>[^"\\s{d}](?:[^"{d}]*[^"\\s{d}])?))'  # non-empty, no surrounding space
        other, strict, loose = f'[^"{d}]*+', STRICT_NUMBER, LOOSE_NUMBER
    num_positions = set(layout.value_pos.values())
    parts_s, parts_l = [], []
    for i in range(layout.n_fields):
        if i == layout.id_pos:
            parts_s.append(id_p)
            parts_l.append(id_p)
        elif i in num_positions:
            parts_s.append(strict)
            parts_l.append(loose)
        else:
            parts_s.append(other)
            parts_l.append(other)
    return re.compile(d.join(parts_s)).fullmatch, re.compile(d.join(parts_l)).fullmatch

def numeric_row_finder(layout: Layout) -> Callable | None:
    """``search(line, pos)`` finding a character that cannot occur in a row of plain
    numbers (None when the layout does not allow the shortcut)."""
    if layout.quoted or not layout.value_pos:
        return None
    if sorted(layout.value_pos.values()) != [i for i in range(layout.n_fields)
                                             if i != layout.id_pos]:
        return None  # other columns (metadata ...) may hold anything
    return re.compile(f"[^0-9.+\\-{re.escape(layout.delimiter)}]").search
