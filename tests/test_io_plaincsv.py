"""The fast numpy CSV path (lteval.io.plaincsv) against the general pandas path.

Whatever the fast path accepts must read to exactly what pandas reads; whatever it
refuses must reach pandas and give the same message (file, line, column) as before.
"""

import numpy as np
import pytest

import lteval.io.plaincsv as plaincsv
from lteval.errors import InputError
from lteval.io.tables import read_labels, read_predictions
from lteval.tasks import CXRLT2026_TASK2_CLASSES as T2

TASK = "cxrlt2026-task2"


@pytest.fixture()
def spy(monkeypatch):
    """Record what the fast path returned on each call (None = fell back to pandas)."""
    calls = []
    real = plaincsv.read_plain

    def wrapped(*a, **k):
        out = real(*a, **k)
        calls.append(out)
        return out

    monkeypatch.setattr(plaincsv, "read_plain", wrapped)
    return calls


def _general(monkeypatch, fn, *a, **k):
    """Call a reader with the fast path switched off."""
    with monkeypatch.context() as m:
        m.setattr(plaincsv, "read_plain", lambda *a, **k: None)
        return fn(*a, **k)


def _outcome(fn, *a, **k):
    try:
        t = fn(*a, **k)
    except InputError as e:
        return ("error", str(e))
    extra = {c: v.tolist() for c, v in (getattr(t, "extra", None) or {}).items()}
    vals = t.y if hasattr(t, "y") else t.p
    return ("ok", t.ids.dtype.kind, t.ids.tolist(), vals.dtype, vals.tobytes(), extra)


def _same(monkeypatch, fn, path, **k):
    """The reader's outcome with and without the fast path is identical; return it."""
    fast = _outcome(fn, path, TASK, **k)
    slow = _outcome(lambda *a, **kk: _general(monkeypatch, fn, *a, **kk), path, TASK, **k)
    assert fast == slow
    return fast


def _fmt(rng, v):
    style = rng.integers(5)
    if style == 0:
        return repr(float(v))
    if style == 1:
        return f"{v:.6f}"
    if style == 2:
        return f"{v:.3e}"
    if style == 3:
        return f"{v:.17g}"
    return f"{v:.1f}".rstrip("0") or "0"


def _preds_text(rng, n, *, crlf=False, bom=False, id_last=False, shuffle=True):
    cols = list(T2)
    if shuffle:
        cols = list(rng.permutation(cols))
    ids = [f"img{i}_ü{rng.integers(99)}.png" for i in range(n)]
    head = ["ImageID", *cols] if not id_last else [*cols, "ImageID"]
    rows = []
    for i in range(n):
        cells = [_fmt(rng, v) for v in rng.random(len(cols))]
        rows.append(",".join([ids[i], *cells] if not id_last else [*cells, ids[i]]))
    nl = "\r\n" if crlf else "\n"
    return ("\ufeff" if bom else "") + nl.join([",".join(head), *rows]) + nl


@pytest.mark.parametrize("seed", range(6))
def test_random_plain_predictions_read_identically(tmp_path, monkeypatch, spy, seed):
    rng = np.random.default_rng(seed)
    text = _preds_text(rng, 300, crlf=seed == 1, bom=seed == 2, id_last=seed == 3)
    (tmp_path / "p.csv").write_text(text, encoding="utf-8", newline="")
    out = _same(monkeypatch, read_predictions, tmp_path / "p.csv")
    assert out[0] == "ok" and spy[0] is not None  # the fast path served it


def test_logits_and_exponents(tmp_path, monkeypatch, spy):
    rng = np.random.default_rng(9)
    z = rng.normal(scale=30, size=(50, 6))
    lines = ["ImageID," + ",".join(T2)] + [f"x{i}," + ",".join(f"{v:.5e}" for v in row)
                                           for i, row in enumerate(z)]
    (tmp_path / "z.csv").write_text("\n".join(lines))  # no final newline
    out = _same(monkeypatch, read_predictions, tmp_path / "z.csv", kind="logits")
    assert out[0] == "ok" and spy[0] is not None


