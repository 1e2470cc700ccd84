"""Losses: hand-computed values (scalar math, independent of torch), gradients, reference libraries."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch

from lteval.errors import ConfigError, InputError
from lteval.train.losses import (class_balanced_weights, create_loss, ldam_margins, list_losses,
                                 positive_weights)


def sig(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def scalar_mean(fn, Z, Y) -> float:
    """Mean over all (i, c) of fn(z, y, c), computed with Python floats."""
    vals = [fn(Z[i][c], Y[i][c], c) for i in range(len(Z)) for c in range(len(Z[0]))]
    return sum(vals) / len(vals)


def softplus(x: float) -> float:
    return math.log1p(math.exp(-abs(x))) + max(x, 0.0)


def bce_s(z, y, w=1.0, pw=1.0):
    """-w [pw y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))], stable for large |z|."""
    return w * (pw * y * softplus(-z) + (1 - y) * softplus(z))


Z = [[0.3, -1.2, 2.0], [-0.4, 0.9, -2.5], [1.5, 0.0, -0.7]]
Y = [[1, 0, 0], [0, 1, 1], [1, 0, 0]]
COUNTS = [500.0, 40.0, 3.0]
N = 600


def t(a):
    return torch.tensor(a, dtype=torch.float64)


def value(name, counts=COUNTS, n=N, Zs=Z, Ys=Y, **kw):
    loss = create_loss(name, counts, n_samples=n, **kw)
    return loss(t(Zs), t(Ys)).item(), loss


def test_registry_lists_all_losses():
    assert list_losses() == ["bce", "bce_pos_weight", "focal", "cb_focal", "asl", "ldam", "drw",
                             "ldam_drw", "dbloss", "la_bce"]


def test_bce_hand():
    v, _ = value("bce")
    assert v == pytest.approx(scalar_mean(lambda z, y, c: bce_s(z, y), Z, Y), rel=1e-12)
    assert value("bce", Zs=[[0.0]], Ys=[[1]], counts=[1])[0] == pytest.approx(math.log(2), rel=1e-12)


def test_bce_pos_weight_hand_and_clip():
    pw = [(N - n) / n for n in COUNTS]
    np.testing.assert_allclose(positive_weights(COUNTS, N), pw)
    v, _ = value("bce_pos_weight")
    assert v == pytest.approx(scalar_mean(lambda z, y, c: bce_s(z, y, pw=pw[c]), Z, Y), rel=1e-6)
    pw_clip = [min(w, 10.0) for w in pw]
    v, _ = value("bce_pos_weight", max_pos_weight=10.0)
    assert v == pytest.approx(scalar_mean(lambda z, y, c: bce_s(z, y, pw=pw_clip[c]), Z, Y), rel=1e-6)
    # a class without positives weighs as if it had one
    assert positive_weights([0, 5], 10).tolist() == [10.0, 1.0]


def focal_s(z, y, gamma=2.0, alpha=None):
    p = sig(z)
    pt = p if y == 1 else 1 - p
    a = 1.0 if alpha is None else (alpha if y == 1 else 1 - alpha)
    return -a * (1 - pt) ** gamma * math.log(pt)


@pytest.mark.parametrize("alpha", [None, 0.25])
def test_focal_hand_and_torchvision(alpha):
    from torchvision.ops import sigmoid_focal_loss

    v, _ = value("focal", alpha=alpha)
    assert v == pytest.approx(scalar_mean(lambda z, y, c: focal_s(z, y, 2.0, alpha), Z, Y), rel=1e-10)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(16, 7, generator=g, dtype=torch.float64) * 3
    y = (torch.rand(16, 7, generator=g) < 0.3).double()
    ours = create_loss("focal", [1] * 7, alpha=alpha)(z, y)
    ref = sigmoid_focal_loss(z, y, alpha=-1 if alpha is None else alpha, gamma=2.0, reduction="mean")
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-14)


def test_cb_focal_hand():
    beta = 0.99
    raw = [(1 - beta) / (1 - beta ** n) for n in COUNTS]
    w = [r / sum(raw) * 3 for r in raw]
    np.testing.assert_allclose(class_balanced_weights(COUNTS, beta), w, rtol=1e-12)
    assert w[2] > w[1] > w[0]
    # weight_on="positives" (default): y w_c + (1 - y); "both": w_c on every term of class c
    v, _ = value("cb_focal", beta=beta)
    assert v == pytest.approx(scalar_mean(lambda z, y, c: (w[c] if y else 1.0) * focal_s(z, y), Z, Y), rel=1e-6)
    v, _ = value("cb_focal", beta=beta, weight_on="both")
    assert v == pytest.approx(scalar_mean(lambda z, y, c: w[c] * focal_s(z, y), Z, Y), rel=1e-6)
    with pytest.raises(ConfigError, match="weight_on"):
        create_loss("cb_focal", COUNTS, weight_on="negatives")
    # default beta 0.9999
    np.testing.assert_allclose(class_balanced_weights([1, 2]).sum(), 2.0)


def asl_s(z, y, gp=0.0, gn=4.0, clip=0.05):
    p = sig(z)
    if y == 1:
        return -((1 - p) ** gp) * math.log(p)
    pm = max(p - clip, 0.0)
    return -(pm ** gn) * math.log(1 - pm)


def test_asl_hand_probability_shift():
    v, _ = value("asl")
    assert v == pytest.approx(scalar_mean(lambda z, y, c: asl_s(z, y), Z, Y), rel=1e-10)
    # negative at p = 0.5: p_m = 0.45, loss = -0.45^4 log(0.55) (by hand: 0.04100625 * 0.597837 = 0.0245151)
    z_half = [[0.0]]
    v, _ = value("asl", counts=[1], Zs=z_half, Ys=[[0]])
    assert v == pytest.approx(0.45 ** 4 * -math.log(0.55), rel=1e-12)
    assert v == pytest.approx(0.0245151, rel=1e-5)
    # an easy negative below the shift contributes nothing, not even gradient
    z = torch.tensor([[math.log(0.03 / 0.97)]], dtype=torch.float64, requires_grad=True)
    loss = create_loss("asl", [1])(z, torch.zeros(1, 1, dtype=torch.float64))
    loss.backward()
    assert loss.item() == 0.0 and z.grad.item() == 0.0
    # focusing is NOT inverted: hard negatives (large p) weigh more than easy ones
    hard, _ = value("asl", counts=[1], Zs=[[2.0]], Ys=[[0]])
    easy, _ = value("asl", counts=[1], Zs=[[-1.0]], Ys=[[0]])
    assert hard > 10 * easy
    # positives with gamma_pos = 0 are plain cross-entropy
    pos, _ = value("asl", counts=[1], Zs=[[0.7]], Ys=[[1]])
    assert pos == pytest.approx(-math.log(sig(0.7)), rel=1e-12)


@pytest.mark.parametrize("gp,gn,clip", [(0.0, 4.0, 0.05), (1.0, 4.0, 0.05), (0.0, 2.0, 0.0), (1.0, 3.0, 0.1)])
def test_asl_matches_timm_up_to_sum_reduction(gp, gn, clip):
    from timm.loss import AsymmetricLossMultiLabel

    g = torch.Generator().manual_seed(1)
    B, C = 12, 9
    z = torch.randn(B, C, generator=g) * 3
    y = (torch.rand(B, C, generator=g) < 0.35).float()
    ours = create_loss("asl", [1] * C, gamma_pos=gp, gamma_neg=gn, clip=clip)(z, y)
    # timm >= 1.0.2x has reduction=; older timm always returns -loss.sum() (the same thing)
    kw = {"reduction": "sum"} if "reduction" in inspect.signature(AsymmetricLossMultiLabel).parameters else {}
    ref = AsymmetricLossMultiLabel(gamma_neg=gn, gamma_pos=gp, clip=clip, eps=1e-8, **kw)(z, y)
    torch.testing.assert_close(ours * B * C, ref, rtol=1e-5, atol=1e-5)


def test_ldam_margins_and_eval_logits():
    m = ldam_margins(COUNTS, 0.5)
    assert m.max() == pytest.approx(0.5) and m[2] == pytest.approx(0.5)
    assert m[0] < m[1] < m[2]  # rarer class -> larger margin
    assert m[0] / m[1] == pytest.approx((COUNTS[1] / COUNTS[0]) ** 0.25)
    s = 30.0
    v, loss = value("ldam")
    ref = scalar_mean(lambda z, y, c: bce_s(s * (z - m[c] * y), y), Z, Y)
    assert v == pytest.approx(ref, rel=1e-6)
    # evaluation logits are s * z: the same scale the loss trained, no margin
    raw = t(Z)
    torch.testing.assert_close(loss.to_logits(raw), s * raw)
    # ... which is exactly the training logit for negatives, so p(eval) = sigmoid(training logit)
    bce_neg = create_loss("bce", COUNTS)(loss.to_logits(raw), torch.zeros_like(raw))
    assert loss(raw, torch.zeros_like(raw)).item() == pytest.approx(bce_neg.item(), rel=1e-12)


def test_drw_switch_by_optimiser_step_and_state_round_trip(tmp_path):
    beta = 0.9999
    w = class_balanced_weights(COUNTS, beta)
    z, y = t(Z), t(Y)
    plain = scalar_mean(lambda zz, yy, c: bce_s(zz, yy), Z, Y)
    weighted = scalar_mean(lambda zz, yy, c: bce_s(zz, yy, w=w[c] if yy else 1.0), Z, Y)
    both = scalar_mean(lambda zz, yy, c: bce_s(zz, yy, w=w[c]), Z, Y)
    loss = create_loss("drw", COUNTS)
    loss.schedule(total_steps=50, steps_per_epoch=10)       # default: 0.8 of the optimiser steps
    assert loss.switch_step == 40
    for step, expected in [(0, plain), (39, plain), (40, weighted), (49, weighted)]:
        loss.set_step(step)
        assert loss(z, y).item() == pytest.approx(expected, rel=1e-6), step
        assert loss.reweighting == (step >= 40)
    b = create_loss("drw", COUNTS, weight_on="both")
    b.schedule(50)
    b.set_step(45)
    assert b(z, y).item() == pytest.approx(both, rel=1e-6)
    # not an epoch floor: 0.8 of 3 epochs x 7 steps = step round(16.8) = 17, inside epoch 3
    d = create_loss("drw", COUNTS)
    d.schedule(21, 7)
    assert d.switch_step == 17
    # drw_epoch and drw_step are exact; drw_epoch needs the epoch length
    e = create_loss("drw", COUNTS, drw_epoch=12)
    e.schedule(150, 10)
    assert e.switch_step == 120
    f = create_loss("drw", COUNTS, drw_step=33)
    f.schedule(40)
    assert f.switch_step == 33
    # checkpoint round trip, through a weights_only torch file
    loss.set_step(44)
    torch.save(loss.state_dict(), tmp_path / "loss.pt")
    fresh = create_loss("drw", COUNTS)
    assert not fresh.reweighting
    fresh.load_state_dict(torch.load(tmp_path / "loss.pt", weights_only=True))
    assert fresh.step == 44 and fresh.switch_step == 40 and fresh.reweighting
    assert fresh(z, y).item() == pytest.approx(weighted, rel=1e-6)


@pytest.mark.parametrize("name", ["drw", "ldam_drw"])
def test_deferral_guards(name):
    """Nothing deferred, nothing re-weighted, or a switch before half of training: ConfigError."""
    def sched(total, spe=None, **kw):
        loss = create_loss(name, COUNTS, **kw)
        loss.schedule(total, spe)
        return loss

    with pytest.raises(ConfigError, match="nothing is deferred"):
        sched(2, drw_fraction=0.2)                         # round(0.4) = 0: re-weighted from the start
    with pytest.raises(ConfigError, match="fewer than 2 re-weighted steps"):
        sched(1)                                           # round(0.8 * 1) = 1 = the whole run
    with pytest.raises(ConfigError, match="fewer than 2 re-weighted steps"):
        sched(5)                                           # round(0.8 * 5) = 4: one step after it
    with pytest.raises(ConfigError, match="before half"):
        sched(15, 1, drw_epoch=5)                          # the seed's epoch 5 of 15 ...
    assert sched(15, 1, drw_epoch=5, drw_allow_early=True).switch_step == 5   # ... when asked for
    with pytest.raises(ConfigError, match="before half"):
        sched(100, drw_fraction=0.3)
    with pytest.raises(ConfigError, match="drw_epoch"):
        create_loss(name, COUNTS, drw_epoch=0)
    with pytest.raises(ConfigError, match="drw_fraction"):
        create_loss(name, COUNTS, drw_fraction=1.0)
    with pytest.raises(ConfigError, match="schedule"):  # never scheduled: cannot train silently
        create_loss(name, COUNTS)(t(Z), t(Y))
    assert sched(10).switch_step == 8


def test_ldam_drw_hand():
    m = ldam_margins(COUNTS)
    w = class_balanced_weights(COUNTS)
    loss = create_loss("ldam_drw", COUNTS, drw_step=5)
    loss.schedule(10)
    z, y = t(Z), t(Y)
    before = scalar_mean(lambda zz, yy, c: bce_s(30 * (zz - m[c] * yy), yy), Z, Y)
    after = scalar_mean(lambda zz, yy, c: bce_s(30 * (zz - m[c] * yy), yy, w=w[c] if yy else 1.0), Z, Y)
    assert loss(z, y).item() == pytest.approx(before, rel=1e-6)
    loss.set_step(5)
    assert loss(z, y).item() == pytest.approx(after, rel=1e-6)
    torch.testing.assert_close(loss.to_logits(z), 30 * z)


def db_s(Zs, Ys, counts, n, lam=2.0, kappa=0.05, a=0.1, b=10.0, mu=0.2, gamma=2.0, bal=2.0):
    """Distribution-balanced loss, one element at a time (Wu et al. 2020, authors' code)."""
    C = len(counts)
    vals = []
    for zi, yi in zip(Zs, Ys):
        rate = sum(1.0 / counts[c] for c in range(C) if yi[c] == 1)
        for c in range(C):
            r = (1.0 / counts[c]) / rate if rate > 0 else math.inf
            w = a + (sig(b * (r - mu)) if r != math.inf else 1.0)
            nu = kappa / lam * math.log(n / counts[c] - 1)
            zz = zi[c] - nu
            if yi[c] == 1:
                ce = -math.log(sig(zz))
            else:
                ce = -math.log(1 - sig(lam * zz))
                w = w / lam
            pt = math.exp(-ce)
            vals.append(bal * w * (1 - pt) ** gamma * ce)
    return sum(vals) / len(vals)


def test_dbloss_hand():
    Ys = Y + [[0, 0, 0]]  # an image without positives
    Zs = Z + [[0.2, -0.3, 1.1]]
    v, loss = value("dbloss", Zs=Zs, Ys=Ys)
    assert v == pytest.approx(db_s(Zs, Ys, COUNTS, N), rel=1e-6)
    v, _ = value("dbloss", Zs=Zs, Ys=Ys, neg_scale=5.0, map_mu=0.3, gamma=0.0)   # the VOC-MLT config
    assert v == pytest.approx(db_s(Zs, Ys, COUNTS, N, lam=5.0, mu=0.3, gamma=0.0), rel=1e-6)
    # eval logits include the class-specific bias the loss trained with (rare classes pushed down)
    raw = torch.zeros(1, 3, dtype=torch.float64)
    ev = loss.to_logits(raw)[0]
    nu = [0.05 / 2 * math.log(N / n - 1) for n in COUNTS]
    np.testing.assert_allclose(ev.numpy(), [-x for x in nu], rtol=1e-6)
    assert ev[2] < ev[1] < ev[0]


def test_la_bce_hand_and_eval_logits():
    tau = 1.5
    v, loss = value("la_bce", tau=tau)
    prior = [n / N for n in COUNTS]
    ref = scalar_mean(lambda z, y, c: bce_s(z + tau * math.log(prior[c]), y), Z, Y)
    assert v == pytest.approx(ref, rel=1e-6)
    raw = t(Z)
    assert loss.to_logits(raw) is raw  # eval logits: the adjustment-free raw output


@pytest.mark.parametrize("name,kw", [("focal", {"alpha": 0.25}), ("cb_focal", {}), ("cb_focal", {"weight_on": "both"}),
                                     ("asl", {"detach_focal_weight": False}),
                                     ("asl", {"gamma_pos": 1.0, "detach_focal_weight": False}),
                                     ("ldam_drw", {"drw_step": 5}), ("drw", {"drw_step": 5, "weight_on": "both"}),
                                     ("dbloss", {}), ("la_bce", {}), ("bce_pos_weight", {})])
def test_gradcheck(name, kw):
    g = torch.Generator().manual_seed(3)
    z = torch.randn(4, 3, generator=g, dtype=torch.float64) * 2
    if name == "asl":  # keep away from the shift's kink at p = clip
        p = torch.sigmoid(z)
        z = torch.where((p - 0.05).abs() < 0.02, z + 1.0, z)
    y = torch.tensor([[1, 0, 0], [0, 1, 1], [1, 0, 1], [0, 0, 0]], dtype=torch.float64)
    loss = create_loss(name, COUNTS, n_samples=N, **kw)
    loss.schedule(10)
    loss.set_step(9)
    z.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: loss(x, y), (z,), eps=1e-6, atol=1e-6)


