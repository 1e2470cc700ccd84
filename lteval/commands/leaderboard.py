"""``lteval leaderboard add|show|render|remove``: the SQLite leaderboard of scored runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from lteval.commands._common import console, guarded

RANKS_HELP = ("An 'lteval rank --json' file to show after the table: the systems' rank "
              "probabilities (text blob plot) and pairwise significance map. Repeatable.")
DB_HELP = ("Leaderboard store (an SQLite file). Default: $LTEVAL_LEADERBOARD if set, else "
           "leaderboard/leaderboard.sqlite under the current directory.")

leaderboard_app = typer.Typer(
    help=("Keep a leaderboard of scored runs next to the published CXR-LT 2026 reference "
          "numbers. 'add' stores a run's scores, 'show' prints the table, 'render' writes it "
          "as Markdown (leaderboard/README.md)."),
    no_args_is_help=True,
)


@leaderboard_app.command("add")
@guarded
def add(
    path: Path = typer.Argument(..., help="A run directory (its scores/dev.json and scores/test.json are added) "
                                "or one score JSON file written by 'lteval score --json'."),
    name: Optional[str] = typer.Option(None, "--name", help="Row name (default: the run "
                                       "directory's name, '<run>+<stage>' for a post-training stage)."),
    split: Optional[str] = typer.Option(None, "--split", help="Add only this split (dev, test, ...); "
                                        "needed for a score file whose name is not a split name."),
    replace: bool = typer.Option(False, "--replace", help="Overwrite an existing row of the same "
                                 "name and task."),
    db: Optional[Path] = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Add a scored run (or one score file) to the leaderboard, in one transaction."""
    from lteval.leaderboard import LeaderboardStore, default_db_path, entry_from_path

    entry = entry_from_path(path, name=name, split=split)
    db_path = db or default_db_path()
    with LeaderboardStore(db_path) as store:
        stored = store.add(entry, replace=replace)
    splits = ", ".join(r.split for r in stored.results)
    console.print(f"added [bold]{_plain(stored.name)}[/] ({_plain(stored.task)}; {splits}) to "
                  f"{_plain(str(db_path))}", highlight=False)


