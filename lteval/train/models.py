"""Backbones: a small registry over timm models, one input channel, multi-label head.

``create_model(name, num_classes, in_chans=1, pretrained="none"|"imagenet"|PATH, img_size=None,
drop_rate=0.0)`` returns a timm ``nn.Module`` whose output is the raw logits (B, num_classes).
``list_backbones()`` names the registered backbones; ``backbone_info(name)`` gives the family,
the timm model name, the smallest member of the family (for CPU presets) and the default image size.
Any other timm model is reachable as ``"timm:<timm name>"``.

Weights:
- ``"none"``: random initialisation (nothing is downloaded).
- ``"imagenet"``: timm's ImageNet weights from the Hugging Face hub (``timm/...``). A cached copy is
  used without touching the network; otherwise the hub is probed first (3 s) and, when offline or
  ``HF_HUB_OFFLINE=1``, an :class:`LtevalError` says so at once and points to ``--pretrained PATH``.
- a PATH: ``.safetensors`` or a torch file (``torch.load(weights_only=True)``; lteval checkpoints with a
  ``"model"`` entry work too). A 3-channel first convolution is summed to one channel (as timm does),
  a classifier of another size is skipped, attention-bias tables are resized to ``img_size``.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from lteval.errors import ConfigError, InputError, LtevalError, UsageError, did_you_mean
from lteval.train.backbone_specs import HEADS, BackboneInfo, backbone_info, list_backbones

__all__ = ["BackboneInfo", "NormedLinear", "create_model", "list_backbones", "backbone_info",
           "load_pretrained_file", "imagenet_weights_path", "HEADS"]

class NormedLinear(nn.Module):
    """Cosine classifier (Cao et al. 2019, LDAM): ``out = normalize(x) @ normalize(W).T``, no bias.

    Outputs lie in [-1, 1]; pair it with a scaled loss (``ldam``: eval logits ``s * out``).
    ``weight`` is (out_features, in_features), the layout of ``nn.Linear``.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)

    def forward(self, x):
        return nn.functional.normalize(x, dim=-1) @ nn.functional.normalize(self.weight, dim=1).t()

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


def _set_cosine_head(model: nn.Module) -> None:
    names = _classifier_prefixes(model)
    replaced = 0
    for name in names:
        try:
            lin = model.get_submodule(name)
        except AttributeError:
            continue
        if isinstance(lin, nn.Linear):
            parent, _, leaf = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, leaf,
                    NormedLinear(lin.in_features, lin.out_features))
            replaced += 1
    if not replaced:
        raise ConfigError(f"cannot put a cosine head on this model: no linear classifier found at "
                          f"{', '.join(names) or '(unknown)'}")


def create_model(name: str, num_classes: int, *, in_chans: int = 1, pretrained: str | os.PathLike = "none",
                 img_size: int | None = None, drop_rate: float = 0.0, head: str = "linear",
                 **timm_kwargs) -> nn.Module:
    """Build backbone ``name`` with a ``num_classes`` head for ``in_chans``-channel input.

    ``img_size`` matters only for architectures built for a fixed input size
    (``info.needs_img_size``, e.g. EfficientFormerV2; default: the registry's size); convolutional
    backbones take any size. ``head="cosine"`` swaps the linear classifier for a
    :class:`NormedLinear` (LDAM's cosine classifier). Returns raw outputs (B, num_classes); the loss's
    ``to_logits`` turns them into evaluation logits.
    """
    import timm

    info = backbone_info(name)
    if int(num_classes) < 1:
        raise ConfigError(f"num_classes must be >= 1, got {num_classes}")
    if int(in_chans) < 1:
        raise ConfigError(f"in_chans must be >= 1, got {in_chans}")
    if not 0.0 <= float(drop_rate) < 1.0:
        raise ConfigError(f"drop_rate must be in [0, 1), got {drop_rate}")
    if head not in HEADS:
        raise ConfigError(f"unknown head {head!r}{did_you_mean(head, HEADS)}; choose one of: {', '.join(HEADS)}")
    kwargs = dict(num_classes=int(num_classes), in_chans=int(in_chans), drop_rate=float(drop_rate),
                  **timm_kwargs)
    if info.needs_img_size:
        kwargs["img_size"] = int(img_size or info.default_img_size)
    weights = _resolve_pretrained(pretrained, info)  # fail fast, before building a big model
    try:
        model = timm.create_model(info.timm_name, pretrained=False, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"backbone {name!r} does not accept these options: {exc}") from None
    if head == "cosine":
        _set_cosine_head(model)
    if weights is not None:
        load_pretrained_file(model, weights)
    return model


