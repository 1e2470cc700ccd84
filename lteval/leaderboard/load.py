"""Turn a run directory or a score JSON file into a leaderboard :class:`Entry`.

Figures are copied from the ``lteval score --json`` files the metrics core wrote;
nothing is recomputed here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lteval.errors import InputError, UsageError
from lteval.io.jsonfile import read_json
from lteval.leaderboard.entry import Entry, result_from_score

#: Splits in the order a run directory's scores are listed.
SPLIT_ORDER = ("dev", "test", "val", "calib")
#: Splits a run directory contributes by default (others only with ``--split``).
REPORTED_SPLITS = ("dev", "test")


def _check_score(obj: Any, path: Path) -> dict:
    if not isinstance(obj, dict) or not isinstance(obj.get("overall"), dict):
        raise InputError("not an `lteval score --json` file: expected an object with an "
                         "'overall' object (mAP, mAUROC, mF1, ece, ...)", file=str(path))
    if "task" not in obj:
        raise InputError("score file has no 'task' field", file=str(path))
    return obj


def run_name(run_dir: Path) -> str:
    """``<run>`` for a run directory, ``<run>+<stage>`` for ``<run>/post/<stage>``."""
    run_dir = Path(run_dir).resolve()
    if run_dir.parent.name == "post":
        return f"{run_name(run_dir.parent.parent)}+{run_dir.name}"
    return run_dir.name


def entry_from_path(path: str | Path, *, name: str | None = None, split: str | None = None
                    ) -> Entry:
    """An entry from a run directory (its dev and test scores — or every ``scores/<split>.json``
    when it has neither) or one score JSON file.

    For a single file the split is ``split`` or the file's stem when that is a split name
    (``scores/test.json``); the name defaults to the run directory holding it, else the stem.
    """
    from lteval import __version__

    p = Path(path)
    if not p.exists():
        raise UsageError(f"no such run directory or score file: {p}", file=str(p))
    config = None
    if p.is_dir():
        scores_dir = p / "scores"
        files = sorted(scores_dir.glob("*.json")) if scores_dir.is_dir() else []
        if not files:
            raise InputError("run directory has no scores/<split>.json (was it scored?)",
                             file=str(p))
        order = {s: i for i, s in enumerate(SPLIT_ORDER)}
        files.sort(key=lambda f: (order.get(f.stem, len(order)), f.stem))
        if split is not None:
            files = [f for f in files if f.stem == split]
            if not files:
                raise UsageError(f"run directory has no scores/{split}.json", file=str(p))
        elif any(f.stem in REPORTED_SPLITS for f in files):
            # val / calib are for model selection and fitting, not for a leaderboard
            files = [f for f in files if f.stem in REPORTED_SPLITS]
        pairs = [(f, f.stem) for f in files]
        if (p / "config.json").is_file():
            config = read_json(p / "config.json", "run config")
        default_name = run_name(p)
        source = str(p)
    else:
        stem = p.stem
        if split is None:
            if stem not in SPLIT_ORDER:
                raise UsageError(f"cannot tell which split {p.name} holds; pass --split "
                                 f"({'|'.join(SPLIT_ORDER)})", file=str(p))
            split = stem
        pairs = [(p, split)]
        run_dir = p.parent.parent if p.parent.name == "scores" else None
        if run_dir is not None and (run_dir / "config.json").is_file():
            config = read_json(run_dir / "config.json", "run config")
            default_name = run_name(run_dir)
        else:
            default_name = stem if stem not in SPLIT_ORDER else p.resolve().parent.name
        source = str(p)
    results = []
    task = None
    version = None
    for f, s in pairs:
        score = _check_score(read_json(f, "score file"), f)
        if task is None:
            task = str(score["task"])
        elif str(score["task"]) != task:
            raise InputError(f"score files disagree on the task ({task!r} vs {score['task']!r})",
                             file=str(f))
        version = version or score.get("lteval_version")
        results.append(result_from_score(score, s))
    if config is not None and not isinstance(config, dict):
        config = None
    final_name = name if name is not None else default_name
    if not final_name.strip():
        raise UsageError("--name must not be empty")
    return Entry(name=final_name, task=task or "", kind="lteval", results=tuple(results),
                 source=source, lteval_version=str(version or __version__), config=config)
