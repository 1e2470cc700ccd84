"""Tasks: an ordered list of class names plus the ID column that joins files.

A task is what every reader, metric table and validator agrees on. Two are
built in (``cxrlt2026-task1``, ``cxrlt2026-task2``); any other long-tailed
multi-label benchmark is described by a class-list file (one name a line).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lteval.errors import UsageError, did_you_mean

#: Task 1 classes in the official column order (``Train_CLASS.txt``). Exact strings.
CXRLT2026_TASK1_CLASSES: tuple[str, ...] = (
    "Normal", "aortic elongation", "cardiomegaly", "pleural effusion", "Nodule",
    "atelectasis", "pleural thickening", "aortic atheromatosis", "Support Devices",
    "alveolar pattern", "fracture", "Hernia", "Emphysema", "azygos lobe",
    "Hydropneumothorax", "Kyphosis", "Mass", "Pneumothorax", "Subcutaneous Emphysema",
    "pneumoperitoneo", "vascular hilar enlargement", "vertebral degenerative changes",
    "hyperinflated lung", "interstitial pattern", "central venous catheter",
    "hypoexpansion", "bronchiectasis", "hemidiaphragm elevation", "sternotomy",
    "calcified densities",
)

#: Task 2 (unseen findings) classes, ``Eval_Class_Task2.txt`` order.
CXRLT2026_TASK2_CLASSES: tuple[str, ...] = (
    "Scoliosis", "Osteopenia", "Bulla", "Infarction", "Adenopathy", "goiter",
)

#: Training label counts of one patient-grouped 90 % split of the CXR-LT 2026
#: training file (128,815 images), as published by a participating team and
#: collected in the project's reference notes (``shared/cxr-lt-2026.md``).
#: Used as the default head / medium / tail grouping for ``cxrlt2026-task1``.
CXRLT2026_TASK1_TRAIN_COUNTS: dict[str, int] = {
    "Normal": 43585, "pleural effusion": 13277, "cardiomegaly": 11537,
    "Support Devices": 8996, "aortic elongation": 8856, "Nodule": 8248,
    "interstitial pattern": 7197, "alveolar pattern": 7161, "atelectasis": 7129,
    "hyperinflated lung": 5439, "central venous catheter": 5009,
    "vertebral degenerative changes": 4591, "vascular hilar enlargement": 4544,
    "pleural thickening": 3968, "fracture": 3549, "hypoexpansion": 3216,
    "Kyphosis": 3214, "hemidiaphragm elevation": 2754, "sternotomy": 2387,
    "bronchiectasis": 2068, "Hernia": 1719, "aortic atheromatosis": 1508,
    "Emphysema": 1323, "calcified densities": 875, "Pneumothorax": 455,
    "azygos lobe": 349, "Mass": 307, "Subcutaneous Emphysema": 181,
    "pneumoperitoneo": 56, "Hydropneumothorax": 45,
}
CXRLT2026_TASK1_TRAIN_N_IMAGES = 128_815
CXRLT2026_COUNTS_SOURCE = (
    "CXR-LT 2026 training labels, one patient-grouped 90% split (128,815 images), "
    "as published by a participating team (arXiv 2603.02294)"
)

ID_COLUMN = "ImageID"
ID_ALIASES: tuple[str, ...] = ("dicom_id",)


@dataclass(frozen=True)
class TrainCounts:
    """Per-class positive counts over ``n_images`` training images, and where they came from."""

    counts: dict[str, int]
    n_images: int
    source: str

    def prevalence(self, classes) -> list[float]:
        return [self.counts[c] / self.n_images for c in classes]


@dataclass(frozen=True)
class Task:
    """A benchmark task: a name, ordered class names and the ID column (plus aliases)."""

    name: str
    classes: tuple[str, ...]
    id_column: str = ID_COLUMN
    id_aliases: tuple[str, ...] = ID_ALIASES
    default_counts: TrainCounts | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.classes:
            raise UsageError(f"task {self.name!r} has no classes")
        seen: set[str] = set()
        for c in self.classes:
            if c in seen:
                raise UsageError(f"task {self.name!r} lists class {c!r} twice")
            seen.add(c)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def class_index(self, name: str) -> int:
        try:
            return self.classes.index(name)
        except ValueError:
            raise UsageError(f"{name!r} is not a class of task {self.name}"
                             f"{did_you_mean(name, self.classes)}") from None


BUILTIN_TASKS: dict[str, Task] = {
    "cxrlt2026-task1": Task(
        "cxrlt2026-task1", CXRLT2026_TASK1_CLASSES,
        default_counts=TrainCounts(dict(CXRLT2026_TASK1_TRAIN_COUNTS),
                                   CXRLT2026_TASK1_TRAIN_N_IMAGES, CXRLT2026_COUNTS_SOURCE),
    ),
    "cxrlt2026-task2": Task("cxrlt2026-task2", CXRLT2026_TASK2_CLASSES),
}
DEFAULT_TASK = "cxrlt2026-task1"


def parse_class_list(text: str) -> tuple[str, ...]:
    """Class names from a class-list file's text.

    One name a line; surrounding whitespace (the official file ends every line
    with a TAB), a BOM, blank lines and a missing final newline are tolerated.
    Names are otherwise kept exactly (case and inner spaces matter).
    """
    text = text.lstrip("\ufeff")
    names = [line.strip() for line in text.splitlines()]
    return tuple(n for n in names if n)


def read_class_file(path: str | Path) -> Task:
    """A :class:`Task` from a class-list file; its name is the file's stem."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read class-list file: {e.strerror or e}", file=str(p)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("class-list file is not UTF-8 text", file=str(p)) from None
    classes = parse_class_list(text)
    if not classes:
        raise UsageError("class-list file names no classes (expected one name a line)", file=str(p))
    dupes = sorted({c for c in classes if classes.count(c) > 1})
    if dupes:
        raise UsageError(f"class-list file names {dupes[0]!r} more than once", file=str(p))
    return Task(p.stem, classes)


def get_task(name_or_path: str | Path | Task | None = None) -> Task:
    """A built-in task by name, or a task read from a class-list file path."""
    if isinstance(name_or_path, Task):
        return name_or_path
    if name_or_path is None:
        name_or_path = DEFAULT_TASK
    key = str(name_or_path)
    if key in BUILTIN_TASKS:
        return BUILTIN_TASKS[key]
    if Path(key).is_file():
        return read_class_file(key)
    raise UsageError(
        f"unknown task {key!r}: expected one of {', '.join(BUILTIN_TASKS)} "
        f"or the path of a class-list file{did_you_mean(key, list(BUILTIN_TASKS))}"
    )


__all__ = [
    "Task", "TrainCounts", "get_task", "read_class_file", "parse_class_list", "BUILTIN_TASKS",
    "CXRLT2026_TASK1_CLASSES", "CXRLT2026_TASK2_CLASSES", "CXRLT2026_TASK1_TRAIN_COUNTS",
    "ID_COLUMN", "ID_ALIASES", "DEFAULT_TASK",
]
