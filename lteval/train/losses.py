"""Multi-label losses for long-tailed training, behind one registry.

``create_loss(name, class_counts, n_samples=..., **kw)`` builds a :class:`LtLoss`; ``list_losses()``
names them. Every loss takes raw model outputs ``logits`` (B, C) and multi-hot ``targets`` (B, C)
and returns the mean over batch × classes (a scalar).

Uniform interface (what the training engine relies on):

- ``forward(logits, targets) -> scalar``
- ``set_epoch(epoch)``: epoch-dependent schedules (DRW); a no-op for most losses
- ``to_logits(raw) -> eval logits``: how the model's raw output becomes the logits whose sigmoid
  is the reported probability. Identity for most losses; ``ldam``/``ldam_drw`` multiply by the
  scale ``s`` (the margin is a training-time device only) and ``dbloss`` adds its class-specific
  bias. The engine must apply it before ``sigmoid`` at evaluation, so that evaluation uses the
  same scale the loss trained.
- ``state_dict()/load_state_dict()``: class statistics (buffers) and the schedule state (epoch,
  stored as the module's extra state), so a checkpoint restores a DRW switch exactly.

The functional core (``bce``, ``focal``, ``asymmetric``, ...) works on tensors and returns the
element-wise loss (B, C); the modules add the class statistics and the mean. Formulas, papers and
hyper-parameters: docs/losses.md.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lteval.errors import ConfigError, InputError, did_you_mean

__all__ = [
    "LtLoss", "create_loss", "list_losses", "loss_info", "register_loss",
    "class_balanced_weights", "ldam_margins", "positive_weights",
    "bce", "focal", "asymmetric", "db_rebalance_weights",
]


# --------------------------------------------------------------------------- class statistics

def _as_counts(class_counts, name: str = "class_counts") -> np.ndarray:
    """Validate per-class positive counts: a 1-D, finite, non-negative array (C,)."""
    try:
        counts = np.asarray(class_counts, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a 1-D array of per-class positive counts: {exc}") from None
    if counts.ndim != 1 or counts.size == 0:
        raise InputError(f"{name} must be a non-empty 1-D array (C,) of per-class counts, "
                         f"got shape {counts.shape}")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise InputError(f"{name} must hold finite, non-negative counts, got {counts.tolist()}")
    return counts


def class_balanced_weights(class_counts, beta: float = 0.9999) -> np.ndarray:
    """Cui et al. (2019) weights (C,): ``(1 - beta) / (1 - beta**n_c)`` normalised to sum to C.

    A class with no positives is treated as having one (its weight is the largest, not infinite).
    """
    if not 0.0 <= beta < 1.0:
        raise ConfigError(f"beta must be in [0, 1), got {beta}")
    n = np.maximum(_as_counts(class_counts), 1.0)
    w = (1.0 - beta) / (1.0 - np.power(beta, n)) if beta > 0 else np.ones_like(n)
    return w / w.sum() * n.size


def ldam_margins(class_counts, max_margin: float = 0.5) -> np.ndarray:
    """LDAM margins (C,): ``m_c ∝ n_c^(-1/4)``, the largest equal to ``max_margin`` (Cao et al. 2019)."""
    n = np.maximum(_as_counts(class_counts), 1.0)
    m = 1.0 / np.sqrt(np.sqrt(n))
    return m * (max_margin / m.max())


def positive_weights(class_counts, n_samples: int, max_weight: float | None = None) -> np.ndarray:
    """BCE ``pos_weight`` (C,): ``n_neg / n_pos`` per class, optionally clipped at ``max_weight``.

    A class with no positives gets ``n_neg`` (as if it had one), before clipping.
    """
    counts = _as_counts(class_counts)
    if np.any(counts > n_samples):
        raise InputError(f"class_counts exceed n_samples={n_samples}: a class cannot have more "
                         f"positives than there are images")
    w = (n_samples - counts) / np.maximum(counts, 1.0)
    if max_weight is not None:
        w = np.minimum(w, max_weight)
    return w


# --------------------------------------------------------------------------- functional core
# Each returns the element-wise loss (B, C); the caller reduces.

def bce(logits: Tensor, targets: Tensor, *, weight: Tensor | None = None,
        pos_weight: Tensor | None = None) -> Tensor:
    """Binary cross-entropy with logits, element-wise (B, C); ``weight``/``pos_weight`` are (C,)."""
    return F.binary_cross_entropy_with_logits(logits, targets, weight=weight, pos_weight=pos_weight,
                                              reduction="none")


def focal(logits: Tensor, targets: Tensor, *, gamma: float = 2.0, alpha: float | None = None) -> Tensor:
    """Sigmoid focal loss (Lin et al. 2017), element-wise (B, C).

    ``FL = -alpha_t (1 - p_t)^gamma log p_t`` with ``p_t = p`` for positives, ``1 - p`` for negatives;
    ``alpha_t = alpha`` for positives and ``1 - alpha`` for negatives (no alpha term when ``None``).
    """
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p = torch.sigmoid(logits)
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t).pow(gamma) if gamma != 0 else ce
    if alpha is not None:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss


def asymmetric(logits: Tensor, targets: Tensor, *, gamma_pos: float = 0.0, gamma_neg: float = 4.0,
               clip: float = 0.05, detach_focal_weight: bool = False) -> Tensor:
    """Asymmetric loss (Ridnik et al., ICCV 2021), element-wise (B, C).

    ``L+ = (1 - p)^gamma_pos log(p)``; with the shifted probability ``p_m = max(p - clip, 0)``,
    ``L- = p_m^gamma_neg log(1 - p_m)``; loss ``= -(y L+ + (1 - y) L-)``. Negatives with
    ``p <= clip`` are discarded entirely (zero loss and gradient); hard negatives (large ``p``) keep
    the largest weight — the public CXR-LT code inverted this focusing.
    """
    p = torch.sigmoid(logits)
    log_p = F.logsigmoid(logits)
    if clip > 0:
        p_m = (p - clip).clamp(min=0)
        log_1m_pm = torch.log((1 - p_m).clamp(min=clip))  # 1 - p_m >= clip > 0 exactly
    else:
        p_m = p
        log_1m_pm = F.logsigmoid(-logits)
    with torch.set_grad_enabled(torch.is_grad_enabled() and not detach_focal_weight):
        w_pos = (1 - p).pow(gamma_pos) if gamma_pos != 0 else torch.ones_like(p)
        w_neg = p_m.pow(gamma_neg) if gamma_neg != 0 else torch.ones_like(p)
    return -(targets * w_pos * log_p + (1 - targets) * w_neg * log_1m_pm)


def db_rebalance_weights(targets: Tensor, inv_freq: Tensor, *, alpha: float = 0.1, beta: float = 10.0,
                         mu: float = 0.2) -> Tensor:
    """Distribution-balanced re-balancing weights (B, C) (Wu et al. 2020).

    ``r_ic = (1/n_c) / sum_{j in pos(i)} 1/n_j`` (class-level over instance-level re-sampling
    frequency), smoothed to ``alpha + sigmoid(beta (r - mu))``. An image without positives has no
    re-sampling frequency; it gets the limit ``alpha + 1`` (as in the authors' code, r → ∞).
    """
    rate = (targets * inv_freq).sum(dim=1, keepdim=True)  # (B, 1)
    r = inv_freq.unsqueeze(0) / rate.clamp(min=torch.finfo(rate.dtype).tiny)
    w = alpha + torch.sigmoid(beta * (r - mu))
    return torch.where(rate > 0, w, torch.full_like(w, alpha + 1.0))


# --------------------------------------------------------------------------- module base + registry

class LtLoss(nn.Module):
    """Base class: mean-reduced multi-label loss with an epoch schedule and an eval-logit map."""

    def __init__(self) -> None:
        super().__init__()
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Tell the loss which (0-based) epoch starts; only scheduled losses change behaviour."""
        self.epoch = int(epoch)

    def to_logits(self, raw: Tensor) -> Tensor:
        """Map the model's raw output to evaluation logits (``sigmoid`` gives probabilities)."""
        return raw

    def loss_elements(self, logits: Tensor, targets: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Mean loss over batch × classes; ``logits`` and ``targets`` are (B, C)."""
        if logits.dim() != 2 or logits.shape != targets.shape:
            raise InputError(f"{type(self).__name__}: logits and targets must both be (B, C), got "
                             f"{tuple(logits.shape)} and {tuple(targets.shape)}")
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()  # low-precision sigmoid/log underflow; losses run in fp32
        targets = targets.to(logits.dtype)
        return self.loss_elements(logits, targets).mean()

    def _buf(self, name: str, ref: Tensor) -> Tensor:
        return getattr(self, name).to(dtype=ref.dtype, device=ref.device)

    # schedule state travels inside state_dict() as this module's "_extra_state"
    def get_extra_state(self):
        return {"epoch": self.epoch}

    def set_extra_state(self, state) -> None:
        self.epoch = int(state.get("epoch", 0))

    def extra_repr(self) -> str:
        return f"epoch={self.epoch}"


@dataclass(frozen=True)
class LossInfo:
    """A registry entry: the factory and what it needs."""

    name: str
    factory: Callable[..., LtLoss]
    summary: str
    paper: str
    needs_n_samples: bool = False
    #: what the evaluation logits are, in terms of the model's raw output z (see ``to_logits``)
    eval_logits: str = "z"


_REGISTRY: dict[str, LossInfo] = {}


def register_loss(name: str, *, summary: str, paper: str, needs_n_samples: bool = False,
                  eval_logits: str = "z"):
    """Decorator: register ``factory(class_counts, [n_samples,] **kw) -> LtLoss`` under ``name``."""
    def deco(factory):
        _REGISTRY[name] = LossInfo(name, factory, summary, paper, needs_n_samples, eval_logits)
        return factory
    return deco


def list_losses() -> list[str]:
    """Registered loss names, in registration order."""
    return list(_REGISTRY)


def loss_info(name: str) -> LossInfo:
    """The registry entry for ``name`` (ConfigError with a suggestion when unknown)."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown loss {name!r}{did_you_mean(name, list(_REGISTRY))}; "
                          f"choose one of: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def create_loss(name: str, class_counts, *, n_samples: int | None = None, **kw) -> LtLoss:
    """Build the loss ``name`` for a training set with per-class positive counts (C,).

    ``n_samples`` (number of training images) is required by losses that need negatives or
    priors (``bce_pos_weight``, ``dbloss``, ``la_bce``). Extra keyword arguments are the loss's
    hyper-parameters (see docs/losses.md); unknown ones raise :class:`ConfigError`.
    """
    info = loss_info(name)
    counts = _as_counts(class_counts)
    params = inspect.signature(info.factory).parameters
    accepted = [p for p in params if p not in ("class_counts", "n_samples")]
    bad = [k for k in kw if k not in accepted]
    if bad:
        raise ConfigError(f"loss {name!r} has no parameter {bad[0]!r}{did_you_mean(bad[0], accepted)}; "
                          f"its parameters are: {', '.join(accepted) or '(none)'}")
    if info.needs_n_samples:
        if n_samples is None:
            raise ConfigError(f"loss {name!r} needs n_samples (the number of training images)")
        n_samples = int(n_samples)
        if n_samples <= 0 or np.any(counts > n_samples):
            raise InputError(f"n_samples={n_samples} must be positive and at least every class count "
                             f"(max {int(counts.max())})")
        return info.factory(counts, n_samples, **kw)
    return info.factory(counts, **kw)


def _tensor(a) -> Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.float64), dtype=torch.float32)


