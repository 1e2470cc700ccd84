"""Head / medium / tail groups of classes by training prevalence.

prevalence_c = (training images with class c) / (training images).
Defaults follow CXR-LT 2024: head > 10 %, tail < 1 %, medium otherwise.
Counts come from a training labels CSV, a counts file, or the task's built-in
default (``cxrlt2026-task1`` ships the published training counts).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lteval.errors import InputError, UsageError, did_you_mean
from lteval.io.jsonfile import parse_json
from lteval.tasks import Task, TrainCounts

GROUP_NAMES = ("head", "medium", "tail")


@dataclass(frozen=True)
class Groups:
    """Class names per group, plus the prevalences and thresholds that made them."""

    members: dict[str, tuple[str, ...]]
    prevalence: dict[str, float]
    head_threshold: float
    tail_threshold: float
    source: str

    def indices(self, classes) -> dict[str, np.ndarray]:
        pos = {c: i for i, c in enumerate(classes)}
        return {g: np.array([pos[c] for c in m], dtype=np.int64) for g, m in self.members.items()}


def assign_groups(counts: TrainCounts, classes, *, head: float = 0.10, tail: float = 0.01) -> Groups:
    """Split ``classes`` into head (> ``head``), tail (< ``tail``) and medium by prevalence."""
    if not (0 <= tail <= head <= 1):
        raise UsageError(f"group thresholds must satisfy 0 <= tail <= head <= 1, got tail={tail}, head={head}")
    if counts.n_images <= 0:
        raise InputError("training counts cover no images")
    missing = [c for c in classes if c not in counts.counts]
    if missing:
        raise InputError(f"training counts lack class {missing[0]!r}"
                         f"{did_you_mean(missing[0], list(counts.counts))}")
    prev = {c: counts.counts[c] / counts.n_images for c in classes}
    order = sorted(classes, key=lambda c: -prev[c])
    members = {
        "head": tuple(c for c in order if prev[c] > head),
        "medium": tuple(c for c in order if tail <= prev[c] <= head),
        "tail": tuple(c for c in order if prev[c] < tail),
    }
    return Groups(members, prev, head, tail, counts.source)


def counts_from_labels(y: np.ndarray, classes, source: str) -> TrainCounts:
    """TrainCounts from a training label matrix (n, C)."""
    y = np.asarray(y)
    return TrainCounts({c: int(v) for c, v in zip(classes, y.sum(axis=0))}, int(y.shape[0]), source)


def read_counts_file(path: str | Path, task: Task) -> TrainCounts:
    """Read training counts from JSON ``{"n_images": N, "counts": {class: n}}`` or a CSV.

    The CSV has a header ``class,count`` and one row per class, plus one row
    ``__total__,N`` giving the number of training images.
    """
    p = Path(path)
    if not p.is_file():
        raise UsageError("counts file does not exist", file=str(p))
    text = p.read_text(encoding="utf-8-sig", errors="replace")
    counts: dict[str, int] = {}
    n_images = None
    if p.suffix.lower() == ".json":
        obj = parse_json(text, "counts file", file=str(p))
        try:
            n_images = int(obj["n_images"])
            counts = {str(k): int(v) for k, v in obj["counts"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise InputError('expected JSON {"n_images": int, "counts": {class: int}}'
                             f" ({type(e).__name__}: {e})", file=str(p)) from None
    else:
        rows = list(csv.reader(text.splitlines()))
        if not rows or [h.strip().lower() for h in rows[0][:2]] != ["class", "count"]:
            raise InputError("expected a header 'class,count'", file=str(p), line=1)
        for i, row in enumerate(rows[1:], start=2):
            if not row or not "".join(row).strip():
                continue
            if len(row) != 2:
                raise InputError(f"expected 2 fields (class,count), got {len(row)}", file=str(p), line=i)
            name, val = row[0], row[1].strip()
            try:
                v = int(val)
            except ValueError:
                raise InputError(f"count {val!r} is not an integer", file=str(p), line=i,
                                 column="count") from None
            if v < 0:
                raise InputError("count must be >= 0", file=str(p), line=i, column="count")
            if name == "__total__":
                n_images = v
            else:
                counts[name] = v
        if n_images is None:
            raise InputError("missing the row '__total__,N' with the number of training images",
                             file=str(p))
    missing = [c for c in task.classes if c not in counts]
    if missing:
        raise InputError(f"no count for class {missing[0]!r}"
                         f"{did_you_mean(missing[0], list(counts))}", file=str(p))
    return TrainCounts(counts, n_images, f"counts file {p}")
