"""Training curves of a run directory: its ``metrics.jsonl`` and ``DONE`` record, as plain data.

``metrics.jsonl`` holds one JSON object per evaluation (the engine appends one per
epoch, or more often when it evaluates within an epoch) with at least ``step`` and some
of ``train_loss``, ``lr``, ``val_mAP``, ``best`` (this evaluation improved the
selection figure, so ``checkpoints/best.pt`` was rewritten) and ``drw_active``
(deferred re-weighting was on while training up to this evaluation). Curves are drawn
against ``step`` (optimiser steps), so runs that evaluate within an epoch plot right.

Two marks are derived, each with where it came from:

- **selected checkpoint**: the step recorded in ``DONE`` (``best_step``) when there is
  one, else the last evaluation with ``best: true`` (the last rewrite of ``best.pt`` is
  the checkpoint the run predicts with), else ``DONE``'s ``best_epoch`` (the last
  evaluation of that epoch).
- **DRW switch**: a step recorded in ``DONE`` or in the evaluations (``drw_step``,
  ``drw_switch_step`` or ``drw_start_step``), else inferred from ``drw_active``: the
  switch happened after the last evaluation without re-weighting and by the first one
  with it (an interval of steps, not a point); re-weighting on from the first evaluation
  means from step 0.

Nothing here raises on a damaged log: a line that is not a JSON object, or an evaluation
without a numeric ``step``, makes the curves unavailable with a note saying which line.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lteval.errors import LtevalError
from lteval.io.jsonfile import read_json

#: Keys a recorded DRW switch step may be stored under (DONE or any evaluation).
DRW_STEP_KEYS = ("drw_step", "drw_switch_step", "drw_start_step")
#: Series drawn, in panel order: (key, label).
SERIES = (("train_loss", "train loss"), ("val_mAP", "val mAP"), ("lr", "learning rate"))


@dataclass
class Curves:
    """One run's evaluations: ``step`` (E,) and each series (E,) with ``None`` where absent.

    ``selected``: ``{"step", "val_mAP", "source"}`` or None; ``drw``: ``{"step"}`` (recorded)
    or ``{"after", "by"}`` (inferred interval of steps), with ``"source"``; or None.
    """

    run: str
    path: str
    step: list[float]
    epoch: list[float | None]
    series: dict[str, list[float | None]]
    selected: dict[str, Any] | None = None
    drw: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run, "step": self.step, "epoch": self.epoch, **self.series,
                "selected": self.selected, "drw": self.drw, "notes": list(self.notes)}


def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _read_done(run_dir: Path) -> dict:
    p = run_dir / "DONE"
    if not p.is_file():
        return {}
    try:
        obj = read_json(p, "DONE marker")
    except LtevalError:
        return {}  # an old empty / plain-text marker: nothing recorded
    return obj if isinstance(obj, dict) else {}


def read_curves(run_dir: str | Path, run_name: str) -> tuple[Curves | None, str | None]:
    """``(curves, None)``, or ``(None, note)`` when ``metrics.jsonl`` is missing or unusable.

    A missing file gives ``(None, None)`` (prediction files and stages have no training log).
    """
    d = Path(run_dir)
    path = d / "metrics.jsonl"
    if not path.is_file():
        return None, None
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        return None, f"{path}: cannot read the training log ({e}); no training curves"
    evals: list[dict] = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            return None, (f"{path} line {i}: not valid JSON ({e.msg}, column {e.colno}); "
                          "no training curves")
        if not isinstance(obj, dict):
            return None, f"{path} line {i}: expected a JSON object per line; no training curves"
        if _num(obj.get("step")) is None:
            return None, (f"{path} line {i}: no numeric 'step' in this evaluation; "
                          "no training curves")
        evals.append(obj)
    if not evals:
        return None, f"{path} holds no evaluations; no training curves"
    notes: list[str] = []
    order = sorted(range(len(evals)), key=lambda k: (_num(evals[k]["step"]), k))
    if order != list(range(len(evals))):
        notes.append("evaluations were not in step order; drawn sorted by step")
        evals = [evals[k] for k in order]
    steps = [float(_num(e["step"])) for e in evals]
    series = {k: [_num(e.get(k)) for e in evals] for k, _ in SERIES}
    c = Curves(run=run_name, path=str(path), step=steps,
               epoch=[_num(e.get("epoch")) for e in evals], series=series, notes=notes)
    done = _read_done(d)
    c.selected = _selected(evals, steps, series["val_mAP"], done)
    c.drw = _drw(evals, steps, done)
    return c, None


def _selected(evals: list[dict], steps: list[float], vmap: list[float | None],
              done: dict) -> dict[str, Any] | None:
    def at(k: int, source: str) -> dict[str, Any]:
        return {"step": steps[k], "val_mAP": vmap[k], "source": source}

    rec = _num(done.get("best_step"))
    if rec is not None:
        hits = [k for k, s in enumerate(steps) if s == rec]
        if hits:
            return at(hits[-1], "DONE best_step")
        return {"step": rec, "val_mAP": _num(done.get("best_val_mAP")), "source": "DONE best_step"}
    best = [k for k, e in enumerate(evals) if e.get("best") is True]
    if best:
        return at(best[-1], "last evaluation marked best")
    ep = _num(done.get("best_epoch"))
    if ep is not None:
        hits = [k for k, e in enumerate(evals) if _num(e.get("epoch")) == ep]
        if hits:
            return at(hits[-1], "DONE best_epoch")
    return None


def _drw(evals: list[dict], steps: list[float], done: dict) -> dict[str, Any] | None:
    for key in DRW_STEP_KEYS:
        v = _num(done.get(key))
        if v is not None:
            return {"step": v, "source": f"DONE {key}"}
    for e in evals:
        for key in DRW_STEP_KEYS:
            v = _num(e.get(key))
            if v is not None:
                return {"step": v, "source": f"metrics.jsonl {key}"}
    active = [e.get("drw_active") for e in evals]
    if not any(a is True for a in active):
        return None
    k = active.index(True)
    if k == 0:
        return {"after": 0.0, "by": steps[0], "source": "drw_active from the first evaluation"}
    if active[k - 1] is False:
        return {"after": steps[k - 1], "by": steps[k], "source": "drw_active (inferred)"}
    return {"after": None, "by": steps[k], "source": "drw_active (inferred)"}
