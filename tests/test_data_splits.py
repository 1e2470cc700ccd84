"""train / val / calib splits: disjoint, deterministic, patient-grouped, stratified down to the tail."""

from __future__ import annotations

import numpy as np
import pytest

from lteval.data import DataWarning
from lteval.data.splits import iterative_stratification, make_splits, read_splits, write_splits
from lteval.data.synth import _patients, sample_labels
from lteval.errors import UsageError


@pytest.fixture(scope="module")
def data():
    n = 6000
    rng = np.random.default_rng(0)
    pat = _patients(n, rng)
    y = sample_labels(n, rng, patient_of=pat)
    ids = np.array([f"img{i:05d}.png" for i in range(n)])
    groups = np.array([f"{1000000 + p}" for p in pat])
    return ids, y, groups


def _check_partition(splits, ids):
    all_ids = np.concatenate(list(splits.values()))
    assert sorted(all_ids.tolist()) == sorted(ids.tolist())          # covers everything, once
    names = list(splits)
    for i in range(3):
        for j in range(i + 1, 3):
            assert not set(splits[names[i]]) & set(splits[names[j]])


def test_grouped_splits_are_disjoint_by_patient_and_stratified(data):
    ids, y, groups = data
    with _no_warning():
        sp = make_splits(ids, y, groups, seed=1)
    assert list(sp) == ["train", "val", "calib"]
    _check_partition(sp, ids)
    pos = {v: i for i, v in enumerate(ids)}
    gsets = {k: set(groups[[pos[i] for i in v]]) for k, v in sp.items()}
    assert not gsets["train"] & gsets["val"] and not gsets["train"] & gsets["calib"] and not gsets["val"] & gsets["calib"]
    n = len(ids)
    assert abs(len(sp["train"]) / n - 0.8) < 0.02 and abs(len(sp["val"]) / n - 0.1) < 0.02
    # every class with at least 3 patients appears in each split
    for k in range(y.shape[1]):
        n_pat = len(set(groups[y[:, k] == 1]))
        if n_pat >= 3:
            for name, v in sp.items():
                assert y[[pos[i] for i in v], k].sum() > 0, (k, name)


def test_deterministic_and_seeded(data):
    ids, y, groups = data
    a = make_splits(ids, y, groups, seed=3)
    b = make_splits(ids, y, groups, seed=3)
    c = make_splits(ids, y, groups, seed=4)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_rounded_patient_ids_fall_back_to_image_stratification(data):
    ids, y, _ = data
    rounded = np.array([f"{v:.2f}E+38" for v in np.random.default_rng(0).uniform(1, 3.4, len(ids))])
    with pytest.warns(DataWarning, match="rounded scientific notation"):
        sp = make_splits(ids, y, rounded, seed=0)
    _check_partition(sp, ids)
    with pytest.warns(DataWarning, match="no patient IDs"):
        sp2 = make_splits(ids, y, None, seed=0)
    assert all(np.array_equal(sp[k], sp2[k]) for k in sp)


def test_iterative_stratification_beats_random_and_reaches_the_tail():
    rng = np.random.default_rng(1)
    n = 3000
    y = sample_labels(n, rng)
    r = np.array([0.8, 0.1, 0.1])
    fold = iterative_stratification(y, r, seed=0)
    rand = rng.permutation(np.repeat([0, 1, 2], [2400, 300, 300]))

    def deviation(f):
        tot = y.sum(0)
        ok = tot > 0
        share = np.stack([y[f == j].sum(0) for j in range(3)])[:, ok] / tot[ok]
        return np.abs(share - r[:, None]).mean()

    assert deviation(fold) < 0.5 * deviation(rand)
    for k in np.flatnonzero(y.sum(0) >= 3):
        assert all(y[fold == j, k].sum() > 0 for j in range(3)), k
    assert np.bincount(fold, minlength=3).tolist() == pytest.approx([2400, 300, 300], abs=15)


def test_three_positives_land_in_three_splits():
    y = np.zeros((100, 2), int)
    y[:3, 0] = 1
    y[3:, 1] = 1
    fold = iterative_stratification(y, [0.8, 0.1, 0.1], seed=0)
    assert sorted(fold[:3].tolist()) == [0, 1, 2]


def test_zero_fraction_split_stays_empty(data):
    ids, y, groups = data
    sp = make_splits(ids, y, groups, fractions=(0.9, 0.1, 0.0))
    assert len(sp["calib"]) == 0 and len(sp["train"]) > 0


def test_bad_arguments(data):
    ids, y, groups = data
    with pytest.raises(UsageError, match="fractions"):
        make_splits(ids, y, groups, fractions=(0.5, 0.5))
    with pytest.raises(UsageError, match="fractions"):
        make_splits(ids, y, groups, fractions=(0.8, 0.3, -0.1))
    with pytest.raises(UsageError, match="shape"):
        make_splits(ids[:10], y, groups)


def test_write_and_read_splits(tmp_path, data):
    ids, y, groups = data
    sp = make_splits(ids, y, groups)
    d = write_splits(tmp_path / "run", sp)
    assert (d / "train.csv").read_text().startswith("ImageID\n")
    back = read_splits(tmp_path / "run")
    assert set(back) == set(sp) and all(np.array_equal(back[k], sp[k]) for k in sp)
    with pytest.raises(UsageError):
        read_splits(tmp_path / "nothing")


class _no_warning:
    def __enter__(self):
        import warnings
        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("error", DataWarning)

    def __exit__(self, *a):
        return self._cm.__exit__(*a)
