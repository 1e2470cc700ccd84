"""torch Dataset and DataLoader factory over a data source."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data.distributed import DistributedSampler

from lteval.data import synth
from lteval.data.cache import build_cache, open_cache
from lteval.data.dataset import MEAN, STD, AugmentConfig, CXRDataset, make_loader
from lteval.data.imageio import decode_u8
from lteval.data.source import open_source
from lteval.errors import UsageError


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    root = synth.generate(tmp_path_factory.mktemp("ds") / "set", n_train=64, n_dev=16, n_test=16, size=32,
                          seed=5, progress=False, workers=1)
    return open_source(root)


def test_items_have_the_documented_shape_and_values(src):
    ds = CXRDataset(src, src.train_ids, 32, labels=src.train_y)
    assert len(ds) == 64 and ds.has_labels
    x, y, i = ds[3]
    assert x.shape == (1, 32, 32) and x.dtype == torch.float32
    assert y.shape == (30,) and y.dtype == torch.float32 and i == src.train_ids[3]
    want = (decode_u8(src.image_path(i), 32).astype(np.float32) / 255 - MEAN) / STD
    np.testing.assert_allclose(x[0].numpy(), want, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(y.numpy(), src.train_y[3].astype(np.float32))


def test_unlabeled_split_gives_nan_targets(src):
    ds = CXRDataset(src, src.eval_ids("test"), 32)
    assert not ds.has_labels and torch.isnan(ds[0][1]).all()
    with pytest.raises(UsageError, match="labels must have shape"):
        CXRDataset(src, src.train_ids, 32, labels=src.train_y[:5])


def test_cache_and_decoding_give_the_same_tensors(src):
    build_cache(src, 32, workers=1, progress=False)
    cache = open_cache(src, 32)
    a = CXRDataset(src, src.train_ids, 32, labels=src.train_y, cache=cache)
    b = CXRDataset(src, src.train_ids, 32, labels=src.train_y)
    for k in (0, 17, 63):
        assert torch.equal(a[k][0], b[k][0])
    with pytest.raises(UsageError, match="cache holds 32px"):
        CXRDataset(src, src.train_ids, 24, cache=cache)


def test_augmentation_is_seeded_and_bounded(src):
    cfg = AugmentConfig()
    assert cfg.hflip is False   # chest anatomy is not mirror-symmetric
    plain = CXRDataset(src, src.train_ids, 32, labels=src.train_y)
    a = CXRDataset(src, src.train_ids, 32, labels=src.train_y, augment=cfg, seed=1)
    b = CXRDataset(src, src.train_ids, 32, labels=src.train_y, augment=cfg, seed=1)
    c = CXRDataset(src, src.train_ids, 32, labels=src.train_y, augment=cfg, seed=2)
    assert torch.equal(a[5][0], b[5][0]) and not torch.equal(a[5][0], c[5][0])
    assert not torch.equal(a[5][0], plain[5][0])
    lo, hi = (0 - MEAN) / STD, (1 - MEAN) / STD
    assert a[5][0].min() >= lo - 1e-6 and a[5][0].max() <= hi + 1e-6
    assert torch.equal(a[5][1], plain[5][1])
    # no-op config leaves the image untouched
    noop = AugmentConfig(random_resized_crop=False, rotation_deg=0, brightness=0, contrast=0)
    d = CXRDataset(src, src.train_ids, 32, augment=noop, seed=0)
    assert torch.allclose(d[5][0], plain[5][0], atol=1e-6)


def test_hflip_mirrors(src):
    flip = AugmentConfig(random_resized_crop=False, rotation_deg=0, brightness=0, contrast=0, hflip=True)
    plain = CXRDataset(src, src.train_ids, 32)
    ds = CXRDataset(src, src.train_ids, 32, augment=flip, seed=0)
    outs = [ds[i][0] for i in range(8)]
    flipped = [torch.equal(o, torch.flip(plain[i][0], dims=[2])) for i, o in enumerate(outs)]
    same = [torch.equal(o, plain[i][0]) for i, o in enumerate(outs)]
    assert all(f or s for f, s in zip(flipped, same)) and any(flipped)


def test_loader_batches_and_distributed_sampler(src):
    ds = CXRDataset(src, src.train_ids, 32, labels=src.train_y)
    xb, yb, ib = next(iter(make_loader(ds, 16, shuffle=True, seed=0)))
    assert xb.shape == (16, 1, 32, 32) and yb.shape == (16, 30) and len(ib) == 16
    order1 = [i for _, _, b in make_loader(ds, 16, shuffle=True, seed=3) for i in b]
    order2 = [i for _, _, b in make_loader(ds, 16, shuffle=True, seed=3) for i in b]
    assert order1 == order2 and sorted(order1) == sorted(src.train_ids.tolist())
    parts = []
    for rank in (0, 1):
        sampler = DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=True, seed=0)
        sampler.set_epoch(1)
        parts.append([i for _, _, b in make_loader(ds, 8, sampler=sampler, shuffle=True) for i in b])
    assert len(parts[0]) == len(parts[1]) == 32
    assert not set(parts[0]) & set(parts[1]) and len(set(parts[0]) | set(parts[1])) == 64


def test_loader_with_worker_processes(src):
    ds = CXRDataset(src, src.train_ids[:16], 32, labels=src.train_y[:16], augment=AugmentConfig(), seed=0)
    ids = [i for _, _, b in make_loader(ds, 8, num_workers=2) for i in b]
    assert ids == src.train_ids[:16].tolist()
