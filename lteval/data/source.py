"""One reader for a CXR-LT 2026 data root, real or synthetic.

A root holds (names as the organisers ship them; the synthetic set uses the same)::

    CXRLT_2026_training.csv      ImageID,StudyDate_DICOM,PatientID,<classes as 0/1>
    Removal.csv                  images reserved for evaluation: never trained on (optional)
    Train_CLASS.txt              class names (optional; checked against the task when present)
    *DEV*.csv, *TEST*.csv        evaluation lists (ImageID first; organisers' 33-field shape is fine)
    dev_labels.csv, test_labels.csv   labels of the evaluation lists, when known (synthetic set)
    images/                      the PNGs (or the root itself, or ``image_dir``)

``open_source(root)`` validates everything it reads and reports problems as one
:class:`~lteval.errors.InputError` naming file, line and column.
"""

from __future__ import annotations

import csv
import io
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lteval.data import DataWarning
from lteval.errors import InputError, UsageError, did_you_mean
from lteval.tasks import ID_ALIASES, ID_COLUMN, Task, get_task, parse_class_list

TRAIN_CSV_NAMES = ("CXRLT_2026_training.csv",)
REMOVAL_NAMES = ("Removal.csv", "removal.csv")
CLASS_FILE = "Train_CLASS.txt"
META_COLUMNS = ("StudyDate_DICOM", "PatientID")
EVAL_SPLITS = ("dev", "test")
#: Label files larger than this are parsed with pandas first; any irregularity falls back to the
#: careful reader, which produces the precise error (file, line, column).
FAST_PATH_BYTES = 1_000_000
_SPLIT_KEYS = {"dev": ("DEV", "VAL"), "test": ("TEST",)}


# ----------------------------------------------------------------------------- CSV helpers
def _read_rows(path: Path, what: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line number, fields) rows of a CSV; blank lines skipped; BOM tolerated."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{what} not found", file=str(path)) from None
    except OSError as e:
        raise InputError(f"cannot read {what}: {e.strerror or e}", file=str(path)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InputError(f"{what} is not UTF-8 text (byte {e.start})", file=str(path), line=line) from None
    if "\x00" in text:
        raise InputError(f"{what} contains NUL bytes: is it really a CSV file?", file=str(path))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    try:
        for fields in reader:
            if not fields or all(not f.strip() for f in fields):
                continue
            if header is None:
                header = [f.strip() for f in fields]
                continue
            rows.append((reader.line_num, fields))
    except csv.Error as e:
        raise InputError(f"malformed CSV: {e}", file=str(path), line=reader.line_num) from None
    if header is None:
        raise InputError(f"{what} is empty (expected a header line)", file=str(path), line=1)
    return header, rows


def _id_index(header: list[str], path: Path, what: str) -> int:
    for name in (ID_COLUMN, *ID_ALIASES):
        if name in header:
            return header.index(name)
    raise InputError(f"{what} has no {ID_COLUMN!r} column (header starts {header[:3]!r})"
                     f"{did_you_mean(header[0] if header else '', [ID_COLUMN])}", file=str(path), line=1)


def _class_columns(header: list[str], task: Task, path: Path, skip: set[int]) -> list[int]:
    """Column index of each task class (task order); a class-column mismatch is one clear error."""
    present = {h: i for i, h in enumerate(header) if i not in skip and h and h not in META_COLUMNS}
    missing = [c for c in task.classes if c not in present]
    extra = [h for h in present if h not in task.classes]
    if missing or extra:
        parts = []
        if missing:
            hints = "; ".join(f"{m!r}{did_you_mean(m, extra)}" for m in missing[:5])
            parts.append(f"missing class column(s) {hints}" + (" ..." if len(missing) > 5 else ""))
        if extra:
            parts.append(f"unexpected column(s) {', '.join(map(repr, extra[:5]))}" + (" ..." if len(extra) > 5 else ""))
        raise InputError(f"class columns do not match task {task.name} ({task.n_classes} classes): "
                         + "; ".join(parts) + ". Class names are exact strings (case and spelling matter).",
                         file=str(path), line=1)
    return [present[c] for c in task.classes]


@dataclass
class LabelFile:
    ids: np.ndarray          # (n,) str
    y: np.ndarray            # (n, C) int8
    meta: dict[str, np.ndarray] = field(default_factory=dict)   # StudyDate_DICOM / PatientID when present


def _fast_label_csv(path: Path, task: Task) -> LabelFile | None:
    """pandas fast path for a well-formed file; None whenever anything looks off (the careful path decides)."""
    try:
        import pandas as pd

        head = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
        header = [str(h).strip() for h in head]
        id_col = next((h for h in (ID_COLUMN, *ID_ALIASES) if h in header), None)
        if (id_col is None or header != list(head) or len(set(header)) != len(header)
                or set(task.classes) - set(header) or set(header) - set(task.classes) - {id_col, *META_COLUMNS}):
            return None
        dtypes = {c: "int8" for c in task.classes} | {h: str for h in header if h not in task.classes}
        df = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_filter=False, encoding="utf-8-sig",
                         engine="c")
    except Exception:
        return None
    ids = df[id_col].str.strip()
    if len(df) == 0 or (ids == "").any() or ids.duplicated().any():
        return None
    y = df[list(task.classes)].to_numpy(dtype=np.int8)
    if ((y != 0) & (y != 1)).any():
        return None
    meta = {m: df[m].str.strip().to_numpy(dtype=str) for m in META_COLUMNS if m in header}
    return LabelFile(ids.to_numpy(dtype=str), y, meta)


