"""Synthetic CXR-LT: a procedurally drawn chest X-ray data set in the official CXR-LT 2026 layout.

``generate(out_dir)`` writes::

    images/<ImageID>.png                 8-bit grey PNGs (size x size)
    CXRLT_2026_training.csv              ImageID,StudyDate_DICOM,PatientID,<30 classes>  (train+dev+test rows)
    Train_CLASS.txt                      the 30 class names (official byte layout)
    Removal.csv                          ImageID of every dev/test image: never train on these
    CXRLT_2026_DEV_ALL_TASK1.csv         dev evaluation list, organisers' shape (33 fields a line)
    CXRLT_2026_TEST_ALL_TASK1.csv        test evaluation list, organisers' shape
    dev_labels.csv, test_labels.csv      ImageID + 30 classes (what the organisers keep hidden)
    metadata.csv                         ImageID,PatientID,StudyDate_DICOM,split,view,centre,sex,age,age_band
    synth.json                           generation parameters; written last (marks a complete set)

Labels follow the CXR-LT 2026 training prevalences (``lteval.tasks.CXRLT2026_TASK1_TRAIN_COUNTS``)
through a Gaussian-copula factor model (findings that travel together in real reports share
latent factors), patients contribute several images that share anatomy and chronic findings,
and "Normal" excludes every finding. Like the real training file the synthetic one lists the
dev/test images too (with labels), and ``Removal.csv`` names them: readers must drop them.
PatientIDs are written as plain integers (usable for grouping), unlike the official rounded ones.

``metadata.csv`` (one row per image of every split) is drawn *after* the labels from its own
random stream (``SeedSequence([seed, 4000])``), so images and labels are byte-identical with or
without it: view (AP more often with ICU findings, some laterals), centre (``A``; the shifted
test split is centre ``B``), sex and age (per patient; older with age-related findings) and
its band. It exists for ``--metadata``/``--cluster-by``/``--strata-by``; it does not change
the pictures.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lteval.errors import LtevalError, OutputExistsError, UsageError
from lteval.io.atomic import write_json_atomic, write_text_atomic
from lteval.io.jsonfile import read_json
from lteval.io.progress import progress_enabled
from lteval.tasks import CXRLT2026_TASK1_CLASSES, CXRLT2026_TASK1_TRAIN_COUNTS, CXRLT2026_TASK1_TRAIN_N_IMAGES

CLASSES = CXRLT2026_TASK1_CLASSES
C = len(CLASSES)
#: Bumped whenever labels or pictures for a given seed change. It also seeds the image IDs, so a
#: decode cache built from an older version's pictures (keyed on the IDs) is never reused.
#: 2: clearer fracture, nodule, atelectasis, pneumothorax and calcified-density renderings
#:    (benchmarks/synth_learnability.py); per-class positive floors that grow with the split size.
GENERATOR_VERSION = 2
SPLITS = ("train", "dev", "test")
TRAIN_CSV = "CXRLT_2026_training.csv"
CLASS_FILE = "Train_CLASS.txt"
REMOVAL_CSV = "Removal.csv"
EVAL_LISTS = {"dev": "CXRLT_2026_DEV_ALL_TASK1.csv", "test": "CXRLT_2026_TEST_ALL_TASK1.csv"}
LABEL_FILES = {"dev": "dev_labels.csv", "test": "test_labels.csv"}
METADATA_CSV = "metadata.csv"
METADATA_COLUMNS = ("ImageID", "PatientID", "StudyDate_DICOM", "split", "view", "centre", "sex",
                    "age", "age_band")
_ICU = ("Support Devices", "central venous catheter", "pleural effusion", "atelectasis")
_AGED = ("aortic elongation", "aortic atheromatosis", "Kyphosis", "vertebral degenerative changes")
AGE_BANDS = ((18, 40, "18-39"), (40, 60, "40-59"), (60, 80, "60-79"), (80, 200, "80+"))
META = "synth.json"
PARTIAL = ".lteval-synth-partial"

#: Target prevalence of each class (training counts / training images), class order.
PREVALENCE = np.array([CXRLT2026_TASK1_TRAIN_COUNTS[c] / CXRLT2026_TASK1_TRAIN_N_IMAGES for c in CLASSES])

# Latent factors: findings that co-occur in real reports load on a shared factor.
_FACTORS: dict[str, dict[str, float]] = {
    "age": {"aortic elongation": 0.6, "aortic atheromatosis": 0.6, "Kyphosis": 0.45,
            "vertebral degenerative changes": 0.55, "calcified densities": 0.3, "cardiomegaly": 0.35,
            "Emphysema": 0.2, "hyperinflated lung": 0.2},
    "icu": {"Support Devices": 0.75, "central venous catheter": 0.7, "sternotomy": 0.45, "pleural effusion": 0.35,
            "atelectasis": 0.3, "alveolar pattern": 0.3, "Subcutaneous Emphysema": 0.35, "Pneumothorax": 0.3,
            "hypoexpansion": 0.3, "pneumoperitoneo": 0.25, "Hydropneumothorax": 0.3},
    "fluid": {"pleural effusion": 0.55, "atelectasis": 0.45, "cardiomegaly": 0.45, "vascular hilar enlargement": 0.35,
              "alveolar pattern": 0.3, "interstitial pattern": 0.3, "Hydropneumothorax": 0.4},
    "copd": {"Emphysema": 0.7, "hyperinflated lung": 0.7, "bronchiectasis": 0.3, "interstitial pattern": 0.2},
    "air_leak": {"Pneumothorax": 0.6, "Hydropneumothorax": 0.5, "Subcutaneous Emphysema": 0.5, "fracture": 0.3},
    "cardiac_surgery": {"sternotomy": 0.6, "Support Devices": 0.3, "cardiomegaly": 0.3, "aortic elongation": 0.2},
    "neoplasm": {"Nodule": 0.4, "Mass": 0.6, "calcified densities": 0.2, "pleural thickening": 0.2, "atelectasis": 0.15},
}
#: How much of a finding's latent value a patient carries from image to image (chronic ≈ 1).
_PERSISTENCE = {c: 0.55 for c in CLASSES} | {
    c: 0.9 for c in ("aortic elongation", "aortic atheromatosis", "Kyphosis", "vertebral degenerative changes",
                     "sternotomy", "calcified densities", "Emphysema", "hyperinflated lung", "bronchiectasis",
                     "Hernia", "cardiomegaly", "pleural thickening", "hemidiaphragm elevation", "Mass", "Nodule",
                     "interstitial pattern")
} | {"azygos lobe": 0.98, "Normal": 0.5}


def _loadings() -> np.ndarray:
    lam = np.zeros((C, len(_FACTORS)))
    for j, f in enumerate(_FACTORS.values()):
        for name, w in f.items():
            lam[CLASSES.index(name), j] = w
    assert (np.sum(lam ** 2, 1) < 0.95).all()
    return lam


LOADINGS = _loadings()


def _latent(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, C) standard-normal latents with the factor correlation structure (Normal's column independent)."""
    f = rng.standard_normal((n, LOADINGS.shape[1]))
    e = rng.standard_normal((n, C))
    unique = np.sqrt(1.0 - np.sum(LOADINGS ** 2, 1))
    return f @ LOADINGS.T + e * unique


