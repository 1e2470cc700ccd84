"""The CXR-LT reader: round trip of the synthetic layout, organisers' file shapes, clear errors."""

from __future__ import annotations

import csv
import shutil
import warnings

import numpy as np
import pytest

from lteval.data import DataWarning, synth
from lteval.data.source import groups_usable, open_source, read_id_list, read_label_csv
from lteval.errors import InputError, UsageError
from lteval.tasks import CXRLT2026_TASK1_CLASSES as CLASSES
from lteval.tasks import get_task

TASK = get_task("cxrlt2026-task1")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return synth.generate(tmp_path_factory.mktemp("src") / "set", n_train=150, n_dev=40, n_test=40, size=32,
                          seed=7, progress=False, workers=1)


@pytest.fixture
def copy(tiny, tmp_path):
    d = tmp_path / "copy"
    shutil.copytree(tiny, d)
    return d


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def _write(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def test_round_trip_of_the_synthetic_layout(tiny):
    src = open_source(tiny)
    rows = _rows(tiny / "CXRLT_2026_training.csv")
    removal = {r[0] for r in _rows(tiny / "Removal.csv")[1:]}
    train_rows = [r for r in rows[1:] if r[0] not in removal]
    assert src.train_ids.tolist() == [r[0] for r in train_rows]
    np.testing.assert_array_equal(src.train_y, np.array([[int(v) for v in r[3:]] for r in train_rows]))
    assert src.train_y.dtype == np.int8
    assert src.n_removed == 80 and src.n_eval_overlap == 0
    assert src.train_groups is not None and src.train_groups.tolist() == [r[2] for r in train_rows]
    for split in ("dev", "test"):
        lab = _rows(tiny / f"{split}_labels.csv")
        assert src.eval_ids(split).tolist() == [r[0] for r in lab[1:]]
        np.testing.assert_array_equal(src.eval_labels(split), np.array([[int(v) for v in r[1:]] for r in lab[1:]]))
        assert not set(src.eval_ids(split)) & set(src.train_ids)        # never trained on
        assert src.has_split(split)
    assert src.image_path(src.train_ids[0]) == tiny / "images" / src.train_ids[0]
    src.check_images(src.all_ids())
    assert len(src.all_ids()) == 230
    assert src.synthetic is not None and src.synthetic["seed"] == 7
    s = src.summary()
    assert s["n_train"] == 150 and s["n_dev"] == 40 and s["dev_labels"] and s["patient_grouping"]
    with pytest.raises(UsageError, match="did you mean 'test'"):
        src.eval_ids("tset")


@pytest.mark.parametrize("fast", [False, True])
def test_fast_and_careful_paths_agree(tiny, copy, monkeypatch, fast):
    import lteval.data.source as S

    monkeypatch.setattr(S, "FAST_PATH_BYTES", 0 if fast else 10**12)
    ref = read_label_csv(tiny / "CXRLT_2026_training.csv", TASK)
    assert (S._fast_label_csv(tiny / "CXRLT_2026_training.csv", TASK) is not None)
    rows = _rows(copy / "CXRLT_2026_training.csv")
    assert ref.ids.tolist() == [r[0] for r in rows[1:]] and ref.meta["PatientID"].tolist() == [r[2] for r in rows[1:]]
    np.testing.assert_array_equal(ref.y, np.array([[int(v) for v in r[3:]] for r in rows[1:]]))
    # errors stay precise when the fast path is tried first
    rows[9][3 + CLASSES.index("Hernia")] = "2"
    _write(copy / "CXRLT_2026_training.csv", rows)
    with pytest.raises(InputError) as e:
        read_label_csv(copy / "CXRLT_2026_training.csv", TASK)
    assert e.value.line == 10 and e.value.column == "Hernia"
    rows[9][3 + CLASSES.index("Hernia")] = "0"
    rows[12] = rows[12] + ["1"]
    _write(copy / "CXRLT_2026_training.csv", rows)
    with pytest.raises(InputError) as e:
        read_label_csv(copy / "CXRLT_2026_training.csv", TASK)
    assert e.value.line == 13 and "expected 33 fields" in str(e.value)


def test_organisers_eval_list_shape(tmp_path):
    # the official Task 1 list: 3 named columns + 30 empty ones, 33 fields a line, no final newline
    lines = ["ImageID,StudyDate_DICOM,PatientID" + "," * 30]
    lines += [f"1003032502898244623656017160733{i:08d}_42hmtt.png,20161010,1.90E+38" + "," * 30 for i in range(5)]
    lines.append(lines[1])  # a duplicate is dropped with a warning
    p = tmp_path / "CXRLT_2026_TEST_ALL_TASK1.csv"
    p.write_text("\n".join(lines))
    with pytest.warns(DataWarning, match="1 duplicate"):
        ids = read_id_list(p)
    assert len(ids) == 5 and ids[0].endswith("00000000_42hmtt.png")
    # a header-less one-column list is accepted too
    q = tmp_path / "plain.csv"
    q.write_text("a_1.png\nb-2_x.png\n")
    assert read_id_list(q).tolist() == ["a_1.png", "b-2_x.png"]
    q.write_text("image\na_1\nb_2\n")                      # one column under another name
    assert read_id_list(q).tolist() == ["a_1", "b_2"]
    q.write_text("image,date\na_1,2\n")                    # several columns: ImageID is required
    with pytest.raises(InputError, match="no 'ImageID' column"):
        read_id_list(q)


def test_missing_images_are_listed_in_one_error(copy):
    src = open_source(copy)
    gone = sorted(src.train_ids[:3])
    for g in gone:
        (copy / "images" / g).unlink()
    with pytest.raises(InputError) as e:
        src.check_images(src.all_ids())
    msg = str(e.value)
    assert "3 of 230 image(s)" in msg and all(g in msg for g in gone) and "--image-dir" in msg


def test_malformed_csv_wrong_field_count(copy):
    rows = _rows(copy / "CXRLT_2026_training.csv")
    rows[5] = rows[5][:-1]
    _write(copy / "CXRLT_2026_training.csv", rows)
    with pytest.raises(InputError) as e:
        open_source(copy)
    assert e.value.line == 6 and "expected 33 fields" in str(e.value) and "CXRLT_2026_training.csv" in str(e.value)


def test_malformed_csv_bad_value_and_quote(copy):
    rows = _rows(copy / "CXRLT_2026_training.csv")
    rows[3][3 + CLASSES.index("Mass")] = "yes"
    _write(copy / "CXRLT_2026_training.csv", rows)
    with pytest.raises(InputError) as e:
        open_source(copy)
    assert e.value.line == 4 and e.value.column == "Mass" and "expected 0 or 1" in str(e.value)
    text = (copy / "CXRLT_2026_training.csv").read_text().replace("yes", '"1')
    (copy / "CXRLT_2026_training.csv").write_text(text)
    with pytest.raises(InputError, match="malformed CSV|expected"):
        open_source(copy)


def test_duplicate_and_empty_ids(copy):
    rows = _rows(copy / "CXRLT_2026_training.csv")
    rows[4][0] = rows[2][0]
    _write(copy / "CXRLT_2026_training.csv", rows)
    with pytest.raises(InputError, match="appears twice \\(first on line 3\\)"):
        open_source(copy)
    rows[4][0] = ""
    _write(copy / "CXRLT_2026_training.csv", rows)
    with pytest.raises(InputError, match="empty image ID"):
        open_source(copy)


def test_class_column_mismatch(copy):
    rows = _rows(copy / "CXRLT_2026_training.csv")
    rows[0][3 + CLASSES.index("Nodule")] = "nodule"
    _write(copy / "CXRLT_2026_training.csv", rows)
    with pytest.raises(InputError) as e:
        open_source(copy)
    msg = str(e.value)
    assert "missing class column(s) 'Nodule' (did you mean 'nodule'?)" in msg and e.value.line == 1
    # a Train_CLASS.txt that disagrees with the task is also caught
    (copy / "Train_CLASS.txt").write_text("Normal\tcardiomegaly")
    rows[0][3 + CLASSES.index("Nodule")] = "Nodule"
    _write(copy / "CXRLT_2026_training.csv", rows)
    with pytest.raises(InputError, match="class file does not match"):
        open_source(copy)


def test_reordered_class_columns_are_realigned(copy):
    rows = _rows(copy / "CXRLT_2026_training.csv")
    ref = open_source(copy)
    perm = [0, 1, 2] + [3 + k for k in reversed(range(30))]
    _write(copy / "CXRLT_2026_training.csv", [[r[i] for i in perm] for r in rows])
    src = open_source(copy)
    np.testing.assert_array_equal(src.train_y, ref.train_y)


def test_unreadable_image_error(copy):
    from lteval.data.imageio import load_image

    src = open_source(copy)
    bad = src.image_path(src.train_ids[0])
    bad.write_bytes(b"this is not a png")
    with pytest.raises(InputError) as e:
        load_image(bad, 32)
    assert str(bad) in str(e.value) and "cannot decode image" in str(e.value)


def test_rounded_patient_ids_disable_grouping(copy):
    rows = _rows(copy / "CXRLT_2026_training.csv")
    rng = np.random.default_rng(0)
    for r in rows[1:]:
        r[2] = f"{rng.uniform(1, 3.4):.2f}E+38"
    _write(copy / "CXRLT_2026_training.csv", rows)
    src = open_source(copy)
    assert src.train_groups is None and "rounded scientific notation" in src.group_note
    assert not src.summary()["patient_grouping"]


def test_groups_usable():
    assert groups_usable(None) == (False, "no PatientID column")
    assert groups_usable(np.array(["1", "2", ""]))[0] is False
    ok, why = groups_usable(np.array(["1.90E+38", "3.09E+38", "1.9e38", "2.98E+38"]))
    assert not ok and "1.90E+38" in why
    assert groups_usable(np.array(["7"] * 300))[0] is False                     # one "patient" for 300 images
    assert groups_usable(np.arange(300) // 2)[0] is True
    assert groups_usable(np.array(["P01", "P02", "P01"]))[0] is True


def test_removal_and_eval_overlap(copy):
    # drop Removal.csv: the evaluation-list images are still kept out of training, with a warning
    (copy / "Removal.csv").unlink()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        src = open_source(copy)
    assert src.n_removed == 0 and src.n_eval_overlap == 80 and len(src.train_ids) == 150
    assert any(issubclass(x.category, DataWarning) and "evaluation list" in str(x.message) for x in w)


def test_image_dir_and_missing_files(copy, tmp_path):
    (copy / "images").rename(copy / "pngs")
    src = open_source(copy, image_dir="pngs")
    assert src.image_dir == copy / "pngs"
    src.check_images(src.train_ids)
    with pytest.raises(UsageError, match="not a directory"):
        open_source(copy, image_dir="nope")
    with pytest.raises(UsageError, match="not a directory"):
        open_source(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no training label file"):
        open_source(tmp_path / "empty")
    # no evaluation lists: splits report empty, labels None
    for f in ("CXRLT_2026_DEV_ALL_TASK1.csv", "CXRLT_2026_TEST_ALL_TASK1.csv"):
        (copy / f).unlink()
    src = open_source(copy, image_dir="pngs")
    assert not src.has_split("dev") and len(src.eval_ids("dev")) == 0 and src.eval_labels("dev") is None


def test_read_label_csv_errors(tmp_path):
    p = tmp_path / "l.csv"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="not UTF-8|NUL"):
        read_label_csv(p, TASK)
    p.write_text("")
    with pytest.raises(InputError, match="empty"):
        read_label_csv(p, TASK)
    p.write_text("id," + ",".join(CLASSES) + "\n")
    with pytest.raises(InputError, match="no 'ImageID' column"):
        read_label_csv(p, TASK)
    p.write_text("dicom_id," + ",".join(CLASSES) + "\nx.png," + ",".join(["0"] * 30) + "\n")
    assert read_label_csv(p, TASK).ids.tolist() == ["x.png"]                  # 2024 alias accepted
