"""cRT / τ-normalisation / LWS: frozen backbone bit-identical, heads correct, rankings where promised."""

import copy
import io

import numpy as np
import pytest
import torch

from lteval.metrics import average_precision, mean_average_precision
from lteval.posttrain.crt import (CRTConfig, StagedModel, StageHead, extract_features, head_logits,
                                  select_tau, tau_normalize, train_crt, train_lws, TAU_GRID)

C = 30


class _Images(torch.utils.data.Dataset):
    """Images whose pixel blocks encode the labels (learnable), 32 px."""

    def __init__(self, n=48, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.y = (torch.rand(n, C, generator=g) < 0.15).float()
        self.y[torch.arange(C) % n, torch.arange(C)] = 1.0
        x = torch.randn(n, 1, 32, 32, generator=g) * 0.3
        for c in range(C):
            r, k = divmod(c, 6)
            x[:, 0, 5 * r:5 * r + 4, 5 * k:5 * k + 4] += 2.0 * self.y[:, c, None, None]
        self.x = x

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i], f"i{i:04d}"


def _model(name):
    from lteval.train.models import create_model

    torch.manual_seed(0)
    return create_model(name, C, img_size=32)


def _snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name,augment", [("resnet10t", False), ("convnext_atto", True)])  # BatchNorm, LayerNorm
def test_crt_leaves_backbone_and_norm_statistics_bit_identical(name, augment):
    model = _model(name)
    model.train()  # whatever mode it comes in, cRT must not update statistics
    before = _snapshot(model)
    flags = [p.requires_grad for p in model.parameters()]
    ds = _Images()
    loader = torch.utils.data.DataLoader(ds, batch_size=16)
    cfg = CRTConfig(epochs=2, batch_size=16, augment=augment, lr=1e-2)
    if augment:
        head, log = train_crt(model, ds, ds.y.numpy(), cfg)
    else:
        _, feats = extract_features(model, loader)
        head, log = train_crt(model, feats, ds.y.numpy(), cfg)
    after = model.state_dict()
    assert set(before) == set(after)
    for k, v in before.items():
        assert torch.equal(v, after[k]), k  # parameters, running_mean/var, num_batches_tracked
    assert [p.requires_grad for p in model.parameters()] == flags and model.training
    assert log["steps"] == 2 * 3
    # the new classifier is not the old one and is a plain linear layer with an identity output map
    old = model.get_classifier()
    assert not torch.equal(head.heads[0].weight, old.weight)
    assert torch.equal(head.out_scale, torch.ones(C)) and torch.equal(head.out_bias, torch.zeros(C))
    # sanity: a forward in train mode WOULD change BatchNorm statistics (the check above can fail)
    if name == "resnet10t":
        m2 = copy.deepcopy(model).train()
        with torch.no_grad():
            m2(ds.x[:8])
        assert not all(torch.equal(v, m2.state_dict()[k]) for k, v in before.items())


def test_staged_model_with_copied_head_equals_the_model():
    model = _model("resnet10t").eval()
    x = _Images(n=10).x
    with torch.no_grad():
        want = model(x) * 30.0
        head = StageHead.from_model(model, to_logits=lambda z: z * 30.0)
        got = StagedModel(model, head)(x)
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-5)
    # dbloss-like additive map
    bias = torch.linspace(-1, 1, C)
    head = StageHead.from_model(model, to_logits=lambda z: z + bias)
    with torch.no_grad():
        assert torch.allclose(StagedModel(model, head)(x), model(x) + bias, atol=1e-5)
    with pytest.raises(Exception):
        StageHead.from_model(model, to_logits=lambda z: z ** 3)  # not affine


def test_crt_learns_on_features():
    rng = np.random.default_rng(0)
    n, D = 600, 24
    y = (rng.random((n, C)) < np.linspace(0.02, 0.3, C)).astype(np.float32)
    M = rng.normal(size=(C, D))
    f = torch.tensor(y @ M + rng.normal(0, 0.7, size=(n, D)), dtype=torch.float32)
    model = _model("resnet10t")
    head, _ = train_crt(model, f[:400], y[:400], CRTConfig(epochs=30, batch_size=50, lr=0.1))
    z = head_logits(head, f[400:])
    got = mean_average_precision(y[400:], z, empty_class="exclude")
    # reference: scikit-learn one-vs-rest logistic regression on the same (unbalanced) features
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    ref = OneVsRestClassifier(LogisticRegression(max_iter=2000)).fit(f[:400].numpy(), y[:400])
    want = mean_average_precision(y[400:], ref.decision_function(f[400:].numpy()), empty_class="exclude")
    assert got > 0.8 and got > want - 0.06, (got, want)
    # reproducible from its seed
    head2, _ = train_crt(model, f[:400], y[:400], CRTConfig(epochs=30, batch_size=50, lr=0.1))
    assert torch.equal(head.heads[0].weight, head2.heads[0].weight)