def test_low_precision_logits_computed_in_fp32():
    z = t(Z).to(torch.bfloat16)
    out = create_loss("asl", COUNTS)(z, t(Y))
    assert out.dtype == torch.float32 and torch.isfinite(out)


@pytest.mark.parametrize("name", ["bce", "bce_pos_weight", "focal", "cb_focal", "asl", "ldam", "drw",
                                  "ldam_drw", "dbloss", "la_bce"])
def test_uniform_interface(name):
    loss = create_loss(name, COUNTS, n_samples=N)
    loss.schedule(40, 10)
    z = torch.randn(5, 3, requires_grad=True)
    y = (torch.rand(5, 3) < 0.5).float()
    out = loss(z, y)
    assert out.dim() == 0 and torch.isfinite(out)
    out.backward()
    assert torch.isfinite(z.grad).all()
    loss.set_epoch(3)
    loss.set_step(35)
    assert loss.to_logits(z.detach()).shape == z.shape
    sd = loss.state_dict()
    again = create_loss(name, COUNTS, n_samples=N)
    again.load_state_dict(sd)
    assert again.epoch == 3 and again.step == 35 and getattr(again, "reweighting", False) == loss.deferred
    torch.testing.assert_close(again(z.detach(), y), loss(z.detach(), y))


def test_errors():
    with pytest.raises(ConfigError, match="did you mean 'ldam_drw'"):
        create_loss("ldam-drw", COUNTS)
    with pytest.raises(ConfigError, match="no parameter 'gama'.*did you mean 'gamma'"):
        create_loss("focal", COUNTS, gama=2)
    with pytest.raises(ConfigError, match="n_samples"):
        create_loss("bce_pos_weight", COUNTS)
    with pytest.raises(InputError, match="class_counts"):
        create_loss("bce", [[1, 2]])
    with pytest.raises(InputError, match="non-negative"):
        create_loss("bce", [1, -2])
    with pytest.raises(InputError, match="n_samples"):
        create_loss("la_bce", [10, 20], n_samples=15)
    with pytest.raises(InputError, match=r"\(B, C\)"):
        create_loss("bce", COUNTS)(torch.zeros(2, 3), torch.zeros(2, 2))
    with pytest.raises(ConfigError, match="clip"):
        create_loss("asl", COUNTS, clip=1.5)


