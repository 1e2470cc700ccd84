"""Device settings (lteval.train.device): one mapping from a config's amp / channels_last /
num_workers to what training, inference and post-training use on a device."""

from __future__ import annotations

import types

import pytest
import torch

from lteval.train import device as D

CPU, CUDA = torch.device("cpu"), torch.device("cuda", 0)   # a CUDA device object needs no GPU


@pytest.mark.parametrize("amp,dev,want", [
    ("auto", CPU, None), ("auto", CUDA, torch.bfloat16), ("bf16", CPU, torch.bfloat16),
    ("bf16", CUDA, torch.bfloat16), ("fp16", CUDA, torch.float16), ("fp16", CPU, torch.float16),
    ("none", CUDA, None), ("none", CPU, None)])
def test_amp_dtype(amp, dev, want):
    assert D.amp_dtype(amp, dev) is want


@pytest.mark.parametrize("value,dev,want", [("auto", CPU, False), ("auto", CUDA, True), ("on", CPU, True),
                                            ("off", CUDA, False)])
def test_channels_last(value, dev, want):
    assert D.use_channels_last(value, dev) is want


def test_data_workers(monkeypatch):
    monkeypatch.setattr(D.os, "cpu_count", lambda: 16)
    assert D.data_workers(3, CUDA) == 3 and D.data_workers(0, CUDA) == 0   # explicit values are kept
    assert D.data_workers(-1, CPU) == 0                                     # auto: none on CPU
    assert D.data_workers(-1, CUDA) == 8                                    # min(8, 16 - 1)
    assert D.data_workers(-1, CUDA, world_size=4) == 3                      # 16 // 4 - 1
    assert D.data_workers(-1, CUDA, world_size=16) == 1                     # at least one
    monkeypatch.setattr(D.os, "cpu_count", lambda: None)
    assert D.data_workers(-1, CUDA) == 1


def test_settings_of_a_config():
    cfg = types.SimpleNamespace(amp="auto", channels_last="auto", num_workers=-1)
    assert D.settings(cfg, CPU) == D.DeviceSettings(CPU, None, False, 0)
    s = D.settings(types.SimpleNamespace(amp="fp16", channels_last="on", num_workers=2), CPU)
    assert (s.amp_dtype, s.channels_last, s.num_workers) == (torch.float16, True, 2)
    assert D.run_device() == CPU or torch.cuda.is_available()


def test_autocast_context_and_to_device():
    lin = torch.nn.Linear(4, 3)
    x = torch.randn(2, 4)
    with D.autocast_context(CPU, None):
        assert lin(x).dtype == torch.float32
    with D.autocast_context(CPU, torch.bfloat16):
        assert lin(x).dtype == torch.bfloat16
    img = torch.randn(2, 3, 5, 5)
    assert D.to_device(img, CPU).is_contiguous()
    cl = D.to_device(img, CPU, channels_last=True)
    assert cl.is_contiguous(memory_format=torch.channels_last) and not cl.is_contiguous()
    assert torch.equal(cl, img)


def test_opening_a_runs_data_needs_no_torch():
    """lteval.data.run_data (open_data, split labels, eval sets) and the config stay torch-free."""
    import subprocess
    import sys

    code = ("import sys, lteval.data.run_data, lteval.train.config, lteval.train.baselines; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_compile_under_ddp_on_a_cpu_is_one_config_error():
    import torch

    from lteval.errors import ConfigError
    from lteval.train.device import check_compile

    with pytest.raises(ConfigError, match=r"compile=true with 2 processes on a CPU"):
        check_compile(True, torch.device("cpu"), world_size=2)
    check_compile(True, torch.device("cpu"), world_size=1)
    check_compile(False, torch.device("cpu"), world_size=2)