def read_label_csv(path: str | Path, task: Task, what: str = "label file") -> LabelFile:
    """ImageID + 0/1 class columns (+ optional StudyDate_DICOM, PatientID); every cell validated."""
    path = Path(path)
    if path.is_file() and path.stat().st_size > FAST_PATH_BYTES:   # big files: try the fast path first
        fast = _fast_label_csv(path, task)
        if fast is not None:
            return fast
    header, rows = _read_rows(path, what)
    id_i = _id_index(header, path, what)
    cols = _class_columns(header, task, path, {id_i})
    meta_idx = {m: header.index(m) for m in META_COLUMNS if m in header}
    n, C = len(rows), task.n_classes
    ids = np.empty(n, dtype=object)
    y = np.empty((n, C), dtype=np.int8)
    meta = {m: np.empty(n, dtype=object) for m in meta_idx}
    seen: dict[str, int] = {}
    width = len(header)
    cells = []
    for r, (line, f) in enumerate(rows):
        if len(f) != width:
            raise InputError(f"expected {width} fields (as in the header), found {len(f)}", file=str(path), line=line)
        image_id = f[id_i].strip()
        if not image_id:
            raise InputError("empty image ID", file=str(path), line=line, column=header[id_i])
        if image_id in seen:
            raise InputError(f"image ID {image_id!r} appears twice (first on line {seen[image_id]})",
                             file=str(path), line=line, column=header[id_i])
        seen[image_id] = line
        ids[r] = image_id
        cells.append([f[ci] for ci in cols])
        for m, mi in meta_idx.items():
            meta[m][r] = f[mi].strip()
    if n:
        vals = np.char.strip(np.array(cells, dtype=str))
        one = (vals == "1") | (vals == "1.0")
        bad = ~(one | (vals == "0") | (vals == "0.0"))
        if bad.any():
            r, k = (int(v[0]) for v in np.nonzero(bad))
            raise InputError(f"expected 0 or 1, found {rows[r][1][cols[k]]!r}", file=str(path), line=rows[r][0],
                             column=header[cols[k]])
        y[:] = one
    return LabelFile(ids.astype(str) if n else np.array([], dtype=str), y, {m: v.astype(str) for m, v in meta.items()})


