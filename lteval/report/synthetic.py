"""Small synthetic run directories (rundir layout) for tests, benchmarks and trying the report.

Labels follow the task's training prevalence (floored so every class has a few
positives); predictions are noisy logits whose signal is weaker on test than on dev,
so a dev→test gap exists. Score files are written by the metrics core.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lteval.tasks import Task, get_task


def make_labels(task: Task, n: int, seed: int, min_prevalence: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, y)`` with per-class prevalence from the task's default counts (or 5 %)."""
    rng = np.random.default_rng(seed)
    if task.default_counts is not None:
        prev = np.array(task.default_counts.prevalence(task.classes))
    else:
        prev = np.full(task.n_classes, 0.05)
    prev = np.maximum(prev, min_prevalence)
    y = (rng.random((n, task.n_classes)) < prev).astype(np.int8)
    y[rng.integers(0, n, size=task.n_classes), np.arange(task.n_classes)] = 1  # >= 1 positive
    ids = np.array([f"img_{seed}_{i:06d}.png" for i in range(n)])
    return ids, y


def make_predictions(y: np.ndarray, seed: int, strength: float, bias: float = -1.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = bias + strength * (y - 0.3) + rng.normal(0.0, 1.0, y.shape)
    return np.round(1.0 / (1.0 + np.exp(-logits)), 6)


def make_run(root: str | Path, name: str, *, task: str | Task = "cxrlt2026-task1", seed: int = 0,
             n_dev: int = 300, n_test: int = 300, labels_seed: int = 1234, strength: float = 2.0,
             shift: float = 0.6, loss: str = "bce", backbone: str = "resnet18",
             calib_stage: bool = False, with_scores: bool = True, test_labels: bool = True,
             curves: bool = True) -> Path:
    """Write ``root/name`` as a finished run directory and return its path.

    ``curves``: also a ``metrics.jsonl`` training log (8 evaluations; deferred re-weighting
    switched on for the last three when ``loss`` contains ``drw``) and a ``DONE`` record.
    """
    from lteval.io.tables import write_labels, write_predictions
    from lteval.metrics.score_report import score_arrays
    from lteval.scoring import resolve_groups

    t = get_task(task)
    groups = resolve_groups(t)
    d = Path(root) / name
    d.mkdir(parents=True, exist_ok=False)
    config = {"name": name, "backbone": backbone, "loss": loss, "preset": "smoke",
              "task": t.name, "seed": seed, "image_size": 64, "epochs": 1,
              "config_hash": f"{abs(hash((name, seed))) % 16**8:08x}", "lteval_version": "test"}
    (d / "config.json").write_text(json.dumps(config, indent=2))
    splits = {"dev": (n_dev, strength), "test": (n_test, strength * (1.0 - shift))}
    preds = {}
    for i, (split, (n, s)) in enumerate(splits.items()):
        ids, y = make_labels(t, n, labels_seed + i)
        p = make_predictions(y, seed * 7 + i, s)
        preds[split] = (ids, y, p)
        if split == "dev" or test_labels:
            write_labels(d / "labels" / f"{split}.csv", ids, y, t)
        write_predictions(d / "predictions" / f"{split}.csv", ids, p, t)
        if with_scores and (split == "dev" or test_labels):
            rep = score_arrays(y, p, t.classes, task=t.name, groups=groups)
            (d / "scores").mkdir(exist_ok=True)
            (d / "scores" / f"{split}.json").write_text(json.dumps(rep.to_dict(), indent=2))
    if calib_stage:
        st = d / "post" / "calib"
        (st / "predictions").mkdir(parents=True)
        (st / "config.json").write_text(json.dumps({**config, "stage": "calib"}, indent=2))
        thr = {c: round(0.2 + 0.02 * j, 4) for j, c in enumerate(t.classes)}
        (st / "thresholds.json").write_text(json.dumps({"thresholds": thr}))
        for split, (ids, y, p) in preds.items():
            z = np.log(np.clip(p, 1e-6, 1 - 1e-6) / np.clip(1 - p, 1e-6, 1)) * 0.6 - 0.3
            write_predictions(st / "predictions" / f"{split}.csv", ids, np.round(1 / (1 + np.exp(-z)), 6), t)
    done: dict = {}
    if curves:
        evals = training_log(seed, drw="drw" in loss)
        (d / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evals))
        best = [e for e in evals if e["best"]][-1]
        done = {"best_epoch": best["epoch"], "best_val_mAP": best["val_mAP"],
                "epochs_run": len(evals)}
    (d / "DONE").write_text(json.dumps(done))
    return d


def training_log(seed: int, *, epochs: int = 8, steps_per_epoch: int = 50, drw: bool = False,
                 drw_epoch: int = 5) -> list[dict]:
    """A plausible ``metrics.jsonl`` (one evaluation per epoch, keys as the engine writes them)."""
    rng = np.random.default_rng(seed + 99)
    out, best = [], -1.0
    for e in range(epochs):
        frac = (e + 1) / epochs
        vmap = float(np.round(0.12 + 0.2 * (1 - np.exp(-3 * frac)) + rng.normal(0, 0.01), 6))
        improved = vmap > best
        best = max(best, vmap)
        out.append({"epoch": e + 1, "step": (e + 1) * steps_per_epoch,
                    "train_loss": float(np.round(0.7 * np.exp(-1.5 * frac) + 0.1 + rng.normal(0, 0.005), 6)),
                    "lr": float(np.round(1e-3 * 0.5 * (1 + np.cos(np.pi * e / epochs)), 9)),
                    "val_mAP": vmap, "val_mAUROC": float(np.round(0.6 + vmap, 6)), "best": bool(improved),
                    "drw_active": bool(drw and e >= drw_epoch)})
    return out
