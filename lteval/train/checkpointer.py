"""Saving and restoring a training run: ``checkpoints/last.pt`` (resume) and ``checkpoints/best.pt`` (selection).

``last.pt`` holds everything an exact resume needs — model, optimiser, scheduler, grad scaler,
loss schedule (DRW), EMA, the loop counters (:class:`lteval.train.engine.TrainState`), the
sampler position and the python/numpy/torch RNG states of every rank — so a run killed at any
point and resumed ends with the same numbers as an uninterrupted one (CPU; same number of
processes and threads). ``best.pt`` holds the selected evaluation model and what selected it.
Only rank 0 writes (atomically, :func:`lteval.train.rundir.save_checkpoint`); every rank reads.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from lteval.errors import ConfigError, UsageError
from lteval.train import rundir as rd
from lteval.train.distributed import all_gather_object

__all__ = ["Checkpointer", "rng_state", "set_rng_state"]


def rng_state() -> dict:
    """This process's python, numpy, torch (and CUDA) generator states, as tensors and plain values
    (loadable with ``weights_only=True``)."""
    st = np.random.get_state()
    d = {"python": random.getstate(),
         "numpy": {"keys": torch.from_numpy(st[1].astype(np.int64)), "pos": int(st[2]),
                   "has_gauss": int(st[3]), "cached": float(st[4])},
         "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        d["cuda"] = torch.cuda.get_rng_state_all()
    return d


def set_rng_state(d: dict) -> None:
    """Restore generator states saved by :func:`rng_state`."""
    py = d["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = d["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(d["torch"])
    if "cuda" in d and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(d["cuda"])


class Checkpointer:
    """The checkpoints of run directory ``run_dir`` trained with config ``cfg`` on ``dist``'s processes."""

    def __init__(self, run_dir: str | Path, cfg, dist) -> None:
        self.run_dir, self.cfg, self.dist = Path(run_dir), cfg, dist
        self.config_hash = cfg.to_dict()["config_hash"]

    @property
    def last(self) -> Path:
        """``RUN/checkpoints/last.pt``."""
        return self.run_dir / rd.LAST

    @property
    def best(self) -> Path:
        """``RUN/checkpoints/best.pt``."""
        return self.run_dir / rd.BEST

    def save_last(self, parts, state) -> None:
        """Write ``last.pt`` from :class:`~lteval.train.parts.RunParts` and the loop state (a collective:
        every rank calls it; its RNG state is gathered, rank 0 writes)."""
        from lteval.train.ema import unwrap_model

        rngs = all_gather_object(rng_state())
        if not self.dist.is_main:
            return
        ema = parts.ema
        rd.save_checkpoint(self.last, {
            "config_hash": self.config_hash, "world_size": self.dist.world_size,
            "model": unwrap_model(parts.model).state_dict(), "optimizer": parts.optimizer.state_dict(),
            "scheduler": parts.scheduler.state_dict(), "scaler": parts.scaler.state_dict(),
            "loss": parts.loss.state_dict(), "ema": ema.state_dict() if ema is not None else None,
            "state": state.to_dict(),
            "sampler": {"epoch": state.epoch, "position": state.batch * self.cfg.batch_size,
                        **parts.sampler.state_dict()},
            "rng": rngs})

    def resume(self, parts, state) -> None:
        """Restore ``parts``, the loop ``state`` and this rank's RNG from ``last.pt``; UsageError when it
        belongs to another config, ConfigError when it was trained on another number of processes
        (the same number split differently over nodes resumes exactly)."""
        ck = rd.load_checkpoint(self.last)
        if ck.get("config_hash") != self.config_hash:
            raise UsageError(f"{self.last} belongs to another config; cannot resume from it")
        was, now = ck.get("world_size", 1), self.dist.world_size
        if was != now:
            raise ConfigError(f"cannot resume {self.last} on {now} process(es): it was trained on {was} and "
                              f"batch_size={self.cfg.batch_size} is per process, so the global batch "
                              f"({self.cfg.batch_size} x {was}), steps per epoch and sampler shards would change; "
                              f"resume with {was} processes in all (any split over nodes: --nproc, --nnodes)")
        parts.model.load_state_dict(ck["model"])
        parts.optimizer.load_state_dict(ck["optimizer"])
        parts.scheduler.load_state_dict(ck["scheduler"])
        parts.scaler.load_state_dict(ck["scaler"])
        parts.loss.load_state_dict(ck["loss"])
        if parts.ema is not None:
            parts.ema.load_state_dict(ck["ema"])
        state.load(ck["state"])
        set_rng_state(ck["rng"][self.dist.rank])

    def save_best(self, model, *, epoch, step: int, val_map: float, drw_active: bool, ema: bool) -> None:
        """Write ``best.pt``: the selected evaluation ``model``'s weights, the evaluation's ``epoch``
        (1-based, fractional inside an epoch), optimiser ``step``, val mAP, whether re-weighting was on
        and whether ``model`` is the EMA copy (rank 0)."""
        if not self.dist.is_main:
            return
        cfg = self.cfg
        rd.save_checkpoint(self.best, {
            "model": model.state_dict(), "epoch": epoch, "step": step, "val_mAP": val_map,
            "drw_active": drw_active, "config_hash": self.config_hash,
            "backbone": cfg.backbone, "head": cfg.head, "loss": cfg.loss, "ema": ema})

    def load_best(self, model) -> None:
        """Load ``best.pt``'s weights into ``model`` (every rank; one node, shared disk)."""
        model.load_state_dict(rd.load_checkpoint(self.best)["model"])
