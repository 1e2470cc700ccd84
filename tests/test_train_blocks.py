"""EMA, optimiser groups and the warmup-cosine schedule; the blocks working together."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from lteval.errors import ConfigError
from lteval.train.ema import ModelEma
from lteval.train.schedule import build_optimizer, build_scheduler


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(self.bn(self.conv(x)).mean(dim=(2, 3)))


def test_package_import_is_torch_free():
    import subprocess
    import sys

    code = "import sys, lteval.train as t; assert 'torch' not in sys.modules; print(callable(t.create_loss))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_ema_hand_values_and_buffers():
    torch.manual_seed(0)
    model = Tiny()
    ema = ModelEma(model, decay=0.9, warmup=True)
    p0 = model.fc.weight.detach().clone()
    with torch.no_grad():
        model.fc.weight.add_(1.0)
        model.bn.running_mean.fill_(2.0)
        model.bn.num_batches_tracked.fill_(7)
    d1 = min(0.9, 2 / 11)  # warmup decay at the first update
    assert ema.current_decay() == pytest.approx(d1)
    ema.update(model)
    torch.testing.assert_close(ema.module.fc.weight, d1 * p0 + (1 - d1) * (p0 + 1))
    torch.testing.assert_close(ema.module.bn.running_mean, torch.full((4,), (1 - d1) * 2.0))
    assert ema.module.bn.num_batches_tracked.item() == 7
    for _ in range(20):
        ema.update(model)
    assert ema.current_decay() == pytest.approx(23 / 32)  # still warming up: (1 + k) / (10 + k), k = 22
    for _ in range(70):
        ema.update(model)
    assert ema.current_decay() == pytest.approx(0.9)  # warmup over once (1 + k) / (10 + k) > 0.9
    assert not any(p.requires_grad for p in ema.module.parameters())
    ema.train()
    assert not ema.module.training
    # without warmup the decay is constant
    plain = ModelEma(Tiny(), decay=0.5, warmup=False)
    assert plain.current_decay() == 0.5


def test_ema_state_round_trip(tmp_path):
    torch.manual_seed(1)
    model = Tiny()
    ema = ModelEma(model, decay=0.99)
    with torch.no_grad():
        model.fc.weight.mul_(3)
    for _ in range(5):
        ema.update(model)
    torch.save(ema.state_dict(), tmp_path / "ema.pt")
    other = ModelEma(Tiny(), decay=0.99)
    other.load_state_dict(torch.load(tmp_path / "ema.pt", weights_only=True))
    assert other.num_updates == 5
    torch.testing.assert_close(other.module.fc.weight, ema.module.fc.weight)
    x = torch.randn(2, 1, 8, 8)
    torch.testing.assert_close(other(x), ema(x))


def test_optimizer_groups_no_decay_on_norm_and_bias():
    from lteval.train.models import create_model

    model = create_model("convnext_atto", 3)
    opt = build_optimizer(model, lr=1e-3, weight_decay=0.05)
    assert isinstance(opt, torch.optim.AdamW)
    names = {id(p): n for n, p in model.named_parameters()}
    groups = {g["name"]: g for g in opt.param_groups}
    decayed = {names[id(p)] for p in groups["decay"]["params"]}
    free = {names[id(p)] for p in groups["no_decay"]["params"]}
    assert groups["decay"]["weight_decay"] == 0.05 and groups["no_decay"]["weight_decay"] == 0.0
    assert "stem.0.weight" in decayed and "head.fc.weight" in decayed
    assert "stem.0.bias" in free and "stem.1.weight" in free and "head.fc.bias" in free
    assert any(n.endswith(".gamma") for n in free)  # ConvNeXt layer scale
    assert all(model.get_parameter(n).ndim > 1 for n in decayed)
    assert decayed | free == {n for n, _ in model.named_parameters()}
    # frozen parameters are left out (e.g. classifier re-training)
    for n, p in model.named_parameters():
        p.requires_grad_(n.startswith("head.fc"))
    opt = build_optimizer(model, lr=1e-3)
    assert sum(len(g["params"]) for g in opt.param_groups) == 2
    with pytest.raises(ConfigError):
        build_optimizer(model, lr=0)


def test_scheduler_hand_values_and_resume():
    model = Tiny()
    opt = build_optimizer(model, lr=1.0, weight_decay=0.0)
    sched = build_scheduler(opt, total_steps=10, warmup_steps=3)
    lrs = []
    for _ in range(12):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    expected = [1 / 3, 2 / 3, 1.0] + [0.5 * (1 + math.cos(math.pi * k / 7)) for k in range(7)] + [0.0, 0.0]
    np.testing.assert_allclose(lrs, expected, atol=1e-12)
    # min_lr_ratio floors the cosine
    opt2 = build_optimizer(model, lr=2.0, weight_decay=0.0)
    s2 = build_scheduler(opt2, total_steps=4, warmup_steps=0, min_lr_ratio=0.1)
    for _ in range(5):
        opt2.step()
        s2.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.2)
    # resume: state dicts restore the exact position
    opt_a = build_optimizer(model, lr=1.0)
    sch_a = build_scheduler(opt_a, total_steps=10, warmup_steps=3)
    for _ in range(5):
        opt_a.step()
        sch_a.step()
    opt_b = build_optimizer(model, lr=1.0)
    sch_b = build_scheduler(opt_b, total_steps=10, warmup_steps=3)
    opt_b.load_state_dict(opt_a.state_dict())
    sch_b.load_state_dict(sch_a.state_dict())
    assert opt_b.param_groups[0]["lr"] == pytest.approx(expected[5])
    opt_b.step()
    sch_b.step()
    assert opt_b.param_groups[0]["lr"] == pytest.approx(expected[6])
    with pytest.raises(ConfigError, match="warmup_steps"):
        build_scheduler(opt, total_steps=5, warmup_steps=6)


def test_blocks_train_together():
    """Loss + sampler + model + AdamW/cosine + EMA: a few steps lower the loss on a toy problem."""
    from lteval.train.losses import create_loss
    from lteval.train.samplers import create_sampler

    g = torch.Generator().manual_seed(0)
    n, C = 256, 3
    y = (torch.rand(n, C, generator=g) < torch.tensor([0.5, 0.2, 0.05])).float()
    x = torch.randn(n, 1, 8, 8, generator=g) + (y @ torch.tensor([1.0, 2.0, 4.0]))[:, None, None, None]
    torch.manual_seed(0)
    model = Tiny()
    loss_fn = create_loss("ldam_drw", y.sum(0).numpy())
    sampler = create_sampler("class_aware", y.numpy().astype(np.int8), seed=0)
    opt = build_optimizer(model, lr=3e-2, weight_decay=1e-4)
    steps_per_epoch = len(sampler) // 32
    loss_fn.schedule(4 * steps_per_epoch, steps_per_epoch)
    sched = build_scheduler(opt, total_steps=4 * steps_per_epoch, warmup_steps=2)
    ema = ModelEma(model, decay=0.9)

    def full_loss():
        with torch.no_grad():
            return create_loss("bce", y.sum(0).numpy())(loss_fn.to_logits(ema(x)), y).item()

    before = full_loss()
    for epoch in range(4):
        loss_fn.set_epoch(epoch)
        sampler.set_epoch(epoch)
        idx = torch.tensor(list(sampler))
        for b in range(steps_per_epoch):
            i = idx[b * 32:(b + 1) * 32]
            loss_fn.set_step(epoch * steps_per_epoch + b)
            loss = loss_fn(model(x[i]), y[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            ema.update(model)
    assert loss_fn.reweighting
    assert full_loss() < before


def test_all_states_fit_a_weights_only_checkpoint(tmp_path):
    """Everything the engine checkpoints loads back with torch.load(weights_only=True)."""
    from lteval.train.losses import create_loss
    from lteval.train.samplers import create_sampler

    model = Tiny()
    opt = build_optimizer(model, lr=1e-3)
    sched = build_scheduler(opt, total_steps=20, warmup_steps=2)
    ema = ModelEma(model)
    loss = create_loss("ldam_drw", [5, 3, 1], drw_epoch=1)
    sampler = create_sampler("progressive", np.eye(3, dtype=np.int8).repeat(4, axis=0), epochs=3)
    x, y = torch.randn(4, 1, 8, 8), torch.eye(3)[[0, 1, 2, 0]]
    for step in range(3):
        loss.set_epoch(step)
        opt.zero_grad()
        loss(model(x), y).backward()
        opt.step()
        sched.step()
        ema.update(model)
    sampler.set_epoch(2)
    sampler.set_start_index(5)
    ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "ema": ema.state_dict(), "loss": loss.state_dict(), "sampler": sampler.state_dict()}
    torch.save(ckpt, tmp_path / "last.pt")
    back = torch.load(tmp_path / "last.pt", weights_only=True)
    model2 = Tiny()
    model2.load_state_dict(back["model"])
    opt2 = build_optimizer(model2, lr=1e-3)
    opt2.load_state_dict(back["optimizer"])
    sched2 = build_scheduler(opt2, total_steps=20, warmup_steps=2)
    sched2.load_state_dict(back["scheduler"])
    ema2 = ModelEma(model2)
    ema2.load_state_dict(back["ema"])
    loss2 = create_loss("ldam_drw", [5, 3, 1], drw_epoch=1)
    loss2.load_state_dict(back["loss"])
    sampler2 = create_sampler("progressive", np.eye(3, dtype=np.int8).repeat(4, axis=0), epochs=3)
    sampler2.load_state_dict(back["sampler"])
    assert loss2.epoch == 2 and loss2.reweighting and ema2.num_updates == 3
    assert sched2.last_epoch == 3 and opt2.param_groups[0]["lr"] == pytest.approx(opt.param_groups[0]["lr"])
    assert list(sampler2) == list(sampler)
    # one more identical step on both sides gives identical weights
    for m, o, s in ((model, opt, sched), (model2, opt2, sched2)):
        o.zero_grad()
        loss(m(x), y).backward()
        o.step()
        s.step()
    for a, b in zip(model.parameters(), model2.parameters()):
        torch.testing.assert_close(a, b)
