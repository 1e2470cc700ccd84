"""TTA: transforms, merges (against direct formulas), identity-only TTA == plain inference."""

import numpy as np
import pytest
import torch
from scipy.special import expit, logit

from lteval.errors import ConfigError
from lteval.posttrain.tta import (DEFAULT_TTA, apply_transform, merge_logits, parse_tta, tta_predict)


class _Images(torch.utils.data.Dataset):
    def __init__(self, n=20, size=32, C=30, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 1, size, size, generator=g)
        self.y = (torch.rand(n, C, generator=g) < 0.2).float()

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i], f"img{i:03d}.png"


@pytest.fixture(scope="module")
def model():
    from lteval.train.models import create_model

    torch.manual_seed(0)
    m = create_model("resnet10t", 30, img_size=32).eval()
    return m


def _plain(model, loader, to_logits=None):
    ids, out = [], []
    with torch.no_grad():
        for x, _, i in loader:
            z = model(x).float()
            z = to_logits(z) if to_logits else z
            out.append(z.double().numpy())
            ids += list(i)
    return np.array(ids), np.concatenate(out)


def test_identity_tta_equals_plain_inference(model):
    loader = torch.utils.data.DataLoader(_Images(), batch_size=7)
    ids0, z0 = _plain(model, loader, lambda z: 30.0 * z)
    ids1, z1 = tta_predict(model, loader, "identity", merge="logits", to_logits=lambda z: 30.0 * z)
    assert list(ids0) == list(ids1)
    assert np.array_equal(z0, z1)  # bit-identical
    for merge in ("mean", "max", "gmean"):
        _, z2 = tta_predict(model, loader, "identity", merge=merge, to_logits=lambda z: 30.0 * z)
        np.testing.assert_allclose(z2, z0, rtol=1e-9, atol=1e-9)


def test_each_transform_is_one_forward_pass_per_batch(model):
    calls = []
    h = model.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    try:
        loader = torch.utils.data.DataLoader(_Images(n=10), batch_size=5)
        tta_predict(model, loader, DEFAULT_TTA)
    finally:
        h.remove()
    T = len(parse_tta(DEFAULT_TTA))
    assert calls == [5] * (2 * T)


def test_tta_changes_predictions_and_merges_transforms(model):
    loader = torch.utils.data.DataLoader(_Images(n=8), batch_size=8)
    _, z_id = tta_predict(model, loader, "identity")
    _, z_sc = tta_predict(model, loader, "scale@1.1")
    _, z_both = tta_predict(model, loader, "identity,scale@1.1", merge="logits")
    assert not np.allclose(z_id, z_sc)
    np.testing.assert_allclose(z_both, (z_id + z_sc) / 2, rtol=1e-12, atol=1e-12)


def test_merges_match_direct_formulas():
    rng = np.random.default_rng(1)
    z = rng.normal(0, 3, size=(4, 50, 6))
    p = expit(z)
    np.testing.assert_allclose(merge_logits(z, "logits"), z.mean(0))
    np.testing.assert_allclose(expit(merge_logits(z, "mean")), p.mean(0), rtol=1e-12)
    np.testing.assert_allclose(expit(merge_logits(z, "max")), p.max(0), rtol=1e-12)
    np.testing.assert_allclose(expit(merge_logits(z, "gmean")), np.exp(np.log(p).mean(0)), rtol=1e-10)
    np.testing.assert_allclose(merge_logits(z, "mean"), logit(p.mean(0)), rtol=1e-8, atol=1e-8)
    # extreme logits stay finite (no probability clipping): sigmoid(60) rounds to 1
    big = np.full((3, 2, 2), 60.0)
    for m in ("logits", "mean", "max", "gmean"):
        out = merge_logits(big, m)
        assert np.isfinite(out).all() and (out > 30).all()


def test_transforms_geometry():
    x = torch.zeros(1, 1, 32, 32)
    x[0, 0, 10:14, 4:8] = 1.0  # a blob left of centre
    assert apply_transform(x, parse_tta("identity")[0]) is x
    flipped = apply_transform(x, parse_tta("hflip")[0])
    assert torch.equal(flipped, torch.flip(x, dims=[3]))
    shifted = apply_transform(x, parse_tta("shift@0.125:0")[0])  # 4 px to the right
    assert torch.allclose(shifted[0, 0, 10:14, 8:12], torch.ones(4, 4), atol=1e-5)
    crops = parse_tta("crop5@0.75")
    assert len(crops) == 5 and crops[0].a == 0.75
    # zooming in by 2 then the centre pixel region is magnified: a centred blob doubles in width
    y = torch.zeros(1, 1, 32, 32)
    y[0, 0, 14:18, 14:18] = 1.0
    z = apply_transform(y, parse_tta("scale@2")[0])
    assert float((z[0, 0] > 0.5).sum()) == pytest.approx(64, abs=8)


def test_default_has_no_flip_and_bad_specs_are_rejected():
    assert all(not t.flip for t in parse_tta(None))
    for bad in ("", "rotate@5", "scale@abc", "scale@5", "shift@0.5:0", "shift@0.1", "identity@1",
                "crop5@1.2"):
        with pytest.raises(ConfigError):
            parse_tta(bad)
    with pytest.raises(ConfigError):
        merge_logits(np.zeros((1, 2, 2)), "median")
