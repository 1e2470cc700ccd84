"""Image decoding: 16-bit percentile windowing, 8-bit pass-through, padding to a square, errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lteval.data.imageio import WINDOW_PERCENTILES, decode_u8, load_image, window
from lteval.errors import InputError


def _save16(path, a):
    Image.fromarray(a.astype(np.uint16)).save(path)
    with Image.open(path) as im:
        assert im.mode.startswith("I;16")   # really a 16-bit PNG
    return path


def test_16bit_png_is_windowed_by_its_own_percentiles(tmp_path):
    rng = np.random.default_rng(0)
    # 12-bit data in a 16-bit container, plus a few hot pixels: a fixed 16->8 factor would be dark
    a = rng.normal(1800, 300, (64, 64)).clip(0, 4095)
    a[0, :5] = 65535
    p = _save16(tmp_path / "x16.png", np.rint(a))
    got = decode_u8(p, 64)
    raw = np.rint(a).astype(np.uint16).astype(np.float32)
    lo, hi = np.percentile(raw, WINDOW_PERCENTILES)
    want = np.clip(np.rint(np.clip((raw - lo) / (hi - lo), 0, 1) * 255), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(got, want)
    assert got.min() == 0 and got.max() == 255
    naive = (raw[1:] / 257).astype(np.uint8)
    assert naive.max() < 20 and np.percentile(got, 50) > 100      # windowed image uses the full range
    f = load_image(p, 64)
    assert f.dtype == np.float32 and np.array_equal(f, got.astype(np.float32) / 255)


def test_big_16bit_endpoints_and_resize(tmp_path):
    a = np.tile(np.linspace(10000, 50000, 300), (300, 1))
    p = _save16(tmp_path / "grad.png", a)
    got = decode_u8(p, 64)
    assert got.shape == (64, 64) and got.dtype == np.uint8
    assert got[:, 0].max() <= 3 and got[:, -1].min() >= 252           # left dark, right bright
    assert np.all(np.diff(got[32].astype(int)) >= 0)                   # monotone ramp survives resizing


def test_constant_16bit_image_does_not_divide_by_zero(tmp_path):
    p = _save16(tmp_path / "flat.png", np.full((10, 10), 1234))
    assert np.array_equal(decode_u8(p, 10), np.zeros((10, 10), np.uint8))
    assert np.array_equal(window(np.full((4, 4), 7.0, np.float32)), np.zeros((4, 4), np.float32))


def test_8bit_is_unchanged_at_native_size(tmp_path):
    a = np.random.default_rng(1).integers(0, 256, (40, 40)).astype(np.uint8)
    Image.fromarray(a).save(tmp_path / "x8.png")
    np.testing.assert_array_equal(decode_u8(tmp_path / "x8.png", 40), a)
    Image.fromarray(np.stack([a] * 3, -1)).save(tmp_path / "rgb.png")       # colour → grey
    np.testing.assert_array_equal(decode_u8(tmp_path / "rgb.png", 40), a)


def test_non_square_is_padded_not_squashed(tmp_path):
    a = np.full((20, 40), 200, np.uint8)   # wide image
    Image.fromarray(a).save(tmp_path / "wide.png")
    got = decode_u8(tmp_path / "wide.png", 40)
    assert got.shape == (40, 40)
    assert (got[:10] == 0).all() and (got[30:] == 0).all() and (got[10:30] == 200).all()


def test_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="not found") as e:
        load_image(tmp_path / "nope.png", 32)
    assert "nope.png" in str(e.value)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)   # truncated PNG
    with pytest.raises(InputError, match="cannot decode image") as e:
        decode_u8(bad, 32)
    assert str(bad) in str(e.value)
