"""A labelled picture grid of every synthetic finding (``lteval data preview``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lteval.data.anatomy import sample_patient
from lteval.data.render import CLASSES, render


def finding_tiles(size: int = 96, seed: int = 0, severity: float = 0.8, test_shift: float = 0.0) -> list[np.ndarray]:
    """One uint8 (size, size) tile per class: the same patient and film, only the finding differs.

    ``test_shift`` > 0 draws the film as the test split's second centre would.
    """
    from lteval.data.anatomy import center_look

    patient = sample_patient(np.random.default_rng([seed, 1]))
    center = center_look(test_shift) if test_shift > 0 else None
    tiles = []
    for k, c in enumerate(CLASSES):
        lab = np.zeros(len(CLASSES), bool)
        lab[k] = True
        tiles.append(render(lab, patient, np.random.default_rng([seed, 2]), size, center, severity={c: severity}))
    return tiles


def finding_grid(out: str | Path, *, size: int = 96, seed: int = 0, severity: float = 0.8, columns: int = 6,
                 test_shift: float = 0.0) -> Path:
    """Write the grid as an 8-bit grey PNG with each tile's class name underneath."""
    from PIL import Image, ImageDraw, ImageFont

    from lteval.io.atomic import atomic_open

    tiles = finding_tiles(size, seed, severity, test_shift)
    label_h = 12
    rows = (len(tiles) + columns - 1) // columns
    W, H = columns * size, rows * (size + label_h)
    grid = Image.new("L", (W, H), 0)
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default()
    for k, (t, c) in enumerate(zip(tiles, CLASSES)):
        r, col = divmod(k, columns)
        x, y = col * size, r * (size + label_h)
        grid.paste(Image.fromarray(t), (x, y))
        name = c if len(c) <= size // 6 else c[: size // 6 - 1] + "."
        draw.text((x + 2, y + size + 1), name, fill=230, font=font)
    with atomic_open(out, "wb") as f:
        grid.save(f, format="PNG", optimize=True)
    return Path(out)


__all__ = ["finding_tiles", "finding_grid"]
