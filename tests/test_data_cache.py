"""Decode cache: identical to on-the-fly decoding, parallel, resumable after an interruption."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from lteval.data import synth
from lteval.data.cache import build_cache, open_cache
from lteval.data.imageio import decode_u8
from lteval.data.source import open_source
from lteval.errors import InputError


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return synth.generate(tmp_path_factory.mktemp("cache") / "set", n_train=120, n_dev=30, n_test=30, size=32,
                          seed=11, progress=False, workers=1)


@pytest.fixture
def root(tiny, tmp_path):
    d = tmp_path / "root"
    shutil.copytree(tiny, d)
    # make a few images 16-bit and non-square, like PadChest, so the cache sees both kinds
    src = open_source(d)
    for i in src.train_ids[:5]:
        a = np.asarray(Image.open(src.image_path(i))).astype(np.uint16) * 200 + 3000
        Image.fromarray(np.pad(a, ((0, 0), (4, 4)))).save(src.image_path(i))
    return d


def _on_the_fly(src, size):
    return np.stack([decode_u8(src.image_path(i), size) for i in src.all_ids()])


def test_cache_equals_on_the_fly_decoding(root):
    src = open_source(root)
    d = build_cache(src, 24, workers=2, progress=False, chunk=16)
    cache = open_cache(src, 24)
    assert cache is not None and cache.path == d and len(cache) == 180
    np.testing.assert_array_equal(np.asarray(cache.array), _on_the_fly(src, 24))
    i = src.train_ids[3]
    assert i in cache and np.array_equal(cache.get(i), decode_u8(src.image_path(i), 24))
    assert open_cache(src, 32) is None                 # other size: no cache
    assert (d / "meta.json").exists() and not (d / "building.json").exists()


class Stop(Exception):
    pass


def test_interrupted_build_resumes_and_matches(root):
    src = open_source(root)
    seen = []

    def stop_after_3(done, total):
        seen.append((done, total))
        if done == 3:
            raise Stop

    with pytest.raises(Stop):
        build_cache(src, 20, workers=1, progress=False, chunk=16, on_chunk=stop_after_3)
    assert seen[-1] == (3, 12)
    assert open_cache(src, 20) is None                 # incomplete caches are never used
    resumed = []
    build_cache(src, 20, workers=2, progress=False, chunk=16, on_chunk=lambda d, t: resumed.append(d))
    assert len(resumed) == 12 - 3 and min(resumed) == 4 and max(resumed) == 12   # only the missing chunks
    cache = open_cache(src, 20)
    np.testing.assert_array_equal(np.asarray(cache.array), _on_the_fly(src, 20))
    # a complete cache is reused without decoding anything
    again = []
    build_cache(src, 20, workers=1, progress=False, chunk=16, on_chunk=lambda d, t: again.append(d))
    assert again == []


def test_other_image_list_rebuilds(root):
    src = open_source(root)
    build_cache(src, 16, workers=1, progress=False, chunk=64)
    ids = src.all_ids()[:50]
    calls = []
    build_cache(src, 16, workers=1, progress=False, ids=ids, chunk=64, on_chunk=lambda d, t: calls.append(d))
    assert calls == [1]
    cache = open_cache(src, 16)
    assert len(cache) == 50
    np.testing.assert_array_equal(cache.get(ids[7]), decode_u8(src.image_path(ids[7]), 16))


def test_missing_and_unreadable_images(root, tmp_path):
    src = open_source(root)
    src.image_path(src.train_ids[0]).unlink()
    with pytest.raises(InputError, match="1 of 180 image"):
        build_cache(src, 16, workers=1, progress=False, cache_dir=tmp_path / "c")
    Image.new("L", (8, 8)).save(src.image_path(src.train_ids[0]))
    src.image_path(src.train_ids[1]).write_bytes(b"garbage")
    with pytest.raises(InputError, match="cannot decode image"):
        build_cache(src, 16, workers=1, progress=False, cache_dir=tmp_path / "c")


def test_cache_dir_override_and_env(root, tmp_path, monkeypatch):
    src = open_source(root)
    d = build_cache(src, 16, workers=1, progress=False, cache_dir=tmp_path / "elsewhere")
    assert d == tmp_path / "elsewhere" and open_cache(src, 16, cache_dir=d) is not None
    monkeypatch.setenv("LTEVAL_CACHE_DIR", str(tmp_path / "envcache"))
    d2 = build_cache(src, 16, workers=1, progress=False)
    assert str(d2).startswith(str(tmp_path / "envcache")) and open_cache(src, 16) is not None
