"""The data of a training run: which source a run config names, its split labels, what it predicts.

Torch-free; ``cfg`` is a :class:`lteval.train.config.TrainConfig` (or anything with its ``data``,
``task``, ``image_dir`` and ``synth_*`` attributes), so this module imports nothing from ``train/``.

* :func:`open_data` — the run's :class:`~lteval.data.source.DataSource`: the synthetic set
  (generated once under ``$LTEVAL_HOME/synth/``, see :func:`synth_root`) or a CXR-LT root.
* :func:`split_labels` — the labels (n, C) of each of the run's own splits (train/val/calib).
* :func:`eval_sets` — the splits a finished model predicts: val, calib, then the official dev/test.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["lteval_home", "synth_params", "synth_root", "open_data", "split_labels", "eval_sets"]


def lteval_home() -> Path:
    """Where lteval keeps generated data: env LTEVAL_HOME, else ~/.cache/lteval."""
    env = os.environ.get("LTEVAL_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "lteval"


def synth_params(cfg) -> dict:
    """Parameters of the synthetic set a ``data="synth"`` run uses (image counts, pixels, seed)."""
    return dict(n_train=cfg.synth_n_train, n_dev=cfg.synth_n_dev, n_test=cfg.synth_n_test,
                size=cfg.synth_size, seed=cfg.synth_seed)


def synth_root(cfg) -> Path:
    """The folder of the synthetic set of ``cfg``: ``$LTEVAL_HOME/synth/n…-d…-t…-…px-seed…``."""
    p = synth_params(cfg)
    return lteval_home() / "synth" / (f"n{p['n_train']}-d{p['n_dev']}-t{p['n_test']}-{p['size']}px-seed{p['seed']}")


def open_data(cfg, *, progress: bool = True, prepare: bool = True):
    """The data source of ``cfg``: the synthetic set (generated if missing, when ``prepare``) or a root."""
    from lteval.data.source import open_source

    if cfg.data == "synth":
        root = synth_root(cfg)
        if prepare:
            from lteval.data.synth import ensure_synthetic
            ensure_synthetic(root, **synth_params(cfg), progress=progress)
        return open_source(root, task=cfg.task)
    return open_source(cfg.data, image_dir=cfg.image_dir or None, task=cfg.task)


def split_labels(source, splits: dict) -> dict[str, np.ndarray]:
    """``{split: labels (n, C)}`` of each of the run's splits (IDs of the training file), in split order."""
    pos = {v: i for i, v in enumerate(source.train_ids.tolist())}
    return {s: source.train_y[[pos[v] for v in ids]] for s, ids in splits.items()}


def eval_sets(source, splits: dict, labels: dict) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    """``[(split, ids, labels (n, C) or None)]`` a run predicts: val and calib (when not empty), then
    the official dev and test that the source has (never used for fitting or selection)."""
    out = [(s, splits[s], labels[s]) for s in ("val", "calib") if len(splits.get(s, ()))]
    for s in ("dev", "test"):
        if source.has_split(s) and len(source.eval_ids(s)):
            out.append((s, source.eval_ids(s), source.eval_labels(s)))
    return out
