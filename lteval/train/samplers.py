"""Epoch samplers for long-tailed multi-label training; deterministic, DDP-safe and resumable.

``create_sampler(name, labels, num_replicas=1, rank=0, seed=0, epochs=None)`` with ``name`` in
``list_samplers()``:

- ``random``: a fresh permutation of the images each epoch (instance-balanced, no replacement).
- ``class_aware``: Shen et al. (2016): pick a class uniformly, then an image of that class; for
  multi-label data an image is reachable through each of its classes, so
  ``P(i) = (1/K) sum_{c in pos(i)} 1/n_c``.
- ``sqrt``: square-root sampling: class c is picked with probability ``∝ sqrt(n_c)``, then one of its
  images, so ``P(i) = sum_{c in pos(i)} q_c / n_c`` with ``q_c = sqrt(n_c) / sum_k sqrt(n_k)``.
- ``progressive``: Kang et al. (2020): ``P_t = (1 - a_t) P_instance + a_t P_class_aware`` with
  ``a_t = t / (T - 1)`` for epoch t of T (instance-balanced at the first epoch, class-balanced at the
  last; ``epochs`` is required).

Images without any positive label form one extra pseudo-class for the class-based samplers
(``empty="class"``, the default) or are never drawn (``empty="ignore"``). The weighted samplers draw
with replacement, independently.

Every rank computes the same global list for an epoch from ``(seed, epoch)`` alone and takes the
positions ``rank, rank + R, ...``: shards have equal length and together form the epoch's list
(``random`` pads by wrapping, like ``DistributedSampler``, unless ``drop_last``).
``set_start_index(k)`` skips the first ``k`` samples of this rank's share in the next iteration, so a
run resumed mid-epoch sees exactly the rest of the epoch; ``state_dict()`` records epoch and position.
"""

from __future__ import annotations

import math

import numpy as np
from torch.utils.data import Sampler

from lteval.errors import ConfigError, InputError
from lteval.registry import Registry

__all__ = ["LtSampler", "RandomSampler", "ClassAwareSampler", "SqrtSampler", "ProgressiveSampler",
           "create_sampler", "list_samplers", "instance_probabilities", "SAMPLERS"]


