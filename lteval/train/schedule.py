"""Optimiser and learning-rate schedule: AdamW without decay on norms/biases; cosine with warmup.

``opt = build_optimizer(model, lr=1e-4, weight_decay=0.05)`` and
``sched = build_scheduler(opt, total_steps, warmup_steps)``; call ``sched.step()`` after every
optimiser step. Both are checkpointed with their ``state_dict()``.

Learning rate at optimiser step ``s`` (0-based), ``W`` warmup steps, ``T`` total steps:
``lr_s = base * (s + 1) / W`` for ``s < W``; then
``lr_s = base * (r + (1 - r) * (1 + cos(pi * min(1, (s - W) / (T - W)))) / 2)`` with ``r = min_lr_ratio``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lteval.errors import ConfigError

__all__ = ["build_optimizer", "build_scheduler", "WarmupCosine", "WarmupCosineLR", "param_groups"]


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two AdamW groups: ``decay`` (weights of conv/linear layers) and ``no_decay`` (biases, norm
    and layer-scale parameters — every tensor with ndim <= 1 — and the model's ``no_weight_decay()``
    names). Frozen parameters (``requires_grad=False``) are left out."""
    skip = set()
    if hasattr(model, "no_weight_decay"):
        try:
            skip = set(model.no_weight_decay())
        except Exception:  # pragma: no cover - exotic models
            skip = set()
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.ndim <= 1 or name in skip or name.endswith(".bias"):
            no_decay.append(p)
        else:
            decay.append(p)
    groups = [{"params": decay, "weight_decay": float(weight_decay), "name": "decay"},
              {"params": no_decay, "weight_decay": 0.0, "name": "no_decay"}]
    return [g for g in groups if g["params"]]


def build_optimizer(model: nn.Module, lr: float, weight_decay: float = 0.05, *,
                    betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> torch.optim.AdamW:
    """AdamW over ``model``'s trainable parameters, no weight decay on norms and biases."""
    if lr <= 0:
        raise ConfigError(f"learning rate must be > 0, got {lr}")
    if weight_decay < 0:
        raise ConfigError(f"weight_decay must be >= 0, got {weight_decay}")
    groups = param_groups(model, weight_decay)
    if not groups:
        raise ConfigError("the model has no trainable parameters")
    return torch.optim.AdamW(groups, lr=float(lr), betas=tuple(betas), eps=float(eps))


class WarmupCosine:
    """Multiplicative LR factor: linear warmup over ``warmup_steps``, then cosine to ``min_lr_ratio``."""

    def __init__(self, total_steps: int, warmup_steps: int = 0, min_lr_ratio: float = 0.0) -> None:
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.min_lr_ratio = float(min_lr_ratio)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class WarmupCosineLR(torch.optim.lr_scheduler.LambdaLR):
    """``LambdaLR`` whose ``load_state_dict`` also sets the optimiser's current learning rates, so a
    resumed run continues at the right rate whatever order optimiser and scheduler were restored in."""

    def load_state_dict(self, state_dict) -> None:
        super().load_state_dict(state_dict)
        for group, base, fn in zip(self.optimizer.param_groups, self.base_lrs, self.lr_lambdas):
            group["lr"] = base * fn(self.last_epoch)
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]


def build_scheduler(optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int = 0, *,
                    min_lr_ratio: float = 0.0) -> WarmupCosineLR:
    """Per-step cosine schedule with linear warmup (a ``LambdaLR``; its state_dict resumes it)."""
    if int(total_steps) < 1:
        raise ConfigError(f"total_steps must be >= 1, got {total_steps}")
    if not 0 <= int(warmup_steps) <= int(total_steps):
        raise ConfigError(f"warmup_steps must be in [0, total_steps={total_steps}], got {warmup_steps}")
    if not 0.0 <= min_lr_ratio <= 1.0:
        raise ConfigError(f"min_lr_ratio must be in [0, 1], got {min_lr_ratio}")
    return WarmupCosineLR(optimizer, WarmupCosine(total_steps, warmup_steps, min_lr_ratio))
