"""What a leaderboard row is: an entry (one model) with results on one or more splits."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from lteval.metrics.figures import group_name, overall_keys
from lteval.metrics.groups import GROUP_NAMES

GROUPS = GROUP_NAMES
#: Group figures a leaderboard result carries, for each of ``GROUPS`` (``tail_mAP``, ...).
GROUP_FIGURES: tuple[str, ...] = ("mAP",)
#: Figures a leaderboard result may carry, in display order: every overall figure of the
#: table of figures (:mod:`lteval.metrics.figures`), then the group figures.
METRICS: tuple[str, ...] = overall_keys() + tuple(
    group_name(g, f) for f in GROUP_FIGURES for g in GROUPS)
KINDS = ("published", "lteval")


@dataclass(frozen=True)
class Result:
    """Figures of one entry on one split; ``ci`` maps a figure to its (lo, hi) interval."""

    split: str
    metrics: dict[str, float | None]
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    ci_level: float | None = None
    n_boot: int | None = None
    n_samples: int | None = None
    note: str | None = None
    score: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"split": self.split, "metrics": dict(self.metrics),
                             "ci": {k: [lo, hi] for k, (lo, hi) in self.ci.items()}}
        for k in ("ci_level", "n_boot", "n_samples", "note"):
            d[k] = getattr(self, k)
        return d


@dataclass(frozen=True)
class Entry:
    """One model on the leaderboard: ``kind`` is 'published' (quoted) or 'lteval' (scored here)."""

    name: str
    task: str
    kind: str
    results: tuple[Result, ...]
    source: str | None = None
    url: str | None = None
    added_at: str | None = None
    lteval_version: str | None = None
    config: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def result(self, split: str) -> Result | None:
        for r in self.results:
            if r.split == split:
                return r
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "task": self.task, "kind": self.kind, "source": self.source,
                "url": self.url, "added_at": self.added_at, "lteval_version": self.lteval_version,
                "config": self.config, "results": [r.to_dict() for r in self.results]}


def _finite(v) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


_GROUP_KEY = re.compile(
    rf"^(?:groups?[./:_])?({'|'.join(GROUPS)})[./:_ ]+({'|'.join(GROUP_FIGURES)})$", re.IGNORECASE)
_OVERALL_KEY = re.compile(rf"^(?:overall[./:_])?({'|'.join(overall_keys())})$", re.IGNORECASE)


def _figure_name(key: str) -> str | None:
    """Map a score-JSON CI key ('mAP', 'overall.mAP', 'tail/mAP', 'groups.tail.mAP') to a figure."""
    m = _OVERALL_KEY.match(key)
    if m:
        canon = {x.lower(): x for x in METRICS}
        return canon[m.group(1).lower()]
    m = _GROUP_KEY.match(key)
    if m:
        canon = {x.lower(): x for x in GROUP_FIGURES}
        return group_name(m.group(1).lower(), canon[m.group(2).lower()])
    return None


def result_from_score(score: dict[str, Any], split: str, note: str | None = None) -> Result:
    """A :class:`Result` from a ``lteval score --json`` dictionary (figures copied, never recomputed)."""
    overall = score.get("overall") or {}
    metrics: dict[str, float | None] = {}
    for k in overall_keys():
        metrics[k] = _finite(overall.get(k))
    groups = score.get("groups") or {}
    for g in GROUPS:
        if g in groups and isinstance(groups[g], dict):
            for k in GROUP_FIGURES:
                metrics[group_name(g, k)] = _finite(groups[g].get(k))
    ci: dict[str, tuple[float, float]] = {}
    raw_ci = score.get("ci") or {}
    level = _finite(raw_ci.get("level"))
    n_boot = raw_ci.get("n_boot")
    for key, val in raw_ci.items():
        if key in ("level", "n_boot"):
            continue
        if isinstance(val, dict):  # nested form {"groups": {"tail": {"mAP": [lo, hi]}}}
            for sub, v2 in val.items():
                if isinstance(v2, dict):
                    for sub2, v3 in v2.items():
                        _add_ci(ci, f"{sub}.{sub2}", v3)
                else:
                    _add_ci(ci, f"{key}.{sub}", v2)
            continue
        _add_ci(ci, key, val)
    n = score.get("n_samples")
    return Result(split=split, metrics=metrics, ci=ci, ci_level=level,
                  n_boot=int(n_boot) if isinstance(n_boot, int) else None,
                  n_samples=int(n) if isinstance(n, int) else None, note=note, score=score)


def _add_ci(ci: dict, key: str, val) -> None:
    name = _figure_name(key)
    if name is None or not isinstance(val, (list, tuple)) or len(val) != 2:
        return
    lo, hi = _finite(val[0]), _finite(val[1])
    if lo is not None and hi is not None:
        ci[name] = (lo, hi)
