"""Synthetic CXR-LT generator: determinism, prevalences, layout, visibility of every finding."""

from __future__ import annotations

import csv
import hashlib
import json
import re

import numpy as np
import pytest

from lteval.data import render as R
from lteval.data import synth
from lteval.errors import OutputExistsError, UsageError
from lteval.tasks import CXRLT2026_TASK1_CLASSES as CLASSES

TINY = dict(n_train=200, n_dev=60, n_test=60, size=32, seed=3, progress=False)


def _digest(root) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = hashlib.sha1(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return synth.generate(tmp_path_factory.mktemp("synth") / "set", workers=1, **TINY)


def test_deterministic_and_independent_of_workers(tiny, tmp_path):
    again = synth.generate(tmp_path / "again", workers=2, **TINY)
    assert _digest(tiny) == _digest(again)
    other = synth.generate(tmp_path / "other", workers=1, **(TINY | {"seed": 4}))
    assert _digest(other) != _digest(tiny)


def test_layout_matches_the_official_files(tiny):
    names = {p.name for p in tiny.iterdir()}
    assert {"images", "CXRLT_2026_training.csv", "Train_CLASS.txt", "Removal.csv", "CXRLT_2026_DEV_ALL_TASK1.csv",
            "CXRLT_2026_TEST_ALL_TASK1.csv", "dev_labels.csv", "test_labels.csv", "synth.json"} <= names
    assert not (tiny / synth.PARTIAL).exists()
    # Train_CLASS.txt: official bytes (TAB after each name but the last, no final newline)
    assert (tiny / "Train_CLASS.txt").read_bytes() == "\t\n".join(CLASSES).encode()
    with open(tiny / "CXRLT_2026_training.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["ImageID", "StudyDate_DICOM", "PatientID", *CLASSES]
    assert len(rows) - 1 == 200 + 60 + 60
    for r in rows[1:]:
        assert set(r[3:]) <= {"0", "1"}
        assert re.fullmatch(r"\d{8}", r[1])
        assert re.fullmatch(r"\d{7}", r[2])                        # usable integer PatientIDs
        assert re.fullmatch(r"\d{38,39}(_2_|-2_|_)[0-9a-z]{6}\.png", r[0])
    # evaluation lists in the organisers' shape: 33 fields a line, 30 empty, no final newline
    for split, n in (("dev", 60), ("test", 60)):
        raw = (tiny / synth.EVAL_LISTS[split]).read_text()
        assert not raw.endswith("\n")
        lines = raw.split("\n")
        assert lines[0] == "ImageID,StudyDate_DICOM,PatientID" + "," * 30
        assert len(lines) == n + 1
        for ln in lines:
            f = ln.split(",")
            assert len(f) == 33 and f[3:] == [""] * 30
    removal = (tiny / "Removal.csv").read_text().split()
    dev = [ln.split(",")[0] for ln in (tiny / synth.EVAL_LISTS["dev"]).read_text().split("\n")[1:]]
    test = [ln.split(",")[0] for ln in (tiny / synth.EVAL_LISTS["test"]).read_text().split("\n")[1:]]
    assert removal == ["ImageID", *dev, *test]
    ids = [r[0] for r in rows[1:]]
    assert len(set(ids)) == len(ids)
    assert sorted(p.name for p in (tiny / "images").iterdir()) == sorted(ids)


def test_images_are_grey_pngs_of_the_requested_size(tiny):
    from PIL import Image

    for p in list((tiny / "images").iterdir())[:20]:
        with Image.open(p) as im:
            assert im.mode == "L" and im.size == (32, 32)
            a = np.asarray(im)
        assert a.std() > 10  # not blank


def test_meta_and_patients(tiny):
    meta = json.loads((tiny / "synth.json").read_text())
    assert meta["n_train"] == 200 and meta["size"] == 32 and meta["seed"] == 3
    with open(tiny / "CXRLT_2026_training.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    train, dev, test = rows[:200], rows[200:260], rows[260:]
    pats = [{r["PatientID"] for r in part} for part in (train, dev, test)]
    assert not (pats[0] & pats[1]) and not (pats[0] & pats[2]) and not (pats[1] & pats[2])
    assert 1.6 < len(train) / len(pats[0]) < 3.5   # several images per patient (mean 2.4)
    # counts in synth.json agree with the CSV
    assert meta["counts"]["train"]["Normal"] == sum(int(r["Normal"]) for r in train)


def test_eval_splits_have_every_class(tiny):
    for split in ("dev", "test"):
        with open(tiny / synth.LABEL_FILES[split], newline="") as f:
            rows = list(csv.DictReader(f))
        for c in CLASSES:
            assert sum(int(r[c]) for r in rows) >= 1, (split, c)   # floor = min(5, n // 100) = 1 here


def test_prevalences_match_within_sampling_error():
    n = 150_000
    y = synth.sample_labels(n, np.random.default_rng(0))
    p = synth.PREVALENCE
    z = (y.mean(0) - p) / np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(z) < 4.5), dict(zip(CLASSES, np.round(z, 1)))
    # with patients (clustered draws): looser, design effect of repeated images per patient
    pat = synth._patients(n, np.random.default_rng(1))
    y2 = synth.sample_labels(n, np.random.default_rng(2), patient_of=pat)
    z2 = (y2.mean(0) - p) / np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(z2) < 4.5 * np.sqrt(2.5)), dict(zip(CLASSES, np.round(z2, 1)))


def test_label_structure():
    y = synth.sample_labels(60_000, np.random.default_rng(5))
    normal = y[:, 0] == 1
    assert normal.any() and not y[normal, 1:].any()             # Normal excludes every finding

    def phi(a, b):
        return np.corrcoef(y[:, CLASSES.index(a)], y[:, CLASSES.index(b)])[0, 1]

    assert phi("Support Devices", "central venous catheter") > 0.1
    assert phi("pleural effusion", "atelectasis") > 0.05
    assert phi("Emphysema", "hyperinflated lung") > 0.1
    assert abs(phi("Nodule", "fracture")) < 0.05


def test_patient_images_share_chronic_findings():
    n = 40_000
    pat = synth._patients(n, np.random.default_rng(1))
    y = synth.sample_labels(n, np.random.default_rng(2), patient_of=pat)
    k = CLASSES.index("aortic elongation")
    first = np.r_[True, pat[1:] != pat[:-1]]
    a, b = y[:-1, k][~first[1:]], y[1:, k][~first[1:]]  # consecutive images of the same patient
    assert np.corrcoef(a, b)[0, 1] > 0.3


@pytest.mark.parametrize("seed", [0, 1])
def test_every_finding_is_visible(seed):
    patient = R.sample_patient(np.random.default_rng([seed, 9]))
    base = R.render(np.zeros(30, bool), patient, np.random.default_rng(seed), 64).astype(int)
    for k, c in enumerate(CLASSES):
        lab = np.zeros(30, bool)
        lab[k] = True
        img = R.render(lab, patient, np.random.default_rng(seed), 64, severity={c: 0.6}).astype(int)
        changed = int((np.abs(img - base) > 20).sum())
        if c == "Normal":
            assert changed == 0
        else:
            assert changed >= 4, (c, changed)
    assert set(R.FINDING_DOCS) == set(CLASSES)


def test_test_shift_changes_only_the_test_split(tmp_path):
    kw = dict(n_train=20, n_dev=10, n_test=10, size=32, seed=1, progress=False, workers=1)
    a = synth.generate(tmp_path / "a", test_shift=0.0, **kw)
    b = synth.generate(tmp_path / "b", test_shift=1.0, **kw)
    da, db = _digest(a), _digest(b)
    ids = {s: (a / synth.LABEL_FILES[s]).read_text().split("\n")[1:-1] for s in ("dev", "test")}
    for s, want_same in (("dev", True), ("test", False)):
        for line in ids[s]:
            key = "images/" + line.split(",")[0]
            assert (da[key] == db[key]) == want_same


def test_empty_evaluation_split(tmp_path):
    from lteval.data.source import open_source

    d = synth.generate(tmp_path / "s", n_train=30, n_dev=0, n_test=5, size=32, progress=False, workers=1)
    src = open_source(d)
    assert len(src.train_ids) == 30 and len(src.eval_ids("dev")) == 0 and len(src.eval_ids("test")) == 5
    assert src.eval_labels("test").shape == (5, 30)


def test_refuses_non_empty_dir_and_bad_parameters(tiny, tmp_path):
    with pytest.raises(OutputExistsError, match="--force"):
        synth.generate(tiny, **TINY)
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError):
        synth.ensure_synthetic(tmp_path / "user", n_train=20, n_dev=5, n_test=5, size=32, progress=False)
    with pytest.raises(UsageError, match="size"):
        synth.generate(tmp_path / "x", size=8, progress=False)
    with pytest.raises(UsageError, match="test_shift"):
        synth.generate(tmp_path / "x", test_shift=2.0, progress=False)