# --------------------------------------------------------------------------- the losses

class BCELoss(LtLoss):
    """Binary cross-entropy, optionally with per-class ``weight`` and ``pos_weight`` (C,)."""

    def __init__(self, weight=None, pos_weight=None) -> None:
        super().__init__()
        self.register_buffer("weight", None if weight is None else _tensor(weight))
        self.register_buffer("pos_weight", None if pos_weight is None else _tensor(pos_weight))

    def loss_elements(self, logits, targets):
        w = None if self.weight is None else self._buf("weight", logits)
        pw = None if self.pos_weight is None else self._buf("pos_weight", logits)
        return bce(logits, targets, weight=w, pos_weight=pw)


@register_loss("bce", summary="binary cross-entropy", paper="-")
def _make_bce(class_counts) -> LtLoss:
    return BCELoss()


@register_loss("bce_pos_weight", summary="BCE with pos_weight = n_neg / n_pos per class",
               paper="-", needs_n_samples=True)
def _make_bce_pos_weight(class_counts, n_samples, max_pos_weight: float | None = None) -> LtLoss:
    return BCELoss(pos_weight=positive_weights(class_counts, n_samples, max_pos_weight))


class FocalLoss(LtLoss):
    """Sigmoid focal loss, optionally with a per-class weight (C,) (class-balanced focal)."""

    def __init__(self, gamma: float = 2.0, alpha: float | None = None, weight=None) -> None:
        super().__init__()
        if gamma < 0:
            raise ConfigError(f"focal gamma must be >= 0, got {gamma}")
        if alpha is not None and not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"focal alpha must be in [0, 1] or None, got {alpha}")
        self.gamma = float(gamma)
        self.alpha = alpha
        self.register_buffer("weight", None if weight is None else _tensor(weight))

    def loss_elements(self, logits, targets):
        loss = focal(logits, targets, gamma=self.gamma, alpha=self.alpha)
        if self.weight is not None:
            loss = loss * self._buf("weight", logits)
        return loss

    def extra_repr(self):
        return f"gamma={self.gamma}, alpha={self.alpha}, epoch={self.epoch}"


