"""The post-training stages, one registry entry each (torch-free to import; torch inside ``run``).

A stage is one :class:`Stage` in :data:`STAGE_REGISTRY`: its name, a summary (``lteval baseline
list``), its options dataclass (:mod:`lteval.posttrain.options`: defaults, coercion, validate) and
``run(ctx, opts, out, prev, head) -> (info, head)``: write the stage's ``predictions/``,
``logits/``, ``labels/`` and ``scores/`` into ``out`` from the previous stage's directory ``prev``
(``ctx``: the base run's lazily loaded parts, :class:`lteval.posttrain.pipeline._Context`; ``head``:
the current classifier when a classifier stage ran before, else None); ``info`` is what
``config.json`` records. Registration order is the pipeline order; ``classifier`` stages replace
the classifier; ``exclusive`` names a stage that may not appear in the same chain. ``preflight(classes,
opts)``, when set, checks the task before the base run is trained.

Adding a stage = one options dataclass and one ``@register_stage(...)`` run function here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from lteval.errors import UsageError
from lteval.posttrain.options import (CalibOptions, CRTOptions, GateOptions, LWSOptions, StageOptions,
                                      TauOptions, TTAOptions)
from lteval.registry import Entry, Registry

__all__ = ["Stage", "STAGE_REGISTRY", "register_stage"]


@dataclass(frozen=True)
class Stage(Entry):
    """A registered post-training stage; ``obj`` is its ``run`` function."""

    options: type[StageOptions] = StageOptions
    classifier: bool = False
    exclusive: str = ""
    preflight: Callable | None = None

    @property
    def run(self) -> Callable:
        """``run(ctx, opts: dict, out: Path, prev: Path, head) -> (info: dict, head)``."""
        return self.obj


#: Every stage, in pipeline order (``STAGES``).
STAGE_REGISTRY = Registry("post-training stage", error=UsageError, entry_type=Stage,
                          unknown="unknown {kind} {name!r} in {where!r}{hint}; stages: {choices}")


def register_stage(name: str, *, summary: str, options: type[StageOptions], classifier: bool = False,
                   exclusive: str = "", preflight: Callable | None = None, paper: str = "-"):
    """Decorator: register ``run`` as the stage ``name`` (after the stages registered before it)."""
    return STAGE_REGISTRY.register(name, summary=summary, paper=paper, options=options,
                                   classifier=classifier, exclusive=exclusive, preflight=preflight)


# --------------------------------------------------------------------------- classifier stages

#: The paper of the three decoupled classifier stages (cRT, tau, LWS).
_KANG = "Kang et al., ICLR 2020"


def _finish(ctx, new, out: Path, info: dict) -> tuple[dict, object]:
    """Save the classifier stage's new head ``new`` in ``out``, write its predictions; ``(info, new)``."""
    ctx.save_head(new, out)
    ctx.write_from_head(new, out)
    return info, new


def _current_head(ctx, head):
    """The head an earlier stage of the chain left (``head``), else the base run's."""
    return head if head is not None else ctx.base_head()


@register_stage("crt", options=CRTOptions, classifier=True, paper=_KANG,
                summary="classifier re-training: frozen backbone (eval mode, statistics frozen), new linear "
                        "classifier, class-aware sampling, own schedule (Kang et al. 2020)")
def _run_crt(ctx, opts: dict, out: Path, prev: Path, head):
    from lteval.posttrain import crt as C

    cfg = C.CRTConfig.from_dict(opts)
    y = ctx.labels("train")
    if cfg.augment:
        train = ctx.dataset("train", augment=True)
    else:
        train = ctx.features("train")
    new, log = C.train_crt(ctx.model, train, y, cfg, device=ctx.device, amp_dtype=ctx.amp_dtype)
    info = {"train_images": int(len(y)), "steps": log["steps"],
            "final_loss": log["epochs"][-1]["loss"] if log["epochs"] else None}
    return _finish(ctx, new, out, info)


@register_stage("tau", options=TauOptions, classifier=True, exclusive="lws", paper=_KANG,
                summary="tau-normalisation of the classifier's class vectors, tau chosen on val (Kang et al. "
                        "2020); per-class affine: moves F1/ECE, not mAP")
