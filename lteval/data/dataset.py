"""Torch ``Dataset`` over a data source (real or synthetic) and a DataLoader factory.

``CXRDataset[i]`` → ``(image, target, image_id)``:

* ``image``: float32 tensor (1, size, size), ``(x - MEAN) / STD`` with ``x`` in [0, 1]
  (MEAN = 0.5, STD = 0.25); one channel — backbones are built with ``in_chans=1``.
* ``target``: float32 tensor (C,) of 0/1 labels; all NaN when the split has no labels
  (``dataset.has_labels`` is False), so an accidental loss on unlabeled data is visible.
* ``image_id``: the ImageID string.

Pixels come from the decode cache when one is given and holds the image, else from
:func:`lteval.data.imageio.decode_u8` — the same values either way.

Augmentation (training only; ``augment=None`` means none): random resized crop,
small rotation, brightness and contrast jitter. Horizontal flip is **off** by default:
chest anatomy is not mirror-symmetric (heart on the patient's left).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from lteval.errors import UsageError

MEAN = 0.5
STD = 0.25


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation. Scales are fractions of the image area; angles in degrees."""

    random_resized_crop: bool = True
    scale: tuple[float, float] = (0.85, 1.0)
    ratio: tuple[float, float] = (0.9, 1.1)
    rotation_deg: float = 7.0
    brightness: float = 0.1
    contrast: float = 0.1
    hflip: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def _augment(x: torch.Tensor, cfg: AugmentConfig, g: torch.Generator | None) -> torch.Tensor:
    """x: (1, H, W) float in [0, 1] → same shape, augmented (one affine resample)."""
    _, H, W = x.shape

    def u(lo, hi):
        return lo + (hi - lo) * float(torch.rand((), generator=g))

    # random resized crop + rotation as one affine grid
    sx = sy = 1.0
    tx = ty = 0.0
    if cfg.random_resized_crop:
        area = u(*cfg.scale)
        logr = u(math.log(cfg.ratio[0]), math.log(cfg.ratio[1]))
        ar = math.exp(logr)
        sx = min(1.0, math.sqrt(area * ar))
        sy = min(1.0, math.sqrt(area / ar))
        tx = u(-(1 - sx), 1 - sx)
        ty = u(-(1 - sy), 1 - sy)
    ang = math.radians(u(-cfg.rotation_deg, cfg.rotation_deg)) if cfg.rotation_deg else 0.0
    if sx != 1.0 or sy != 1.0 or ang != 0.0 or tx or ty:
        c, s = math.cos(ang), math.sin(ang)
        theta = torch.tensor([[c * sx, -s * sy, tx], [s * sx, c * sy, ty]], dtype=torch.float32)
        grid = torch.nn.functional.affine_grid(theta[None], [1, 1, H, W], align_corners=False)
        x = torch.nn.functional.grid_sample(x[None], grid, mode="bilinear", padding_mode="zeros",
                                            align_corners=False)[0]
    if cfg.hflip and float(torch.rand((), generator=g)) < 0.5:
        x = torch.flip(x, dims=[2])
    if cfg.contrast:
        m = x.mean()
        x = (x - m) * u(1 - cfg.contrast, 1 + cfg.contrast) + m
    if cfg.brightness:
        x = x + u(-cfg.brightness, cfg.brightness)
    return x.clamp_(0.0, 1.0)


class CXRDataset(Dataset):
    """Images of ``ids`` from ``source`` at ``size`` px, with ``labels`` (n, C) or None."""

    def __init__(self, source, ids, size: int, *, labels: np.ndarray | None = None,
                 augment: AugmentConfig | None = None, cache=None, seed: int | None = None):
        self.source = source
        self.ids = np.asarray(ids).astype(str)
        self.size = int(size)
        C = source.task.n_classes
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (len(self.ids), C):
                raise UsageError(f"labels must have shape ({len(self.ids)}, {C}), got {labels.shape}")
            self.targets = torch.as_tensor(labels.astype(np.float32))
        else:
            self.targets = None
        self.augment = augment
        if cache is not None and cache.size != self.size:
            raise UsageError(f"cache holds {cache.size}px images but the dataset wants {self.size}px")
        self.cache = cache
        self.seed = seed
        self._nan = torch.full((C,), float("nan"))

    @property
    def has_labels(self) -> bool:
        return self.targets is not None

    def __len__(self) -> int:
        return len(self.ids)

    def load_u8(self, i: int) -> np.ndarray:
        image_id = self.ids[i]
        if self.cache is not None and image_id in self.cache:
            return self.cache.get(image_id)
        from lteval.data.imageio import decode_u8
        return decode_u8(self.source.image_path(image_id), self.size)

    def __getitem__(self, i: int):
        x = torch.from_numpy(self.load_u8(i).astype(np.float32) / 255.0)[None]
        if self.augment is not None:
            g = None
            if self.seed is not None:  # reproducible per (seed, index) regardless of workers
                g = torch.Generator().manual_seed(int(self.seed) * 1_000_003 + int(i))
            x = _augment(x, self.augment, g)
        x = (x - MEAN) / STD
        y = self.targets[i] if self.targets is not None else self._nan
        return x, y, self.ids[i]


def _seed_worker(worker_id: int) -> None:
    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    import random
    random.seed(s)


def make_loader(dataset, batch_size: int, *, sampler=None, shuffle: bool = False, num_workers: int = 0,
                drop_last: bool = False, seed: int = 0, pin_memory: bool | None = None) -> DataLoader:
    """A DataLoader with seeded shuffling and workers. Pass any sampler (e.g. DistributedSampler);
    ``shuffle`` is then ignored (the sampler shuffles; call ``sampler.set_epoch``)."""
    g = torch.Generator()
    g.manual_seed(int(seed))
    if pin_memory is None:
        pin_memory = torch.cuda.is_available()
    return DataLoader(dataset, batch_size=int(batch_size), sampler=sampler,
                      shuffle=bool(shuffle) if sampler is None else False,
                      num_workers=int(num_workers), drop_last=drop_last, generator=g,
                      worker_init_fn=_seed_worker if num_workers else None, pin_memory=pin_memory,
                      persistent_workers=bool(num_workers))


__all__ = ["CXRDataset", "AugmentConfig", "make_loader", "MEAN", "STD"]
