"""Decoding one chest X-ray file into a square, windowed, 8-bit-resolution array.

* 16-bit PNGs (PadChest) are windowed by *their own* intensity percentiles
  (``WINDOW_PERCENTILES`` = 0.5 / 99.5): the 0.5th percentile maps to 0 and the 99.5th to 1.
  A fixed 16→8-bit factor would leave most PadChest images dark and quantised.
* 8-bit images (NIH, the synthetic set) are scaled by 1/255, unchanged otherwise.
* Colour or alpha images are converted to one grey channel.
* Aspect ratio: the image is **padded** (with its own minimum, i.e. black) to a centred
  square, then resized with an antialiasing filter — anatomy is never squashed, so
  ratios such as the cardiothoracic ratio are preserved.
* The result is quantised to 256 levels: ``decode_u8`` returns uint8, ``load_image``
  returns ``decode_u8 / 255`` as float32. The decode cache stores exactly ``decode_u8``,
  so cached and on-the-fly pixels are identical.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lteval.errors import InputError

WINDOW_PERCENTILES = (0.5, 99.5)


def _to_array(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
                arr = np.asarray(im, dtype=np.uint16)
            elif mode in ("I", "F"):
                arr = np.asarray(im)
            elif mode == "L":
                arr = np.asarray(im, dtype=np.uint8)
            elif mode == "1":
                arr = np.asarray(im.convert("L"), dtype=np.uint8)
            else:  # RGB, RGBA, LA, P, CMYK, ...
                arr = np.asarray(im.convert("L"), dtype=np.uint8)
    except FileNotFoundError:
        raise InputError("image file not found", file=str(path)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise InputError(f"cannot decode image ({type(e).__name__}: {e}); is it a valid PNG/JPEG file?",
                         file=str(path)) from None
    if arr.ndim != 2 or arr.size == 0:
        raise InputError(f"expected a 2-D grey image, got shape {arr.shape}", file=str(path))
    return arr


def window(arr: np.ndarray, percentiles: tuple[float, float] = WINDOW_PERCENTILES) -> np.ndarray:
    """Map an image to float32 [0, 1]: uint8 by 1/255, anything wider by its own percentiles."""
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    a = arr.astype(np.float32)
    step = max(1, int(np.sqrt(a.size / 250_000)))      # percentiles from <= ~250k pixels
    lo, hi = np.percentile(a[::step, ::step], percentiles)
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
        if hi <= lo:
            return np.zeros_like(a)
    return np.clip((a - lo) / (hi - lo), 0.0, 1.0)


def _pad_square(x: np.ndarray) -> np.ndarray:
    h, w = x.shape
    if h == w:
        return x
    n = max(h, w)
    out = np.zeros((n, n), x.dtype)
    top, left = (n - h) // 2, (n - w) // 2
    out[top:top + h, left:left + w] = x
    return out


def decode_u8(path: str | Path, size: int) -> np.ndarray:
    """uint8 ``(size, size)``: decoded, windowed, padded to a square, resized."""
    from PIL import Image

    x = _pad_square(window(_to_array(Path(path))))
    if x.shape[0] != size:
        im = Image.fromarray(np.ascontiguousarray(x, dtype=np.float32))
        if x.shape[0] >= 2 * size:  # fast integer pre-reduction, then an antialiased resize
            im = im.reduce(max(1, x.shape[0] // (2 * size)))
        x = np.asarray(im.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None))
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def load_image(path: str | Path, size: int) -> np.ndarray:
    """float32 ``(size, size)`` in [0, 1] (``decode_u8(path, size) / 255``)."""
    return decode_u8(path, size).astype(np.float32) / 255.0


__all__ = ["load_image", "decode_u8", "window", "WINDOW_PERCENTILES"]