def _run_tau(ctx, opts: dict, out: Path, prev: Path, head):
    import torch

    from lteval.posttrain import crt as C

    cur = _current_head(ctx, head)
    if opts["tau"] == "auto":
        tau, table = C.select_tau(cur, ctx.features("val"), ctx.labels("val"), bias=opts["bias"])
        info = {"tau": tau, "selected_on": "val", "criterion": "macro-F1 at 0.5", "search": table}
    else:
        tau, info = float(opts["tau"]), {"tau": float(opts["tau"])}
    new = C.tau_normalize(cur, tau, bias=opts["bias"])
    if all(not isinstance(h, torch.nn.Linear) for h in new.heads):
        info["note"] = "cosine classifier: tau-normalisation is a no-op"
    return _finish(ctx, new, out, info)


@register_stage("lws", options=LWSOptions, classifier=True, exclusive="tau", paper=_KANG,
                summary="learnable per-class weight scaling on the train split (Kang et al. 2020); per-class "
                        "affine: moves F1/ECE, not mAP")
def _run_lws(ctx, opts: dict, out: Path, prev: Path, head):
    from lteval.posttrain import crt as C

    cur = _current_head(ctx, head)
    new, log = C.train_lws(cur, ctx.features("train"), ctx.labels("train"), C.LWSConfig.from_dict(opts))
    info = {"steps": log["steps"], "nonpositive_scales": log["nonpositive_scales"],
            "scales": [float(v) for v in new.lws.detach().cpu()]}
    return _finish(ctx, new, out, info)


# --------------------------------------------------------------------------- output stages

@register_stage("tta", options=TTAOptions,
                summary="test-time augmentation: identity, small zooms and shifts (no flip by default), "
                        "logits averaged")
def _run_tta(ctx, opts: dict, out: Path, prev: Path, head):
    from lteval.posttrain import crt as C
    from lteval.posttrain.tta import describe_tta, parse_tta, tta_predict

    tfs = parse_tta(opts["transforms"])
    if head is None:  # the run's own model: the identity TTA reproduces its predictions exactly
        model, to_logits = ctx.model, ctx.loss.to_logits
    else:
        model, to_logits = C.StagedModel(ctx.model, head.to(ctx.device)).eval(), None
    for split in ctx.out_splits():
        ids, z = tta_predict(model, ctx.loader(split), tfs, merge=opts["merge"], to_logits=to_logits,
                             device=ctx.device, amp_dtype=ctx.amp_dtype)
        ctx.check_ids(split, ids)
        ctx.write(out, split, ids, z)
    return {"transforms": describe_tta(tfs), "merge": opts["merge"], "forward_passes_per_image": len(tfs),
            "classifier": "stage" if head is not None else "base"}, head


def _gate_preflight(classes, opts: dict) -> None:
    """The task must have the Normal class: say so before training the base run."""
    from lteval.posttrain.gate import normal_index

    normal_index(classes, opts["normal"])


@register_stage("gate", options=GateOptions, preflight=_gate_preflight,
                summary="Normal gating: p_c * (1 - alpha * p_Normal) for every finding c, alpha in [0, 1] "
                        "maximising calib mAP (grid 0.01, refined 0.0005); Normal unchanged")
def _run_gate(ctx, opts: dict, out: Path, prev: Path, head):
    from lteval.posttrain.gate import gate_stage

    return gate_stage(prev, ctx.run_dir, out, task=ctx.task, alpha=opts["alpha"], normal=opts["normal"]), head


@register_stage("calib", options=CalibOptions,
                summary="calibration + per-class thresholds fitted on the run's calib split only, applied to "
                        "all splits")
def _run_calib(ctx, opts: dict, out: Path, prev: Path, head):
    from lteval.posttrain.calib_stage import calib_stage

    thr = None if opts["thresholds"] == "none" else opts["thresholds"]
    return calib_stage(prev, ctx.run_dir, out, task=ctx.task, method=opts["method"], thresholds=thr), head
