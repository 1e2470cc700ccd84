"""Training building blocks: losses, backbones, samplers, EMA, optimiser/schedule.

Import-light: importing ``lteval.train`` does not import torch or timm. The public names below
are resolved lazily from their modules on first use::

    from lteval.train import create_loss, create_model, create_sampler
"""

from __future__ import annotations

from lteval._lazy import lazy_names

_LAZY = {
    # losses
    "create_loss": "losses", "list_losses": "losses", "loss_info": "losses", "LtLoss": "losses",
    # models
    "create_model": "models", "list_backbones": "models", "backbone_info": "models",
    "load_pretrained_file": "models",
    # samplers
    "create_sampler": "samplers", "list_samplers": "samplers",
    # EMA, optimiser, schedule
    "ModelEma": "ema",
    "build_optimizer": "schedule", "build_scheduler": "schedule",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
