"""Evaluation lists and ``lteval make-submission``: the output always validates."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lteval.cli import app
from lteval.errors import InputError, OutputExistsError, UsageError
from lteval.submission import make_submission, read_eval_ids, validate_submission
from lteval.submission.values import decimals
from lteval.tasks import CXRLT2026_TASK1_CLASSES as C1, CXRLT2026_TASK2_CLASSES as C2

runner = CliRunner()
REAL_LIST = Path("/work/shared/data/CXRLT_2026_TEST_ALL_TASK1.csv")


def make_ids(n, seed=0):
    rng = random.Random(seed)
    return [f"{rng.getrandbits(125)}_{rng.choice(['', '2_', '-3_'])}{rng.getrandbits(20):x}.png"
            for _ in range(n)]


def organisers_list(path, ids, final_newline=False, crlf=False, bom=False):
    nl = "\r\n" if crlf else "\n"
    lines = ["ImageID,StudyDate_DICOM,PatientID" + "," * 30]
    lines += [f"{i},2016{k % 12 + 1:02d}01,{k % 9 + 1}.{k % 97:02d}E+38" + "," * 30
              for k, i in enumerate(ids)]
    text = nl.join(lines) + (nl if final_newline else "")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


# -- evaluation lists -----------------------------------------------------------------------------

@pytest.mark.parametrize("final_newline", [False, True])
@pytest.mark.parametrize("crlf", [False, True])
@pytest.mark.parametrize("bom", [False, True])
def test_organisers_shape(tmp_path, final_newline, crlf, bom):
    ids = make_ids(50)
    p = organisers_list(tmp_path / "l.csv", ids, final_newline, crlf, bom)
    assert len(p.read_text().splitlines()[1].split(",")) == 33
    assert read_eval_ids(p) == ids


@pytest.mark.parametrize("header", [None, "ImageID", "dicom_id", "image_id"])
def test_one_column_list(tmp_path, header):
    ids = make_ids(20)
    p = tmp_path / "ids.txt"
    p.write_text("\n".join(([header] if header else []) + ids) + "\n")
    assert read_eval_ids(p) == ids


def test_submission_shaped_list_uses_the_id_column(tmp_path):
    ids = make_ids(5)
    p = tmp_path / "s.csv"
    p.write_text("Normal,ImageID\n" + "\n".join(f"0.5,{i}" for i in ids))
    assert read_eval_ids(p) == ids


@pytest.mark.parametrize("content,line,word", [
    ("ImageID,a\nx,1\ny,2\nx,3\n", 4, "twice"),
    ("ImageID,a\nx,1\ny\n", 3, "fields"),
    ("ImageID,a\n,1\n", 2, "empty ID"),
    ("foo,bar\nx,1\n", 1, "no 'ImageID' column"),
    ("ImageID\n", None, "no IDs"),
    ("", None, "empty"),
])
def test_malformed_lists(tmp_path, content, line, word):
    p = tmp_path / "l.csv"
    p.write_text(content)
    with pytest.raises(InputError) as e:
        read_eval_ids(p)
    assert e.value.line == line and word in e.value.message and e.value.file == str(p)


def test_list_encoding_and_missing(tmp_path):
    p = tmp_path / "l.csv"
    p.write_bytes(b"ImageID\nab\ncaf\xe9\n")
    with pytest.raises(InputError) as e:
        read_eval_ids(p)
    assert e.value.line == 3 and "UTF-8" in e.value.message
    with pytest.raises(UsageError):
        read_eval_ids(tmp_path / "nope.csv")


@pytest.mark.skipif(not REAL_LIST.exists(), reason="the organisers' list is not on this machine")
def test_real_organisers_list():
    ids = read_eval_ids(REAL_LIST)
    assert len(ids) == 1620 == len(set(ids)) and all(i.endswith(".png") for i in ids)


# -- make-submission ------------------------------------------------------------------------------

def predictions(path, ids, classes=C1, seed=0, idcol="ImageID", extra_ids=(), extra_cols=(),
                shuffle=True):
    rng = random.Random(seed)
    cols = list(classes) + list(extra_cols)
    if shuffle:
        rng.shuffle(cols)
    header = [cols[0], idcol] + cols[1:]
    rows = []
    values = {}
    for i in list(ids) + list(extra_ids):
        v = {c: repr(rng.random()) if c in classes else "meta" for c in cols}
        values[i] = v
        rows.append([v[cols[0]], i] + [v[c] for c in cols[1:]])
    rng.shuffle(rows)
    path.write_text("\n".join(",".join(r) for r in [header] + rows) + "\n")
    return values


def test_make_submission_from_messy_predictions(tmp_path):
    ids = make_ids(60)
    lst = organisers_list(tmp_path / "CXRLT_2026_TEST_ALL_TASK1.csv", ids)
    vals = predictions(tmp_path / "preds.csv", ids, idcol="dicom_id", extra_ids=make_ids(7, 9),
                       extra_cols=("PatientID", "fold"))
    out = tmp_path / "out" / "submission.csv"
    made = make_submission(tmp_path / "preds.csv", lst, out)
    assert made.n_rows == 60 and made.n_dropped == 7
    assert sorted(made.ignored_columns) == ["PatientID", "fold"]
    lines = out.read_text().splitlines()
    assert lines[0] == "ImageID," + ",".join(C1)
    assert [ln.split(",")[0] for ln in lines[1:]] == ids  # evaluation-list order
    n_long = 0
    for ln in lines[1:]:
        f = ln.split(",")
        for got, given in zip(f[1:], [vals[f[0]][c] for c in C1]):
            if decimals(given) <= 8:
                assert got == given  # verbatim
            else:  # rounded to the 8 decimals `validate --strict` accepts (issue 13)
                n_long += 1
                assert decimals(got) <= 8 and abs(float(got) - float(given)) <= 5e-9
    assert n_long > 0 and made.n_rounded == n_long
    r = validate_submission(out, ids=lst, strict=True)
    assert r.valid and not r.warnings


def test_make_submission_rounds_on_request(tmp_path):
    ids = make_ids(10)
    vals = predictions(tmp_path / "p.csv", ids)
    out = tmp_path / "s.csv"
    make_submission(tmp_path / "p.csv", ids, out, decimals=6)
    r = validate_submission(out, ids=ids, strict=True)
    assert r.valid
    row = out.read_text().splitlines()[1].split(",")
    assert row[1] == f"{float(vals[row[0]]['Normal']):.6f}"


def test_make_submission_refuses(tmp_path):
    ids = make_ids(10)
    predictions(tmp_path / "p.csv", ids[:-2])
    out = tmp_path / "s.csv"
    with pytest.raises(InputError) as e:
        make_submission(tmp_path / "p.csv", ids, out)
    assert "2 of 10 evaluation IDs have no prediction" in e.value.message and not out.exists()
    predictions(tmp_path / "p.csv", ids)
    out.write_text("keep")
    with pytest.raises(OutputExistsError):
        make_submission(tmp_path / "p.csv", ids, out)
    assert out.read_text() == "keep"
    make_submission(tmp_path / "p.csv", ids, out, force=True)
    assert validate_submission(out, ids=ids).valid
    with pytest.raises(UsageError):
        make_submission(tmp_path / "p.csv", ids, tmp_path / "s.txt")


def test_make_submission_bad_values_and_conflicts(tmp_path):
    ids = make_ids(5)
    p = tmp_path / "p.csv"
    predictions(p, ids, shuffle=False)
    lines = p.read_text().splitlines()
    f = lines[3].split(",")
    f[5] = "1.3"
    lines[3] = ",".join(f)
    p.write_text("\n".join(lines))
    with pytest.raises(InputError) as e:
        make_submission(p, ids, tmp_path / "s.csv")
    assert e.value.line == 4 and e.value.column == C1[4]  # header: Normal, ImageID, ... and "never clips" in e.value.message
    predictions(p, ids, shuffle=False)
    lines = p.read_text().splitlines()
    lines.append(lines[2])  # identical duplicate: fine
    p.write_text("\n".join(lines))
    make_submission(p, ids, tmp_path / "s.csv")
    lines.append(lines[2].replace(",0.", ",0.0", 1))  # same ID, other values: refused
    p.write_text("\n".join(lines))
    with pytest.raises(InputError) as e:
        make_submission(p, ids, tmp_path / "s2.csv", force=True)
    assert "two different predictions" in e.value.message


def test_make_submission_missing_class_says_which(tmp_path):
    ids = make_ids(3)
    p = tmp_path / "p.csv"
    p.write_text("ImageID," + ",".join(c if c != "pneumoperitoneo" else "Pneumoperitoneo"
                                       for c in C1) + "\n")
    with pytest.raises(InputError) as e:
        make_submission(p, ids, tmp_path / "s.csv")
    assert "'pneumoperitoneo'" in e.value.message and "did you mean 'Pneumoperitoneo'" in e.value.message


def test_make_submission_zip_and_cli(tmp_path):
    ids = make_ids(15)
    lst = organisers_list(tmp_path / "eval.csv", ids)
    predictions(tmp_path / "p.csv", ids, classes=C2)
    code = tmp_path / "mycode"
    (code / "pkg" / "__pycache__").mkdir(parents=True)
    (code / "pkg" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (code / "pkg" / "train.py").write_text("print('hi')\n")
    (code / ".git").mkdir()
    (code / ".git" / "HEAD").write_text("ref")
    (code / "README.md").write_text("readme")
    out = tmp_path / "task2.csv"
    r = runner.invoke(app, ["make-submission", str(tmp_path / "p.csv"), "--ids", str(lst), "-o",
                            str(out), "--zip", str(code), "--task", "cxrlt2026-task2"])
    assert r.exit_code == 0, r.output
    assert "wrote" in r.stdout and "task2.zip" in r.stdout
    with zipfile.ZipFile(tmp_path / "task2.zip") as z:
        names = sorted(z.namelist())
    assert names == ["code/", "code/README.md", "code/pkg/train.py", "task2.csv"]
    v = validate_submission(tmp_path / "task2.zip", task="cxrlt2026-task2", ids=lst)
    assert v.valid and v.member == "task2.csv"
    # again without --force: refused, exit 2, nothing changed
    before = (tmp_path / "task2.zip").read_bytes()
    r = runner.invoke(app, ["make-submission", str(tmp_path / "p.csv"), "--ids", str(lst), "-o",
                            str(out), "--zip", str(code), "--task", "cxrlt2026-task2"])
    assert r.exit_code == 2 and (tmp_path / "task2.zip").read_bytes() == before
    # missing IDs: exit 1, clear message, no traceback
    r = runner.invoke(app, ["make-submission", str(tmp_path / "p.csv"), "--ids", str(lst), "-o",
                            str(tmp_path / "t1.csv")])
    assert r.exit_code == 1 and "no column for" in r.stderr and r.exception is not None
    assert isinstance(r.exception, SystemExit)
