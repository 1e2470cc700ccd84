"""The parts of a training run, built from its config: model, loss, sampler, optimiser, schedule, EMA.

:func:`build_run` returns them as one :class:`RunParts` with the run's step arithmetic
(optimiser steps per epoch, total, warmup, the deferred loss's switch step and the steps after
which the model is evaluated, :func:`evaluation_steps`). :func:`run_loss` is the loss of a run
config for its train split's labels — the one place it is made, for training and for loading a
finished run (:func:`lteval.train.predict.load_run`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np
import torch

from lteval.errors import ConfigError

__all__ = ["RunParts", "build_run", "run_loss", "evaluation_steps", "seed_everything"]


@dataclass
class RunParts:
    """What a run trains and how: modules, optimisation, sampling, and its step counts (optimiser steps)."""

    model: torch.nn.Module
    loss: torch.nn.Module
    sampler: object
    optimizer: torch.optim.Optimizer
    scheduler: object
    scaler: torch.amp.GradScaler
    ema: torch.nn.Module | None
    steps_per_epoch: int
    micro_per_epoch: int        # micro-batches per epoch and process (steps_per_epoch x grad_accum)
    total_steps: int
    warmup_steps: int
    switch_step: int | None     # a deferred loss's switch (re-weighting from this optimiser step on)
    eval_steps: list[int] = field(default_factory=list)

    @property
    def deferred(self) -> bool:
        """Whether the loss switches during training (DRW)."""
        return self.switch_step is not None

    def eval_model(self) -> torch.nn.Module:
        """The model that is evaluated and selected: the EMA copy when there is one, else the plain model."""
        from lteval.train.ema import unwrap_model

        return self.ema.module if self.ema is not None else unwrap_model(self.model)


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's global generators with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def run_loss(cfg, train_y: np.ndarray):
    """The loss of config ``cfg`` for train labels ``train_y`` (n, C): its class counts and n images.

    A deferred loss comes unscheduled (:meth:`schedule` is the trainer's, with the run's length)."""
    from lteval.train.losses import create_loss

    counts = train_y.sum(axis=0).astype(np.float64)
    return create_loss(cfg.loss, counts, n_samples=len(train_y), **dict(cfg.loss_kwargs))


def build_run(cfg, n_classes: int, train_y: np.ndarray, *, dev, dist) -> RunParts:
    """Model, loss, optimiser, schedule, grad scaler, EMA and sampler of ``cfg`` for train labels
    ``train_y`` (n, C) on ``dev`` (:class:`~lteval.train.device.DeviceSettings`), sharded over
    ``dist`` (:class:`~lteval.train.distributed.DistInfo`). Seeds the global generators first."""
    from lteval.train.ema import ModelEma
    from lteval.train.models import create_model
    from lteval.train.samplers import create_sampler
    from lteval.train.schedule import build_optimizer, build_scheduler

    device = dev.device
    seed_everything(cfg.seed)
    model = create_model(cfg.backbone, n_classes, in_chans=1, pretrained=cfg.pretrained, img_size=cfg.image_size,
                         drop_rate=cfg.drop_rate, head=cfg.head)
    model.to(device)
    if dev.channels_last:
        model.to(memory_format=torch.channels_last)
    loss = run_loss(cfg, train_y).to(device)
    n_per_epoch = cfg.images_per_epoch or len(train_y)
    sampler = create_sampler(cfg.sampler, train_y, num_replicas=dist.world_size, rank=dist.rank, seed=cfg.seed,
                             epochs=cfg.epochs, num_samples=n_per_epoch)
    per_rank = sampler.num_samples
    micro = per_rank // cfg.batch_size
    steps = micro // cfg.grad_accum
    if steps < 1:
        raise ConfigError(f"an epoch of {per_rank} images per process is too short for batch_size={cfg.batch_size} "
                          f"x grad_accum={cfg.grad_accum}: lower them or raise images_per_epoch")
    total = steps * cfg.epochs
    warm = min(total, int(round(cfg.warmup_epochs * steps)))
    loss.schedule(total, steps)  # DRW: the switch step, with its guards (ConfigError)
    switch = getattr(loss, "switch_step", None) if loss.deferred else None
    opt = build_optimizer(model, cfg.lr, cfg.weight_decay)
    sched = build_scheduler(opt, total, warm, min_lr_ratio=cfg.min_lr_ratio)
    ema = ModelEma(model, cfg.ema_decay) if cfg.ema else None
    scaler = torch.amp.GradScaler(device.type, enabled=(dev.amp_dtype == torch.float16))
    return RunParts(model=model, loss=loss, sampler=sampler, optimizer=opt, scheduler=sched, scaler=scaler, ema=ema,
                    steps_per_epoch=steps, micro_per_epoch=steps * cfg.grad_accum, total_steps=total,
                    warmup_steps=warm, switch_step=switch, eval_steps=evaluation_steps(total, steps, switch))


def evaluation_steps(total_steps: int, steps_per_epoch: int, switch_step: int | None = None) -> list[int]:
    """Optimiser steps after which the model is evaluated on val: every epoch end and, for a
    deferred loss whose re-weighted phase (steps after ``switch_step``) holds fewer than two epoch
    ends, two evenly spaced points inside that phase (its middle and its end)."""
    steps = set(range(steps_per_epoch, total_steps + 1, steps_per_epoch)) | {total_steps}
    if switch_step is not None and sum(s > switch_step for s in steps) < 2:
        span = total_steps - switch_step
        steps |= {switch_step + math.ceil(j * span / 2) for j in (1, 2)}
    return sorted(steps)