def test_ensure_synthetic_reuses_and_checks_parameters(tmp_path):
    kw = dict(n_train=20, n_dev=5, n_test=5, size=32, seed=2, progress=False, workers=1)
    d = synth.ensure_synthetic(tmp_path / "s", **kw)
    stamp = (d / "synth.json").stat().st_mtime_ns
    assert synth.ensure_synthetic(tmp_path / "s", **kw) == d
    assert (d / "synth.json").stat().st_mtime_ns == stamp
    with pytest.raises(UsageError, match="seed=2"):
        synth.ensure_synthetic(tmp_path / "s", **(kw | {"seed": 3}))
    # an interrupted generation is redone
    (d / synth.PARTIAL).write_text("x")
    (d / "synth.json").unlink()
    synth.ensure_synthetic(tmp_path / "s", **kw)
    assert (d / "synth.json").exists() and not (d / synth.PARTIAL).exists()


def test_positive_floors_grow_with_the_split():
    assert [synth._floor("train", m, 5) for m in (200, 4000, 20000, 25000)] == [1, 4, 20, 25]
    assert [synth._floor("dev", m, 5) for m in (60, 2000, 8000, 20000)] == [1, 5, 20, 50]
    assert synth._floor("test", 2000, 30) == 20          # never more than 1 % of the split
    y = synth._enforce_floor(np.zeros((5000, 30), np.int8), 7, np.random.default_rng(0))
    assert (y.sum(0) >= 7).all()