# --------------------------------------------------------------------------- pretrained weights

def _resolve_pretrained(pretrained, info: BackboneInfo) -> Path | None:
    if pretrained is None or (isinstance(pretrained, str) and pretrained.lower() in ("none", "", "false")):
        return None
    if isinstance(pretrained, str) and pretrained.lower() == "imagenet":
        return imagenet_weights_path(info.name)
    path = Path(pretrained).expanduser()
    if not path.is_file():
        raise UsageError(f"pretrained weights file not found: {str(path)!r} (expected 'none', 'imagenet' "
                         f"or the path of a .safetensors / .pt file)")
    return path


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in ("1", "ON", "YES", "TRUE")


def _hf_cache_dir() -> Path:
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "huggingface")
    return Path(home).expanduser() / "hub"


def _hub_reachable(endpoint: str, timeout: float = 3.0) -> bool:
    """True when a TCP connection to the hub opens within ``timeout`` s (DNS included)."""
    url = urlparse(endpoint)
    host = url.hostname or "huggingface.co"
    port = url.port or (443 if url.scheme != "http" else 80)
    ok: list[bool] = []

    def probe():
        try:
            with socket.create_connection((host, port), timeout=timeout):
                ok.append(True)
        except OSError:
            pass

    th = threading.Thread(target=probe, daemon=True)
    th.start()
    th.join(timeout + 0.5)  # DNS resolution ignores the socket timeout: bound it here
    return bool(ok)


_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def imagenet_weights_path(name: str) -> Path:
    """Local path of backbone ``name``'s default ImageNet weights, downloading them when online.

    Never waits long offline: uses the local Hugging Face cache when it has the file, else raises
    :class:`LtevalError` at once under ``HF_HUB_OFFLINE=1`` or when the hub is unreachable (3 s probe).
    """
    from timm.models import get_pretrained_cfg

    info = backbone_info(name)
    cfg = get_pretrained_cfg(info.timm_name)
    hub_id = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    if not hub_id:
        raise LtevalError(f"timm has no ImageNet weights on the Hugging Face hub for {name!r}; "
                          f"pass --pretrained PATH (a .safetensors or .pt file) or --pretrained none")
    hub_id, _, revision = hub_id.partition("@")
    files = (cfg.hf_hub_filename,) if getattr(cfg, "hf_hub_filename", None) else _WEIGHT_FILES
    cache = _hf_cache_dir()
    from huggingface_hub import try_to_load_from_cache

    for fname in files:
        hit = try_to_load_from_cache(hub_id, fname, cache_dir=cache, revision=revision or None)
        if isinstance(hit, str) and os.path.isfile(hit):
            return Path(hit)
    hint = (f"download {hub_id} ({files[0]}) on a machine with internet access and pass "
            f"--pretrained PATH, or use --pretrained none")
    if _env_true("HF_HUB_OFFLINE"):
        raise LtevalError(f"ImageNet weights for {name!r} are not in the local Hugging Face cache "
                          f"({cache}) and HF_HUB_OFFLINE=1 forbids downloading them: {hint}")
    from huggingface_hub import constants

    endpoint = os.environ.get("HF_ENDPOINT") or constants.ENDPOINT
    proxy = next((os.environ[v] for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
                  if os.environ.get(v)), None)
    if not _hub_reachable(proxy or endpoint):  # behind a proxy, the proxy is what must answer
        raise LtevalError(f"cannot reach the Hugging Face hub ({endpoint}) to download ImageNet weights "
                          f"for {name!r} (offline?): {hint}")
    from huggingface_hub import hf_hub_download

    last: Exception | None = None
    for fname in files:
        try:
            return Path(hf_hub_download(hub_id, fname, cache_dir=cache, revision=revision or None))
        except Exception as exc:  # EntryNotFound -> next file; network errors -> reported below
            last = exc
    raise LtevalError(f"downloading ImageNet weights for {name!r} from {hub_id} failed "
                      f"({type(last).__name__}: {last}): {hint}")


