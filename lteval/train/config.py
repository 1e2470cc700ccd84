"""Resolved training configuration: defaults ← preset ← baseline TOML ← ``--set key=value``.

``TrainConfig`` is a flat dataclass of JSON values; ``config.json`` in a run directory is
``cfg.to_dict()``. ``resolve_config(baseline, preset, overrides)`` builds one, validating every
key and value (:class:`ConfigError` naming the key and what was expected). Torch-free: loss and
backbone names, parameters and families come from :mod:`lteval.train.loss_specs` and
:mod:`lteval.train.backbone_specs` (``lteval baseline show`` works on the core install).

Presets (``PRESETS``):

- ``smoke``: CPU, the smallest member of the baseline's backbone family, 64 px, a small synthetic
  set (4,000 training images, dev/test 2,000 each), 8 epochs over the 3,200-image train split.
  About two minutes on 2 idle cores (an estimate from CPU time; docs/baselines.md).
- ``cpu``: CPU, smallest family member, 64 px, the standard synthetic set (20,000 training images),
  8 epochs over the 16,000-image train split. Under 20 minutes on 2 cores.
- ``study``: CPU, smallest family member, 48 px, its own synthetic set (25,000 training images,
  dev/test 8,000 each: every tail class >= 15 training positives, every class >= 20 in dev and
  test), 3 epochs of 5,000 images. About one minute a run on 2 idle cores (measured: docs/data.md).
- ``paper``: lteval's GPU recipe at the seed paper's scale: the named backbone, 512 px, ImageNet
  weights, 15 epochs, AdamW lr 1e-4, batch 12, weight decay 0.05, DRW from 80 % of the steps.
- ``seed``: the seed paper's recipe as its code publishes it (DRW from epoch 5 of 15, weight
  decay 1e-5, selection over all epochs); sources and differences: docs/baselines.md.

``config_hash(cfg)``: SHA-256 over the fields that change results (not the name, description,
worker count or checkpoint frequency); the run directory is ``<name>-<hash[:8]>``.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from lteval.errors import ConfigError, did_you_mean
from lteval.train.backbone_specs import HEADS, backbone_info
from lteval.train.loss_specs import loss_spec

__all__ = ["TrainConfig", "PRESETS", "resolve_config", "apply_overrides", "parse_set", "config_hash",
           "NOT_HASHED"]


@dataclass
class TrainConfig:
    """Everything a training run depends on. Units: epochs, images, pixels, optimiser steps."""

    name: str = "custom"
    description: str = ""
    # model and loss
    backbone: str = "convnext_atto"          # the backbone actually trained
    baseline_backbone: str = ""              # the backbone named by the baseline (paper preset)
    loss: str = "bce"
    loss_kwargs: dict = field(default_factory=dict)
    head: str = "linear"                     # linear | cosine (LDAM's normalised classifier)
    pretrained: str = "none"                 # none | imagenet | PATH
    drop_rate: float = 0.0
    # data
    preset: str = "smoke"
    task: str = "cxrlt2026-task1"
    data: str = "synth"                      # "synth" or a CXR-LT data root
    image_dir: str = ""
    synth_n_train: int = 4000
    synth_n_dev: int = 2000
    synth_n_test: int = 2000
    synth_size: int = 64
    synth_seed: int = 0
    image_size: int = 64
    augment: bool = True
    split_fractions: list = field(default_factory=lambda: [0.8, 0.1, 0.1])
    split_seed: int = 0
    images_per_epoch: int = 0                # epoch length in images, drawn from the whole train split (0 = its size)
    cache: str = "auto"                      # auto (use a complete decode cache if present) | build | off
    # optimisation
    seed: int = 0
    epochs: int = 2
    batch_size: int = 32
    grad_accum: int = 1
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 0.25
    min_lr_ratio: float = 0.01
    grad_clip: float = 0.0                   # max gradient norm (0 = off)
    sampler: str = "random"                  # random | class_aware | sqrt | progressive
    ema: bool = False
    ema_decay: float = 0.999
    # model selection
    patience: int = 0                        # early stopping after this many evaluations without val mAP gain (0 = off)
    select_on: str = "val_mAP"
    select_phase: str = "reweighted"         # deferred losses: select among re-weighted evaluations | all
    # hardware
    amp: str = "auto"                        # auto (bf16 on CUDA, fp32 on CPU) | bf16 | fp16 | none
    channels_last: str = "auto"              # auto (on with CUDA) | on | off
    compile: bool = False
    eval_batch_size: int = 256
    num_workers: int = -1                    # data-loader processes; -1 = auto (0 on CPU, up to 8 per GPU)
    checkpoint_every_steps: int = 0          # also checkpoint every N optimiser steps (0 = epoch ends only)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["config_hash"] = config_hash(self)
        from lteval import __version__
        d["lteval_version"] = __version__
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    @property
    def hash8(self) -> str:
        return config_hash(self)[:8]

    def run_name(self) -> str:
        return f"{self.name}-{self.hash8}"


#: Fields that do not change the results (left out of the hash).
NOT_HASHED = ("name", "description", "num_workers", "checkpoint_every_steps", "eval_batch_size")

_STANDARD_SYNTH = dict(synth_n_train=20000, synth_n_dev=2000, synth_n_test=2000, synth_size=64)

PRESETS: dict[str, dict] = {
    "smoke": dict(backbone_rule="smallest", image_size=64, epochs=8, batch_size=32, lr=2e-3,
                  warmup_epochs=0.2, images_per_epoch=0, pretrained="none", synth_n_train=4000,
                  synth_n_dev=2000, synth_n_test=2000, synth_size=64, patience=0),
    "cpu": dict(backbone_rule="smallest", image_size=64, epochs=8, batch_size=48, lr=2e-3,
                warmup_epochs=0.3, images_per_epoch=0, pretrained="none", patience=0, **_STANDARD_SYNTH),
    "study": dict(backbone_rule="smallest", image_size=48, epochs=3, batch_size=48, lr=2e-3,
                  warmup_epochs=0.3, images_per_epoch=5000, pretrained="none", patience=0, synth_n_train=25000,
                  synth_n_dev=8000, synth_n_test=8000, synth_size=48),
    "paper": dict(backbone_rule="named", image_size=512, epochs=15, batch_size=12, lr=1e-4,
                  weight_decay=0.05, warmup_epochs=1.0, images_per_epoch=0, pretrained="imagenet",
                  patience=5, synth_size=512, synth_n_train=20000, synth_n_dev=2000, synth_n_test=2000),
    # The seed paper's recipe (arXiv 2603.02294) as its code publishes it; each value's source and
    # every difference from `paper` and the defaults: docs/baselines.md, "The seed preset".
    # loss_defaults: loss parameters applied only to losses that take them (here: drw, ldam_drw),
    # never over a value the baseline or --set gives.
    "seed": dict(backbone_rule="named", image_size=512, epochs=15, batch_size=12, lr=1e-4,
                 weight_decay=1e-5, warmup_epochs=1.0, images_per_epoch=0, pretrained="imagenet",
                 patience=0, select_phase="all", synth_size=512, synth_n_train=20000, synth_n_dev=2000,
                 synth_n_test=2000,
                 loss_defaults={"drw_epoch": 5, "drw_allow_early": True, "weight_on": "positives"}),
}

_CHOICES = {
    "head": HEADS,
    "amp": ("auto", "bf16", "fp16", "none"),
    "channels_last": ("auto", "on", "off"),
    "select_on": ("val_mAP",),
    "select_phase": ("reweighted", "all"),
    "cache": ("auto", "build", "off"),
    "sampler": ("random", "class_aware", "sqrt", "progressive"),
}


def _field_types() -> dict[str, type]:
    default = TrainConfig()
    return {f.name: type(getattr(default, f.name)) for f in fields(TrainConfig)}


_TYPES = _field_types()


def _coerce(key: str, value):
    """Coerce ``value`` to the type of field ``key`` (strings from ``--set`` are parsed)."""
    if key.startswith("loss_kwargs."):
        return _parse_literal(value) if isinstance(value, str) else value
    if key not in _TYPES:
        raise ConfigError(f"unknown config key {key!r}{did_you_mean(key, list(_TYPES) + ['loss_kwargs.<name>'])}; "
                          "see `lteval baseline show NAME` for the keys")
    t = _TYPES[key]
    v = _parse_literal(value) if isinstance(value, str) and t is not str else value
    try:
        if t is bool:
            if isinstance(v, bool):
                return v
            if isinstance(v, (int, float)) and v in (0, 1):
                return bool(v)
            raise ValueError
        if t is int:
            if isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()):
                raise ValueError
            return int(v)
        if t is float:
            if isinstance(v, bool):
                raise ValueError
            return float(v)
        if t is str:
            return str(v)
        if t is dict:
            if not isinstance(v, dict):
                raise ValueError
            return dict(v)
        if t is list:
            if isinstance(v, str):
                v = [_parse_literal(s) for s in v.split(",")]
            return list(v)
    except (TypeError, ValueError):
        pass
    raise ConfigError(f"config key {key!r} expects {t.__name__}, got {value!r}")


def _parse_literal(s):
    """'3' → 3, '1e-4' → 0.0001, 'true' → True, 'none' → 'none', anything else → the string."""
    if not isinstance(s, str):
        return s
    low = s.strip().lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        pass
    if s.strip().startswith(("[", "{")):
        try:
            return json.loads(s)
        except ValueError:
            pass
    return s.strip()


def parse_set(items) -> dict:
    """``["lr=1e-3", "loss_kwargs.drw_epoch=3"]`` → ``{"lr": "1e-3", ...}`` (values coerced later)."""
    out = {}
    for item in items or ():
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        k = k.strip()
        if not k:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        out[k] = v
    return out


def apply_overrides(cfg: TrainConfig, overrides: dict | None) -> TrainConfig:
    """Set each ``key: value`` on ``cfg`` (``loss_kwargs.NAME`` sets one loss parameter)."""
    for k, v in (overrides or {}).items():
        v = _coerce(k, v)
        if k.startswith("loss_kwargs."):
            cfg.loss_kwargs = dict(cfg.loss_kwargs, **{k.split(".", 1)[1]: v})
        else:
            setattr(cfg, k, v)
    return cfg


def validate(cfg: TrainConfig) -> TrainConfig:
    """Check ranges and names; raise ConfigError naming the key."""
    def need(ok, key, what):
        if not ok:
            raise ConfigError(f"config key {key!r} must be {what}, got {getattr(cfg, key)!r}")

    for key, choices in _CHOICES.items():
        v = getattr(cfg, key).replace("-", "_") if key == "sampler" else getattr(cfg, key)
        if v not in choices:
            raise ConfigError(f"config key {key!r} must be one of {', '.join(choices)}, got "
                              f"{getattr(cfg, key)!r}{did_you_mean(str(getattr(cfg, key)), choices)}")
    need(cfg.epochs >= 1, "epochs", ">= 1")
    need(cfg.batch_size >= 1, "batch_size", ">= 1")
    need(cfg.eval_batch_size >= 1, "eval_batch_size", ">= 1")
    need(cfg.grad_accum >= 1, "grad_accum", ">= 1")
    need(cfg.lr > 0 and math.isfinite(cfg.lr), "lr", "> 0")
    need(cfg.weight_decay >= 0, "weight_decay", ">= 0")
    need(cfg.warmup_epochs >= 0, "warmup_epochs", ">= 0")
    need(0 <= cfg.min_lr_ratio <= 1, "min_lr_ratio", "in [0, 1]")
    need(cfg.grad_clip >= 0, "grad_clip", ">= 0")
    need(0 <= cfg.ema_decay < 1, "ema_decay", "in [0, 1)")
    need(cfg.patience >= 0, "patience", ">= 0")
    need(16 <= cfg.image_size <= 2048, "image_size", "between 16 and 2048 pixels")
    need(cfg.images_per_epoch >= 0, "images_per_epoch", ">= 0 (0 = all)")
    need(cfg.num_workers >= -1, "num_workers", ">= 0, or -1 for auto")
    need(cfg.checkpoint_every_steps >= 0, "checkpoint_every_steps", ">= 0")
    need(0 <= cfg.drop_rate < 1, "drop_rate", "in [0, 1)")
    need(len(cfg.split_fractions) == 3 and abs(sum(cfg.split_fractions) - 1) < 1e-6
         and all(f >= 0 for f in cfg.split_fractions) and cfg.split_fractions[0] > 0,
         "split_fractions", "three fractions (train, val, calib) summing to 1")
    loss_spec(cfg.loss)  # ConfigError with a suggestion when unknown
    backbone_info(cfg.backbone)
    return cfg


def resolve_config(baseline: dict | None = None, preset: str = "smoke", overrides: dict | None = None,
                   *, data: str = "synth") -> TrainConfig:
    """Defaults ← preset ← baseline (TOML dict, with optional ``[presets.<preset>]`` table) ← overrides.

    ``baseline`` keys: name, description, backbone, loss, loss_kwargs, head, and any config key.
    The preset's ``backbone_rule`` picks the smallest member of the baseline backbone's family
    (smoke, cpu) or the named backbone (paper); ``--set backbone=...`` wins over both.
    """
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}{did_you_mean(preset, list(PRESETS))}; "
                          f"choose one of: {', '.join(PRESETS)}")
    baseline = dict(baseline or {})
    per_preset = baseline.pop("presets", {}) or {}
    cfg = TrainConfig()
    p = dict(PRESETS[preset])
    rule = p.pop("backbone_rule")
    loss_defaults = dict(p.pop("loss_defaults", {}) or {})
    apply_overrides(cfg, p)
    cfg.preset = preset
    named = baseline.get("backbone", cfg.backbone)
    apply_overrides(cfg, {k: v for k, v in baseline.items() if k != "backbone"})
    apply_overrides(cfg, per_preset.get(preset, {}))
    cfg.baseline_backbone = named
    cfg.backbone = backbone_info(named).smallest if rule == "smallest" else named
    cfg.data = str(data)
    overrides = dict(overrides or {})
    apply_overrides(cfg, overrides)
    if loss_defaults:
        accepted = loss_spec(cfg.loss).defaults
        cfg.loss_kwargs = dict({k: v for k, v in loss_defaults.items() if k in accepted}, **cfg.loss_kwargs)
    if cfg.data != "synth":
        cfg.data = str(Path(cfg.data).expanduser().resolve())
    cfg.sampler = cfg.sampler.replace("-", "_")
    return validate(cfg)


def config_hash(cfg: TrainConfig) -> str:
    """SHA-256 (hex) of the result-relevant fields, canonical JSON."""
    d = {k: v for k, v in asdict(cfg).items() if k not in NOT_HASHED}
    if d.get("data") != "synth":
        for k in ("synth_n_train", "synth_n_dev", "synth_n_test", "synth_size", "synth_seed"):
            d.pop(k, None)
    blob = json.dumps(d, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(blob.encode()).hexdigest()