def _thresholds(prevalence: np.ndarray) -> tuple[float, np.ndarray]:
    """Latent thresholds: Normal is ``z0 > t0``; a non-Normal image has finding k when ``z_k > t_k``."""
    from scipy.stats import norm

    p_normal = prevalence[0]
    t = np.empty(C)
    t[0] = norm.isf(p_normal)
    t[1:] = norm.isf(np.clip(prevalence[1:] / (1.0 - p_normal), 1e-9, 1 - 1e-9))
    return float(t[0]), t


def sample_labels(n: int, rng: np.random.Generator, *, patient_of: np.ndarray | None = None,
                  prevalence: np.ndarray = PREVALENCE) -> np.ndarray:
    """(n, C) int8 labels. Marginal prevalences equal ``prevalence`` exactly in expectation.

    Each image's latent is ``sqrt(rho) * patient_latent + sqrt(1 - rho) * own_latent`` per class
    (both drawn from the same factor model, so marginals stay standard normal), with ``rho``
    high for chronic findings. "Normal" images carry no finding; a non-Normal image may carry
    none of the 30 (as in the real file: a finding outside the task).
    """
    if patient_of is None:
        patient_of = np.arange(n)
    n_pat = int(patient_of.max()) + 1 if n else 0
    rho = np.array([_PERSISTENCE[c] for c in CLASSES])
    z_pat = _latent(rng, n_pat)
    z_own = _latent(rng, n)
    z = np.sqrt(rho) * z_pat[patient_of] + np.sqrt(1 - rho) * z_own
    _, t = _thresholds(prevalence)
    y = (z > t).astype(np.int8)
    normal = y[:, 0] == 1
    y[normal, 1:] = 0
    return y


