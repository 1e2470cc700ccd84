"""Load what a report compares: run directories (and their post-training stages) or
plain prediction files, each with dev (and optionally test) predictions and labels.

Nothing here computes a figure: a loaded run holds aligned arrays ``y`` / ``p`` per
split, the run's resolved config, its per-class thresholds (if a stage fitted some) and
the ``scores/<split>.json`` the metrics core wrote (used to cross-check, or as the only
figures when labels are not available).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable, Sequence

import numpy as np

from lteval.errors import InputError, UsageError
from lteval.io.jsonfile import read_json
from lteval.tasks import Task, get_task

#: The two sides of every comparison. A run without a ``dev`` split falls back to ``val``.
SPLITS = ("dev", "test")
_FALLBACK = {"dev": ("val",), "test": ()}


@dataclass(frozen=True)
class PredSource:
    """Prediction files trained elsewhere: ``name``, dev CSV and (optionally) test CSV."""

    name: str
    dev: Path
    test: Path | None = None


@dataclass
class SplitData:
    """One evaluated split of one run: aligned ``ids`` (n,), ``y`` int8 (n, C) or None, ``p`` (n, C)."""

    split: str
    source_split: str
    ids: np.ndarray | None
    y: np.ndarray | None
    p: np.ndarray | None
    stored_score: dict | None = None
    labels_from: str | None = None
    pred_path: str | None = None


@dataclass
class LoadedRun:
    """A run (or post-training stage, or prediction-file pair) ready to be reported."""

    name: str
    kind: str                      # "run" | "stage" | "pred"
    path: Path | None
    config: dict[str, Any] | None
    splits: dict[str, SplitData] = field(default_factory=dict)
    base: str | None = None        # the base run's name for a stage
    stage: str | None = None       # e.g. "crt+tta+calib"
    thresholds: np.ndarray | None = None
    thresholds_source: str | None = None
    notes: list[str] = field(default_factory=list)
    curves: Any = None             # lteval.report.curves.Curves of a trained run, else None

    @property
    def stages(self) -> tuple[str, ...]:
        return tuple(self.stage.split("+")) if self.stage else ()

    @property
    def is_calibrated(self) -> bool:
        return bool(self.stages) and "calib" in self.stages[-1]

    @property
    def uncalibrated_name(self) -> str | None:
        """Name of the run this calibrated stage was fitted on (``a+crt+calib`` → ``a+crt``)."""
        if not self.is_calibrated or self.base is None:
            return None
        rest = self.stages[:-1]
        return self.base + ("+" + "+".join(rest) if rest else "")


def parse_pred_spec(spec: str) -> PredSource:
    """``NAME=DEV.csv[:TEST.csv]`` → :class:`PredSource` (paths are checked to exist)."""
    if "=" not in spec:
        raise UsageError(f"--pred {spec!r}: expected NAME=DEV.csv or NAME=DEV.csv:TEST.csv")
    name, rest = spec.split("=", 1)
    if not name.strip():
        raise UsageError(f"--pred {spec!r}: the NAME before '=' is empty")
    if not rest:
        raise UsageError(f"--pred {spec!r}: no prediction file after '='")
    candidates: list[tuple[str, str | None]] = [(rest, None)]
    for i, ch in enumerate(rest):
        if ch == ":":
            candidates.append((rest[:i], rest[i + 1:] or None))
    for dev, test in candidates:
        if Path(dev).is_file() and (test is None or Path(test).is_file()):
            return PredSource(name, Path(dev), Path(test) if test else None)
    dev, test = (rest.split(":", 1) + [None])[:2] if ":" in rest else (rest, None)
    missing = dev if not Path(dev).is_file() else test
    raise UsageError(f"--pred {spec!r}: prediction file {missing} does not exist", file=missing)


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and ((path / "predictions").is_dir() or (path / "scores").is_dir())


def _stage_dirs(run_dir: Path) -> list[Path]:
    post = run_dir / "post"
    if not post.is_dir():
        return []
    return sorted(d for d in post.iterdir() if is_run_dir(d))


def parse_thresholds(obj: Any, task: Task, path: Path) -> np.ndarray:
    """Per-class thresholds (C,) from a thresholds JSON.

    Accepted shapes: ``lteval.thresholds.Thresholds.to_dict()`` (``{"values": [...]}``, task
    order), a CALIB.json holding one under ``"thresholds"``, ``{"thresholds": {class: t}}``,
    ``{"thresholds": [t, ...]}`` (task order), or a bare ``{class: t}`` mapping; an optional
    ``"classes"`` list gives the order of a list.
    """
    t = obj.get("thresholds", obj) if isinstance(obj, dict) else obj
    classes = obj.get("classes") if isinstance(obj, dict) else None
    if isinstance(t, dict) and isinstance(t.get("values"), list):  # lteval.thresholds.Thresholds.to_dict()
        t = t["values"]
    out = np.full(task.n_classes, np.nan)
    if isinstance(t, dict):
        for c, v in t.items():
            if c in task.classes:
                out[task.classes.index(c)] = _num(v, path, c)
    elif isinstance(t, list):
        names = classes if isinstance(classes, list) and len(classes) == len(t) else list(task.classes)
        if len(t) != len(names):
            raise InputError(f"expected {task.n_classes} thresholds, found {len(t)}", file=str(path))
        for c, v in zip(names, t):
            if c in task.classes:
                out[task.classes.index(c)] = _num(v, path, c)
    else:
        raise InputError("thresholds file holds no 'thresholds' mapping or list", file=str(path))
    if np.isnan(out).any():
        missing = task.classes[int(np.flatnonzero(np.isnan(out))[0])]
        raise InputError(f"thresholds file has no threshold for class {missing!r}", file=str(path))
    return out


def _num(v: Any, path: Path, cls: str) -> float:
    if isinstance(v, dict):
        v = v.get("threshold", v.get("value"))
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
        raise InputError(f"threshold of class {cls!r} is not a finite number: {v!r}", file=str(path))
    return float(v)


class Loader:
    """Reads runs for one task, with optional shared label files for dev / test."""

    def __init__(self, task: Task | str | None = None, *, dev_labels: str | Path | None = None,
                 test_labels: str | Path | None = None) -> None:
        self._task = get_task(task) if task is not None else None
        self._label_paths = {"dev": dev_labels, "test": test_labels}
        self._label_cache: dict[str, Any] = {}

    @property
    def task(self) -> Task:
        return self._task or get_task(None)

    def _settle_task(self, name: str | None, where: str) -> None:
        if name is None:
            return
        if self._task is None:
            try:
                self._task = get_task(name)
            except UsageError:
                raise UsageError(f"{where} names task {name!r}, which is not built in: pass "
                                 "--task with its class-list file") from None
        elif self._task.name != name:
            raise UsageError(f"{where} is for task {name!r} but the report is for "
                             f"{self._task.name!r}: a report compares runs of one task")

    def _labels(self, path: str | Path):
        from lteval.io.tables import read_labels

        key = str(Path(path).resolve())
        if key not in self._label_cache:
            self._label_cache[key] = read_labels(path, self.task)
        return self._label_cache[key]

    def _split(self, split: str, pred_path: Path | None, label_candidates: Sequence[Path],
               stored: dict | None, source_split: str) -> SplitData:
        from lteval.io.tables import align, read_predictions

        label_path = next((p for p in label_candidates if p is not None and Path(p).is_file()), None)
        if label_path is None and self._label_paths.get(split) is not None:
            label_path = Path(self._label_paths[split])  # type: ignore[arg-type]
            if not label_path.is_file():
                raise UsageError(f"--{split}-labels file does not exist", file=str(label_path))
        if pred_path is None or not pred_path.is_file():
            return SplitData(split, source_split, None, None, None, stored)
        preds = read_predictions(pred_path, self.task)
        if label_path is None:
            return SplitData(split, source_split, preds.ids, None, preds.p, stored,
                             pred_path=str(pred_path))
        ids, y, p = align(self._labels(label_path), preds)
        return SplitData(split, source_split, ids, y, p, stored, labels_from=str(label_path),
                         pred_path=str(pred_path))

    def load_run_dir(self, run_dir: str | Path, *, with_stages: bool = True) -> list[LoadedRun]:
        """The run at ``run_dir`` and (``with_stages``) each ``post/<stage>`` as ``<run>+<stage>``."""
        d = Path(run_dir)
        if not d.exists():
            raise UsageError(f"run directory {d} does not exist", file=str(d))
        if not is_run_dir(d):
            raise UsageError(f"{d} is not a run directory (expected predictions/ or scores/ in it)",
                             file=str(d))
        if d.parent.name == "post" and is_run_dir(d.parent.parent):
            base_dir = d.parent.parent
            base_name = _run_name(base_dir)
            runs = [self._load_one(d, f"{base_name}+{d.name}", base_name, d.name, base_dir)]
            return runs
        name = _run_name(d)
        runs = [self._load_one(d, name, None, None, None)]
        if with_stages:
            for s in _stage_dirs(d):
                runs.append(self._load_one(s, f"{name}+{s.name}", name, s.name, d))
        return runs

    def _load_one(self, d: Path, name: str, base: str | None, stage: str | None,
                  base_dir: Path | None) -> LoadedRun:
        config = read_json(d / "config.json", "run config") if (d / "config.json").is_file() else None
        if config is None and base_dir is not None and (base_dir / "config.json").is_file():
            config = read_json(base_dir / "config.json", "run config")
        if config is not None and not isinstance(config, dict):
            raise InputError("run config is not a JSON object", file=str(d / "config.json"))
        if config and isinstance(config.get("task"), str):
            self._settle_task(config["task"], str(d / "config.json"))
        run = LoadedRun(name=name, kind="stage" if stage else "run", path=d, config=config,
                        base=base, stage=stage)
        for split in SPLITS:
            chosen = None
            for cand in (split,) + _FALLBACK[split]:
                if (d / "predictions" / f"{cand}.csv").is_file() or (d / "scores" / f"{cand}.json").is_file():
                    chosen = cand
                    break
            if chosen is None:
                continue
            if chosen != split:
                run.notes.append(f"no {split} split: its '{chosen}' split is reported as {split}")
            stored = None
            score_path = d / "scores" / f"{chosen}.json"
            if score_path.is_file():
                stored = read_json(score_path, "score file")
                if isinstance(stored, dict) and isinstance(stored.get("task"), str):
                    self._settle_task(stored["task"], str(score_path))
                else:
                    raise InputError("not an `lteval score --json` file", file=str(score_path))
            labels = [d / "labels" / f"{chosen}.csv"]
            if base_dir is not None:
                labels.append(base_dir / "labels" / f"{chosen}.csv")
            pred = d / "predictions" / f"{chosen}.csv"
            run.splits[split] = self._split(split, pred if pred.is_file() else None, labels, stored,
                                            chosen)
        th = d / "thresholds.json"
        calib = d / "calibration.json"
        if th.is_file():
            obj = read_json(th, "thresholds file")
            run.thresholds = parse_thresholds(obj, self.task, th)
            run.thresholds_source = _describe_thresholds(th, obj)
        elif calib.is_file():
            obj = read_json(calib, "calibration file")
            if isinstance(obj, dict) and obj.get("thresholds") is not None:
                run.thresholds = parse_thresholds(obj, self.task, calib)
                run.thresholds_source = _describe_thresholds(calib, obj)
        if stage is None:  # a stage shares its base run's training: one set of curves
            from lteval.report.curves import read_curves

            run.curves, note = read_curves(d, name)
            if note:
                run.notes.append(note)
        if not run.splits:
            raise InputError("run directory has neither predictions/dev.csv nor predictions/test.csv "
                             "(nor val / scores)", file=str(d))
        return run

    def load_pred(self, src: PredSource) -> LoadedRun:
        run = LoadedRun(name=src.name, kind="pred", path=None, config=None)
        if self._label_paths.get("dev") is None:
            raise UsageError("--pred needs --dev-labels (the labels of the dev predictions)")
        run.splits["dev"] = self._split("dev", Path(src.dev), [], None, "dev")
        if src.test is not None:
            if self._label_paths.get("test") is None:
                run.notes.append("test predictions given but no --test-labels: test not scored")
            run.splits["test"] = self._split("test", Path(src.test), [], None, "test")
        return run

    def load(self, sources: Iterable[str | Path | PredSource], *, with_stages: bool = True
             ) -> list[LoadedRun]:
        runs: list[LoadedRun] = []
        for s in sources:
            if isinstance(s, PredSource):
                runs.append(self.load_pred(s))
            else:
                runs.extend(self.load_run_dir(s, with_stages=with_stages))
        if not runs:
            raise UsageError("nothing to report: give run directories or --pred NAME=DEV.csv:TEST.csv")
        seen: dict[str, int] = {}
        for r in runs:  # unique names: a second 'x' becomes 'x (2)'
            if r.name in seen:
                seen[r.name] += 1
                r.notes.append(f"renamed from {r.name!r}: another run has that name")
                r.name = f"{r.name} ({seen[r.name]})"
            else:
                seen[r.name] = 1
        return runs


def _describe_thresholds(path: Path, obj: Any) -> str:
    t = obj.get("thresholds", obj) if isinstance(obj, dict) else None
    strategy = t.get("strategy") if isinstance(t, dict) else None
    return f"{path}" + (f" (strategy {strategy})" if isinstance(strategy, str) else "")


def _run_name(d: Path) -> str:
    return Path(d).resolve().name


def synthetic_metadata_path(config: dict | None) -> Path | None:
    """``metadata.csv`` of the synthetic set a ``data="synth"`` run config was trained on
    (``$LTEVAL_HOME/synth/n…-d…-t…-…px-seed…``, as ``lteval.data.run_data.synth_root``), else None.

    A complete set generated before ``metadata.csv`` existed has it written first (as
    ``lteval data synth`` / training would), from the set's own seed."""
    if not isinstance(config, dict) or config.get("data") != "synth":
        return None
    try:
        n, d, t, s, seed = (int(config[k]) for k in ("synth_n_train", "synth_n_dev", "synth_n_test",
                                                     "synth_size", "synth_seed"))
    except (KeyError, TypeError, ValueError):
        return None
    from lteval.data.run_data import synth_root

    root = synth_root(SimpleNamespace(synth_n_train=n, synth_n_dev=d, synth_n_test=t, synth_size=s,
                                      synth_seed=seed))
    if not (root / "metadata.csv").is_file():
        from lteval.data.synth import ensure_metadata, read_meta

        if read_meta(root) is None:
            return None
        ensure_metadata(root)  # a set generated before metadata.csv existed gains it
    return root / "metadata.csv"