@register_loss("focal", summary="sigmoid focal loss, gamma=2", paper="Lin et al., ICCV 2017")
def _make_focal(class_counts, gamma: float = 2.0, alpha: float | None = None) -> LtLoss:
    return FocalLoss(gamma=gamma, alpha=alpha)


@register_loss("cb_focal", summary="class-balanced focal loss, beta=0.9999",
               paper="Cui et al., CVPR 2019")
def _make_cb_focal(class_counts, beta: float = 0.9999, gamma: float = 2.0,
                   alpha: float | None = None) -> LtLoss:
    return FocalLoss(gamma=gamma, alpha=alpha, weight=class_balanced_weights(class_counts, beta))


class AsymmetricLoss(LtLoss):
    """Asymmetric loss exactly as Ridnik et al. (2021): probability shift on negatives."""

    def __init__(self, gamma_pos: float = 0.0, gamma_neg: float = 4.0, clip: float = 0.05,
                 detach_focal_weight: bool = False) -> None:
        super().__init__()
        if gamma_pos < 0 or gamma_neg < 0:
            raise ConfigError("asl gamma_pos and gamma_neg must be >= 0")
        if not 0.0 <= clip < 1.0:
            raise ConfigError(f"asl clip (probability margin) must be in [0, 1), got {clip}")
        self.gamma_pos, self.gamma_neg, self.clip = float(gamma_pos), float(gamma_neg), float(clip)
        self.detach_focal_weight = bool(detach_focal_weight)

    def loss_elements(self, logits, targets):
        return asymmetric(logits, targets, gamma_pos=self.gamma_pos, gamma_neg=self.gamma_neg,
                          clip=self.clip, detach_focal_weight=self.detach_focal_weight)

    def extra_repr(self):
        return f"gamma_pos={self.gamma_pos}, gamma_neg={self.gamma_neg}, clip={self.clip}"


