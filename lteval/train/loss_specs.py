"""What each registered loss is, without torch: name, summary, paper, tags and its parameters.

The torch implementations (:mod:`lteval.train.losses`) register their factories against these
entries; registration checks the factory's signature against ``params`` (names and defaults), so
this table is the one source of truth for the keyword arguments ``create_loss`` accepts — and config
resolution (``lteval baseline show``) reads it on an install without torch.

``list_losses()`` names the losses in registration order; ``loss_spec(name)`` is one
:class:`LossSpec` (ConfigError with a suggestion when unknown).
"""

from __future__ import annotations

from dataclasses import dataclass

from lteval.errors import ConfigError, did_you_mean

__all__ = ["LossSpec", "list_losses", "loss_spec", "register_loss_spec", "FACTORY_POSITIONAL"]

#: the factory's positional arguments, not hyper-parameters: ``factory(class_counts, [n_samples,] **kw)``
FACTORY_POSITIONAL = ("class_counts", "n_samples")


@dataclass(frozen=True)
class LossSpec:
    """A registered loss, torch-free."""

    name: str
    summary: str
    paper: str
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


_SPECS: dict[str, LossSpec] = {}


def register_loss_spec(name: str, *, summary: str, paper: str, needs_n_samples: bool = False,
                       eval_logits: str = "z", tags: tuple = (), params=()) -> LossSpec:
    """Add (or replace) the entry ``name``; ``params`` is ``[(name, default), ...]`` or a dict."""
    items = tuple(params.items()) if isinstance(params, dict) else tuple(tuple(p) for p in params)
    spec = LossSpec(name, summary, paper, bool(needs_n_samples), eval_logits, tuple(tags), items)
    _SPECS[name] = spec
    return spec


def list_losses() -> list[str]:
    """Registered loss names, in registration order."""
    return list(_SPECS)


def loss_spec(name: str) -> LossSpec:
    """The entry for ``name`` (ConfigError with a suggestion when unknown)."""
    if name not in _SPECS:
        raise ConfigError(f"unknown loss {name!r}{did_you_mean(name, list(_SPECS))}; "
                          f"choose one of: {', '.join(_SPECS)}")
    return _SPECS[name]


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
