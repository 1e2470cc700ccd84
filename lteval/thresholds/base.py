"""The :class:`Thresholds` container: per-class decision thresholds, how they were chosen, JSON.

A sample is predicted positive for class c when ``score[:, c] >= values[c]``
(the rule used by ``lteval.metrics.precision_recall_f1``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from lteval.errors import InputError, UsageError
from lteval.metrics._validation import check_scores
from lteval.registry import Registry

#: Strategy names; ``precision@X`` / ``recall@X`` / ``fixed@X`` take a value in (0, 1].
STRATEGY_HELP = ("f1 (per-class F1-optimal, exact), global (one threshold maximising macro F1), "
                 "precision@X / recall@X (per class, target precision or recall X), "
                 "prevalence (predict the top k%% of each class, k its training prevalence), "
                 "fixed@X (X for every class)")


@dataclass(frozen=True)
class Strategy:
    """A parsed threshold strategy: ``name`` in f1|global|precision|recall|prevalence|fixed, ``target``."""

    name: str
    target: float | None = None

    def __str__(self) -> str:
        return self.name if self.target is None else f"{self.name}@{self.target:g}"


#: Threshold strategies: name -> ``fit(y, scores, strategy, *, prevalence, fallback, placement)``
#: (registered in :mod:`lteval.thresholds`); ``target``: the name takes ``@X``.
STRATEGIES = Registry("threshold strategy", error=UsageError, unknown="unknown {kind} {name!r}; use {help}")


def parse_strategy(text: str) -> Strategy:
    """``"f1"``, ``"global"``, ``"precision@0.9"``, ``"recall@0.8"``, ``"prevalence"``, ``"fixed@0.5"``.

    >>> parse_strategy("Precision@0.9")
    Strategy(name='precision', target=0.9)
    """
    t = str(text).strip().lower()
    if t in STRATEGIES and not STRATEGIES.entry(t).target:
        return Strategy(t)
    m = re.fullmatch(r"([a-z0-9_]+)@([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)", t)
    if m and m.group(1) in STRATEGIES and STRATEGIES.entry(m.group(1)).target:
        v = float(m.group(2))
        if not 0.0 < v <= 1.0:
            raise UsageError(f"threshold strategy {text!r}: the target must be in (0, 1]")
        return Strategy(m.group(1), v)
    raise STRATEGIES.error(text, help=STRATEGY_HELP)


@dataclass
class Thresholds:
    """Per-class thresholds ``values`` (C,) chosen by ``strategy`` on the fitting data.

    ``details`` holds per-class JSON-ready diagnostics measured on the fitting
    data (e.g. ``f1``, ``precision``, ``recall``, ``n_predicted``, ``tie_size``,
    ``n_optimal``); ``fallback_classes`` the class indices that got the fallback
    value (no positives in the fitting data, or a target that could not be met).
    """

    strategy: Strategy
    values: np.ndarray
    fallback: float = 0.5
    fallback_classes: list[int] = field(default_factory=list)
    placement: str = "midpoint"
    details: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def n_classes(self) -> int:
        return int(self.values.size)

    def predict(self, scores) -> np.ndarray:
        """(n, C) int8 decisions: 1 where ``scores`` (n, C) ``>= values`` per class.

        >>> Thresholds(Strategy("fixed", 0.5), np.array([0.5, 0.2])).predict([[0.6, 0.1]]).tolist()
        [[1, 0]]
        """
        s = check_scores(scores, "scores", n_classes=self.n_classes)
        return (s >= self.values).astype(np.int8)

    def to_dict(self) -> dict:
        return {
            "strategy": str(self.strategy),
            "values": [float(v) for v in self.values],
            "fallback": float(self.fallback),
            "fallback_classes": [int(i) for i in self.fallback_classes],
            "placement": self.placement,
            "details": self.details,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d, n_classes: int, where: str = "thresholds") -> "Thresholds":
        """Validate and load what :meth:`to_dict` wrote; InputError naming the bad field."""
        from lteval.thresholds._sweep import PLACEMENTS

        if not isinstance(d, dict):
            raise InputError(f"{where} must be an object, got {type(d).__name__}")
        required = ("strategy", "values", "fallback", "fallback_classes", "placement")
        missing = [k for k in required if k not in d]
        if missing:
            raise InputError(f"{where} is missing {', '.join(map(repr, missing))}")
        extra = sorted(set(d) - set(required) - {"details", "notes"})
        if extra:
            raise InputError(f"{where} has unexpected field(s) {', '.join(map(repr, extra))}")
        if not isinstance(d["strategy"], str):
            raise InputError(f"{where}.strategy must be a string")
        try:
            strategy = parse_strategy(d["strategy"])
        except UsageError as e:
            raise InputError(f"{where}.strategy: {e.message}") from None
        vals = d["values"]
        if not isinstance(vals, list) or len(vals) != n_classes:
            raise InputError(f"{where}.values must be a list of {n_classes} numbers (one per class)")
        for i, v in enumerate(vals):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
                raise InputError(f"{where}.values[{i}] must be a finite number, got {v!r}")
        fb = d["fallback"]
        if isinstance(fb, bool) or not isinstance(fb, (int, float)) or not np.isfinite(fb):
            raise InputError(f"{where}.fallback must be a finite number, got {fb!r}")
        fc = d["fallback_classes"]
        if not isinstance(fc, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                               and 0 <= i < n_classes for i in fc):
            raise InputError(f"{where}.fallback_classes must be a list of class indices "
                             f"in [0, {n_classes})")
        if d["placement"] not in PLACEMENTS:
            raise InputError(f"{where}.placement must be one of {PLACEMENTS}")
        details = d.get("details", {})
        if not isinstance(details, dict):
            raise InputError(f"{where}.details must be an object")
        notes = d.get("notes", [])
        if not isinstance(notes, list) or not all(isinstance(x, str) for x in notes):
            raise InputError(f"{where}.notes must be a list of strings")
        return cls(strategy, np.array(vals, dtype=np.float64), float(fb), list(fc),
                   d["placement"], details, notes)