def _synthetic_metadata_of(run: LoadedRun) -> Path | None:
    if run.kind == "pred":
        return None
    found = synthetic_metadata_path(run.config)
    if found is None and run.kind == "stage" and run.path is not None:  # a stage's own config
        base = run.path.parent.parent / "config.json"                  # may lack the data keys
        if base.is_file():
            found = synthetic_metadata_path(read_json(base, "run config"))
    return found


def resolve_metadata(runs: Sequence[LoadedRun], metadata: str | Path | None, task: Task, *,
                     needed: bool) -> tuple[Any, str | None]:
    """The metadata table the report joins by ID, and a sentence saying where it came from.

    ``metadata``: the ``--metadata`` CSV. Without it, and only when ``needed`` (--cluster-by
    or --strata-by given), every run must be a run directory on one and the same synthetic
    set whose ``metadata.csv`` exists: that file is used, and the page says so. Otherwise a
    UsageError asks for --metadata. Returns ``(None, None)`` when nothing is needed.
    """
    from lteval.io.metadata import read_metadata

    if metadata is not None:
        return read_metadata(metadata, task), f"metadata from {metadata}"
    if not needed:
        return None, None
    paths = {_synthetic_metadata_of(r) for r in runs}
    if len(paths) == 1 and None not in paths:
        path = paths.pop()
        return (read_metadata(path, task),
                f"metadata from {path}: the synthetic set every run here was trained on "
                "(no --metadata given)")
    raise UsageError("--cluster-by / --strata-by need --metadata META.csv (ImageID + columns); "
                     "it defaults to the synthetic set's metadata.csv only when every run is a "
                     "run directory on one synthetic set")