@pytest.mark.parametrize("name", list_losses())
def test_eval_logits_description_matches_to_logits(name):
    from lteval.train.losses import loss_info

    loss = create_loss(name, COUNTS, n_samples=N)
    z = t(Z)
    desc = loss_info(name).eval_logits
    expected = {"z": z, "s * z": 30.0 * z}.get(desc)
    if desc == "z - nu_c":
        expected = z - torch.tensor([0.05 / 2 * math.log(N / n - 1) for n in COUNTS], dtype=z.dtype)
    assert expected is not None, desc
    torch.testing.assert_close(loss.to_logits(z), expected)


# --------------------------------------------------------------------------- torch-free specs

def test_torch_free_specs_are_what_the_implementations_accept():
    """lteval.train.loss_specs (read by config resolution without torch) equals the torch factories'
    signatures: the same names in the same order, n_samples where the factory takes it, and every
    hyper-parameter with the factory's default."""
    from lteval.train import loss_specs
    from lteval.train.losses import loss_info

    assert loss_specs.list_losses() == list_losses()
    for name in list_losses():
        spec, info = loss_specs.loss_spec(name), loss_info(name)
        params = list(inspect.signature(info.factory).parameters.values())
        assert params[0].name == "class_counts"
        assert (len(params) > 1 and params[1].name == "n_samples") == spec.needs_n_samples, name
        kw = params[2 if spec.needs_n_samples else 1:]
        assert [(p.name, p.default) for p in kw] == list(spec.params), name
        assert info is spec and info.summary == spec.summary and info.eval_logits == spec.eval_logits
        for k in spec.defaults:  # every spec parameter is accepted by create_loss ...
            n = {"n_samples": 1000} if spec.needs_n_samples else {}
            create_loss(name, [10, 100, 500], **n, **{k: spec.defaults[k]})
        with pytest.raises(ConfigError, match="has no parameter"):  # ... and nothing else
            create_loss(name, [10, 100, 500], n_samples=1000, not_a_parameter=1)


def test_register_loss_refuses_a_factory_that_drifts_from_its_spec(monkeypatch):
    from lteval.train import loss_specs, losses

    monkeypatch.setattr(loss_specs.LOSSES, "_entries", dict(loss_specs.LOSSES._entries))
    with pytest.raises(TypeError, match="loss_specs says"):
        @losses.register_loss("focal")
        def _bad(class_counts, gamma: float = 3.0, alpha: float | None = None):  # default differs
            return losses.BCELoss()
    with pytest.raises(TypeError, match="loss_specs says"):
        @losses.register_loss("la_bce")
        def _bad2(class_counts, tau: float = 1.0):  # n_samples missing
            return losses.BCELoss()

    @losses.register_loss("my_bce", summary="BCE again", paper="-")
    def _mine(class_counts, n_samples, scale: float = 1.0):
        return losses.BCELoss()

    assert loss_specs.loss_spec("my_bce").params == (("scale", 1.0),)
    assert loss_specs.loss_spec("my_bce").needs_n_samples and list_losses()[-1] == "my_bce"
    assert isinstance(create_loss("my_bce", [1, 2], n_samples=5, scale=2.0), losses.BCELoss)