def read_id_list(path: str | Path, what: str = "evaluation list") -> np.ndarray:
    """Image IDs from the first (``ImageID``) column of a CSV such as the organisers' evaluation lists.

    Other columns (dates, PatientIDs, the 30 empty trailing fields) are ignored; a file
    without a header (first cell looks like an image name) is accepted; duplicates are dropped
    with a warning.
    """
    path = Path(path)
    header, rows = _read_rows(path, what)
    if header and re.search(r"\.(png|jpe?g|dcm)$", header[0], re.I):   # headerless list
        rows = [(1, header)] + rows
        id_i = 0
    elif len([h for h in header if h]) == 1 and header[0] and not any(h in header for h in (ID_COLUMN, *ID_ALIASES)):
        id_i = 0                                                        # one column, any name
    else:
        id_i = _id_index(header, path, what)
    ids, seen, dupes = [], set(), 0
    for line, f in rows:
        if len(f) <= id_i or not f[id_i].strip():
            raise InputError("empty image ID", file=str(path), line=line, column=ID_COLUMN)
        v = f[id_i].strip()
        if v in seen:
            dupes += 1
            continue
        seen.add(v)
        ids.append(v)
    if dupes:
        warnings.warn(f"{path}: {dupes} duplicate image ID(s) ignored", DataWarning, stacklevel=2)
    return np.array(ids, dtype=str)


# ----------------------------------------------------------------------------- patient IDs
_ROUNDED = re.compile(r"^[+-]?\d(\.\d{0,6})?[eE][+-]?\d+$")


def groups_usable(groups, n_images: int | None = None) -> tuple[bool, str]:
    """Whether patient IDs can group images, and why not.

    Unusable: missing values; values in rounded scientific notation (the official file's
    ``1.90E+38`` keeps 3 significant digits, so different patients share a value); or
    implausibly few distinct values (more than 20 images per ID on average).
    """
    if groups is None:
        return False, "no PatientID column"
    g = np.asarray(groups).astype(str)
    n = len(g) if n_images is None else n_images
    if n == 0:
        return False, "no images"
    empty = int(np.sum(np.char.strip(g) == ""))
    if empty:
        return False, f"PatientID is empty on {empty} row(s)"
    sample = g if len(g) <= 5000 else g[np.linspace(0, len(g) - 1, 5000).astype(int)]
    rounded = np.mean([bool(_ROUNDED.match(s.strip())) for s in sample])
    if rounded >= 0.5:
        ex = str(next(s for s in sample if _ROUNDED.match(s.strip())))
        return False, (f"PatientID values are rounded scientific notation (e.g. {ex!r}): distinct patients "
                       "share a value, so grouping by them would merge unrelated patients")
    n_unique = len(np.unique(g))
    if n >= 100 and n_unique * 20 < n:
        return False, f"only {n_unique} distinct PatientIDs for {n} images (over 20 images per patient)"
    return True, f"{n_unique} patients"


