"""Multi-label losses for long-tailed training, behind one registry.

``create_loss(name, class_counts, n_samples=..., **kw)`` builds a :class:`LtLoss`; ``list_losses()``
names them. Every loss takes raw model outputs ``logits`` (B, C) and multi-hot ``targets`` (B, C)
and returns the mean over batch × classes (a scalar).

Names, summaries, papers, tags and each loss's keyword arguments with their defaults live in the
torch-free registry :data:`lteval.train.loss_specs.LOSSES` (config resolution reads it without
torch); ``register_loss(name)`` attaches a factory to its entry and refuses one whose signature differs.

Uniform interface (what the training engine relies on):

- ``forward(logits, targets) -> scalar``
- ``schedule(total_steps, steps_per_epoch)``: the length of training, once before it (DRW fixes its
  switch step here; a no-op for most losses); ``deferred`` says whether the loss has a switch
- ``set_step(step)`` / ``set_epoch(epoch)``: optimiser steps done / the epoch starting (DRW
  switches by step); no-ops for most losses
- ``to_logits(raw) -> eval logits``: how the model's raw output becomes the logits whose sigmoid
  is the reported probability. Identity for most losses; ``ldam``/``ldam_drw`` multiply by the
  scale ``s`` (the margin is a training-time device only) and ``dbloss`` adds its class-specific
  bias. The engine must apply it before ``sigmoid`` at evaluation, so that evaluation uses the
  same scale the loss trained.
- ``state_dict()/load_state_dict()``: class statistics (buffers) and the schedule state (epoch,
  step, switch step; the module's extra state), so a checkpoint restores a DRW switch exactly.

The functional core (``bce``, ``focal``, ``asymmetric``, ...) works on tensors and returns the
element-wise loss (B, C); the modules add the class statistics and the mean. Formulas, papers and
hyper-parameters: docs/losses.md.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lteval.errors import ConfigError, InputError, did_you_mean
from lteval.train.loss_specs import LOSSES, LossSpec, factory_params, loss_spec, register_loss_spec

__all__ = [
    "LtLoss", "create_loss", "list_losses", "loss_info", "register_loss",
    "class_balanced_weights", "ldam_margins", "positive_weights", "class_weight_elements", "WEIGHT_ON",
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
               clip: float = 0.05, detach_focal_weight: bool = True) -> Tensor:
    """Asymmetric loss (Ridnik et al., ICCV 2021), element-wise (B, C).

    ``L+ = (1 - p)^gamma_pos log(p)``; with the shifted probability ``p_m = max(p - clip, 0)``,
    ``L- = p_m^gamma_neg log(1 - p_m)``; loss ``= -(y L+ + (1 - y) L-)``. Negatives with
    ``p <= clip`` are discarded entirely (zero loss and gradient); hard negatives (large ``p``) keep
    the largest weight — the public CXR-LT code inverted this focusing.

    ``detach_focal_weight=True`` (default) computes the focusing weights without gradient, as the
    authors' training script does (``disable_torch_grad_focal_loss=True`` in Alibaba-MIIL/ASL
    train.py); ``False`` lets gradients flow through them (timm's ``AsymmetricLossMultiLabel``).
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


WEIGHT_ON = ("positives", "both")


def class_weight_elements(weights: Tensor, targets: Tensor, weight_on: str = "positives") -> Tensor:
    """Element weights (B, C) from per-class weights (C,).

    ``"positives"``: ``y w_c + (1 - y)`` — class c's weight multiplies its positive terms only
    (the seed paper's code, and what makes re-weighting move a biased linear head's optimum);
    ``"both"``: ``w_c`` on positive and negative terms (rescales class c's whole loss: with a
    per-class bias the head's optimum, hence its ranking, is unchanged).
    """
    if weight_on == "both":
        return weights.expand_as(targets)
    return targets * weights + (1 - targets)


def _check_weight_on(weight_on: str) -> str:
    if weight_on not in WEIGHT_ON:
        raise ConfigError(f"weight_on must be one of {', '.join(WEIGHT_ON)}, got {weight_on!r}"
                          f"{did_you_mean(str(weight_on), WEIGHT_ON)}")
    return weight_on


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

    #: whether the loss changes behaviour during training (deferred re-weighting)
    deferred = False

    def __init__(self) -> None:
        super().__init__()
        self.epoch = 0
        self.step = 0

    def set_epoch(self, epoch: int) -> None:
        """Tell the loss which (0-based) epoch starts; only scheduled losses change behaviour."""
        self.epoch = int(epoch)

    def set_step(self, step: int) -> None:
        """Tell the loss how many optimiser steps are done (the next step's 0-based index)."""
        self.step = int(step)

    def schedule(self, total_steps: int, steps_per_epoch: int | None = None) -> None:
        """Tell the loss the length of training (optimiser steps); a no-op for unscheduled losses."""

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
        return {"epoch": self.epoch, "step": self.step}

    def set_extra_state(self, state) -> None:
        self.epoch = int(state.get("epoch", 0))
        self.step = int(state.get("step", 0))

    def extra_repr(self) -> str:
        return f"epoch={self.epoch}"


#: a registry entry of a loss with its factory (the torch-free entry itself)
LossInfo = LossSpec


def register_loss(name: str, **spec_fields):
    """Decorator: register ``factory(class_counts, [n_samples,] **kw) -> LtLoss`` under ``name``.

    ``name`` already in :data:`lteval.train.loss_specs.LOSSES` (the built-in losses): the factory
    attaches to that entry, and its signature must match the entry's ``needs_n_samples`` and
    ``params`` exactly (TypeError otherwise), so the torch-free entry and the implementation cannot
    drift. A new loss passes ``summary=``, ``paper=`` (and optionally ``eval_logits=``, ``tags=``);
    its entry is made from the factory's signature.
    """
    def deco(factory):
        if spec_fields:
            needs, params = factory_params(name, factory)
            register_loss_spec(name, needs_n_samples=needs, params=params, **spec_fields)
        LOSSES.attach(name, factory)
        return factory
    return deco


def list_losses() -> list[str]:
    """Registered loss names (with an implementation), in registration order."""
    return [e.name for e in LOSSES.entries() if e.factory is not None]


def loss_info(name: str) -> LossSpec:
    """The registry entry for ``name`` with its factory (ConfigError with a suggestion when unknown)."""
    info = loss_spec(name)
    if info.factory is None:
        raise ConfigError(f"loss {name!r} has no implementation registered (lteval.train.losses.register_loss)")
    return info


def create_loss(name: str, class_counts, *, n_samples: int | None = None, **kw) -> LtLoss:
    """Build the loss ``name`` for a training set with per-class positive counts (C,).

    ``n_samples`` (number of training images) is required by losses that need negatives or
    priors (``bce_pos_weight``, ``dbloss``, ``la_bce``). Extra keyword arguments are the loss's
    hyper-parameters (see docs/losses.md); unknown ones raise :class:`ConfigError`.
    """
    info = loss_info(name)
    counts = _as_counts(class_counts)
    accepted = list(info.defaults)
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


@register_loss("bce")
def _make_bce(class_counts) -> LtLoss:
    return BCELoss()


@register_loss("bce_pos_weight")
def _make_bce_pos_weight(class_counts, n_samples, max_pos_weight: float | None = None) -> LtLoss:
    return BCELoss(pos_weight=positive_weights(class_counts, n_samples, max_pos_weight))


class FocalLoss(LtLoss):
    """Sigmoid focal loss, optionally with a per-class weight (C,) (class-balanced focal)."""

    def __init__(self, gamma: float = 2.0, alpha: float | None = None, weight=None,
                 weight_on: str = "positives") -> None:
        super().__init__()
        self.weight_on = _check_weight_on(weight_on)
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
            loss = loss * class_weight_elements(self._buf("weight", logits), targets, self.weight_on)
        return loss

    def extra_repr(self):
        return f"gamma={self.gamma}, alpha={self.alpha}, weight_on={self.weight_on}, epoch={self.epoch}"


@register_loss("focal")
def _make_focal(class_counts, gamma: float = 2.0, alpha: float | None = None) -> LtLoss:
    return FocalLoss(gamma=gamma, alpha=alpha)


@register_loss("cb_focal")
def _make_cb_focal(class_counts, beta: float = 0.9999, gamma: float = 2.0,
                   alpha: float | None = None, weight_on: str = "positives") -> LtLoss:
    return FocalLoss(gamma=gamma, alpha=alpha, weight=class_balanced_weights(class_counts, beta),
                     weight_on=weight_on)


class AsymmetricLoss(LtLoss):
    """Asymmetric loss exactly as Ridnik et al. (2021): probability shift on negatives."""

    def __init__(self, gamma_pos: float = 0.0, gamma_neg: float = 4.0, clip: float = 0.05,
                 detach_focal_weight: bool = True) -> None:
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
        return (f"gamma_pos={self.gamma_pos}, gamma_neg={self.gamma_neg}, clip={self.clip}, "
                f"detach_focal_weight={self.detach_focal_weight}")


@register_loss("asl")
def _make_asl(class_counts, gamma_pos: float = 0.0, gamma_neg: float = 4.0, clip: float = 0.05,
              detach_focal_weight: bool = True) -> LtLoss:
    return AsymmetricLoss(gamma_pos, gamma_neg, clip, detach_focal_weight)


class DeferredReweightLoss(LtLoss):
    """BCE (or LDAM when ``margins`` is given) with class-balanced weights from a switch step on.

    Before the switch every class weighs 1; from it on, class c weighs ``w_c`` (Cui et al., beta)
    on its positive terms (``weight_on="positives"``, default: ``y w_c + (1 - y)``, the seed's
    code) or on both terms (``"both"``). The switch is an optimiser step, fixed by
    :meth:`schedule` (``total_steps``, ``steps_per_epoch``) from, in order of precedence,
    ``drw_step``, ``drw_epoch`` (× steps per epoch) or ``drw_fraction`` (default 0.8) of the
    total. Guards (:class:`ConfigError`): something must be deferred (switch > 0) and re-weighted
    (at least 2 steps after it, room for two evaluations), and at least half of training comes
    before the switch unless ``drw_allow_early=True``.

    ``set_step(s)`` (optimiser steps done) flips the switch; ``step`` and ``epoch`` are saved in
    ``state_dict()``. Without :meth:`schedule`, a loss given ``drw_epoch`` switches by
    ``set_epoch`` instead (standalone use); one given neither cannot train (it can still map
    evaluation logits, which is all a finished run's loss is needed for).
    """

    deferred = True

    def __init__(self, cb_weights, *, margins=None, scale: float = 1.0, drw_fraction: float = 0.8,
                 drw_epoch: int | None = None, drw_step: int | None = None, drw_allow_early: bool = False,
                 weight_on: str = "positives") -> None:
        super().__init__()
        self.register_buffer("cb_weights", None if cb_weights is None else _tensor(cb_weights))
        self.register_buffer("margins", None if margins is None else _tensor(margins))
        self.scale = float(scale)
        self.weight_on = _check_weight_on(weight_on)
        if cb_weights is None:
            self.deferred = False
        if not 0.0 < float(drw_fraction) < 1.0:
            raise ConfigError(f"drw_fraction must be in (0, 1), got {drw_fraction}")
        if drw_epoch is not None and int(drw_epoch) < 1:
            raise ConfigError(f"drw_epoch must be >= 1 (0 would defer nothing), got {drw_epoch}")
        if drw_step is not None and int(drw_step) < 1:
            raise ConfigError(f"drw_step must be >= 1 (0 would defer nothing), got {drw_step}")
        self.drw_fraction = float(drw_fraction)
        self.drw_epoch = None if drw_epoch is None else int(drw_epoch)
        self.drw_step = None if drw_step is None else int(drw_step)
        self.drw_allow_early = bool(drw_allow_early)
        self.switch_step: int | None = None
        self.total_steps: int | None = None

    def schedule(self, total_steps: int, steps_per_epoch: int | None = None) -> None:
        """Fix the switch step for a run of ``total_steps`` optimiser steps (guards: see class doc)."""
        if not self.deferred:
            return
        total = int(total_steps)
        if self.drw_step is not None:
            switch, how = self.drw_step, f"drw_step={self.drw_step}"
        elif self.drw_epoch is not None:
            if not steps_per_epoch:
                raise ConfigError("drw_epoch needs steps_per_epoch to become an optimiser step")
            switch, how = self.drw_epoch * int(steps_per_epoch), f"drw_epoch={self.drw_epoch}"
        else:
            switch, how = int(round(self.drw_fraction * total)), f"drw_fraction={self.drw_fraction}"
        if switch < 1:
            raise ConfigError(f"deferred re-weighting with {how} over {total} optimiser steps switches at step "
                              f"{switch}: nothing is deferred; train longer or raise the switch")
        if total - switch < 2:
            raise ConfigError(f"deferred re-weighting with {how} switches at step {switch} of {total}: fewer than "
                              "2 re-weighted steps, too few to evaluate the re-weighted model twice; train longer "
                              "or switch earlier")
        if switch < total / 2 and not self.drw_allow_early:
            raise ConfigError(f"deferred re-weighting with {how} switches at step {switch} of {total}, before half "
                              "of training (the deferral guard); set loss_kwargs.drw_allow_early=true to "
                              "use an early switch on purpose")
        self.switch_step, self.total_steps = switch, total

    @property
    def reweighting(self) -> bool:
        """Whether class-balanced weights are on for the current step (or epoch, unscheduled)."""
        if not self.deferred:
            return False
        if self.switch_step is not None:
            return self.step >= self.switch_step
        return self.drw_epoch is not None and self.epoch >= self.drw_epoch

    def loss_elements(self, logits, targets):
        if self.deferred and self.switch_step is None and self.drw_epoch is None:
            raise ConfigError("a deferred re-weighting loss needs its schedule: call loss.schedule(total_steps, "
                              "steps_per_epoch) first, or give drw_step= / drw_epoch=")
        if self.margins is not None:
            logits = self.scale * (logits - self._buf("margins", logits) * targets)
        w = (class_weight_elements(self._buf("cb_weights", logits), targets, self.weight_on)
             if self.reweighting else None)
        return bce(logits, targets, weight=w)

    def to_logits(self, raw):
        return raw * self.scale if self.margins is not None else raw

    def get_extra_state(self):
        return dict(super().get_extra_state(), switch_step=self.switch_step, total_steps=self.total_steps)

    def set_extra_state(self, state) -> None:
        super().set_extra_state(state)
        if state.get("switch_step") is not None:
            self.switch_step = int(state["switch_step"])
            self.total_steps = int(state["total_steps"])

    def extra_repr(self):
        parts = [f"epoch={self.epoch}", f"step={self.step}"]
        if self.deferred:
            parts += [f"switch_step={self.switch_step}", f"weight_on={self.weight_on}"]
        if self.margins is not None:
            parts.append(f"scale={self.scale}, max_margin={float(self.margins.max()):.3g}")
        return ", ".join(parts)


def _check_scale_margin(scale, max_margin):
    if scale <= 0:
        raise ConfigError(f"ldam scale s must be > 0, got {scale}")
    if max_margin < 0:
        raise ConfigError(f"ldam max_margin must be >= 0, got {max_margin}")


@register_loss("ldam")
def _make_ldam(class_counts, max_margin: float = 0.5, scale: float = 30.0) -> LtLoss:
    _check_scale_margin(scale, max_margin)
    return DeferredReweightLoss(None, margins=ldam_margins(class_counts, max_margin), scale=scale)


@register_loss("drw")
def _make_drw(class_counts, drw_fraction: float = 0.8, drw_epoch: int | None = None, drw_step: int | None = None,
              drw_allow_early: bool = False, beta: float = 0.9999, weight_on: str = "positives") -> LtLoss:
    return DeferredReweightLoss(class_balanced_weights(class_counts, beta), drw_fraction=drw_fraction,
                                drw_epoch=drw_epoch, drw_step=drw_step, drw_allow_early=drw_allow_early,
                                weight_on=weight_on)


@register_loss("ldam_drw")
def _make_ldam_drw(class_counts, drw_fraction: float = 0.8, drw_epoch: int | None = None,
                   drw_step: int | None = None, drw_allow_early: bool = False, beta: float = 0.9999,
                   max_margin: float = 0.5, scale: float = 30.0, weight_on: str = "positives") -> LtLoss:
    _check_scale_margin(scale, max_margin)
    return DeferredReweightLoss(class_balanced_weights(class_counts, beta), drw_fraction=drw_fraction,
                                drw_epoch=drw_epoch, drw_step=drw_step, drw_allow_early=drw_allow_early,
                                margins=ldam_margins(class_counts, max_margin), scale=scale, weight_on=weight_on)


class DistributionBalancedLoss(LtLoss):
    """Distribution-balanced loss (Wu et al., ECCV 2020): re-balanced weights + negative-tolerant
    regularisation + class-specific bias, with the focal term (the paper's full "DB-Focal")."""

    def __init__(self, class_counts, n_samples: int, *, neg_scale: float = 2.0, init_bias: float = 0.05,
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


# Defaults: the authors' COCO-MLT config (wutong16/DistributionBalancedLoss,
# configs/coco/LT_resnet50_pfc_DB.py: logit_reg neg_scale=2.0, init_bias=0.05; map_param alpha=0.1,
# beta=10.0, gamma=0.2; focal gamma=2, balance_param=2.0). Their VOC-MLT config differs in
# neg_scale=5 and map gamma=0.3 — set both (neg_scale=5, map_mu=0.3) to use it.
@register_loss("dbloss")
def _make_dbloss(class_counts, n_samples, neg_scale: float = 2.0, init_bias: float = 0.05,
                 map_alpha: float = 0.1, map_beta: float = 10.0, map_mu: float = 0.2,
                 gamma: float = 2.0, balance_param: float = 2.0) -> LtLoss:
    return DistributionBalancedLoss(class_counts, n_samples, neg_scale=neg_scale, init_bias=init_bias,
                                    map_alpha=map_alpha, map_beta=map_beta, map_mu=map_mu,
                                    gamma=gamma, balance_param=balance_param)


class LogitAdjustedBCE(LtLoss):
    """Logit-adjusted BCE (Menon et al., ICLR 2021): BCE(z + tau log prior_c, y) in training;
    the model's raw output z (without the adjustment) is the evaluation logit.

    Tagged ``bias-equivalent``: with one sigmoid per class the adjustment is a per-class constant
    added to the logit, which a head with a bias absorbs (b_c -> b_c - tau log prior_c). At the
    optimum the per-class ranking — AP, AUROC — equals BCE's (measured |dAP| ~ 0, docs/losses.md);
    only the scores' offset (calibration, F1 at 0.5) differs. Menon et al.'s effect comes from
    the softmax coupling between classes, which a multi-label sigmoid head does not have."""

    def __init__(self, log_prior, tau: float = 1.0) -> None:
        super().__init__()
        self.tau = float(tau)
        self.register_buffer("log_prior", _tensor(log_prior))

    def loss_elements(self, logits, targets):
        return bce(logits + self.tau * self._buf("log_prior", logits), targets)

    def extra_repr(self):
        return f"tau={self.tau}"


@register_loss("la_bce")
def _make_la_bce(class_counts, n_samples, tau: float = 1.0) -> LtLoss:
    prior = np.maximum(class_counts, 1.0) / n_samples
    return LogitAdjustedBCE(np.log(prior), tau=tau)