def _as_labels(labels) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 2 or y.shape[0] == 0 or y.shape[1] == 0:
        raise InputError(f"labels must be a non-empty (n_images, n_classes) array, got shape {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise InputError("labels must hold only 0/1 values")
    return y.astype(bool)


def instance_probabilities(labels, class_weights, empty: str = "class") -> np.ndarray:
    """Per-image probabilities (n,) of "pick class c with probability ∝ class_weights[c], then an
    image of c uniformly". ``class_weights`` is a function of the per-class counts (C,) -> (C,)."""
    y = _as_labels(labels)
    counts = y.sum(axis=0).astype(np.float64)
    none = ~y.any(axis=1)
    if empty == "class" and none.any():
        y = np.concatenate([y, none[:, None]], axis=1)
        counts = np.append(counts, none.sum())
    elif empty not in ("class", "ignore"):
        raise ConfigError(f"empty must be 'class' or 'ignore', got {empty!r}")
    present = counts > 0
    q = np.zeros_like(counts)
    q[present] = class_weights(counts[present])
    q = q / q.sum()
    per_class = np.divide(q, counts, out=np.zeros_like(q), where=present)  # P(image | class) * P(class)
    p = y.astype(np.float64) @ per_class
    return p / p.sum()


#: Every sampler (``obj``: the class; ``takes``: which of ``epochs``/``empty`` it accepts), in
#: the order of ``list_samplers()``; other spellings are aliases.
SAMPLERS = Registry("sampler", aliases={"class_balanced": "class_aware", "square_root": "sqrt",
                                        "instance": "random"})


class LtSampler(Sampler[int]):
    """Base: a deterministic global index list per epoch, sharded over ``num_replicas`` ranks."""

    name = "base"
    with_replacement = True

    def __init__(self, labels, *, num_replicas: int = 1, rank: int = 0, seed: int = 0,
                 num_samples: int | None = None, drop_last: bool = False) -> None:
        self.labels = _as_labels(labels)
        self.n = self.labels.shape[0]
        if int(num_replicas) < 1 or not 0 <= int(rank) < int(num_replicas):
            raise ConfigError(f"need num_replicas >= 1 and 0 <= rank < num_replicas, got rank={rank}, "
                              f"num_replicas={num_replicas}")
        self.num_replicas, self.rank, self.seed = int(num_replicas), int(rank), int(seed)
        self.num_samples_total = int(num_samples) if num_samples is not None else self.n
        if self.num_samples_total < 1:
            raise ConfigError(f"num_samples must be >= 1, got {num_samples}")
        self.drop_last = bool(drop_last)
        if self.drop_last:
            self.num_samples = self.num_samples_total // self.num_replicas
        else:
            self.num_samples = math.ceil(self.num_samples_total / self.num_replicas)
        if self.num_samples < 1:
            raise ConfigError(f"{self.num_samples_total} samples cannot be split over {num_replicas} ranks "
                              f"with drop_last")
        self.total_size = self.num_samples * self.num_replicas
        self.epoch = 0
        self.start_index = 0

    # ------------------------------------------------------------------ schedule and position
    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (0-based); the index list depends on ``(seed, epoch)`` only."""
        self.epoch = int(epoch)

    def set_start_index(self, index: int) -> None:
        """Skip the first ``index`` samples of this rank's share in the next iteration (resume)."""
        if not 0 <= int(index) <= self.num_samples:
            raise ConfigError(f"start_index must be in [0, {self.num_samples}], got {index}")
        self.start_index = int(index)

    def state_dict(self) -> dict:
        return {"sampler": self.name, "epoch": self.epoch, "start_index": self.start_index, "seed": self.seed,
                "num_replicas": self.num_replicas, "num_samples": self.num_samples_total}

    def load_state_dict(self, state: dict) -> None:
        for key, mine in (("sampler", self.name), ("seed", self.seed), ("num_replicas", self.num_replicas),
                          ("num_samples", self.num_samples_total)):
            if key in state and state[key] != mine:
                raise ConfigError(f"cannot resume sampler state: {key} was {state[key]!r}, now {mine!r} "
                                  f"(resume with the same sampler, seed, data and number of processes)")
        self.set_epoch(state.get("epoch", 0))
        self.set_start_index(state.get("start_index", 0))

    # ------------------------------------------------------------------ index lists
    def _rng(self, epoch: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, int(epoch), 0x1A7E])

    def probabilities(self, epoch: int | None = None) -> np.ndarray:
        """Per-image sampling probabilities (n,) in ``epoch`` (default: the current one)."""
        return np.full(self.n, 1.0 / self.n)

    def epoch_indices(self, epoch: int | None = None) -> np.ndarray:
        """The global index list (total_size,) of ``epoch`` — the same on every rank."""
        epoch = self.epoch if epoch is None else int(epoch)
        return self._rng(epoch).choice(self.n, size=self.total_size, replace=True,
                                       p=self.probabilities(epoch)).astype(np.int64)

    def rank_indices(self, epoch: int | None = None) -> np.ndarray:
        """This rank's share (num_samples,) of ``epoch``'s list: positions rank, rank + R, ..."""
        return self.epoch_indices(epoch)[self.rank::self.num_replicas]

    def __iter__(self):
        idx = self.rank_indices()[self.start_index:]
        self.start_index = 0  # applies to one iteration only
        return iter(idx.tolist())

    def __len__(self) -> int:
        return self.num_samples - self.start_index


@SAMPLERS.register("random", summary="instance-balanced: a fresh permutation of the images each epoch",
                   paper="-", takes=())