# ----------------------------------------------------------------------------- the source
@dataclass
class DataSource:
    """A data root: training labels (Removal.csv and evaluation images dropped), evaluation lists, images."""

    root: Path
    task: Task
    image_dir: Path
    train_ids: np.ndarray
    train_y: np.ndarray
    train_groups: np.ndarray | None
    group_note: str
    n_removed: int
    n_eval_overlap: int
    train_csv: Path
    eval_files: dict[str, Path]
    label_files: dict[str, Path]
    synthetic: dict | None = None
    _eval_cache: dict = field(default_factory=dict, repr=False)

    def has_split(self, split: str) -> bool:
        if split == "train":
            return True
        self._check_split(split)
        return split in self.eval_files

    def _check_split(self, split: str) -> None:
        if split not in EVAL_SPLITS:
            raise UsageError(f"unknown evaluation split {split!r}: expected one of {', '.join(EVAL_SPLITS)}"
                             f"{did_you_mean(split, EVAL_SPLITS)}")

    def eval_ids(self, split: str) -> np.ndarray:
        """Image IDs of the dev or test evaluation list (empty when this root has none)."""
        self._check_split(split)
        if split not in self.eval_files:
            return np.array([], dtype=str)
        key = ("ids", split)
        if key not in self._eval_cache:
            self._eval_cache[key] = read_id_list(self.eval_files[split], f"{split} evaluation list")
        return self._eval_cache[key]

    def eval_labels(self, split: str) -> np.ndarray | None:
        """int8 (n, C) labels aligned with ``eval_ids(split)``, or None when unknown."""
        self._check_split(split)
        if split not in self.label_files or split not in self.eval_files:
            return None
        key = ("y", split)
        if key not in self._eval_cache:
            lf = read_label_csv(self.label_files[split], self.task, f"{split} labels")
            ids = self.eval_ids(split)
            pos = {v: i for i, v in enumerate(lf.ids)}
            missing = [v for v in ids if v not in pos]
            if missing:
                raise InputError(f"{len(missing)} image(s) of the {split} evaluation list have no labels, "
                                 f"e.g. {str(missing[0])!r}", file=str(self.label_files[split]))
            self._eval_cache[key] = lf.y[[pos[v] for v in ids]]
        return self._eval_cache[key]

    def image_path(self, image_id: str) -> Path:
        return self.image_dir / image_id

    def check_images(self, ids) -> None:
        """Raise one InputError listing every image of ``ids`` that does not exist."""
        ids = [str(i) for i in ids]
        try:
            present = set(os.listdir(self.image_dir))
        except OSError as e:
            raise UsageError(f"cannot list the image folder: {e.strerror or e}", file=str(self.image_dir)) from None
        missing = [i for i in ids if i not in present and not (("/" in i or os.sep in i)
                                                               and self.image_path(i).is_file())]
        if missing:
            shown = ", ".join(missing[:10]) + (f", ... ({len(missing) - 10} more)" if len(missing) > 10 else "")
            raise InputError(f"{len(missing)} of {len(ids)} image(s) named in the labels are missing from "
                             f"the image folder: {shown}. Pass --image-dir if the images live elsewhere.",
                             file=str(self.image_dir))

    def all_ids(self) -> np.ndarray:
        """Training IDs followed by every evaluation ID (the set a cache covers), no duplicates."""
        parts = [self.train_ids] + [self.eval_ids(s) for s in EVAL_SPLITS if s in self.eval_files]
        ids = np.concatenate(parts) if parts else np.array([], dtype=str)
        _, first = np.unique(ids, return_index=True)
        return ids[np.sort(first)]

    def summary(self) -> dict:
        out = {"root": str(self.root), "task": self.task.name, "image_dir": str(self.image_dir),
               "n_train": int(len(self.train_ids)), "n_removed": int(self.n_removed),
               "n_eval_overlap": int(self.n_eval_overlap),
               "patient_grouping": self.train_groups is not None, "patient_note": self.group_note,
               "synthetic": self.synthetic is not None}
        for s in EVAL_SPLITS:
            out[f"n_{s}"] = int(len(self.eval_ids(s)))
            out[f"{s}_labels"] = self.eval_labels(s) is not None if s in self.eval_files else False
        return out


def _find_eval_list(root: Path, split: str, task: Task, exclude: set[str]) -> Path | None:
    cands = []
    for p in sorted(root.glob("*.csv")):
        up = p.name.upper()
        if p.name in exclude or up.endswith("_LABELS.CSV"):
            continue
        if any(k in up for k in _SPLIT_KEYS[split]):
            cands.append(p)
    if not cands:
        return None
    tag = "TASK2" if task.name.endswith("task2") else "TASK1"
    tagged = [p for p in cands if tag in p.name.upper()]
    return (tagged or cands)[0]


