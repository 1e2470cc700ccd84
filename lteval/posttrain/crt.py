"""Decoupled classifier stages (Kang et al., ICLR 2020): cRT, τ-normalisation, LWS.

The backbone of a finished run stays frozen: every parameter and every normalisation statistic
(BatchNorm running mean/var/count, LayerNorm affine) is left bit-identical — the model is kept
in eval mode throughout (BatchNorm uses its running statistics and never updates them; dropout
is off) and its parameters get ``requires_grad=False`` while a stage trains.

- **cRT** (classifier re-training): a fresh linear classifier on the frozen penultimate features,
  trained with class-aware sampling (Shen et al. 2016; ``lteval.train.samplers``) and its own
  schedule (AdamW, warmup + cosine). By default the features of the training split are computed
  once (no augmentation: the frozen backbone then gives exactly these features every epoch);
  ``augment=True`` recomputes them per batch from augmented images instead.
- **τ-normalisation**: each class weight vector ``w_c`` becomes ``w_c / ||w_c||^τ``; the bias is
  dropped (as in the paper; ``bias="scale"`` divides it by the same norm instead). τ is chosen on
  the run's ``val`` split (macro-F1 at 0.5) unless given.
- **LWS** (learnable weight scaling): a per-class scale ``f_c`` on the classifier output, trained
  (BCE on the evaluation logits, class-aware sampling) with everything else fixed.

Multi-label caveat (measured in docs/posttrain.md): with one sigmoid per class, τ-normalisation and
LWS are per-class positive affine maps of the logits, so per-class AP and AUROC — hence mAP — cannot
change; they move thresholded metrics (F1 at 0.5) and calibration only. In the softmax setting of
the paper they re-rank classes against each other; here there is no such competition.

A stage's classifier is a :class:`StageHead`: the classifier module(s) plus a per-class
output map ``eval = raw * out_scale + out_bias`` (the loss's ``to_logits``, which is affine for
every lteval loss: identity, LDAM's ``s z``, DB's ``z + ν``). Its ``state_dict`` (loaded with
``weights_only=True``) and ``spec()`` (JSON) describe it completely.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch
from torch import nn

from lteval.errors import ConfigError, UsageError
from lteval.train.device import autocast_context
from lteval.posttrain.options import CRTOptions, LWSOptions

__all__ = ["StageHead", "StagedModel", "CRTConfig", "LWSConfig", "pre_logits", "classifier_heads",
           "extract_features", "head_logits", "affine_of", "train_crt", "tau_normalize", "select_tau",
           "train_lws", "freeze", "TAU_GRID"]

#: τ values tried by :func:`select_tau` (Kang et al. search [0, 2]).
TAU_GRID = tuple(round(0.1 * i, 1) for i in range(21))


# --------------------------------------------------------------------------- model pieces

def pre_logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Penultimate features (B, D) of a timm model: ``forward_head(forward_features(x), pre_logits=True)``."""
    if not (hasattr(model, "forward_features") and hasattr(model, "forward_head")):
        raise UsageError(f"{type(model).__name__} has no forward_features/forward_head (a timm model is needed "
                         "for classifier stages)")
    return model.forward_head(model.forward_features(x), pre_logits=True)


def classifier_heads(model: nn.Module) -> list[nn.Module]:
    """The classifier module(s) of a timm model (``get_classifier()``; distilled models have two)."""
    cls = model.get_classifier() if hasattr(model, "get_classifier") else None
    heads = list(cls) if isinstance(cls, (tuple, list)) else [cls]
    if not heads or any(h is None or not hasattr(h, "weight") for h in heads):
        raise UsageError(f"cannot find a linear classifier in {type(model).__name__} (get_classifier())")
    return heads