class RandomSampler(LtSampler):
    """Instance-balanced: a permutation of all images per epoch (repeated when num_samples > n)."""

    name = "random"
    with_replacement = False

    def epoch_indices(self, epoch=None):
        epoch = self.epoch if epoch is None else int(epoch)
        rng = self._rng(epoch)
        reps = math.ceil(self.num_samples_total / self.n)
        idx = np.concatenate([rng.permutation(self.n) for _ in range(reps)])[:self.num_samples_total]
        if self.total_size > idx.size:  # pad by wrapping so every rank gets the same length
            idx = np.concatenate([idx, np.resize(idx, self.total_size - idx.size)])
        return idx[:self.total_size].astype(np.int64)


@SAMPLERS.register("class_aware", summary="class-aware: a class uniformly, then one of its images",
                   paper="Shen et al., ECCV 2016", takes=("empty",))
class ClassAwareSampler(LtSampler):
    """Class-aware sampling (Shen et al. 2016), multi-label: uniform class, then uniform image."""

    name = "class_aware"

    def __init__(self, labels, *, empty: str = "class", **kw) -> None:
        super().__init__(labels, **kw)
        self._p = instance_probabilities(self.labels, lambda n: np.ones_like(n), empty)

    def probabilities(self, epoch=None):
        return self._p


@SAMPLERS.register("sqrt", summary="square-root: a class with probability proportional to sqrt(n_c), then one "
                                   "of its images", paper="-", takes=("empty",))
class SqrtSampler(LtSampler):
    """Square-root sampling: class probability ∝ sqrt(n_c), then a uniform image of the class."""

    name = "sqrt"

    def __init__(self, labels, *, empty: str = "class", **kw) -> None:
        super().__init__(labels, **kw)
        self._p = instance_probabilities(self.labels, np.sqrt, empty)

    def probabilities(self, epoch=None):
        return self._p


@SAMPLERS.register("progressive", summary="progressively balanced: instance- to class-balanced over the epochs",
                   paper="Kang et al., ICLR 2020", takes=("epochs", "empty"))
class ProgressiveSampler(LtSampler):
    """Progressively-balanced sampling (Kang et al. 2020): instance- to class-balanced over epochs."""

    name = "progressive"

    def __init__(self, labels, *, epochs: int | None = None, empty: str = "class", **kw) -> None:
        super().__init__(labels, **kw)
        if epochs is None or int(epochs) < 1:
            raise ConfigError("the progressive sampler needs epochs= (the total number of epochs, >= 1)")
        self.epochs = int(epochs)
        self._p_class = instance_probabilities(self.labels, lambda n: np.ones_like(n), empty)

    def alpha(self, epoch: int) -> float:
        """Weight of the class-balanced distribution in ``epoch``: t / (T - 1), clipped to [0, 1]."""
        if self.epochs == 1:
            return 1.0
        return float(min(max(epoch / (self.epochs - 1), 0.0), 1.0))

    def probabilities(self, epoch=None):
        a = self.alpha(self.epoch if epoch is None else int(epoch))
        return (1 - a) / self.n + a * self._p_class


def list_samplers() -> list[str]:
    """Registered sampler names, in registry order."""
    return SAMPLERS.names()


def create_sampler(name: str, labels, *, num_replicas: int = 1, rank: int = 0, seed: int = 0,
                   epochs: int | None = None, num_samples: int | None = None, drop_last: bool = False,
                   empty: str = "class") -> LtSampler:
    """Build sampler ``name`` over training ``labels`` (n, C) for one rank of ``num_replicas``.

    ``num_samples`` is the epoch length over all ranks (default: n images); ``epochs`` is needed by
    ``progressive``. Call ``set_epoch(e)`` before each epoch.
    """
    key = name.replace("-", "_")
    key = SAMPLERS.aliases.get(key, key)
    if key not in SAMPLERS:
        raise SAMPLERS.error(name)
    entry = SAMPLERS.entry(key)
    kw = dict(num_replicas=num_replicas, rank=rank, seed=seed, num_samples=num_samples, drop_last=drop_last)
    kw.update({k: v for k, v in dict(epochs=epochs, empty=empty).items() if k in entry.takes})
    return entry.obj(labels, **kw)