def test_tau_norm_and_lws_keep_per_class_rankings():
    rng = np.random.default_rng(1)
    n, D = 300, 16
    y = (rng.random((n, C)) < 0.2).astype(np.float32)
    f = torch.tensor(y @ rng.normal(size=(C, D)) + rng.normal(0, 1, size=(n, D)), dtype=torch.float32)
    lin = torch.nn.Linear(D, C)
    with torch.no_grad():
        lin.weight.mul_(torch.linspace(0.2, 5, C)[:, None])  # very different class norms
    head = StageHead([lin], torch.ones(C) * 2.0, torch.zeros(C))
    z0 = head_logits(head, f)
    ap0 = average_precision(y, z0)
    for tau in (0.0, 0.5, 1.0, 2.0):
        for bias in ("drop", "scale"):
            t = tau_normalize(head, tau, bias=bias)
            np.testing.assert_allclose(average_precision(y, head_logits(t, f)), ap0, atol=1e-12)
    np.testing.assert_allclose(head_logits(tau_normalize(head, 0.0, bias="scale"), f), z0, rtol=1e-6)
    t1 = tau_normalize(head, 1.0)
    assert torch.allclose(t1.heads[0].weight.norm(dim=1), torch.ones(C), atol=1e-5)
    assert torch.equal(t1.heads[0].bias, torch.zeros(C))
    assert torch.equal(head.heads[0].weight, lin.weight)  # the input head is not modified
    # select_tau == brute force over the grid (val macro-F1 at 0.5)
    from lteval.metrics.summary import macro_f1
    tau, table = select_tau(head, f, y)
    scores = [macro_f1(y, 1 / (1 + np.exp(-head_logits(tau_normalize(head, t), f))), 0.5) for t in TAU_GRID]
    assert tau == TAU_GRID[int(np.argmax(scores))] and len(table) == len(TAU_GRID)
    # LWS: scales train, the classifier does not, rankings stay
    lws, log = train_lws(head, f, y, {"epochs": 3, "batch_size": 64, "lr": 0.05})
    assert not torch.equal(lws.lws, torch.ones(C)) and log["nonpositive_scales"] == 0
    assert torch.equal(lws.heads[0].weight, lin.weight) and head.lws is None
    np.testing.assert_allclose(average_precision(y, head_logits(lws, f)), ap0, atol=1e-12)


def test_head_round_trip_weights_only():
    lin = torch.nn.Linear(8, C)
    head = StageHead([lin], torch.full((C,), 30.0), torch.zeros(C), lws=torch.rand(C) + 0.5)
    buf = io.BytesIO()
    torch.save(head.state_dict(), buf)
    buf.seek(0)
    back = StageHead.from_spec(head.spec(), torch.load(buf, weights_only=True))
    f = torch.randn(5, 8)
    assert torch.equal(back(f), head(f))
    from lteval.train.models import NormedLinear
    cos = StageHead([NormedLinear(8, C)], torch.full((C,), 30.0), torch.zeros(C))
    back = StageHead.from_spec(cos.spec(), cos.state_dict())
    assert torch.equal(back(f), cos(f))
    assert np.array_equal(head_logits(tau_normalize(cos, 1.0), f), head_logits(cos, f))  # no-op on cosine


@pytest.mark.parametrize("loss", __import__("lteval.train.losses", fromlist=["list_losses"]).list_losses())
def test_crt_trains_with_every_registered_loss(loss):
    """cRT takes any registered loss; a deferred one (drw, ldam_drw) is scheduled over cRT's own
    optimiser steps (issue 11: it raised a ConfigError) and switches inside them; the head's output
    map is the loss's evaluation-logit map."""
    from lteval.train.losses import create_loss

    rng = np.random.default_rng(2)
    n, D = 200, 16
    y = (rng.random((n, C)) < np.linspace(0.01, 0.3, C)).astype(np.float32)
    y[:, 0] = 0.0                                   # a class absent from the training features
    f = torch.tensor(y @ rng.normal(size=(C, D)) + rng.normal(0, 0.7, size=(n, D)), dtype=torch.float32)
    cfg = CRTConfig(loss=loss, epochs=3, batch_size=50, lr=0.05, sampler="random")
    head, log = train_crt(_model("resnet10t"), f, y, cfg)
    z = head_logits(head, f)
    assert np.isfinite(z).all() and log["steps"] == 12
    assert mean_average_precision(y, z, empty_class="exclude") > 0.3
    ref = create_loss(loss, y.sum(0), n_samples=n)
    raw = torch.randn(4, C)
    torch.testing.assert_close(raw * head.out_scale + head.out_bias, ref.to_logits(raw), rtol=1e-5, atol=1e-5)
    # 3 epochs x 4 steps: the switch at round(0.8 * 12) = 10 falls in the last epoch
    want = [False, False, True] if ref.deferred else [False] * 3
    assert [e["drw_active"] for e in log["epochs"]] == want
    if loss == "ldam_drw":  # the re-weighted last epoch changes the head
        other, _ = train_crt(_model("resnet10t"), f, y, CRTConfig(loss="ldam", epochs=3, batch_size=50, lr=0.05,
                                                                  sampler="random"))
        assert not torch.equal(other.heads[0].weight, head.heads[0].weight)
