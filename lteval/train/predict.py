"""Inference and the run directory's outputs.

``predict_raw(model, dataset, ...)`` → raw model outputs (n, C) float32 in dataset order (sharded
over DDP ranks and gathered). ``outputs(loss, raw)`` → ``(logits, probs)`` float64 with
``logits = loss.to_logits(raw)`` and ``probs = sigmoid(logits)`` — the evaluation logits use the
scale the loss trained with (LDAM: ``s·z``), so probabilities, F1 and calibration are not distorted.
``write_split(run_dir, split, ids, logits, task, labels)`` writes ``predictions/<split>.csv``
(probabilities), ``logits/<split>.csv``, ``labels/<split>.csv`` (when labels are known) and
``scores/<split>.json`` (``lteval score --json`` schema, by the metrics core).
``load_run(run_dir)`` → a :class:`TrainedRun`: a finished run's config, data, splits, selected
model and loss, for post-training.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from lteval.calibration._arrays import sigmoid
from lteval.io.atomic import write_json_atomic
from lteval.train.device import autocast_context, to_device

__all__ = ["predict_raw", "outputs", "sigmoid", "write_split", "load_run", "TrainedRun"]


@torch.no_grad()
def predict_raw(model, dataset, *, batch_size: int = 256, device: torch.device | str = "cpu", amp_dtype=None,
                channels_last: bool = False, num_workers: int = 0, rank: int = 0, world_size: int = 1,
                progress=None) -> np.ndarray:
    """Raw outputs (n, C) float32 of ``model`` on every item of ``dataset``, in dataset order.

    With ``world_size > 1`` each rank runs positions ``rank::world_size`` and the shards are
    gathered (every rank gets the full array). ``progress(k)`` is called with each batch size.
    """
    from lteval.train.distributed import all_gather_object

    device = torch.device(device)
    n = len(dataset)
    mine = np.arange(rank, n, world_size)
    loader = DataLoader(Subset(dataset, mine.tolist()), batch_size=int(batch_size), shuffle=False,
                        num_workers=int(num_workers))
    was_training = model.training
    model.eval()
    parts = []
    for x, _, _ in loader:
        x = to_device(x, device, channels_last)
        with autocast_context(device, amp_dtype):
            out = model(x)
        parts.append(out.float().cpu().numpy())
        if progress is not None:
            progress(len(x))
    model.train(was_training)
    raw = np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
    if world_size > 1:
        shards = all_gather_object((mine, raw))
        C = next(r.shape[1] for _, r in shards if r.size)
        full = np.empty((n, C), np.float32)
        for idx, r in shards:
            if len(idx):
                full[idx] = r
        return full
    return raw


def outputs(loss, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(logits, probs)`` float64 (n, C): ``logits = loss.to_logits(raw)``, ``probs = sigmoid(logits)``."""
    ref = next(iter(loss.buffers()), None)
    device = ref.device if ref is not None else torch.device("cpu")
    with torch.no_grad():
        t = torch.as_tensor(np.asarray(raw, np.float32)).to(device)
        logits = loss.to_logits(t).double().cpu().numpy()
    return logits, sigmoid(logits)


def write_split(run_dir: str | Path, split: str, ids, logits: np.ndarray, task, labels: np.ndarray | None = None,
                *, n_boot: int = 0) -> dict | None:
    """Write one split's predictions, logits, labels and scores; return the score dict (or None)."""
    import warnings

    from lteval.io.tables import PROB_DECIMALS, write_labels, write_predictions
    from lteval.scoring import score

    run_dir = Path(run_dir)
    probs = sigmoid(logits)
    pred_p = write_predictions(run_dir / "predictions" / f"{split}.csv", ids, probs, task, force=True,
                               decimals=PROB_DECIMALS)
    write_predictions(run_dir / "logits" / f"{split}.csv", ids, logits, task, force=True)
    if labels is None:
        return None
    lab_p = write_labels(run_dir / "labels" / f"{split}.csv", ids, labels, task, force=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # classes without positives are reported in the JSON itself
        rep = score(pred_p, lab_p, task=task, n_boot=n_boot)
    d = rep.to_dict()
    write_json_atomic(run_dir / "scores" / f"{split}.json", d)
    return d


class TrainedRun:
    """A finished training run, rebuilt for post-training: ``run_dir``, ``cfg`` (TrainConfig), data
    ``source``, ``splits`` and their ``labels`` ({split: (n, C)}), the selected ``model`` (eval mode)
    and the trained ``loss`` (its ``to_logits`` maps raw outputs to evaluation logits)."""

    def __init__(self, run_dir, cfg, source, splits, labels, model, loss):
        self.run_dir, self.cfg, self.source, self.splits = Path(run_dir), cfg, source, splits
        self.labels, self.model, self.loss = labels, model, loss

    @property
    def task(self):
        """The run's :class:`~lteval.tasks.Task` (classes, ID column)."""
        return self.source.task

    def eval_sets(self):
        """``[(split, ids, labels or None)]`` for val, calib, dev, test (those available)."""
        from lteval.data.run_data import eval_sets

        return eval_sets(self.source, self.splits, self.labels)


def load_run(run_dir: str | Path, *, device: str | torch.device = "cpu", checkpoint: str = "best") -> TrainedRun:
    """Rebuild a run's model (``checkpoints/<checkpoint>.pt`` weights, eval mode) and loss (same class
    counts as in training: the run's train split), with its data source and splits. Nothing is trained."""
    from lteval.data.run_data import open_data, split_labels
    from lteval.data.splits import read_splits
    from lteval.train import rundir as rd
    from lteval.train.config import TrainConfig
    from lteval.train.models import create_model
    from lteval.train.parts import run_loss

    run_dir = Path(run_dir)
    cfg = TrainConfig.from_dict(rd.read_config(run_dir))
    source = open_data(cfg, progress=False, prepare=False)
    splits = read_splits(run_dir)
    labels = split_labels(source, splits)
    loss = run_loss(cfg, labels["train"])  # a deferred loss is left unscheduled: only its to_logits is needed here
    model = create_model(cfg.backbone, source.task.n_classes, in_chans=1, img_size=cfg.image_size, head=cfg.head)
    ck = rd.load_checkpoint(run_dir / ("checkpoints/" + checkpoint + ".pt"))
    model.load_state_dict(ck["model"])
    if isinstance(ck.get("loss"), dict):  # last.pt: the loss's schedule state (DRW epoch)
        loss.load_state_dict(ck["loss"])
    model.to(device).eval()
    return TrainedRun(run_dir, cfg, source, splits, labels, model, loss.to(device))
