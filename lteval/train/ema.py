"""Exponential moving average of model weights (Polyak averaging), checkpointable.

``ema = ModelEma(model, decay=0.9998)``; after each optimiser step call ``ema.update(model)``;
evaluate ``ema.module`` (or call ``ema(x)``). Floating-point parameters *and* buffers (BatchNorm
running statistics) are averaged; integer buffers are copied. With ``warmup=True`` the decay used
at update k is ``min(decay, (1 + k) / (10 + k))``, so early averages are not dominated by the random
initialisation. ``state_dict()`` holds the averaged weights and the update count.
"""

from __future__ import annotations

from copy import deepcopy

import torch
from torch import nn

__all__ = ["ModelEma", "unwrap_model"]


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain module inside DistributedDataParallel / torch.compile wrappers."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        else:
            return model


class ModelEma(nn.Module):
    """A frozen copy of ``model`` tracking the moving average of its weights."""

    def __init__(self, model: nn.Module, decay: float = 0.9998, *, warmup: bool = True,
                 device: torch.device | str | None = None) -> None:
        super().__init__()
        if not 0.0 <= decay < 1.0:
            from lteval.errors import ConfigError

            raise ConfigError(f"EMA decay must be in [0, 1), got {decay}")
        self.module = deepcopy(unwrap_model(model)).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        if device is not None:
            self.module.to(device)
        self.decay = float(decay)
        self.warmup = bool(warmup)
        self.num_updates = 0

    def current_decay(self) -> float:
        """The decay the next ``update`` will use."""
        k = self.num_updates + 1
        return min(self.decay, (1 + k) / (10 + k)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """ema = d * ema + (1 - d) * model, for every floating parameter and buffer."""
        d = self.current_decay()
        src = unwrap_model(model).state_dict()
        floats_e, floats_m = [], []
        for name, e in self.module.state_dict().items():
            if not isinstance(e, torch.Tensor):  # a submodule's extra state
                continue
            m = src[name].detach().to(device=e.device)
            if e.is_floating_point():
                floats_e.append(e)
                floats_m.append(m.to(e.dtype))
            else:
                e.copy_(m)
        if floats_e:
            torch._foreach_lerp_(floats_e, floats_m, 1.0 - d)
        self.num_updates += 1

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def train(self, mode: bool = True):
        """The averaged copy always stays in eval mode."""
        super().train(False)
        return self

    def get_extra_state(self):
        return {"num_updates": self.num_updates, "decay": self.decay, "warmup": self.warmup}

    def set_extra_state(self, state) -> None:
        self.num_updates = int(state.get("num_updates", 0))
        self.decay = float(state.get("decay", self.decay))
        self.warmup = bool(state.get("warmup", self.warmup))