def test_labels_single_digit_path_and_metadata(tmp_path, monkeypatch, spy):
    rng = np.random.default_rng(3)
    y = (rng.random((200, 6)) < 0.3).astype(int)
    head = "ImageID,PatientID,StudyDate_DICOM," + ",".join(T2) + ",Other"
    rows = [f"i{i},p{i % 17},2020{i % 12:02d}01," + ",".join(map(str, r)) + ",7"
            for i, r in enumerate(y)]
    (tmp_path / "l.csv").write_text("\n".join([head, *rows]) + "\n")
    out = _same(monkeypatch, read_labels, tmp_path / "l.csv")
    assert out[0] == "ok" and spy[0] is not None
    assert np.array_equal(read_labels(tmp_path / "l.csv", TASK).y, y)
    plain = "\n".join(["ImageID," + ",".join(T2)] + [f"i{i}," + ",".join(map(str, r))
                                                     for i, r in enumerate(y)]) + "\n"
    (tmp_path / "l2.csv").write_text(plain)
    spy.clear()
    out = _same(monkeypatch, read_labels, tmp_path / "l2.csv")
    assert out[0] == "ok" and spy[0] is not None
    assert np.array_equal(read_labels(tmp_path / "l2.csv", TASK).y, y)


def _base_labels():
    head = "ImageID," + ",".join(T2) + ",Other"
    rows = [f"i{i}," + ",".join(str((i + j) % 2) for j in range(6)) + ",1" for i in range(8)]
    return [head, *rows]


def _base_preds():
    head = "ImageID," + ",".join(T2)
    rows = [f"i{i}," + ",".join(f"0.{(i * 7 + j) % 10}5" for j in range(6)) for i in range(8)]
    return [head, *rows]


def _edit(lines, row, col, value):
    lines = list(lines)
    f = lines[row].split(",")
    f[col] = value
    lines[row] = ",".join(f)
    return lines


# Each case: a file the fast path must refuse; the message must be the general reader's.
PRED_CASES = {
    "quoted": lambda L: _edit(L, 2, 0, '"i1"'),
    "blank_line": lambda L: L[:3] + [""] + L[3:],
    "trailing_blank": lambda L: L + [""],
    "space_in_value": lambda L: _edit(L, 3, 2, " 0.5"),
    "space_in_id": lambda L: _edit(L, 3, 0, "i 2"),
    "tab": lambda L: _edit(L, 3, 2, "0.5\t"),
    "na_id": lambda L: _edit(L, 4, 0, "NA"),
    "empty_id": lambda L: _edit(L, 4, 0, ""),
    "duplicate_id": lambda L: _edit(L, 5, 0, "i1"),
    "nan": lambda L: _edit(L, 5, 3, "nan"),
    "plus_nan": lambda L: _edit(L, 5, 3, "+nan"),
    "NA_value": lambda L: _edit(L, 5, 3, "NA"),
    "empty_value": lambda L: _edit(L, 5, 3, ""),
    "underscore": lambda L: _edit(L, 5, 3, "1_0"),
    "hex": lambda L: _edit(L, 5, 3, "0x1"),
    "text": lambda L: _edit(L, 5, 3, "abc"),
    "inf": lambda L: _edit(L, 5, 3, "inf"),
    "out_of_range": lambda L: _edit(L, 6, 1, "1.5"),
    "negative": lambda L: _edit(L, 6, 1, "-0.25"),
    "long_and_short_rows": lambda L: [L[0], L[1] + ",0.1", ",".join(L[2].split(",")[:-1]), *L[3:]],
    "short_row": lambda L: L[:3] + [",".join(L[3].split(",")[:-1])] + L[4:],
    "lone_cr": lambda L: [L[0], L[1] + "\r" + L[2], *L[3:]],
    "only_header": lambda L: L[:1],
}