def test_image_ids_follow_the_generator_version_but_labels_do_not(monkeypatch):
    n = {"train": 300, "dev": 50, "test": 50}
    a = synth._plan(n, 5, 0.5, 5)
    monkeypatch.setattr(synth, "GENERATOR_VERSION", synth.GENERATOR_VERSION + 1)
    b = synth._plan(n, 5, 0.5, 5)
    for sa, sb in zip(a, b):
        assert np.array_equal(sa.y, sb.y) and np.array_equal(sa.dates, sb.dates)
        assert not set(sa.ids) & set(sb.ids)   # a decode cache keyed on the IDs cannot be reused


def test_a_set_from_an_older_generator_is_redrawn_with_its_cache(tmp_path):
    kw = dict(n_train=20, n_dev=5, n_test=5, size=32, seed=2, progress=False, workers=1)
    d = synth.ensure_synthetic(tmp_path / "s", **kw)
    meta = json.loads((d / "synth.json").read_text())
    meta["generator_version"] = synth.GENERATOR_VERSION - 1
    (d / "synth.json").write_text(json.dumps(meta))
    (d / ".lteval_cache" / "32px").mkdir(parents=True)
    (d / ".lteval_cache" / "32px" / "meta.json").write_text('{"complete": true}')
    (d / "images" / "stale.png").write_bytes(b"old picture")
    assert synth.ensure_synthetic(tmp_path / "s", **kw) == d
    assert synth.read_meta(d)["generator_version"] == synth.GENERATOR_VERSION
    assert not (d / ".lteval_cache").exists() and not (d / "images" / "stale.png").exists()
    # any other difference is still refused, and nothing is deleted
    with pytest.raises(UsageError, match="size=32"):
        synth.ensure_synthetic(tmp_path / "s", **(kw | {"size": 48}))
    assert (d / "synth.json").exists()