def _enforce_floor(y: np.ndarray, floor: int, rng: np.random.Generator) -> np.ndarray:
    """Give every finding at least ``floor`` positives by adding it to random non-Normal images."""
    y = y.copy()
    if floor <= 0:
        return y
    # Normal first: making an image Normal clears its findings, which the loop below then tops up
    need = floor - int(y[:, 0].sum())
    if need > 0:
        cand = np.flatnonzero(y[:, 0] == 0)
        pick = rng.choice(cand, min(need, len(cand)), replace=False)
        y[pick] = 0
        y[pick, 0] = 1
    for k in range(1, C):
        need = floor - int(y[:, k].sum())
        if need <= 0:
            continue
        cand = np.flatnonzero((y[:, 0] == 0) & (y[:, k] == 0))
        if len(cand) < need:
            continue
        pick = rng.choice(cand, need, replace=False)
        y[pick, k] = 1
    return y


def _patients(n: int, rng: np.random.Generator) -> np.ndarray:
    """Patient index of each of ``n`` images: 1 + Poisson(1.4) images per patient (mean 2.4)."""
    sizes = 1 + rng.poisson(1.4, size=n)
    cum = np.cumsum(sizes)
    k = int(np.searchsorted(cum, n)) + 1
    sizes = sizes[:k]
    sizes[-1] -= cum[k - 1] - n
    return np.repeat(np.arange(k), sizes)


def _image_ids(n: int, rng: np.random.Generator) -> np.ndarray:
    """Official-looking file names: 38-39 digits, an optional ``_2``/``-2``, ``_`` and 6 base-36 chars."""
    digits = rng.integers(0, 10, size=(n, 39))
    digits[:, 0] = rng.integers(1, 10, size=n)
    ndig = np.where(rng.random(n) < 0.6, 39, 38)
    alphabet = np.array(list("0123456789abcdefghijklmnopqrstuvwxyz"))
    tail = alphabet[rng.integers(0, 36, size=(n, 6))]
    form = rng.random(n)
    out, seen = [], set()
    for i in range(n):
        mid = "_2_" if form[i] < 0.03 else "-2_" if form[i] < 0.05 else "_"
        name = "".join(map(str, digits[i, : ndig[i]])) + mid + "".join(tail[i]) + ".png"
        while name in seen:  # astronomically rare; keep names unique
            name = name.replace(".png", "x.png")
        seen.add(name)
        out.append(name)
    return np.array(out)


@dataclass
class _Split:
    name: str
    ids: np.ndarray
    y: np.ndarray
    patient_of: np.ndarray
    patient_ids: np.ndarray   # per image, string
    dates: np.ndarray         # per image, YYYYMMDD string
    patients: np.ndarray      # (n_patients, K) anatomy parameters
    center: dict | None


