"""The loss registry, torch-free: name, summary, paper, tags and parameters of every loss.

:data:`LOSSES` is a :class:`lteval.registry.Registry` of :class:`LossSpec` entries. Each loss is
declared here once (:func:`register_loss_spec`) with its keyword arguments and their defaults;
its torch factory attaches to the entry in :mod:`lteval.train.losses` (``register_loss(name)``),
and the attach refuses a factory whose signature differs, so this table is the one source of truth
for what ``create_loss`` accepts, and config resolution (``lteval baseline show``) reads it on an
install without torch.

``list_losses()`` names the losses in registration order; ``loss_spec(name)`` is one
:class:`LossSpec` (ConfigError with a suggestion when unknown).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from lteval.registry import Entry, Registry

__all__ = ["LOSSES", "LossSpec", "list_losses", "loss_spec", "register_loss_spec", "factory_params",
           "FACTORY_POSITIONAL"]

#: the factory's positional arguments, not hyper-parameters: ``factory(class_counts, [n_samples,] **kw)``
FACTORY_POSITIONAL = ("class_counts", "n_samples")


@dataclass(frozen=True)
class LossSpec(Entry):
    """A registered loss: ``name``, ``summary``, ``paper`` and, once :mod:`lteval.train.losses` is
    imported, its torch ``factory`` (the entry's ``obj``; ``None`` before)."""

    needs_n_samples: bool = False
    #: what the evaluation logits are, in terms of the model's raw output z (see ``LtLoss.to_logits``)
    eval_logits: str = "z"
    #: labels a reader should know, e.g. ``"bias-equivalent"``: with a per-class bias in the head
    #: the loss has the same optimum ranking as BCE (measured: docs/losses.md)
    tags: tuple = ()
    #: the hyper-parameters ``create_loss`` accepts, in order: ``((name, default), ...)``
    params: tuple = ()

    @property
    def defaults(self) -> dict:
        """``{parameter: default}`` of the loss's keyword arguments."""
        return dict(self.params)

    @property
    def factory(self):
        """``factory(class_counts (C,), [n_samples,] **params) -> LtLoss``, or ``None`` without torch."""
        return self.obj


def factory_params(name: str, factory) -> tuple[bool, tuple]:
    """(takes n_samples, ((keyword, default), ...)) read from a loss ``factory``'s signature."""
    params = list(inspect.signature(factory).parameters.values())
    if not params or params[0].name != "class_counts":
        raise TypeError(f"loss factory for {name!r} must take class_counts first")
    needs = len(params) > 1 and params[1].name == "n_samples"
    kw = params[2 if needs else 1:]
    bad = [p.name for p in kw if p.default is inspect.Parameter.empty or p.kind not in
           (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    if bad:
        raise TypeError(f"loss factory for {name!r}: hyper-parameter {bad[0]!r} needs a default")
    return needs, tuple((p.name, p.default) for p in kw)


def _check_factory(spec: LossSpec, factory) -> None:
    """The factory's signature must be the entry's ``needs_n_samples`` and ``params`` exactly."""
    needs, params = factory_params(spec.name, factory)
    if (spec.needs_n_samples, spec.params) != (needs, params):
        raise TypeError(f"loss factory for {spec.name!r} takes n_samples={needs}, {params}; "
                        f"lteval.train.loss_specs says n_samples={spec.needs_n_samples}, {spec.params}")


#: Every loss, in the order of ``lteval baseline list`` and the grid.
LOSSES = Registry("loss", entry_type=LossSpec, check=_check_factory)


def register_loss_spec(name: str, *, summary: str, paper: str, needs_n_samples: bool = False,
                       eval_logits: str = "z", tags: tuple = (), params=()) -> LossSpec:
    """Declare (or replace) the loss ``name``; ``params`` is ``[(name, default), ...]`` or a dict."""
    items = tuple(params.items()) if isinstance(params, dict) else tuple(tuple(p) for p in params)
    LOSSES.register(name, None, summary=summary, paper=paper, needs_n_samples=bool(needs_n_samples),
                    eval_logits=eval_logits, tags=tuple(tags), params=items)
    return LOSSES.entry(name)


def list_losses() -> list[str]:
    """Registered loss names, in registration order."""
    return LOSSES.names()


def loss_spec(name: str) -> LossSpec:
    """The entry for ``name`` (ConfigError with a suggestion when unknown)."""
    return LOSSES.entry(name)


# --------------------------------------------------------------------------- the losses
# Order is the registry's order (``lteval baseline list``, the grid). Formulas: docs/losses.md.

_DRW = (("drw_fraction", 0.8), ("drw_epoch", None), ("drw_step", None), ("drw_allow_early", False),
        ("beta", 0.9999))

register_loss_spec("bce", summary="binary cross-entropy", paper="-")
register_loss_spec("bce_pos_weight", summary="BCE with pos_weight = n_neg / n_pos per class", paper="-",
                   needs_n_samples=True, params=[("max_pos_weight", None)])
register_loss_spec("focal", summary="sigmoid focal loss, gamma=2", paper="Lin et al., ICCV 2017",
                   params=[("gamma", 2.0), ("alpha", None)])
register_loss_spec("cb_focal", summary="class-balanced focal loss, beta=0.9999", paper="Cui et al., CVPR 2019",
                   params=[("beta", 0.9999), ("gamma", 2.0), ("alpha", None), ("weight_on", "positives")])
register_loss_spec("asl", summary="asymmetric loss, gamma+=0, gamma-=4, shift 0.05",
                   paper="Ridnik et al., ICCV 2021",
                   params=[("gamma_pos", 0.0), ("gamma_neg", 4.0), ("clip", 0.05), ("detach_focal_weight", True)])
register_loss_spec("ldam", summary="LDAM (sigmoid): BCE(s(z - m y)), m ∝ n^-1/4, max 0.5, s=30",
                   paper="Cao et al., NeurIPS 2019", eval_logits="s * z",
                   params=[("max_margin", 0.5), ("scale", 30.0)])
register_loss_spec("drw", summary="BCE with class-balanced weights (beta=0.9999, positives) from 80% of the steps on",
                   paper="Cao et al., NeurIPS 2019 (DRW); Cui et al., CVPR 2019 (weights)",
                   params=[*_DRW, ("weight_on", "positives")])
register_loss_spec("ldam_drw", summary="LDAM with deferred class-balanced re-weighting (positives, from 80%)",
                   paper="Cao et al., NeurIPS 2019", eval_logits="s * z",
                   params=[*_DRW, ("max_margin", 0.5), ("scale", 30.0), ("weight_on", "positives")])
# Defaults: the authors' COCO-MLT config (wutong16/DistributionBalancedLoss,
# configs/coco/LT_resnet50_pfc_DB.py: logit_reg neg_scale=2.0, init_bias=0.05; map_param alpha=0.1,
# beta=10.0, gamma=0.2; focal gamma=2, balance_param=2.0). Their VOC-MLT config differs in
# neg_scale=5 and map gamma=0.3 — set both (neg_scale=5, map_mu=0.3) to use it.
register_loss_spec("dbloss", summary="distribution-balanced loss (rebalance + NTR lambda=2, kappa=0.05 + focal; "
                                     "COCO-MLT config)",
                   paper="Wu et al., ECCV 2020", needs_n_samples=True, eval_logits="z - nu_c",
                   params=[("neg_scale", 2.0), ("init_bias", 0.05), ("map_alpha", 0.1), ("map_beta", 10.0),
                           ("map_mu", 0.2), ("gamma", 2.0), ("balance_param", 2.0)])
register_loss_spec("la_bce", summary="logit-adjusted BCE: BCE(z + tau log prior), tau=1 (bias-equivalent to BCE)",
                   paper="Menon et al., ICLR 2021", needs_n_samples=True, tags=("bias-equivalent",),
                   params=[("tau", 1.0)])
