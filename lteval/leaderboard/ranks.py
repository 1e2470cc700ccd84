"""Rank robustness next to the leaderboard: an ``lteval rank --json`` file as text and Markdown.

The leaderboard stores figures, not predictions, so it cannot resample; the ranking is
computed by ``lteval rank`` (paired bootstrap on the systems' shared labels) and its JSON
is shown here: a rank-probability ("blob") plot drawn with shade characters (one column
per rank position, darker = more resamples at that rank) and the pairwise significance
map (P(row better than column), ``*`` where the Holm-adjusted p-value is below 0.05).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lteval.errors import InputError
from lteval.io.jsonfile import read_json
from lteval.leaderboard.mdtext import md_escape

ALPHA = 0.05
#: Shades for P(rank r): < 2.5 %, < 25 %, < 50 %, < 75 %, >= 75 %.
SHADES = (" ", "░", "▒", "▓", "█")
_REQUIRED = ("systems", "metric", "n_boot", "ranking", "rank_probabilities", "pairwise")


def load_rank_file(path: str | Path) -> dict[str, Any]:
    """Read and check an ``lteval rank --json`` file (clear errors, never a traceback)."""
    p = Path(path)
    obj = read_json(p, "rank file", expect=dict)
    missing = [k for k in _REQUIRED if k not in obj]
    if missing:
        raise InputError(f"not an `lteval rank --json` file: no {', '.join(repr(m) for m in missing)}",
                         file=str(p))
    systems = obj["systems"]
    if not isinstance(systems, list) or len(systems) < 2 or not all(isinstance(s, str) for s in systems):
        raise InputError("'systems' must list at least two names", file=str(p))
    if not isinstance(obj["ranking"], list) or sorted(obj["ranking"]) != sorted(systems):
        raise InputError("'ranking' must hold the same names as 'systems'", file=str(p))
    k = len(systems)
    for s in systems:
        row = (obj["rank_probabilities"] or {}).get(s) if isinstance(obj["rank_probabilities"], dict) else None
        if not isinstance(row, list) or len(row) != k or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1 for v in row):
            raise InputError(f"rank_probabilities[{s!r}] must be {k} probabilities", file=str(p))
        pw = obj["pairwise"].get(s) if isinstance(obj["pairwise"], dict) else None
        if not isinstance(pw, dict) or set(pw) != set(systems) - {s}:
            raise InputError(f"pairwise[{s!r}] must map every other system to a probability",
                             file=str(p))
    return obj


def shade(p: float) -> str:
    return SHADES[0 if p < 0.025 else 1 if p < 0.25 else 2 if p < 0.5 else 3 if p < 0.75 else 4]


def blob_text(rank: dict, name: str) -> str:
    """One system's rank distribution as shade characters, rank 1 first (e.g. ``█▒░ ``)."""
    return "".join(shade(float(v)) for v in rank["rank_probabilities"][name])


def _holm(rank: dict, a: str, b: str) -> float | None:
    q = ((rank.get("pairwise_p_holm") or {}).get(a) or {}).get(b)
    return None if q is None else float(q)


def cell(rank: dict, a: str, b: str) -> str:
    """Map cell: P(a better than b) with ``*`` when its Holm p-value is below ALPHA."""
    v = rank["pairwise"][a][b]
    q = _holm(rank, a, b)
    return ("–" if v is None else f"{v:.2f}") + ("*" if q is not None and q < ALPHA else "")


def title(rank: dict) -> str:
    where = f"{rank['task']} " if rank.get("task") else ""
    clus = f", resampling {rank['cluster_by']} clusters" if rank.get("cluster_by") else ""
    return (f"rank robustness: {where}{rank['metric']} ({len(rank['systems'])} systems"
            + (f", {rank['n_samples']} images" if rank.get("n_samples") else "")
            + f", {rank['n_boot']} paired resamples{clus})")


def legend() -> str:
    return ("ranks: one character per rank position (1 first), shaded by the share of resamples "
            "at that rank: ' ' < 2.5 %, ░ < 25 %, ▒ < 50 %, ▓ < 75 %, █ ≥ 75 %. Map: P(row better "
            f"than column); * Holm-adjusted paired p < {ALPHA}.")


def markdown(rank: dict) -> list[str]:
    """Markdown lines: the ranking table with its text blob plot, then the significance map."""
    names = [str(s) for s in rank["ranking"]]
    values = rank.get("values") or {}
    ranks = rank.get("ranks") or {s: i + 1 for i, s in enumerate(names)}
    mean = rank.get("mean_rank") or {}
    ci = rank.get("rank_ci") or {}
    head = title(rank)
    lines = ["", f"## {md_escape(head[0].upper() + head[1:])}", "", md_escape(legend()), "",
             f"| # | model | {md_escape(rank['metric'])} | mean rank | rank interval | "
             "P(rank 1) | ranks |", "|---:|---|---:|---:|---:|---:|---|"]
    for s in names:
        v = values.get(s)
        m = mean.get(s)
        c = ci.get(s)
        lines.append(f"| {ranks.get(s, '–')} | {md_escape(s)} | {'–' if v is None else f'{v:.4f}'} | "
                     f"{'–' if m is None else f'{m:.2f}'} | "
                     f"{f'{c[0]}–{c[1]}' if c else '–'} | "
                     f"{float(rank['rank_probabilities'][s][0]):.3f} | `{blob_text(rank, s)}` |")
    lines += ["", "| P(row better than column) | " + " | ".join(f"{i + 1}" for i in range(len(names)))
              + " |", "|---|" + "---:|" * len(names)]
    for i, a in enumerate(names):
        lines.append(f"| {i + 1}. {md_escape(a)} | " + " | ".join(
            "" if a == b else md_escape(cell(rank, a, b)) for b in names) + " |")
    tau = rank.get("kendall_tau") or {}
    if tau.get("mean") is not None:
        lo, hi = (tau.get("ci") or [None, None])
        lines += ["", f"Kendall's τ of the resampled rankings against the full-data one: mean "
                  f"{tau['mean']:.3f}" + (f", interval [{lo:.3f}, {hi:.3f}]" if lo is not None else "")
                  + "."]
    return lines