def _floor(split: str, m: int, min_eval_positives: int) -> int:
    """Fewest positives every class gets in a split of ``m`` images.

    train: 1 per 1,000 images, at least 1 (a 25,000-image set gives every class 25, so after
    an 80 % train split about 20). dev/test: ``min_eval_positives``, or 1 per 400 images when that
    is more (8,000 images: 20), never more than 1 % of the split.
    """
    if split == "train":
        return max(1, m // 1000)
    return min(max(min_eval_positives, m // 400), max(1, m // 100))


def _plan(n: dict[str, int], seed: int, test_shift: float, min_eval_positives: int) -> list[_Split]:
    """Labels, IDs, patients and dates for every split (all in this process, from ``seed``)."""
    from lteval.data.anatomy import center_look, sample_patient
    from lteval.data.render import PATIENT_KEYS

    rng = np.random.default_rng(np.random.SeedSequence([seed, 1000] + ([GENERATOR_VERSION] if GENERATOR_VERSION > 1 else [])))
    total = sum(n.values())
    all_ids = _image_ids(total, rng)
    pid_pool = rng.choice(9_000_000, size=total, replace=False) + 1_000_000
    splits, start, pstart = [], 0, 0
    for si, name in enumerate(SPLITS):
        m = n[name]
        srng = np.random.default_rng(np.random.SeedSequence([seed, 2000 + si]))
        patient_of = _patients(m, srng) if m else np.zeros(0, int)
        n_pat = int(patient_of.max()) + 1 if m else 0
        y = sample_labels(m, srng, patient_of=patient_of)
        if m:
            floor = _floor(name, m, min_eval_positives)
            y = _enforce_floor(y, floor, srng)
        pats = [sample_patient(srng) for _ in range(n_pat)]
        P = np.array([[p[k] for k in PATIENT_KEYS] for p in pats]).reshape(n_pat, len(PATIENT_KEYS))
        pid = pid_pool[pstart:pstart + n_pat].astype(str)
        base_day = srng.integers(0, 8 * 365, size=n_pat)
        days = base_day[patient_of] + srng.integers(0, 400, size=m)
        dates = (np.datetime64("2009-01-01") + days.astype("timedelta64[D]")).astype(str)
        dates = np.array([d.replace("-", "") for d in dates.tolist()], dtype=str)
        ids = all_ids[start:start + m]
        center = center_look(test_shift) if (name == "test" and test_shift > 0) else None
        splits.append(_Split(name, ids, y, patient_of, pid[patient_of] if m else pid, dates, P, center))
        start += m
        pstart += n_pat
    return splits


# ---------------------------------------------------------------------------- image rendering
def _render_chunk(args) -> int:
    """Worker: render and save images ``[lo, hi)`` of one split. Returns how many were written."""
    from PIL import Image

    from lteval.data.render import render

    (img_dir, seed, split_no, lo, ids, y, pat_rows, keys, size, center) = args
    for j, (image_id, lab, prow) in enumerate(zip(ids, y, pat_rows)):
        i = lo + j
        rng = np.random.default_rng(np.random.SeedSequence([seed, 3000 + split_no, i]))
        patient = dict(zip(keys, prow.tolist()))
        extra_unlisted = (lab.sum() == 0)
        img = render(lab.astype(bool), patient, rng, size, center, unlisted=extra_unlisted)
        Image.fromarray(img).save(os.path.join(img_dir, image_id), compress_level=4)
    return len(ids)


def _default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def _params(n_train, n_dev, n_test, size, seed, test_shift, min_eval_positives) -> dict:
    return {"n_train": int(n_train), "n_dev": int(n_dev), "n_test": int(n_test), "size": int(size),
            "seed": int(seed), "test_shift": float(test_shift), "min_eval_positives": int(min_eval_positives),
            "generator_version": GENERATOR_VERSION}


def generate(out_dir: str | Path, *, n_train: int = 20000, n_dev: int = 2000, n_test: int = 2000, size: int = 64,
             seed: int = 0, test_shift: float = 0.5, min_eval_positives: int = 5, workers: int | None = None,
             progress: bool = True, force: bool = False) -> Path:
    """Write a synthetic CXR-LT data set to ``out_dir`` (see the module docstring); return ``out_dir``.

    Deterministic for ``seed`` whatever ``workers`` is. ``test_shift`` in [0, 1] renders the test
    split as a second acquisition centre (exposure, contrast, noise, blur, magnification);
    0 makes test look like train/dev. Every dev/test class gets at least ``min_eval_positives``
    positives, or 1 per 400 images when that is more (never over 1 % of a split), so no class
    has an undefined AP there; train classes get 1 per 1,000 images (see ``_floor``).
    Refuses a non-empty ``out_dir`` unless ``force``.
    """
    for nm, v in (("n_train", n_train), ("n_dev", n_dev), ("n_test", n_test)):
        if int(v) < 0:
            raise UsageError(f"{nm} must be >= 0, got {v}")
    if n_train < 10:
        raise UsageError(f"n_train must be at least 10, got {n_train}")
    if not 16 <= int(size) <= 1024:
        raise UsageError(f"size must be between 16 and 1024 pixels, got {size}")
    if not 0.0 <= float(test_shift) <= 1.0:
        raise UsageError(f"test_shift must be in [0, 1], got {test_shift}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a directory")
    if out.exists() and any(out.iterdir()):
        ours = (out / META).exists() or (out / PARTIAL).exists()
        if not force:
            raise OutputExistsError(f"{out} is not empty; pass --force to overwrite it"
                                    + (" (it holds a synthetic set)" if ours else ""))
        if ours and (out / "images").is_dir():
            shutil.rmtree(out / "images")
        if ours and (out / ".lteval_cache").is_dir():   # decoded copies of the old pictures
            shutil.rmtree(out / ".lteval_cache")
        (out / META).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / PARTIAL).write_text("generation in progress or interrupted\n")
    img_dir = out / "images"
    img_dir.mkdir(exist_ok=True)

    params = _params(n_train, n_dev, n_test, size, seed, test_shift, min_eval_positives)
    splits = _plan({"train": n_train, "dev": n_dev, "test": n_test}, seed, test_shift, min_eval_positives)
    from lteval.data.render import PATIENT_KEYS as keys
    chunk = 200
    jobs = []
    for si, sp in enumerate(splits):
        for lo in range(0, len(sp.ids), chunk):
            hi = min(lo + chunk, len(sp.ids))
            jobs.append((str(img_dir), seed, si, lo, sp.ids[lo:hi], sp.y[lo:hi],
                         sp.patients[sp.patient_of[lo:hi]], keys, int(size), sp.center))
    total = sum(len(sp.ids) for sp in splits)
    workers = _default_workers() if workers is None else max(1, int(workers))
    _run_jobs(jobs, total, min(workers, len(jobs)), progress, "rendering synthetic CXRs")

    _write_tables(out, splits)
    _write_metadata(out, splits, seed)
    meta = dict(params)
    meta["counts"] = {sp.name: {c: int(v) for c, v in zip(CLASSES, sp.y.sum(0))} for sp in splits}
    meta["n_patients"] = {sp.name: int(len(sp.patients)) for sp in splits}
    meta["description"] = "lteval synthetic CXR-LT data set (procedural; not real patients)"
    write_json_atomic(out / META, meta)
    (out / PARTIAL).unlink(missing_ok=True)
    return out


def _run_jobs(jobs, total: int, workers: int, progress: bool, label: str) -> None:
    show = progress_enabled(progress)
    bar = None
    if show:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
        bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                       TimeRemainingColumn(), transient=False)
        bar.start()
        task = bar.add_task(label, total=total)
    try:
        if workers <= 1:
            for j in jobs:
                k = _render_chunk(j)
                if bar:
                    bar.advance(task, k)
        else:
            import multiprocessing as mp
            ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
            with ctx.Pool(workers) as pool:
                for k in pool.imap_unordered(_render_chunk, jobs):
                    if bar:
                        bar.advance(task, k)
    finally:
        if bar:
            bar.stop()


def _csv_line(fields) -> str:
    out = []
    for f in fields:
        f = str(f)
        if any(ch in f for ch in ',"\n\r'):
            f = '"' + f.replace('"', '""') + '"'
        out.append(f)
    return ",".join(out)


def _write_tables(out: Path, splits: list[_Split]) -> None:
    header = ["ImageID", "StudyDate_DICOM", "PatientID", *CLASSES]
    lines = [_csv_line(header)]
    for sp in splits:
        for i in range(len(sp.ids)):
            lines.append(_csv_line([sp.ids[i], sp.dates[i], sp.patient_ids[i], *sp.y[i].tolist()]))
    write_text_atomic(out / TRAIN_CSV, "\n".join(lines) + "\n")
    # Train_CLASS.txt: official bytes (TAB after every name but the last, no final newline)
    write_text_atomic(out / CLASS_FILE, "\t\n".join(CLASSES))
    removal = [sp for sp in splits if sp.name != "train"]
    write_text_atomic(out / REMOVAL_CSV, "\n".join(["ImageID"] + [i for sp in removal for i in sp.ids]) + "\n")
    empties = "," * C
    for sp in removal:
        rows = ["ImageID,StudyDate_DICOM,PatientID" + empties]
        rows += [f"{sp.ids[i]},{sp.dates[i]},{sp.patient_ids[i]}{empties}" for i in range(len(sp.ids))]
        write_text_atomic(out / EVAL_LISTS[sp.name], "\n".join(rows))   # organisers' file: no final newline
        lab = [_csv_line(["ImageID", *CLASSES])]
        lab += [_csv_line([sp.ids[i], *sp.y[i].tolist()]) for i in range(len(sp.ids))]
        write_text_atomic(out / LABEL_FILES[sp.name], "\n".join(lab) + "\n")


def _metadata_rows(splits: list[_Split], seed: int) -> list[list]:
    """Rows of ``metadata.csv``, from their own random stream (labels and images untouched)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 4000]))
    icu = [CLASSES.index(c) for c in _ICU]
    aged = [CLASSES.index(c) for c in _AGED]
    rows = []
    for sp in splits:
        m = len(sp.ids)
        if m == 0:
            continue
        n_pat = int(sp.patient_of.max()) + 1
        sex = np.where(rng.random(n_pat) < 0.5, "F", "M")
        aged_frac = np.bincount(sp.patient_of, weights=sp.y[:, aged].max(axis=1), minlength=n_pat)
        aged_frac /= np.maximum(np.bincount(sp.patient_of, minlength=n_pat), 1)
        base_age = 48 + 16 * rng.standard_normal(n_pat) + 18 * aged_frac
        age = np.clip(np.round(base_age[sp.patient_of] + rng.integers(0, 2, m)), 18, 99).astype(int)
        is_icu = sp.y[:, icu].max(axis=1) == 1
        u = rng.random(m)
        view = np.where(u < np.where(is_icu, 0.7, 0.2), "AP", np.where(rng.random(m) < 0.2, "LAT", "PA"))
        centre = "B" if sp.center is not None else "A"
        band = np.empty(m, dtype=object)
        for lo, hi, name in AGE_BANDS:
            band[(age >= lo) & (age < hi)] = name
        for i in range(m):
            rows.append([sp.ids[i], sp.patient_ids[i], sp.dates[i], sp.name, view[i], centre,
                         sex[sp.patient_of[i]], int(age[i]), band[i]])
    return rows


def _write_metadata(out: Path, splits: list[_Split], seed: int) -> None:
    lines = [_csv_line(METADATA_COLUMNS)] + [_csv_line(r) for r in _metadata_rows(splits, seed)]
    write_text_atomic(out / METADATA_CSV, "\n".join(lines) + "\n")


def ensure_metadata(out_dir: str | Path) -> Path:
    """Write ``metadata.csv`` into a complete synthetic set made before it existed; its path."""
    out = Path(out_dir)
    path = out / METADATA_CSV
    if path.is_file():
        return path
    meta = read_meta(out)
    if meta is None:
        raise UsageError(f"{out} does not hold a complete synthetic set")
    n = {"train": meta["n_train"], "dev": meta["n_dev"], "test": meta["n_test"]}
    splits = _plan(n, int(meta["seed"]), float(meta["test_shift"]), int(meta["min_eval_positives"]))
    _write_metadata(out, splits, int(meta["seed"]))
    return path


def read_meta(out_dir: str | Path) -> dict | None:
    """The ``synth.json`` of a complete synthetic set, or None."""
    p = Path(out_dir) / META
    if not p.is_file() or (Path(out_dir) / PARTIAL).exists():
        return None
    try:
        return read_json(p, "synthetic set's synth.json")
    except LtevalError:
        return None


def ensure_synthetic(out_dir: str | Path, *, n_train: int = 20000, n_dev: int = 2000, n_test: int = 2000,
                     size: int = 64, seed: int = 0, test_shift: float = 0.5, min_eval_positives: int = 5,
                     workers: int | None = None, progress: bool = True) -> Path:
    """Reuse a complete synthetic set in ``out_dir`` made with the same parameters, else generate it.

    An interrupted generation in ``out_dir`` is redone, and so is a set an older generator version
    drew with the same parameters (its pictures are out of date); a complete set with *other* parameters,
    or a directory that holds something else, is an error (nothing is deleted).
    """
    out = Path(out_dir)
    want = _params(n_train, n_dev, n_test, size, seed, test_shift, min_eval_positives)
    meta = read_meta(out)
    if meta is not None:
        have = {k: meta.get(k) for k in want}
        if have == want:
            ensure_metadata(out)   # sets made before metadata.csv existed gain it
            return out
        stale = [k for k in want if have[k] != want[k]] == ["generator_version"]
        if stale:   # our own set from an older renderer: redraw it (same parameters, new pictures)
            return generate(out, n_train=n_train, n_dev=n_dev, n_test=n_test, size=size, seed=seed,
                            test_shift=test_shift, min_eval_positives=min_eval_positives, workers=workers,
                            progress=progress, force=True)
        diff = ", ".join(f"{k}={have[k]!r} (wanted {want[k]!r})" for k in want if have[k] != want[k])
        raise UsageError(f"{out} holds a synthetic set made with other parameters: {diff}; "
                         "choose another directory or delete it")
    force = (out / PARTIAL).exists()
    return generate(out, n_train=n_train, n_dev=n_dev, n_test=n_test, size=size, seed=seed,
                    test_shift=test_shift, min_eval_positives=min_eval_positives, workers=workers,
                    progress=progress, force=force)


__all__ = ["generate", "ensure_synthetic", "sample_labels", "read_meta", "PREVALENCE", "GENERATOR_VERSION",
           "TRAIN_CSV", "CLASS_FILE", "REMOVAL_CSV", "EVAL_LISTS", "LABEL_FILES", "METADATA_CSV",
           "ensure_metadata"]