def open_source(root: str | Path, *, image_dir: str | Path | None = None, task: str | Task = "cxrlt2026-task1",
                train_csv: str | Path | None = None) -> DataSource:
    """Open a real or synthetic CXR-LT root (see the module docstring). Validates the label files."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"data root {root} is not a directory")
    task = get_task(task)
    # training CSV
    if train_csv is not None:
        tpath = Path(train_csv) if Path(train_csv).is_absolute() else root / train_csv
    else:
        tpath = next((root / n for n in TRAIN_CSV_NAMES if (root / n).is_file()), None)
        if tpath is None:
            found = sorted(p for p in root.glob("*.csv") if "train" in p.name.lower())
            if len(found) != 1:
                raise UsageError(f"no training label file in {root}: expected {TRAIN_CSV_NAMES[0]}"
                                 + (f" (candidates: {', '.join(p.name for p in found)}; pass train_csv)" if found
                                    else ""))
            tpath = found[0]
    # class file, when present, must agree with the task
    cpath = root / CLASS_FILE
    if cpath.is_file():
        try:
            names = parse_class_list(cpath.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read class file: {e}", file=str(cpath)) from None
        if tuple(names) != task.classes and set(names) != set(task.classes):
            miss = [c for c in task.classes if c not in names]
            extra = [c for c in names if c not in task.classes]
            raise InputError(f"class file does not match task {task.name}: missing {miss[:5]}, unexpected "
                             f"{extra[:5]}", file=str(cpath))
    lf = read_label_csv(tpath, task, "training label file")
    ids, y = lf.ids, lf.y
    # Removal.csv and evaluation images are never trained on
    rpath = next((root / n for n in REMOVAL_NAMES if (root / n).is_file()), None)
    removed = set(read_id_list(rpath, "Removal.csv").tolist()) if rpath else set()
    exclude = {tpath.name, *(REMOVAL_NAMES), CLASS_FILE}
    eval_files = {}
    for s in EVAL_SPLITS:
        p = _find_eval_list(root, s, task, exclude | {q.name for q in eval_files.values()})
        if p is not None:
            eval_files[s] = p
    label_files = {s: root / f"{s}_labels.csv" for s in EVAL_SPLITS if (root / f"{s}_labels.csv").is_file()}
    eval_ids = set()
    for s, p in eval_files.items():
        eval_ids.update(read_id_list(p, f"{s} evaluation list").tolist())
    in_removal = np.isin(ids, list(removed)) if removed else np.zeros(len(ids), bool)
    in_eval = np.isin(ids, list(eval_ids)) & ~in_removal if eval_ids else np.zeros(len(ids), bool)
    keep = ~(in_removal | in_eval)
    n_removed, n_overlap = int(in_removal.sum()), int(in_eval.sum())
    if n_overlap:
        warnings.warn(f"{n_overlap} training row(s) are on an evaluation list but not in Removal.csv; "
                      "they were dropped from training as well", DataWarning, stacklevel=2)
    pids = lf.meta.get("PatientID")
    usable, note = groups_usable(pids[keep] if pids is not None else None)
    # image folder
    if image_dir is not None:
        idir = Path(image_dir) if Path(image_dir).is_absolute() else root / image_dir
        if not idir.is_dir():
            raise UsageError(f"image folder {idir} is not a directory")
    else:
        idir = root / "images" if (root / "images").is_dir() else root
    synthetic = None
    if (root / "synth.json").is_file():
        from lteval.data.synth import read_meta
        synthetic = read_meta(root)
    return DataSource(root=root, task=task, image_dir=idir, train_ids=ids[keep], train_y=y[keep],
                      train_groups=pids[keep] if usable else None, group_note=note, n_removed=n_removed,
                      n_eval_overlap=n_overlap, train_csv=tpath, eval_files=eval_files,
                      label_files=label_files, synthetic=synthetic)


__all__ = ["open_source", "DataSource", "read_label_csv", "read_id_list", "groups_usable", "LabelFile"]