def affine_of(to_logits, n_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class ``(scale, bias)`` with ``to_logits(z) == z * scale + bias`` (checked on a probe)."""
    if to_logits is None:
        return torch.ones(n_classes), torch.zeros(n_classes)
    with torch.no_grad():
        b = to_logits(torch.zeros(1, n_classes)).double()[0]
        a = to_logits(torch.ones(1, n_classes)).double()[0] - b
        probe = torch.linspace(-7.0, 5.0, 4 * n_classes, dtype=torch.float32).reshape(4, n_classes)
        want = to_logits(probe).double()
        got = probe.double() * a + b
        if not torch.allclose(want, got, rtol=1e-5, atol=1e-5):
            raise UsageError("the run's evaluation-logit map (loss.to_logits) is not per-class affine; "
                             "classifier stages cannot represent it")
    return a.float(), b.float()


class StageHead(nn.Module):
    """Classifier of a stage: mean of ``heads`` on features, times ``lws`` (optional), then the
    per-class output map. ``forward(f)`` → evaluation logits (B, C); ``raw(f)`` → before the map."""

    def __init__(self, heads: list[nn.Module], out_scale: torch.Tensor, out_bias: torch.Tensor,
                 lws: torch.Tensor | None = None) -> None:
        super().__init__()
        self.heads = nn.ModuleList(heads)
        self.register_buffer("out_scale", torch.as_tensor(out_scale, dtype=torch.float32).clone())
        self.register_buffer("out_bias", torch.as_tensor(out_bias, dtype=torch.float32).clone())
        self.lws = None if lws is None else nn.Parameter(torch.as_tensor(lws, dtype=torch.float32).clone())

    @property
    def num_classes(self) -> int:
        return int(self.out_scale.numel())

    @property
    def in_features(self) -> int:
        return int(self.heads[0].weight.shape[1])

    def raw(self, f: torch.Tensor) -> torch.Tensor:
        z = self.heads[0](f) if len(self.heads) == 1 else torch.stack([h(f) for h in self.heads]).mean(0)
        return z * self.lws if self.lws is not None else z

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.raw(f) * self.out_scale + self.out_bias

    # -- construction and (de)serialisation
    @classmethod
    def from_model(cls, model: nn.Module, to_logits=None) -> "StageHead":
        """A copy of ``model``'s classifier with ``to_logits`` (the run's loss map) as output map."""
        heads = [copy.deepcopy(h) for h in classifier_heads(model)]
        C = int(heads[0].weight.shape[0])
        a, b = affine_of(to_logits, C)
        return cls(heads, a, b)

    @classmethod
    def new_linear(cls, in_features: int, num_classes: int, *, seed: int = 0, to_logits=None) -> "StageHead":
        """A freshly initialised ``nn.Linear`` classifier (PyTorch's default init, seeded)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            lin = nn.Linear(int(in_features), int(num_classes))
        a, b = affine_of(to_logits, num_classes)
        return cls([lin], a, b)

    def spec(self) -> dict:
        """JSON description (enough to rebuild the module before loading its state_dict)."""
        kinds = []
        for h in self.heads:
            if isinstance(h, nn.Linear):
                kinds.append({"kind": "linear", "bias": h.bias is not None})
            elif type(h).__name__ == "NormedLinear":
                kinds.append({"kind": "cosine", "bias": False})
            else:
                raise UsageError(f"unsupported classifier module {type(h).__name__}")
        return {"heads": kinds, "in_features": self.in_features, "num_classes": self.num_classes,
                "lws": self.lws is not None}

    @classmethod
    def from_spec(cls, spec: dict, state_dict: dict | None = None) -> "StageHead":
        from lteval.train.models import NormedLinear

        try:
            D, C = int(spec["in_features"]), int(spec["num_classes"])
            heads = []
            for h in spec["heads"]:
                if h["kind"] == "linear":
                    heads.append(nn.Linear(D, C, bias=bool(h["bias"])))
                elif h["kind"] == "cosine":
                    heads.append(NormedLinear(D, C))
                else:
                    raise KeyError(h["kind"])
            lws = torch.ones(C) if spec.get("lws") else None
        except (KeyError, TypeError, ValueError) as e:
            raise UsageError(f"malformed classifier spec {spec!r}: {e}") from None
        head = cls(heads, torch.ones(C), torch.zeros(C), lws)
        if state_dict is not None:
            head.load_state_dict(state_dict)
        return head


class StagedModel(nn.Module):
    """``head(pre_logits(backbone, x))``: a run's frozen model with a stage's classifier.
    Its output is the evaluation logits (the output map is inside the head)."""

    def __init__(self, backbone: nn.Module, head: StageHead) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(pre_logits(self.backbone, x))


class freeze:
    """Context manager: ``model`` in eval mode with ``requires_grad=False`` on every parameter;
    the previous flags and mode are restored on exit."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def __enter__(self) -> nn.Module:
        self._flags = [p.requires_grad for p in self.model.parameters()]
        self._training = self.model.training
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.model.eval()
        return self.model

    def __exit__(self, *exc) -> None:
        for p, f in zip(self.model.parameters(), self._flags):
            p.requires_grad_(f)
        self.model.train(self._training)


@torch.inference_mode()
def extract_features(model: nn.Module, loader, *, device="cpu", amp_dtype=None,
                     progress=None) -> tuple[np.ndarray, torch.Tensor]:
    """``(ids (n,), features (n, D) float32 on CPU)`` of the frozen ``model`` (eval mode) over ``loader``."""
    device = torch.device(device)
    ids: list[str] = []
    feats = []
    with freeze(model):
        for batch in loader:
            x = batch[0].to(device, non_blocking=True)
            with autocast_context(device, amp_dtype):
                f = pre_logits(model, x)
            feats.append(f.float().cpu())
            ids.extend(str(i) for i in batch[2])
            if progress is not None:
                progress(len(ids))
    F = torch.cat(feats) if feats else torch.zeros(0, 0)
    return np.asarray(ids, dtype=str), F


@torch.inference_mode()
def head_logits(head: StageHead, features: torch.Tensor, *, batch_size: int = 4096) -> np.ndarray:
    """Evaluation logits (n, C) float64 of ``head`` on precomputed ``features`` (n, D)."""
    head.eval()
    dev = head.out_scale.device
    out = [head(features[i:i + batch_size].to(dev)).double().cpu() for i in range(0, len(features), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, head.num_classes))


# --------------------------------------------------------------------------- training a head

@dataclass
class CRTConfig(CRTOptions):
    """cRT settings: the stage's options (:class:`lteval.posttrain.options.CRTOptions`, where the
    defaults are) plus the loss's parameters (units: epochs, images, optimiser steps)."""

    loss_kwargs: dict = field(default_factory=dict)   # the loss's parameters (docs/losses.md)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> "CRTConfig":
        return _from_dict(cls, d, "crt")


