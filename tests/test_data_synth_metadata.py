"""Synthetic metadata.csv: complete, joinable, own random stream (labels and images untouched)."""

import hashlib

import numpy as np
import pytest

import lteval
from lteval.data import synth
from lteval.io.metadata import read_metadata
from lteval.io.tables import read_labels, write_predictions

TINY = dict(n_train=120, n_dev=50, n_test=50, size=16, seed=5, progress=False, workers=1)


def _digest(root, skip=()):
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name not in skip}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return synth.generate(tmp_path_factory.mktemp("synthmeta") / "set", **TINY)


def test_metadata_covers_every_image_and_marks_the_test_centre(tiny):
    meta = read_metadata(tiny / synth.METADATA_CSV)
    assert list(meta.columns) == list(synth.METADATA_COLUMNS[1:])
    assert len(meta.ids) == TINY["n_train"] + TINY["n_dev"] + TINY["n_test"]
    split = meta.column("split")
    assert set(meta.column("centre")[split == "test"]) == {"B"}
    assert set(meta.column("centre")[split != "test"]) == {"A"}
    assert set(meta.column("view")) <= {"PA", "AP", "LAT"}
    assert set(meta.column("sex")) == {"F", "M"}
    # one sex per patient; the age band matches the age
    pid, sex = meta.column("PatientID"), meta.column("sex")
    for p in np.unique(pid):
        assert len(set(sex[pid == p])) == 1
    for a, band in zip(meta.column("age").astype(int), meta.column("age_band")):
        lo, hi, _ = next(b for b in synth.AGE_BANDS if b[2] == band)
        assert lo <= a < hi


def test_metadata_stream_leaves_labels_and_images_byte_identical(tiny, tmp_path, monkeypatch):
    orig = synth._metadata_rows

    def other_stream(splits, seed):
        return orig(splits, seed + 12345)

    monkeypatch.setattr(synth, "_metadata_rows", other_stream)
    again = synth.generate(tmp_path / "again", **TINY)
    assert _digest(again, skip={synth.METADATA_CSV}) == _digest(tiny, skip={synth.METADATA_CSV})
    assert (again / synth.METADATA_CSV).read_bytes() != (tiny / synth.METADATA_CSV).read_bytes()


def test_old_sets_gain_metadata_deterministically(tiny, tmp_path):
    import shutil

    copy = tmp_path / "old"
    shutil.copytree(tiny, copy)
    (copy / synth.METADATA_CSV).unlink()
    synth.ensure_synthetic(copy, **{k: v for k, v in TINY.items()})
    assert (copy / synth.METADATA_CSV).read_bytes() == (tiny / synth.METADATA_CSV).read_bytes()


def test_scoring_the_synthetic_test_split_by_strata_and_patients(tiny, tmp_path):
    labs = read_labels(tiny / synth.LABEL_FILES["test"])
    rng = np.random.default_rng(0)
    write_predictions(tmp_path / "p.csv", labs.ids, np.clip(0.3 * labs.y + rng.random(labs.y.shape), 0, 1))
    rep = lteval.score(tmp_path / "p.csv", tiny / synth.LABEL_FILES["test"], n_boot=20,
                       metadata=tiny / synth.METADATA_CSV, cluster_by="PatientID",
                       strata_by=["view", "age"]).to_dict()
    assert rep["n_clusters"] < rep["n_samples"]
    assert sum(v["n_samples"] for v in rep["strata"].values() if v["column"] == "view") == 50