_WRAPPER_KEYS = ("model", "state_dict", "model_state_dict", "module", "net")
_PREFIXES = ("module.", "_orig_mod.", "model.")


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            sd = load_file(str(path), device="cpu")
        except Exception as exc:
            raise InputError(f"cannot read safetensors weights ({type(exc).__name__}: {exc}); is the file "
                             f"complete and really .safetensors?", file=str(path)) from None
    else:
        try:
            sd = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise InputError(f"cannot read torch weights with weights_only=True ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}); the file may be corrupt or "
                             f"hold pickled objects other than tensors", file=str(path)) from None
    for _ in range(2):  # unwrap {"model": {...}} / {"state_dict": {...}} (lteval checkpoints: "model")
        if isinstance(sd, dict) and not any(isinstance(v, torch.Tensor) for v in sd.values()):
            inner = next((sd[k] for k in _WRAPPER_KEYS if isinstance(sd.get(k), dict)), None)
            if inner is None:
                break
            sd = inner
    if not isinstance(sd, dict) or not sd or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise InputError("no state dict of tensors found (expected a mapping name -> tensor, possibly "
                         f"under one of the keys {', '.join(_WRAPPER_KEYS)})", file=str(path))
    return sd


def _classifier_prefixes(model: nn.Module) -> tuple[str, ...]:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    cls = cfg.get("classifier") if isinstance(cfg, dict) else getattr(cfg, "classifier", None)
    if not cls:
        return ()
    return tuple(cls) if isinstance(cls, (list, tuple)) else (cls,)


def _resize_attention_biases(v: torch.Tensor, shape: torch.Size) -> torch.Tensor | None:
    """(heads, N0) -> (heads, N1) by bicubic interpolation over the square grid; None if not square."""
    import math

    if v.dim() != 2 or len(shape) != 2 or v.shape[0] != shape[0]:
        return None
    r0, r1 = math.isqrt(v.shape[1]), math.isqrt(shape[1])
    if r0 * r0 != v.shape[1] or r1 * r1 != shape[1]:
        return None
    grid = v.float().reshape(1, v.shape[0], r0, r0)
    out = torch.nn.functional.interpolate(grid, size=(r1, r1), mode="bicubic", align_corners=False)
    return out.reshape(shape).to(v.dtype)


def load_pretrained_file(model: nn.Module, path: str | os.PathLike) -> dict[str, list[str]]:
    """Load weights from ``path`` into ``model`` (in place), adapting what timm would adapt.

    Returns ``{"adapted": [...], "skipped": [...]}`` (the first convolution summed to fewer channels,
    the classifier of another size). Anything else that does not fit raises :class:`InputError`.
    """
    from timm.models import adapt_input_conv

    path = Path(path)
    sd = _read_state_dict(path)
    target = model.state_dict()
    for prefix in _PREFIXES:  # DDP / torch.compile / wrapper prefixes
        if all(k.startswith(prefix) for k in sd) and not any(k.startswith(prefix) for k in target):
            sd = {k[len(prefix):]: v for k, v in sd.items()}
    heads = _classifier_prefixes(model)
    adapted, skipped, bad = [], [], []
    out: dict[str, torch.Tensor] = {}
    def in_head(k):
        return any(k == h or k.startswith(h + ".") for h in heads)

    for k, v in sd.items():
        if k not in target:
            if k.endswith("attention_bias_idxs"):
                continue
            if in_head(k):  # e.g. a linear head's bias when the model has a cosine head
                skipped.append(k)
                continue
            out[k] = v  # reported as unexpected below
            continue
        want = target[k].shape
        if v.shape == want:
            out[k] = v
        elif in_head(k):
            skipped.append(k)
        elif v.dim() == 4 and v.shape[0] == want[0] and v.shape[2:] == want[2:] and v.shape[1] != want[1]:
            out[k] = adapt_input_conv(want[1], v.float()).to(v.dtype)
            adapted.append(k)
        elif k.endswith("attention_biases") and (r := _resize_attention_biases(v, want)) is not None:
            out[k] = r
            adapted.append(k)
        elif k.endswith("attention_bias_idxs"):
            continue  # recomputed by the model for its own resolution
        else:
            bad.append(f"{k}: file {tuple(v.shape)} vs model {tuple(want)}")
    if bad:
        raise InputError(f"{len(bad)} weight(s) do not fit this model (wrong backbone?): "
                         f"{'; '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}", file=str(path))
    result = model.load_state_dict(out, strict=False)
    missing = [k for k in result.missing_keys if not in_head(k) and not k.endswith("attention_bias_idxs")]
    unexpected = list(result.unexpected_keys)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        raise InputError(f"weights do not match this model (wrong backbone?): {'; '.join(parts)}",
                         file=str(path))
    return {"adapted": adapted, "skipped": skipped}
