"""Test-time augmentation (TTA): a configurable set of deterministic input transforms, merged.

A TTA spec is a comma-separated list of items (``parse_tta``):

- ``identity``        the image as is (no resampling: bit-identical to plain inference)
- ``scale@S``         zoom by factor S about the centre (S > 1 zooms in, S < 1 zooms out;
                      borders are extended, not zero-padded)
- ``shift@DX:DY``     translate by DX of the width and DY of the height (fractions, e.g. 0.04:0)
- ``crop5@F``         five crops (centre and four corners) of side F (a fraction), each resized
                      back to the full size: five transforms
- ``hflip``           horizontal flip. **Off by default**: chest X-rays are not mirror-symmetric
                      (heart on the patient's left, situs inversus and dextrocardia are findings
                      of their own); a flipped image is an image a model never sees in practice.

``DEFAULT_TTA`` = identity, two small zooms, two small diagonal shifts (5 forward passes).

Merging the T outputs of one image (``MERGES``), per class:

- ``logits``  mean of the logits (the default)
- ``mean``    mean of the probabilities
- ``max``     maximum probability (= the maximum logit: sigmoid is monotone)
- ``gmean``   geometric mean of the probabilities

Every merge returns logits whose sigmoid is the merged probability, computed in log space so that
they stay finite and exact (no clipping of probabilities). ``tta_predict`` is batched: each
transform is one forward pass over a batch. Parsing specs and merging need no torch (torch is imported
by the functions that run a model).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from lteval.errors import ConfigError, did_you_mean
from lteval.registry import Registry

__all__ = ["Transform", "parse_tta", "DEFAULT_TTA", "MERGES", "MERGE_REGISTRY", "merge_logits", "apply_transform",
           "tta_predict", "describe_tta"]

DEFAULT_TTA = "identity,scale@1.08,scale@0.93,shift@0.04:0.04,shift@-0.04:-0.04"
#: How the T outputs of one image are merged (name -> ``merge((T, n, C) logits) -> (n, C) logits``);
#: the aliases are other spellings accepted for ``merge=``.
MERGE_REGISTRY = Registry("TTA merge", aliases={
    "logit": "logits", "logits-mean": "logits", "probs": "mean", "probs-mean": "mean", "probs-max": "max",
    "probs-gmean": "gmean", "geometric": "gmean", "geomean": "gmean"})
_KINDS = ("identity", "scale", "shift", "crop5", "hflip")


@dataclass(frozen=True)
class Transform:
    """One deterministic transform. Affine ones map output coordinates u (in [-1, 1]) to input
    coordinates ``a * u + (tx, ty)``; ``hflip`` mirrors the width axis."""

    name: str
    a: float = 1.0
    tx: float = 0.0
    ty: float = 0.0
    flip: bool = False

    @property
    def is_identity(self) -> bool:
        return self.a == 1.0 and self.tx == 0.0 and self.ty == 0.0 and not self.flip


def _float(text: str, item: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ConfigError(f"TTA item {item!r}: {text!r} is not a number") from None
    if not math.isfinite(v):
        raise ConfigError(f"TTA item {item!r}: {text!r} is not a finite number")
    return v


def parse_tta(spec: str | list[str] | tuple[str, ...] | None = None) -> list[Transform]:
    """The transforms of a TTA spec (see the module docstring); ``None`` → ``DEFAULT_TTA``."""
    if spec is None:
        spec = DEFAULT_TTA
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if str(s).strip()]
    if not items:
        raise ConfigError("empty TTA spec: give at least one transform, e.g. 'identity'")
    out: list[Transform] = []
    for item in items:
        kind, _, arg = item.lower().partition("@")
        if kind not in _KINDS:
            raise ConfigError(f"unknown TTA transform {item!r}{did_you_mean(kind, _KINDS)}; "
                              f"choose from identity, scale@S, shift@DX:DY, crop5@F, hflip")
        if kind in ("identity", "hflip"):
            if arg:
                raise ConfigError(f"TTA transform {kind!r} takes no argument, got {item!r}")
            out.append(Transform(kind, flip=kind == "hflip"))
        elif kind == "scale":
            s = _float(arg, item)
            if not 0.5 <= s <= 2.0:
                raise ConfigError(f"TTA item {item!r}: the zoom factor must be in [0.5, 2]")
            out.append(Transform(f"scale@{s:g}", a=1.0 / s))
        elif kind == "shift":
            m = re.fullmatch(r"\s*([^:]+):([^:]+)\s*", arg)
            if not m:
                raise ConfigError(f"TTA item {item!r}: expected shift@DX:DY (fractions of width, height)")
            dx, dy = _float(m.group(1), item), _float(m.group(2), item)
            if abs(dx) > 0.25 or abs(dy) > 0.25:
                raise ConfigError(f"TTA item {item!r}: shifts must be within ±0.25 of the image size")
            # the content moves by +dx: output u samples input u - 2 dx
            out.append(Transform(f"shift@{dx:g}:{dy:g}", tx=-2.0 * dx, ty=-2.0 * dy))
        else:  # crop5
            f = _float(arg, item)
            if not 0.5 <= f < 1.0:
                raise ConfigError(f"TTA item {item!r}: the crop side must be in [0.5, 1)")
            r = 1.0 - f
            for nm, tx, ty in (("c", 0, 0), ("tl", -r, -r), ("tr", r, -r), ("bl", -r, r), ("br", r, r)):
                out.append(Transform(f"crop5@{f:g}:{nm}", a=f, tx=tx, ty=ty))
    return out


def describe_tta(transforms: list[Transform]) -> list[str]:
    """The spec item of each transform, e.g. ``["identity", "scale@1.08"]``."""
    return [t.name for t in transforms]


def apply_transform(x, t: Transform):
    """``x`` (B, C, H, W) tensor → the transformed batch (same shape). Identity returns ``x`` itself."""
    if t.is_identity:
        return x
    import torch
    import torch.nn.functional as F

    if t.flip:
        x = torch.flip(x, dims=[3])
    if t.a != 1.0 or t.tx != 0.0 or t.ty != 0.0:
        B = x.shape[0]
        theta = torch.tensor([[t.a, 0.0, t.tx], [0.0, t.a, t.ty]], dtype=x.dtype, device=x.device)
        grid = F.affine_grid(theta[None].expand(B, 2, 3), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return x


def _check_merge(merge: str) -> str:
    """The registered merge name for ``merge`` or one of its aliases (ConfigError otherwise)."""
    return MERGE_REGISTRY.resolve(merge)


def merge_logits(z, merge: str = "logits") -> np.ndarray:
    """Merge (T, n, C) logits over T → (n, C) float64 logits whose sigmoid is the merged probability."""
    m = _check_merge(merge)
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 3:
        raise ConfigError(f"merge_logits expects (T, n, C) logits, got shape {z.shape}")
    return MERGE_REGISTRY[m](z)


# --------------------------------------------------------------------------- the merges
# Each maps (T, n, C) float64 logits to (n, C) float64 logits, in log space where it matters.

@MERGE_REGISTRY.register("logits", summary="mean of the logits (the default)")
def _merge_logits(z: np.ndarray) -> np.ndarray:
    return z[0].copy() if z.shape[0] == 1 else z.mean(axis=0)


@MERGE_REGISTRY.register("mean", summary="mean of the probabilities")
def _merge_mean(z: np.ndarray) -> np.ndarray:
    from scipy.special import logsumexp

    T = z.shape[0]
    log_p = -np.logaddexp(0.0, -z)        # log sigmoid(z)
    log_q = -np.logaddexp(0.0, z)         # log sigmoid(-z) = log(1 - p)
    lp = logsumexp(log_p, axis=0) - math.log(T)
    lq = logsumexp(log_q, axis=0) - math.log(T)
    return lp - lq


@MERGE_REGISTRY.register("max", summary="maximum probability (= the maximum logit: sigmoid is monotone)")
def _merge_max(z: np.ndarray) -> np.ndarray:
    return z[0].copy() if z.shape[0] == 1 else z.max(axis=0)


@MERGE_REGISTRY.register("gmean", summary="geometric mean of the probabilities")
def _merge_gmean(z: np.ndarray) -> np.ndarray:
    # log p = mean log sigmoid(z); log(1 - p) = log(-expm1(log p))
    lp = (-np.logaddexp(0.0, -z)).mean(axis=0)
    with np.errstate(divide="ignore"):
        lq = np.log(-np.expm1(lp))
    # lp == 0 exactly only when every sigmoid rounds to 1; fall back to the mean logit there
    return np.where(np.isfinite(lq), lp - lq, z.mean(axis=0))


#: Merge names, in the order they are listed.
MERGES = tuple(MERGE_REGISTRY)


def tta_predict(model, loader, transforms: list[Transform] | str | None = "identity", *,
                merge: str = "logits", to_logits=None, device="cpu", amp_dtype=None,
                progress=None) -> tuple[np.ndarray, np.ndarray]:
    """Run ``model`` over ``loader`` (batches ``(image, target, image_id)``) once per transform.

    Returns ``(ids (n,), logits (n, C) float64)``: per transform the evaluation logits
    ``to_logits(model(t(x)))`` (``to_logits`` defaults to the identity), merged by ``merge``.
    The model is put in eval mode (and left so). ``progress(n_done)`` is called per batch.
    """
    import torch

    if transforms is None or isinstance(transforms, str):
        transforms = parse_tta(transforms)
    m = _check_merge(merge)
    with torch.inference_mode():
        return _predict(model, loader, transforms, m, to_logits, torch.device(device), amp_dtype, progress)


def _predict(model, loader, transforms, m, to_logits, device, amp_dtype, progress):
    from lteval.train.device import autocast_context

    model.eval()
    ids: list[str] = []
    chunks: list[np.ndarray] = []
    for batch in loader:
        x, image_ids = batch[0], batch[2]
        x = x.to(device, non_blocking=True)
        outs = []
        for t in transforms:
            xt = apply_transform(x, t)
            with autocast_context(device, amp_dtype):
                raw = model(xt)
            raw = raw.float()
            z = to_logits(raw) if to_logits is not None else raw
            outs.append(z.double().cpu().numpy())
        chunks.append(merge_logits(np.stack(outs), m))
        ids.extend(str(i) for i in image_ids)
        if progress is not None:
            progress(len(ids))
    if not chunks:
        return np.array([], dtype=str), np.zeros((0, 0))
    return np.asarray(ids, dtype=str), np.concatenate(chunks)