@dataclass
class LWSConfig(LWSOptions):
    """LWS settings (only the per-class scales train; defaults: :class:`lteval.posttrain.options.LWSOptions`)."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> "LWSConfig":
        return _from_dict(cls, d, "lws")


def _from_dict(cls, d, what):
    d = dict(d or {})
    names = {f.name: f.type for f in fields(cls)}
    bad = [k for k in d if k not in names]
    if bad:
        from lteval.errors import did_you_mean
        raise ConfigError(f"unknown {what} option {bad[0]!r}{did_you_mean(bad[0], list(names))}; "
                          f"options: {', '.join(names)}")
    out = cls()
    for k, v in d.items():
        cur = getattr(out, k)
        try:
            if isinstance(cur, dict):
                if not isinstance(v, dict):
                    raise TypeError
                v = dict(v)
            elif isinstance(cur, bool):
                v = v if isinstance(v, bool) else str(v).lower() in ("1", "true", "yes", "on")
            elif isinstance(cur, int):
                v = int(v)
            elif isinstance(cur, float):
                v = float(v)
            else:
                v = str(v)
        except (TypeError, ValueError):
            raise ConfigError(f"{what} option {k!r} expects {type(cur).__name__}, got {v!r}") from None
        setattr(out, k, v)
    if getattr(out, "epochs", 1) < 1 or getattr(out, "batch_size", 1) < 1 or getattr(out, "lr", 1.0) <= 0:
        raise ConfigError(f"{what}: epochs and batch_size must be >= 1 and lr > 0")
    return out


def _labels_array(labels, n) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 2 or y.shape[0] != n:
        raise UsageError(f"labels must be (n, C) with n = {n}, got shape {y.shape}")
    if np.isnan(y.astype(np.float64)).any():
        raise UsageError("training labels contain NaN: a classifier stage needs a labelled split")
    return y.astype(np.float32)


def _fit(head: StageHead, params, get_features, labels: np.ndarray, *, epochs: int, lr: float,
         weight_decay: float, batch_size: int, images_per_epoch: int, sampler: str, seed: int,
         loss_fn, on: str, warmup_epochs: float = 0.0, min_lr_ratio: float = 0.0, progress=None) -> dict:
    """Generic head training loop over sampler-drawn indices; returns a small log."""
    from lteval.train.samplers import create_sampler
    from lteval.train.schedule import build_scheduler

    n = len(labels)
    per_epoch = int(images_per_epoch) or n
    smp = create_sampler(sampler, labels, seed=seed, num_samples=per_epoch)
    steps_per_epoch = max(1, math.ceil(len(smp) / batch_size))
    total = steps_per_epoch * epochs
    groups = [{"params": [p for p in params if p.ndim > 1], "weight_decay": weight_decay},
              {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}]
    opt = torch.optim.AdamW([g for g in groups if g["params"]], lr=lr)
    sched = build_scheduler(opt, total, min(total, int(round(warmup_epochs * steps_per_epoch))),
                            min_lr_ratio=min_lr_ratio)
    y = torch.as_tensor(labels)
    dev = head.out_scale.device
    log = []
    head.train()
    step = 0
    scheduled = hasattr(loss_fn, "schedule")  # an lteval loss: tell it the length of this stage
    if scheduled:
        loss_fn.schedule(total, steps_per_epoch)  # deferred re-weighting switches within cRT's own steps
    for epoch in range(epochs):
        smp.set_epoch(epoch)
        if scheduled:
            loss_fn.set_epoch(epoch)
        idx = np.fromiter(iter(smp), dtype=np.int64)
        total_loss = 0.0
        for b in range(0, len(idx), batch_size):
            j = idx[b:b + batch_size]
            with torch.no_grad():
                f = get_features(j)
            f = f.to(dev)
            if scheduled:
                loss_fn.set_step(step)
            out = head.raw(f) if on == "raw" else head(f)
            loss = loss_fn(out, y[j].to(dev))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            total_loss += float(loss.detach()) * len(j)
            if progress is not None:
                progress(step, total)
        log.append({"epoch": epoch, "loss": total_loss / max(1, len(idx)), "lr": opt.param_groups[0]["lr"],
                    "drw_active": bool(getattr(loss_fn, "reweighting", False))})
    head.eval()
    return {"steps": step, "epochs": log}


def _image_features(model, dataset, device, amp_dtype):
    """get_features(idx) for the on-the-fly path: augmented images through the frozen backbone."""
    def get(idx):
        x = torch.stack([dataset[int(i)][0] for i in idx]).to(device)
        with torch.no_grad(), autocast_context(device, amp_dtype):
            return pre_logits(model, x).float()
    return get


def train_crt(model: nn.Module, train, labels, cfg: CRTConfig | dict | None = None, *,
              device="cpu", amp_dtype=None, progress=None) -> tuple[StageHead, dict]:
    """Classifier re-training on the frozen ``model``.

    ``train`` is either precomputed features (n, D) of the training split (``cfg.augment`` False)
    or a dataset yielding ``(augmented image, target, id)`` (``cfg.augment`` True).
    ``labels`` (n, C) are the training labels in the same order. Returns ``(head, log)``; the
    backbone's parameters and statistics are untouched. ``cfg.loss`` may be any registered loss
    (``cfg.loss_kwargs`` its parameters); a deferred one (``drw``, ``ldam_drw``) is scheduled over
    cRT's own optimiser steps, and the head's output map is that loss's ``to_logits``.
    """
    from lteval.train.losses import create_loss, loss_info

    cfg = cfg if isinstance(cfg, CRTConfig) else CRTConfig.from_dict(cfg)
    n = len(train)
    y = _labels_array(labels, n)
    C = y.shape[1]
    counts = y.sum(axis=0)
    kw = {"n_samples": n} if loss_info(cfg.loss).needs_n_samples else {}
    loss = create_loss(cfg.loss, counts, **kw, **dict(cfg.loss_kwargs)).to(device)
    with freeze(model):
        if isinstance(train, torch.Tensor):
            feats = train.float()
            D = feats.shape[1]
            get = lambda idx: feats[torch.as_tensor(idx)]  # noqa: E731
        else:
            with torch.no_grad():
                D = int(pre_logits(model, train[0][0][None].to(device)).shape[1])
            get = _image_features(model, train, device, amp_dtype)
        head = StageHead.new_linear(D, C, seed=cfg.seed, to_logits=loss.to_logits).to(device)
        params = [p for p in head.parameters()]
        log = _fit(head, params, get, y, epochs=cfg.epochs, lr=cfg.lr, weight_decay=cfg.weight_decay,
                   batch_size=cfg.batch_size, images_per_epoch=cfg.images_per_epoch, sampler=cfg.sampler,
                   seed=cfg.seed, loss_fn=loss, on="raw", warmup_epochs=cfg.warmup_epochs,
                   min_lr_ratio=cfg.min_lr_ratio, progress=progress)
    for p in head.parameters():
        p.requires_grad_(False)
    return head, log


def tau_normalize(head: StageHead, tau: float, *, bias: str = "drop") -> StageHead:
    """A copy of ``head`` with every linear class vector divided by its norm to the power ``tau``.

    ``bias="drop"`` removes the bias (Kang et al.); ``"scale"`` divides it by the same norm.
    Cosine (normalised) classifiers are unchanged: their weight norms are divided out anyway.
    """
    if bias not in ("drop", "scale"):
        raise ConfigError(f"tau bias must be 'drop' or 'scale', got {bias!r}")
    tau = float(tau)
    if not math.isfinite(tau) or tau < 0:
        raise ConfigError(f"tau must be a finite number >= 0, got {tau}")
    out = copy.deepcopy(head)
    with torch.no_grad():
        for h in out.heads:
            if not isinstance(h, nn.Linear):
                continue
            norm = h.weight.norm(dim=1).clamp_min(1e-12).pow(tau)
            h.weight.div_(norm[:, None])
            if h.bias is not None:
                if bias == "drop":
                    h.bias.zero_()
                else:
                    h.bias.div_(norm)
    return out


def select_tau(head: StageHead, features: torch.Tensor, labels, *, grid=TAU_GRID, bias: str = "drop",
               threshold: float = 0.5) -> tuple[float, list[dict]]:
    """τ in ``grid`` maximising macro-F1 at ``threshold`` on (features, labels) — the run's
    ``val`` split, never dev or test. Ties go to the smaller τ. Returns ``(tau, table)``."""
    from lteval.metrics.summary import macro_f1

    y = np.asarray(labels)
    best, table = None, []
    for t in grid:
        z = head_logits(tau_normalize(head, t, bias=bias), features)
        f1 = float(macro_f1(y, 1.0 / (1.0 + np.exp(-z)), threshold))
        table.append({"tau": float(t), "val_mF1": f1})
        if best is None or f1 > best[1] + 1e-12:
            best = (float(t), f1)
    return best[0], table


def train_lws(head: StageHead, features: torch.Tensor, labels, cfg: LWSConfig | dict | None = None, *,
              progress=None) -> tuple[StageHead, dict]:
    """Learnable weight scaling: a copy of ``head`` with per-class scales (init 1) trained by BCE on
    the evaluation logits with class-aware sampling; everything else fixed."""
    cfg = cfg if isinstance(cfg, LWSConfig) else LWSConfig.from_dict(cfg)
    y = _labels_array(labels, len(features))
    out = copy.deepcopy(head)
    for p in out.parameters():
        p.requires_grad_(False)
    if out.lws is None:
        out.lws = nn.Parameter(torch.ones(out.num_classes, device=out.out_scale.device))
    out.lws.requires_grad_(True)
    feats = features.float()
    bce = nn.BCEWithLogitsLoss()
    log = _fit(out, [out.lws], lambda idx: feats[torch.as_tensor(idx)], y, epochs=cfg.epochs, lr=cfg.lr,
               weight_decay=0.0, batch_size=cfg.batch_size, images_per_epoch=cfg.images_per_epoch,
               sampler=cfg.sampler, seed=cfg.seed, loss_fn=bce, on="eval", progress=progress)
    out.lws.requires_grad_(False)
    with torch.no_grad():
        neg = int((out.lws <= 0).sum())
    log["nonpositive_scales"] = neg
    return out, log
