"""Ensembles of finished runs (or stages), merged from their run-directory prediction files.

``ensemble(run_dirs, out, weights=None, merge="logits")`` reads each member's
``logits/<split>.csv`` (``merge="logits"``) or ``predictions/<split>.csv`` (``"probs"``,
``"rank"``), joins rows by ImageID, merges them with normalised weights ``w`` and writes a run-like
directory: ``config.json``, ``predictions/``, ``logits/``, ``labels/`` (copied from a member),
``scores/<split>.json`` (``lteval.score``) and ``DONE``.

Merges, per class (``w`` sums to 1):

- ``logits``: ``z = Σ w_i z_i``; probability ``sigmoid(z)``.
- ``probs``:  ``p = Σ w_i p_i``.
- ``rank``:   ``r = Σ w_i (rank_i - 0.5) / n`` with ``rank_i`` the average rank of the image's score
  within the split for that class (ties share their mean rank). Only the ordering of each member
  counts, so members on different scales are combined fairly; the output is a score in (0, 1),
  **not** a calibrated probability (ECE and F1 at 0.5 are not meaningful for it).

Every member must be of the same task and cover the same images for a split; splits missing from
any member are skipped (and listed). No torch here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from lteval.errors import InputError, OutputExistsError, UsageError
from lteval.io.atomic import write_json_atomic
from lteval.io.jsonfile import read_json
from lteval.metrics.figures import headline_keys
from lteval.posttrain.calib_stage import SPLITS, logit, sigmoid, write_stage_split
from lteval.registry import Registry

__all__ = ["ensemble", "merge_scores", "MERGES", "MERGE_REGISTRY", "member_label_file"]

#: How member scores are merged: name -> ``merge(arrays, w) -> (probs, logits)``, each (n, C) float64,
#: ``arrays`` the members' (n, C) logits (``"logits"``) or probabilities, ``w`` (k,) weights summing to 1.
MERGE_REGISTRY = Registry("merge", error=UsageError)


def _check_weights(weights, k: int) -> np.ndarray:
    if weights is None:
        return np.full(k, 1.0 / k)
    w = np.asarray([float(x) for x in weights], dtype=np.float64)
    if w.shape != (k,):
        raise UsageError(f"--weights needs one weight per run: {k} run(s), {w.size} weight(s) given")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise UsageError(f"--weights must be finite, non-negative and not all zero, got {list(w)}")
    return w / w.sum()


def _avg_rank(s: np.ndarray) -> np.ndarray:
    """Average ranks (1..n) per column, ties sharing their mean rank."""
    from scipy.stats import rankdata

    return rankdata(s, axis=0, method="average")


def merge_scores(arrays, weights=None, merge: str = "logits") -> tuple[np.ndarray, np.ndarray]:
    """Merge member arrays (each (n, C): logits for ``"logits"``, probabilities otherwise).

    Returns ``(probs, logits)`` (n, C) float64 — for ``"rank"`` the merged rank score and its logit.
    """
    fn = MERGE_REGISTRY.lookup(merge)
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    if not arrays:
        raise UsageError("an ensemble needs at least one run")
    shape = arrays[0].shape
    if any(a.shape != shape for a in arrays):
        raise InputError(f"ensemble members have different shapes: {[a.shape for a in arrays]}")
    return fn(arrays, _check_weights(weights, len(arrays)))


@MERGE_REGISTRY.register("logits", summary="weighted mean of the members' logits")
def _merge_logits(arrays, w):
    z = arrays[0] * w[0] if len(arrays) > 1 else arrays[0].copy()
    for wi, a in zip(w[1:], arrays[1:]):
        z += wi * a
    return sigmoid(z), z


@MERGE_REGISTRY.register("probs", summary="weighted mean of the members' probabilities")
def _merge_probs(arrays, w):
    p = arrays[0] * w[0] if len(arrays) > 1 else arrays[0].copy()
    for wi, a in zip(w[1:], arrays[1:]):
        p += wi * a
    return p, logit(p)


@MERGE_REGISTRY.register("rank", summary="weighted mean of the members' per-class average ranks, in (0, 1)")
def _merge_rank(arrays, w):
    shape = arrays[0].shape
    n = shape[0]
    r = np.zeros(shape)
    for wi, a in zip(w, arrays):
        r += wi * (_avg_rank(a) - 0.5) / n
    return r, logit(r)


#: Merge names, in the order they are listed.
MERGES = tuple(MERGE_REGISTRY)


def _member_task(d: Path) -> str | None:
    for p in (d / "config.json", d.parent.parent / "config.json" if d.parent.name == "post" else None):
        if p is not None and p.is_file():
            t = read_json(p, "run config", expect=dict).get("task")
            if isinstance(t, str):
                return t
    for p in sorted((d / "scores").glob("*.json")) if (d / "scores").is_dir() else []:
        t = read_json(p, "score file", expect=dict).get("task")
        if isinstance(t, str):
            return t
    return None


def member_label_file(d: Path, split: str) -> Path | None:
    """``labels/<split>.csv`` of a run or stage (a stage falls back to its base run's)."""
    for cand in (d / "labels" / f"{split}.csv",
                 d.parent.parent / "labels" / f"{split}.csv" if d.parent.name == "post" else None):
        if cand is not None and cand.is_file():
            return cand
    return None


def _prepare_out(out: Path, force: bool) -> None:
    if out.exists():
        if not out.is_dir():
            raise OutputExistsError(f"{out} exists and is not a directory")
        if any(out.iterdir()):
            cfg = out / "config.json"
            ours = cfg.is_file() and isinstance(read_json(cfg, "run config", expect=dict).get("ensemble"), dict)
            if not force:
                raise OutputExistsError(f"{out} already exists and is not empty; pass --force to replace "
                                        "it (only an earlier ensemble directory is replaced)")
            if not ours:
                raise OutputExistsError(f"{out} is not an lteval ensemble directory; refusing to replace it")
            shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def ensemble(run_dirs, out, *, weights=None, merge: str = "logits", splits=None, force: bool = False,
             name: str | None = None, n_boot: int = 0) -> Path:
    """Merge the runs in ``run_dirs`` into the run-like directory ``out``; return ``out``."""
    from lteval.io.tables import read_predictions
    from lteval.tasks import get_task

    MERGE_REGISTRY.resolve(merge)
    dirs = [Path(d) for d in run_dirs]
    if not dirs:
        raise UsageError("give at least one run directory")
    for d in dirs:
        if not d.is_dir():
            raise UsageError(f"run directory {d} does not exist", file=str(d))
        if not (d / "predictions").is_dir():
            raise UsageError(f"{d} is not a run directory (no predictions/ in it)", file=str(d))
    w = _check_weights(weights, len(dirs))
    tasks = {str(d): _member_task(d) for d in dirs}
    known = {t for t in tasks.values() if t}
    if len(known) > 1:
        raise UsageError(f"the runs are of different tasks: {tasks}")
    if not known:
        raise UsageError("cannot tell the task of the runs (no config.json or scores/ with a 'task' field)")
    task = get_task(known.pop())
    out = Path(out)
    if any(out.resolve() == d.resolve() for d in dirs):
        raise UsageError("the output directory must differ from every member run")
    folder, kind = ("logits", "logits") if merge == "logits" else ("predictions", "probs")
    wanted = list(splits) if splits else list(SPLITS)
    present = [s for s in wanted if all((d / folder / f"{s}.csv").is_file() for d in dirs)]
    skipped = [s for s in wanted if s not in present
               and any((d / folder / f"{s}.csv").is_file() for d in dirs)]
    if not present:
        raise UsageError(f"no split has {folder}/<split>.csv in every run (looked for {', '.join(wanted)})")
    _prepare_out(out, force)
    scores = {}
    for split in present:
        tables = [read_predictions(d / folder / f"{split}.csv", task, kind=kind) for d in dirs]
        ids = tables[0].ids
        arrays = [tables[0].p]
        for d, t in zip(dirs[1:], tables[1:]):
            pos = {k: i for i, k in enumerate(t.ids)}
            if len(t.ids) != len(ids) or any(k not in pos for k in ids):
                raise InputError(f"{split}: the runs do not predict the same images "
                                 f"({len(ids)} in {dirs[0]}, {len(t.ids)} here)",
                                 file=str(d / folder / f"{split}.csv"))
            arrays.append(t.p[np.fromiter((pos[k] for k in ids), np.int64, len(ids))])
        probs, z = merge_scores(arrays, w, merge)
        label_src = next((p for p in (member_label_file(d, split) for d in dirs) if p is not None), None)
        sc = write_stage_split(out, split, ids, probs, z, task, label_src=label_src, n_boot=n_boot)
        if sc is not None:
            scores[split] = {k: sc["overall"][k] for k in headline_keys()}
    from lteval import __version__

    members = []
    for d, wi in zip(dirs, w):
        cfg = read_json(d / "config.json", "run config", expect=dict) if (d / "config.json").is_file() else {}
        members.append({"path": str(d.resolve()), "name": cfg.get("name", d.name), "weight": float(wi),
                        "config_hash": cfg.get("config_hash")})
    cfg = {"name": name or f"ensemble-{len(dirs)}", "task": task.name, "lteval_version": __version__,
           "ensemble": {"merge": merge, "members": members, "splits": present, "skipped_splits": skipped,
                        "note": "rank merge: scores in (0, 1), not calibrated probabilities"
                        if merge == "rank" else ""}}
    first = members and dirs[0] / "config.json"
    if first and first.is_file():
        base = read_json(first, "run config", expect=dict)
        for k in ("backbone", "loss", "preset", "image_size", "seed"):
            vals = {json.dumps(read_json(d / "config.json", "run config", expect=dict).get(k)) for d in dirs if (d / "config.json").is_file()}
            if len(vals) == 1 and k in base:
                cfg[k] = base[k]
    write_json_atomic(out / "config.json", cfg)
    write_json_atomic(out / "DONE", {"scores": scores})
    return out
