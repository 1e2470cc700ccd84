"""Device settings of a run, in one place for training, inference and post-training.

A config's ``amp`` (auto | bf16 | fp16 | none), ``channels_last`` (auto | on | off) and
``num_workers`` (-1 = auto) become, on a given device:

* :func:`amp_dtype` — ``torch.bfloat16`` / ``torch.float16`` for autocast, or None (fp32). ``auto``
  is bf16 on CUDA and fp32 elsewhere.
* :func:`use_channels_last` — whether model and inputs use the channels-last memory format
  (``auto``: on with CUDA).
* :func:`data_workers` — data-loader processes per training process (``auto``: 0 on CPU, else
  ``min(8, cpu_count // processes - 1)``, at least 1).
* :func:`autocast_context` — the autocast context of a forward pass (a no-op without ``amp_dtype``).
* :func:`to_device` — an input batch on the device, channels-last when asked.
* :func:`check_compile` — refuses ``compile=true`` where it is known to fail (DDP on a CPU).

:func:`settings` bundles them as :class:`DeviceSettings`; :func:`run_device` picks a process's
device (its local CUDA device under torchrun, else the CPU).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

__all__ = ["DeviceSettings", "settings", "run_device", "amp_dtype", "use_channels_last", "data_workers",
           "autocast_context", "to_device", "check_compile"]


@dataclass(frozen=True)
class DeviceSettings:
    """Where and how a run computes: ``device``, autocast dtype (None = fp32), channels-last, loader workers."""

    device: torch.device
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False
    num_workers: int = 0


def run_device(local_rank: int | None = None) -> torch.device:
    """The device of this process: CUDA device ``local_rank`` (the current one when None), else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank if local_rank is not None else torch.cuda.current_device())
    return torch.device("cpu")


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype of the config value ``amp`` on ``device``; None means fp32 (no autocast)."""
    if amp == "none" or (amp == "auto" and device.type != "cuda"):
        return None
    if amp in ("auto", "bf16"):
        return torch.bfloat16
    return torch.float16


def use_channels_last(channels_last: str, device: torch.device) -> bool:
    """Whether the config value ``channels_last`` (auto | on | off) turns channels-last on, on ``device``."""
    return channels_last == "on" or (channels_last == "auto" and device.type == "cuda")


def data_workers(num_workers: int, device: torch.device, world_size: int = 1) -> int:
    """Data-loader processes for the config value ``num_workers`` (-1 = auto) with ``world_size`` processes."""
    if num_workers >= 0:
        return int(num_workers)
    if device.type != "cuda":
        return 0
    return min(8, max(1, (os.cpu_count() or 1) // world_size - 1))


def settings(cfg, device: torch.device, world_size: int = 1) -> DeviceSettings:
    """The :class:`DeviceSettings` of a run config ``cfg`` (``amp``, ``channels_last``, ``num_workers``)."""
    return DeviceSettings(device, amp_dtype(cfg.amp, device), use_channels_last(cfg.channels_last, device),
                          data_workers(cfg.num_workers, device, world_size))


def autocast_context(device: torch.device, dtype: torch.dtype | None):
    """bf16/fp16 autocast on ``device`` when ``dtype`` is set, else a no-op context."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def to_device(x: torch.Tensor, device: torch.device, channels_last: bool = False) -> torch.Tensor:
    """Batch ``x`` (B, C, H, W) on ``device`` (non-blocking copy), in channels-last layout when asked."""
    x = x.to(device, non_blocking=True)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def check_compile(compile: bool, device: torch.device, world_size: int = 1) -> None:
    """Raise a one-line ConfigError for ``compile=true`` with several processes on a CPU.

    torch.compile of a DDP model's backward fails there (inductor ``KeyError: 'bufN'``, measured
    with torch 2.14.1, with and without channels_last and bf16); one process, or CUDA, is fine.

    >>> check_compile(True, torch.device("cpu"), world_size=1)
    >>> check_compile(False, torch.device("cpu"), world_size=2)
    """
    if compile and world_size > 1 and device.type == "cpu":
        from lteval.errors import ConfigError

        raise ConfigError(f"compile=true with {world_size} processes on a CPU: torch.compile of the DDP "
                          f"backward fails there (torch {torch.__version__}); use one process, or "
                          "--set compile=false")