@pytest.mark.parametrize("case", list(PRED_CASES))
def test_predictions_fallback_keeps_every_message(tmp_path, monkeypatch, case):
    lines = PRED_CASES[case](_base_preds())
    (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n", newline="")
    out = _same(monkeypatch, read_predictions, tmp_path / "bad.csv")
    if case not in ("quoted", "space_in_value", "space_in_id", "tab", "negative", "lone_cr"):
        assert out[0] == "error", out  # these are all bad input
    if case == "negative":
        assert out[0] == "error" and "value -0.25 is outside [0, 1]" in out[1]


LABEL_CASES = {
    "two_digits": lambda L: _edit(L, 2, 3, "10"),
    "shifted_cells": lambda L: _edit(_edit(L, 2, 3, ""), 2, 7, "12"),  # same length, cells moved
    "letter": lambda L: _edit(L, 2, 3, "x"),
    "two": lambda L: _edit(L, 4, 2, "2"),
    "float_one": lambda L: _edit(L, 4, 2, "1.0"),
    "half": lambda L: _edit(L, 4, 2, "0.5"),
    "minus_zero": lambda L: _edit(L, 4, 2, "-0"),
    "empty_other": lambda L: _edit(L, 4, 7, ""),
    "na_patient": None,
}


@pytest.mark.parametrize("case", list(LABEL_CASES))
def test_labels_fallback_keeps_every_message(tmp_path, monkeypatch, case):
    if case == "na_patient":
        lines = ["ImageID,PatientID," + ",".join(T2)] + [
            f"i{i},{'NA' if i == 3 else f'p{i}'}," + ",".join("01"[(i + j) % 2] for j in range(6))
            for i in range(8)]
    else:
        lines = LABEL_CASES[case](_base_labels())
    (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n")
    out = _same(monkeypatch, read_labels, tmp_path / "bad.csv")
    if case == "two":
        assert out[0] == "error" and "label 2.0 is not 0 or 1" in out[1] and "np." not in out[1]
    if case in ("float_one", "minus_zero", "empty_other", "na_patient"):
        assert out[0] == "ok"


def test_plain_reader_refuses_rather_than_guesses(tmp_path):
    """Direct checks of read_plain: None (fall back) for anything not plain."""
    header = ["ImageID", *T2]
    good = _base_preds()
    (tmp_path / "g.csv").write_text("\n".join(good) + "\n")
    ids, vals, extra = plaincsv.read_plain(tmp_path / "g.csv", header, "ImageID", T2)
    assert ids.tolist() == [f"i{i}" for i in range(8)] and vals.shape == (8, 6) and extra == {}
    for case in ("quoted", "blank_line", "nan", "plus_nan", "long_and_short_rows", "lone_cr",
                 "duplicate_id", "na_id", "only_header"):
        (tmp_path / "b.csv").write_text("\n".join(PRED_CASES[case](good)) + "\n", newline="")
        assert plaincsv.read_plain(tmp_path / "b.csv", header, "ImageID", T2) is None, case
    (tmp_path / "b.csv").write_bytes(b"\xff\xfe" + "\n".join(good).encode())
    assert plaincsv.read_plain(tmp_path / "b.csv", header, "ImageID", T2) is None


def _align_reference(lab_ids, pred_ids, p):
    """The join by ID as a dict does it (what align did before the sort path)."""
    pos = {k: i for i, k in enumerate(pred_ids)}
    return p[[pos[k] for k in lab_ids]]


@pytest.mark.parametrize("case", ["same", "permuted", "dup_labels", "dup_both", "objects"])
def test_align_sort_path_matches_the_dict_join(case):
    from lteval.io.tables import LabelTable, PredictionTable, align
    from lteval.tasks import get_task

    task = get_task(TASK)
    rng = np.random.default_rng(7)
    ids = np.array([f"id{i}_{rng.integers(1000)}" for i in range(300)])
    ids = np.unique(ids)
    n = len(ids)
    p = rng.random((n, 6))
    lab_ids = ids.copy()
    pred_ids = ids if case == "same" else ids[rng.permutation(n)]
    if case in ("dup_labels", "dup_both"):
        lab_ids = lab_ids.copy()
        lab_ids[5] = lab_ids[6]  # a user-built table: a repeated labelled ID
        if case == "dup_both":
            pred_ids = pred_ids.copy()
            pred_ids[pred_ids == ids[5]] = ids[6]
    if case == "objects":
        lab_ids, pred_ids = lab_ids.astype(object), pred_ids.astype(object)
    lab = LabelTable(lab_ids, np.zeros((n, 6), np.int8), task)
    pred = PredictionTable(pred_ids, p, task)
    if case == "dup_labels":  # ids[5] is predicted but no longer labelled
        with pytest.raises(InputError, match="not in the labels"):
            align(lab, pred)
        return
    _, _, got = align(lab, pred)
    assert np.array_equal(got, _align_reference(lab_ids.tolist(), pred_ids.tolist(), p))