@leaderboard_app.command("show")
@guarded
def show(
    split: Optional[str] = typer.Option(None, "--split", help="Only this split (e.g. test)."),
    task: Optional[str] = typer.Option(None, "--task", help="Only this task (e.g. cxrlt2026-task1)."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON instead of a table."),
    published: bool = typer.Option(True, "--published/--no-published",
                                   help="Include the published reference rows."),
    ranks: Optional[List[Path]] = typer.Option(None, "--ranks", help=RANKS_HELP),
    db: Optional[Path] = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Print the leaderboard (best mAP first, per task and split)."""
    from rich.table import Table

    from lteval.leaderboard import all_entries, rows
    from lteval.leaderboard.ranks import load_rank_file
    from lteval.leaderboard.table import COLUMNS, fmt, fmt_ci

    rank_dicts = [load_rank_file(p) for p in (ranks or [])]  # fail before printing anything
    table_rows = rows(all_entries(db, task=task, include_published=published), split=split)
    if as_json:
        out = [r.to_dict() for r in table_rows]
        text = json.dumps({"rows": out, "ranks": rank_dicts} if rank_dicts else out, indent=2,
                          allow_nan=False, ensure_ascii=False)
        typer.echo(text)
        return
    if not table_rows and not rank_dicts:
        console.print("the leaderboard has no rows for this selection")
        return
    current = None
    table = None
    notes: list[str] = []
    rank = 0

    def flush() -> None:
        if table is not None:
            console.print(table)
            for n in notes:
                console.print(n, highlight=False, soft_wrap=True)
            console.print()

    for row in table_rows:
        if (row.task, row.split) != current:
            flush()
            current = (row.task, row.split)
            rank = 0
            notes = []
            table = Table(title=f"{_plain(row.task)} — {_plain(row.split)}", title_justify="left")
            table.add_column("#", justify="right")
            table.add_column("model", ratio=1, overflow="fold")
            for _, header in COLUMNS:
                table.add_column(header, justify="right", no_wrap=True)
        rank += 1
        cells = []
        for key, _ in COLUMNS:
            ci = fmt_ci(row.result, key)
            cells.append(fmt(row.result.metrics.get(key)) + (f"\n{ci}" if ci else ""))
        name = _plain(row.entry.name)
        if row.entry.kind == "published":
            name += " [dim](published)[/]"
            src = row.entry.source or ""
            if row.result.note:
                src += f"; {row.result.note}"
            notes.append(f"  [dim]{rank}. published, quoted from {_plain(src)}[/]")
        assert table is not None
        table.add_row(str(rank), name, *cells)
    flush()
    for r in rank_dicts:
        _print_ranks(r)


def _print_ranks(r: dict) -> None:
    """One rank file: ranking with a shade-character blob plot, then the significance map."""
    from rich.table import Table

    from lteval.leaderboard.ranks import blob_text, cell, legend, title

    names = [str(s) for s in r["ranking"]]
    values, ranks = r.get("values") or {}, r.get("ranks") or {}
    mean, ci = r.get("mean_rank") or {}, r.get("rank_ci") or {}
    t = Table(title=_plain(title(r)), title_justify="left")
    t.add_column("#", justify="right")
    t.add_column("model", ratio=1, overflow="fold")
    for col in (r["metric"], "mean rank", "rank interval", "P(rank 1)"):
        t.add_column(_plain(str(col)), justify="right", no_wrap=True)
    t.add_column("ranks 1→" + str(len(names)), no_wrap=True)
    for i, s in enumerate(names):
        v, m, c = values.get(s), mean.get(s), ci.get(s)
        t.add_row(str(ranks.get(s, i + 1)), _plain(s), "–" if v is None else f"{v:.4f}",
                  "–" if m is None else f"{m:.2f}", f"{c[0]}–{c[1]}" if c else "–",
                  f"{float(r['rank_probabilities'][s][0]):.3f}", "▕" + blob_text(r, s) + "▏")
    console.print(t)
    m = Table(title="P(row better than column)", title_justify="left")
    m.add_column("", overflow="fold")
    for i in range(len(names)):
        m.add_column(str(i + 1), justify="right", no_wrap=True)
    for i, a in enumerate(names):
        m.add_row(f"{i + 1}. {_plain(a)}", *["" if a == b else cell(r, a, b) for b in names])
    console.print(m)
    tau = r.get("kendall_tau") or {}
    if tau.get("mean") is not None:
        lo, hi = tau.get("ci") or [None, None]
        console.print(f"Kendall's tau of resampled vs full-data ranking: mean {tau['mean']:.3f}"
                      + (f", interval [{lo:.3f}, {hi:.3f}]" if lo is not None else ""),
                      highlight=False)
    console.print(legend(), highlight=False, markup=False, soft_wrap=True)
    console.print()


@leaderboard_app.command("render")
@guarded
def render(
    output: Path = typer.Option(Path("leaderboard/README.md"), "-o", "--output",
                                help="Markdown file to write."),
    force: bool = typer.Option(False, "--force", help="Overwrite the output even if it was not "
                               "written by 'lteval leaderboard render'."),
    ranks: Optional[List[Path]] = typer.Option(None, "--ranks", help=RANKS_HELP),
    db: Optional[Path] = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Write the leaderboard as Markdown (published rows + stored rows)."""
    from lteval.errors import OutputExistsError
    from lteval.io.atomic import write_text_atomic
    from lteval.leaderboard import all_entries, render_markdown
    from lteval.leaderboard.ranks import load_rank_file
    from lteval.leaderboard.table import GENERATED_MARKER

    rank_dicts = [load_rank_file(p) for p in (ranks or [])]
    if output.exists() and not force:
        try:
            head = output.read_text(encoding="utf-8")[:len(GENERATED_MARKER)]
        except (OSError, UnicodeDecodeError):
            head = ""
        if head != GENERATED_MARKER:
            raise OutputExistsError(f"{output} exists and was not written by 'lteval leaderboard "
                                    "render'; pass --force to overwrite it")
    write_text_atomic(output, render_markdown(all_entries(db), ranks=rank_dicts), force=True)
    console.print(f"wrote {_plain(str(output))}", highlight=False)


@leaderboard_app.command("remove")
@guarded
def remove(
    name: str = typer.Argument(..., help="Name of the row to delete."),
    task: Optional[str] = typer.Option(None, "--task", help="Only the row of this task."),
    db: Optional[Path] = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Delete a stored row (published rows cannot be removed)."""
    from lteval.errors import UsageError
    from lteval.leaderboard import LeaderboardStore, default_db_path

    db_path = db or default_db_path()
    with LeaderboardStore(db_path, create=False) as store:
        n = store.remove(name, task)
    if n == 0:
        raise UsageError(f"no stored row called {name!r} in {db_path}")
    console.print(f"removed {n} row(s) called {_plain(name)}", highlight=False)


def _plain(text: str) -> str:
    """Escape rich markup in user-provided text."""
    from rich.markup import escape

    return escape(text)


def register(app: typer.Typer) -> None:
    app.add_typer(leaderboard_app, name="leaderboard")
