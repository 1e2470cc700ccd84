"""Samplers: determinism, DDP shards, resume, and the sampling distributions themselves."""

from __future__ import annotations

import numpy as np
import pytest

from lteval.errors import ConfigError, InputError
from lteval.train.samplers import create_sampler, instance_probabilities, list_samplers

TINY = np.array([[1, 0], [1, 0], [1, 1], [0, 0]], dtype=np.int8)


def long_tail(n=3000, seed=0):
    """Multi-label toy set: class c has prevalence 0.5 * 0.4**c (class 4 is the rare tail)."""
    rng = np.random.default_rng(seed)
    prev = 0.5 * 0.4 ** np.arange(5)
    return (rng.random((n, 5)) < prev).astype(np.int8)


def make(name, y, **kw):
    return create_sampler(name, y, epochs=5, **kw)


def test_names():
    assert list_samplers() == ["random", "class_aware", "sqrt", "progressive"]
    assert make("class-balanced", TINY).name == "class_aware"


def test_probabilities_by_hand():
    # counts: class 0 -> 3 images, class 1 -> 1, "no finding" pseudo-class -> 1 (image 3); K = 3
    p = make("class_aware", TINY).probabilities()
    np.testing.assert_allclose(p, [1 / 9, 1 / 9, 1 / 3 * (1 / 3 + 1), 1 / 3])
    q = np.sqrt([3.0, 1.0, 1.0]) / (np.sqrt(3) + 2)
    p = make("sqrt", TINY).probabilities()
    np.testing.assert_allclose(p, [q[0] / 3, q[0] / 3, q[0] / 3 + q[1], q[2]])
    # empty="ignore": image 3 is never drawn, K = 2
    p = instance_probabilities(TINY, lambda n: np.ones_like(n), empty="ignore")
    np.testing.assert_allclose(p, [1 / 6, 1 / 6, 1 / 6 + 1 / 2, 0])


def test_progressive_interpolates():
    s = make("progressive", TINY)  # epochs=5
    uniform = np.full(4, 0.25)
    balanced = make("class_aware", TINY).probabilities()
    np.testing.assert_allclose(s.probabilities(0), uniform)
    np.testing.assert_allclose(s.probabilities(4), balanced)
    np.testing.assert_allclose(s.probabilities(2), 0.5 * uniform + 0.5 * balanced)
    assert s.alpha(1) == pytest.approx(0.25)


@pytest.mark.parametrize("name", ["random", "class_aware", "sqrt", "progressive"])
def test_deterministic(name):
    y = long_tail(500)
    a, b = make(name, y, seed=3), make(name, y, seed=3)
    for e in (0, 2):
        a.set_epoch(e), b.set_epoch(e)
        assert list(a) == list(b)
    a.set_epoch(1)
    first = list(a)
    a.set_epoch(2)
    assert list(a) != first  # a new epoch reshuffles
    assert list(make(name, y, seed=4)) != list(make(name, y, seed=3))


@pytest.mark.parametrize("name", ["random", "class_aware", "sqrt", "progressive"])
@pytest.mark.parametrize("n,replicas", [(500, 2), (301, 3), (10, 4)])
def test_ddp_shards_partition_the_epoch(name, n, replicas):
    y = long_tail(n)
    ranks = [make(name, y, num_replicas=replicas, rank=r, seed=7) for r in range(replicas)]
    for s in ranks:
        s.set_epoch(1)
    shards = [list(s) for s in ranks]
    lengths = {len(sh) for sh in shards}
    assert lengths == {-(-n // replicas)} and len(ranks[0]) == len(shards[0])
    glob = ranks[0].epoch_indices(1)
    rebuilt = np.empty(len(glob), dtype=np.int64)
    for r, sh in enumerate(shards):
        rebuilt[r::replicas] = sh
    np.testing.assert_array_equal(rebuilt, glob)  # shards interleave back into the global list
    if name == "random":
        assert set(glob.tolist()) == set(range(n))  # every image once, plus wrap-around padding
        if n % replicas == 0:
            assert sorted(glob.tolist()) == list(range(n))  # disjoint shards
    # drop_last: equal shards without padding
    dl = [make(name, y, num_replicas=replicas, rank=r, drop_last=True) for r in range(replicas)]
    assert {len(s) for s in dl} == {n // replicas}


def test_random_is_a_permutation_each_epoch():
    s = make("random", long_tail(200))
    for e in range(3):
        s.set_epoch(e)
        assert sorted(s) == list(range(200))


def test_class_aware_raises_tail_frequency():
    y = long_tail(4000)
    tail = y[:, 4].astype(bool)
    freq = {}
    for name in ("random", "sqrt", "class_aware"):
        s = make(name, y, seed=1)
        idx = np.concatenate([s.rank_indices(e) for e in range(3)])
        freq[name] = tail[idx].mean()
    assert freq["random"] == pytest.approx(tail.mean(), abs=1e-12)
    assert freq["random"] < freq["sqrt"] < freq["class_aware"]
    # class-aware: each (pseudo-)class is picked with probability 1/K, so the tail holds >= 1/K
    K = 5 + int((~y.any(axis=1)).any())
    assert freq["class_aware"] > 0.9 / K


def test_empirical_draws_follow_probabilities():
    s = make("class_aware", TINY, num_samples=40000, seed=5)
    counts = np.bincount(s.rank_indices(0), minlength=4) / 40000
    np.testing.assert_allclose(counts, s.probabilities(), atol=0.01)


@pytest.mark.parametrize("name", ["random", "class_aware", "progressive"])
def test_resume_mid_epoch_reproduces_the_rest(name):
    y = long_tail(300)
    s = make(name, y, num_replicas=2, rank=1, seed=11)
    s.set_epoch(3)
    full = list(s)
    state = s.state_dict() | {"start_index": 40}
    resumed = make(name, y, num_replicas=2, rank=1, seed=11)
    resumed.load_state_dict(state)
    assert resumed.epoch == 3 and len(resumed) == len(full) - 40
    assert list(resumed) == full[40:]
    assert len(resumed) == len(full)  # the skip applies to one iteration only
    assert list(resumed) == full
    with pytest.raises(ConfigError, match="num_replicas"):
        make(name, y, num_replicas=4, rank=1, seed=11).load_state_dict(state)
    with pytest.raises(ConfigError, match="seed"):
        make(name, y, num_replicas=2, rank=1, seed=12).load_state_dict(state)


def test_works_with_dataloader():
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    y = long_tail(64)
    s = make("sqrt", y, num_replicas=2, rank=0)
    ds = TensorDataset(torch.arange(64))
    batches = list(DataLoader(ds, batch_size=8, sampler=s))
    assert len(batches) == 4 and sum(len(b[0]) for b in batches) == 32
    s.set_epoch(0)
    assert torch.cat([b[0] for b in batches]).tolist() == list(s)


def test_errors():
    with pytest.raises(ConfigError, match="did you mean 'class_aware'"):
        create_sampler("class_awre", TINY)
    with pytest.raises(ConfigError, match="epochs"):
        create_sampler("progressive", TINY)
    with pytest.raises(ConfigError, match="rank"):
        create_sampler("random", TINY, num_replicas=2, rank=2)
    with pytest.raises(InputError, match="0/1"):
        create_sampler("random", TINY * 2)
    with pytest.raises(InputError, match="n_images, n_classes"):
        create_sampler("random", np.zeros(5))
    with pytest.raises(ConfigError, match="start_index"):
        create_sampler("random", TINY).set_start_index(5)
