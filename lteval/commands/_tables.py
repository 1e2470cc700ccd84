"""One table printer for every command: names whole, on one line, at any width.

Rich shrinks and wraps columns to fit the console (80 columns when piped), which
cuts class names such as ``vertebral degenerative changes`` in two. Here a
*name* column is never wrapped, shrunk or dropped; when the table does not fit,
the other columns are dropped in the order given (the table says which), and
when even the names alone do not fit, every row is stacked: its name on one
line, its values indented below. Titles print above the table, wrapped as prose.
``--json`` remains the machine-readable form of every table.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text


@dataclass(frozen=True)
class Col:
    """A column. ``name``: kept whole, never dropped. ``drop``: columns with a higher
    number are dropped first when the table is too wide (0: never dropped).
    ``wrap``: free text that may wrap inside its column (at least ``min_wrap`` cells)."""

    header: str
    justify: str = "right"
    name: bool = False
    drop: int = 0
    wrap: bool = False
    min_wrap: int = 16


def cell_width(cell: str) -> int:
    """Widest line of a cell as printed (markup removed)."""
    return max((Text.from_markup(line).cell_len for line in str(cell).split("\n")), default=0)


def _table_width(widths: list[int]) -> int:
    # rich: one space of padding each side of a cell, a rule between columns, two edges
    return sum(widths) + 2 * len(widths) + max(len(widths) - 1, 0) + 2


def print_table(console: Console, title: str | None, cols: list[Col], rows: list[list[str]], *,
                box=None, note: bool = True) -> list[str]:
    """Print ``rows`` (lists of str cells with rich markup) under ``cols``; returns the
    headers left out at this width (empty when everything fits)."""
    width = console.width
    natural = []
    for j, c in enumerate(cols):
        w = max([cell_width(c.header)] + [cell_width(r[j]) for r in rows])
        natural.append(min(w, max(c.min_wrap, cell_width(c.header))) if c.wrap else w)
    keep = list(range(len(cols)))
    dropped: list[str] = []
    order = sorted((j for j, c in enumerate(cols) if c.drop > 0 and not c.name),
                   key=lambda j: (-cols[j].drop, -j))
    while _table_width([natural[j] for j in keep]) > width and order:
        j = order.pop(0)
        keep.remove(j)
        dropped.append(cols[j].header)
    if title:  # wrapped at the console width like any prose (only names are kept whole)
        console.print(title, highlight=False)
    if _table_width([natural[j] for j in keep]) > width:
        _print_stacked(console, cols, rows)
        return [c.header for c in cols if not c.name]
    kwargs = {} if box is None else {"box": box}
    t = Table(**kwargs)
    for j in keep:
        c = cols[j]
        if c.wrap:
            t.add_column(c.header, justify=c.justify, overflow="fold", min_width=natural[j])
        else:
            t.add_column(c.header, justify=c.justify, no_wrap=True, min_width=natural[j])
    for r in rows:
        t.add_row(*(r[j] for j in keep))
    console.print(t)
    if dropped and note:
        console.print(f"[dim]left out at {width} columns: {escape(', '.join(dropped))} "
                      "(a wider terminal or --json shows them)[/]", highlight=False)
    return dropped


def _print_stacked(console: Console, cols: list[Col], rows: list[list[str]]) -> None:
    """One block per row: the name cells on a line, then ``header: value`` lines."""
    for r in rows:
        console.print("  ".join(str(r[j]) for j, c in enumerate(cols) if c.name),
                      soft_wrap=True, highlight=False)
        for j, c in enumerate(cols):
            if not c.name and str(r[j]).strip():
                value = " ".join(str(r[j]).split("\n"))
                console.print(f"    {escape(c.header)}: {value}", soft_wrap=True, highlight=False)


def fmt(x: float | None, digits: int = 4) -> str:
    """A figure as a table cell: ``x`` with ``digits`` decimals (``0.1235``), ``—`` for None."""
    return "—" if x is None else f"{x:.{digits}f}"


def fmt_ci(ci: dict | None, key: str) -> str:
    """The ``[lo, hi]`` cell (4 decimals) of figure ``key`` in ``ci`` (``{key: [lo, hi]}``);
    an empty cell when there is no interval for it."""
    if not ci or ci.get(key) is None or ci[key][0] is None:
        return ""
    lo, hi = ci[key]
    return f"[{lo:.4f}, {hi:.4f}]"