@register_loss("asl", summary="asymmetric loss, gamma+=0, gamma-=4, shift 0.05",
               paper="Ridnik et al., ICCV 2021")
def _make_asl(class_counts, gamma_pos: float = 0.0, gamma_neg: float = 4.0, clip: float = 0.05,
              detach_focal_weight: bool = False) -> LtLoss:
    return AsymmetricLoss(gamma_pos, gamma_neg, clip, detach_focal_weight)


class DeferredReweightLoss(LtLoss):
    """BCE (or LDAM when ``margins`` is given) with class-balanced weights from ``drw_epoch`` on.

    Before ``drw_epoch`` every class weighs 1; from it on, class c weighs ``w_c`` (Cui et al.,
    beta) on both its positive and negative terms. ``set_epoch`` flips the switch; the epoch is
    saved in ``state_dict()``.
    """

    def __init__(self, cb_weights, drw_epoch: int | None, margins=None, scale: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("cb_weights", None if cb_weights is None else _tensor(cb_weights))
        self.register_buffer("margins", None if margins is None else _tensor(margins))
        self.drw_epoch = None if drw_epoch is None else int(drw_epoch)
        self.scale = float(scale)

    @property
    def reweighting(self) -> bool:
        """Whether class-balanced weights are on in the current epoch."""
        return self.drw_epoch is not None and self.cb_weights is not None and self.epoch >= self.drw_epoch

    def loss_elements(self, logits, targets):
        if self.margins is not None:
            logits = self.scale * (logits - self._buf("margins", logits) * targets)
        w = self._buf("cb_weights", logits) if self.reweighting else None
        return bce(logits, targets, weight=w)

    def to_logits(self, raw):
        return raw * self.scale if self.margins is not None else raw

    def extra_repr(self):
        parts = [f"epoch={self.epoch}", f"drw_epoch={self.drw_epoch}"]
        if self.margins is not None:
            parts.append(f"scale={self.scale}, max_margin={float(self.margins.max()):.3g}")
        return ", ".join(parts)


def _resolve_drw_epoch(drw_epoch, epochs) -> int:
    if drw_epoch is None:
        if epochs is None:
            raise ConfigError("deferred re-weighting needs drw_epoch= (the 0-based epoch where class "
                              "weights switch on) or epochs= (then drw_epoch = floor(0.8 * epochs))")
        if int(epochs) < 1:
            raise ConfigError(f"epochs must be >= 1, got {epochs}")
        return int(math.floor(0.8 * int(epochs)))
    if int(drw_epoch) < 0:
        raise ConfigError(f"drw_epoch must be >= 0, got {drw_epoch}")
    return int(drw_epoch)


def _check_scale_margin(scale, max_margin):
    if scale <= 0:
        raise ConfigError(f"ldam scale s must be > 0, got {scale}")
    if max_margin < 0:
        raise ConfigError(f"ldam max_margin must be >= 0, got {max_margin}")


@register_loss("ldam", summary="LDAM (sigmoid): BCE(s(z - m y)), m ∝ n^-1/4, max 0.5, s=30",
               paper="Cao et al., NeurIPS 2019", eval_logits="s * z")
def _make_ldam(class_counts, max_margin: float = 0.5, scale: float = 30.0) -> LtLoss:
    _check_scale_margin(scale, max_margin)
    return DeferredReweightLoss(None, None, margins=ldam_margins(class_counts, max_margin), scale=scale)


@register_loss("drw", summary="BCE with class-balanced weights (beta=0.9999) from drw_epoch on",
               paper="Cao et al., NeurIPS 2019 (DRW); Cui et al., CVPR 2019 (weights)")
def _make_drw(class_counts, drw_epoch: int | None = None, epochs: int | None = None,
              beta: float = 0.9999) -> LtLoss:
    return DeferredReweightLoss(class_balanced_weights(class_counts, beta),
                                _resolve_drw_epoch(drw_epoch, epochs))


@register_loss("ldam_drw", summary="LDAM with deferred class-balanced re-weighting",
               paper="Cao et al., NeurIPS 2019", eval_logits="s * z")
def _make_ldam_drw(class_counts, drw_epoch: int | None = None, epochs: int | None = None,
                   beta: float = 0.9999, max_margin: float = 0.5, scale: float = 30.0) -> LtLoss:
    _check_scale_margin(scale, max_margin)
    return DeferredReweightLoss(class_balanced_weights(class_counts, beta),
                                _resolve_drw_epoch(drw_epoch, epochs),
                                margins=ldam_margins(class_counts, max_margin), scale=scale)


class DistributionBalancedLoss(LtLoss):
    """Distribution-balanced loss (Wu et al., ECCV 2020): re-balanced weights + negative-tolerant
    regularisation + class-specific bias, with the focal term (the paper's full "DB-Focal")."""

    def __init__(self, class_counts, n_samples: int, *, neg_scale: float = 5.0, init_bias: float = 0.05,
                 map_alpha: float = 0.1, map_beta: float = 10.0, map_mu: float = 0.2,
                 gamma: float = 2.0, balance_param: float = 2.0) -> None:
        super().__init__()
        if neg_scale <= 0:
            raise ConfigError(f"dbloss neg_scale (lambda) must be > 0, got {neg_scale}")
        n = np.clip(_as_counts(class_counts), 1.0, n_samples - 1.0 if n_samples > 1 else 1.0)
        self.register_buffer("inv_freq", _tensor(1.0 / n))
        # nu_c = (kappa / lambda) * log(N / n_c - 1), subtracted from the logits (authors' code)
        self.register_buffer("bias", _tensor(-init_bias / neg_scale * np.log(n_samples / n - 1.0)))
        self.neg_scale, self.init_bias = float(neg_scale), float(init_bias)
        self.map_alpha, self.map_beta, self.map_mu = float(map_alpha), float(map_beta), float(map_mu)
        self.gamma, self.balance_param = float(gamma), float(balance_param)

    def loss_elements(self, logits, targets):
        w = db_rebalance_weights(targets, self._buf("inv_freq", logits), alpha=self.map_alpha,
                                 beta=self.map_beta, mu=self.map_mu)
        z = logits + self._buf("bias", logits)
        lam = self.neg_scale
        z = z * targets + lam * z * (1 - targets)           # negative-tolerant: lambda-sharpened negatives
        w = w * targets + w / lam * (1 - targets)           # ... and 1/lambda on their loss
        ce = F.binary_cross_entropy_with_logits(z, targets, reduction="none")
        loss = w * ce
        if self.gamma != 0:
            pt = torch.exp(-ce)
            loss = loss * (1 - pt).pow(self.gamma)
        return self.balance_param * loss

    def to_logits(self, raw):
        return raw + self._buf("bias", raw)

    def extra_repr(self):
        return (f"neg_scale={self.neg_scale}, init_bias={self.init_bias}, map=({self.map_alpha}, "
                f"{self.map_beta}, {self.map_mu}), gamma={self.gamma}, balance_param={self.balance_param}")


@register_loss("dbloss", summary="distribution-balanced loss (rebalance + NTR lambda=5, kappa=0.05 + focal)",
               paper="Wu et al., ECCV 2020", needs_n_samples=True, eval_logits="z - nu_c")
def _make_dbloss(class_counts, n_samples, neg_scale: float = 5.0, init_bias: float = 0.05,
                 map_alpha: float = 0.1, map_beta: float = 10.0, map_mu: float = 0.2,
                 gamma: float = 2.0, balance_param: float = 2.0) -> LtLoss:
    return DistributionBalancedLoss(class_counts, n_samples, neg_scale=neg_scale, init_bias=init_bias,
                                    map_alpha=map_alpha, map_beta=map_beta, map_mu=map_mu,
                                    gamma=gamma, balance_param=balance_param)


class LogitAdjustedBCE(LtLoss):
    """Logit-adjusted BCE (Menon et al., ICLR 2021): BCE(z + tau log prior_c, y) in training;
    the model's raw output z (without the adjustment) is the evaluation logit."""

    def __init__(self, log_prior, tau: float = 1.0) -> None:
        super().__init__()
        self.tau = float(tau)
        self.register_buffer("log_prior", _tensor(log_prior))

    def loss_elements(self, logits, targets):
        return bce(logits + self.tau * self._buf("log_prior", logits), targets)

    def extra_repr(self):
        return f"tau={self.tau}"


@register_loss("la_bce", summary="logit-adjusted BCE: BCE(z + tau log prior), tau=1",
               paper="Menon et al., ICLR 2021", needs_n_samples=True)
def _make_la_bce(class_counts, n_samples, tau: float = 1.0) -> LtLoss:
    prior = np.maximum(class_counts, 1.0) / n_samples
    return LogitAdjustedBCE(np.log(prior), tau=tau)
