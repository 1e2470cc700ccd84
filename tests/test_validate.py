"""The submission validator's checks, one by one, with exact lines and columns."""

from __future__ import annotations

import random
import zipfile

import pytest

from lteval.errors import UsageError
from lteval.submission import validate_submission
from lteval.submission.values import check_value, decimals
from lteval.tasks import CXRLT2026_TASK1_CLASSES as C1, CXRLT2026_TASK2_CLASSES as C2

HEADER = "ImageID," + ",".join(C1)


def make_ids(n, seed=0):
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return [f"{rng.getrandbits(126)}_{''.join(rng.choice(alphabet) for _ in range(6))}.png"
            for _ in range(n)]


def make_rows(ids, classes=C1, seed=0, fmt="{:.6f}"):
    rng = random.Random(seed)
    return [i + "," + ",".join(fmt.format(rng.random()) for _ in classes) for i in ids]


def write(path, lines, newline="\n", encoding="utf-8", end="\n"):
    path.write_bytes((newline.join(lines) + end).encode(encoding))
    return path


def eval_list(path, ids):
    """An evaluation list in the organisers' shape: 3 named + 30 empty columns, 33 fields a row."""
    lines = ["ImageID,StudyDate_DICOM,PatientID" + "," * 30]
    lines += [f"{i},20160101,1.90E+38" + "," * 30 for i in ids]
    path.write_text("\n".join(lines))  # the official file has no final newline
    return path


@pytest.fixture
def ids():
    return make_ids(40)


@pytest.fixture
def good(tmp_path, ids):
    return write(tmp_path / "submission.csv", [HEADER] + make_rows(ids))


def codes(result, kind="errors"):
    return [p.code for p in getattr(result, kind)]


def only(result, code):
    hits = [p for p in result.errors + result.warnings if p.code == code]
    assert hits, f"no {code!r} problem in {[(p.code, p.message) for p in result.errors + result.warnings]}"
    return hits


# -- valid files ---------------------------------------------------------------------------------

def test_valid_file_has_no_problems(good, tmp_path, ids):
    r = validate_submission(good, ids=eval_list(tmp_path / "eval.csv", ids))
    assert r.valid and r.errors == [] and r.warnings == []
    assert r.n_rows == len(ids)
    assert r.to_dict()["valid"] is True and r.to_dict()["n_rows"] == 40


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("bom", [False, True])
@pytest.mark.parametrize("end", ["", "\n"])
def test_line_endings_bom_and_final_newline_are_accepted(tmp_path, ids, newline, bom, end):
    p = write(tmp_path / "s.csv", [HEADER] + make_rows(ids), newline=newline,
              end=newline if end else "")
    if bom:
        p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
    r = validate_submission(p, ids=ids)
    assert r.valid and not r.warnings, r.errors
    assert r.bom is bom


def test_value_forms_accepted(tmp_path, ids):
    forms = ["0", "1", "0.5", ".5", "1.0", "1.", "0.", "5e-05", "1.5E-3", "1e0", "+0.25", "-0",
             "0.00000001", "1.00000000"]
    rows = [i + "," + ",".join(forms[(k + j) % len(forms)] for j in range(30))
            for k, i in enumerate(ids)]
    r = validate_submission(write(tmp_path / "s.csv", [HEADER] + rows))
    assert r.valid and not r.warnings, (r.errors, r.warnings)


def test_quoted_fields_are_csv(tmp_path, ids):
    rows = ['"' + i + '",' + ",".join(f'"{0.5}"' for _ in C1) for i in ids]
    header = ",".join(f'"{h}"' for h in HEADER.split(","))
    r = validate_submission(write(tmp_path / "s.csv", [header] + rows), ids=ids)
    assert r.valid, r.errors


# -- values ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw,code", [
    ("", "empty-value"), ("  ", "empty-value"), ("NA", "empty-value"), ("abc", "not-a-number"),
    ("0,5", "not-a-number"), ("50%", "not-a-number"), ("True", "not-a-number"),
    ("nan", "non-finite"), ("NaN", "non-finite"), ("-inf", "non-finite"), ("inf", "non-finite"),
    ("Infinity", "non-finite"), ("1e999", "non-finite"), ("-0.1", "out-of-range"),
    ("1.0001", "out-of-range"), ("37", "out-of-range"), ("1_0", "not-a-number"),
    ("0x1", "not-a-number"), ("\u0663", "not-a-number"), ("0.5.1", "not-a-number"),
])
def test_check_value_errors(raw, code):
    errs = [c for s, c, _ in check_value(raw) if s == "error"]
    assert errs == [code]


def test_check_value_warnings_and_decimals():
    assert [c for _, c, _ in check_value(" 0.5")] == ["value-whitespace"]
    assert [c for _, c, _ in check_value("0.123456789")] == ["precision"]
    assert check_value("0.12345678") == []
    assert decimals("1.5e-05") == 6 and decimals("0.50") == 2 and decimals("1") == 0
    assert decimals("1.2345e-05") == 9 and decimals("5E-9") == 9


@pytest.mark.parametrize("bad,code", [
    ("abc", "not-a-number"), ("nan", "non-finite"), ("inf", "non-finite"), ("-0.2", "out-of-range"),
    ("1.7", "out-of-range"), ("", "empty-value"), ("0,3", "field-count"),
])
def test_bad_value_reported_with_line_and_column(tmp_path, ids, bad, code):
    rows = make_rows(ids)
    fields = rows[6].split(",")
    fields[1 + 4] = bad  # class 'Nodule'
    rows[6] = ",".join(fields)
    r = validate_submission(write(tmp_path / "s.csv", [HEADER] + rows))
    assert not r.valid
    (p,) = only(r, code)
    assert p.line == 8  # header is line 1, rows[6] is line 8
    assert p.column == (None if code == "field-count" else "Nodule")


def test_several_bad_values_in_one_row_are_one_problem(tmp_path, ids):
    rows = make_rows(ids)
    rows[0] = ids[0] + "," + ",".join(["-1"] * 30)
    r = validate_submission(write(tmp_path / "s.csv", [HEADER] + rows))
    (p,) = only(r, "out-of-range")
    assert p.line == 2 and p.column == "Normal" and "29 other columns" in p.message


def test_repeats_are_grouped(tmp_path, ids):
    rows = make_rows(ids)
    for k in range(3, 30):
        rows[k] = rows[k].replace(",0.", ",nan", 1).replace("nan", "abc", 1)
    r = validate_submission(write(tmp_path / "s.csv", [HEADER] + rows), max_examples=3)
    probs = only(r, "not-a-number")
    assert [p.line for p in probs[:3]] == [5, 6, 7]
    assert "24 more rows like this" in probs[3].message and "lines 8-31" in probs[3].message
    assert probs[3].count == 24 and probs[3].line == 8
    assert len(r.errors) == 4


def test_precision_warning_and_strict(tmp_path, ids):
    rows = make_rows(ids, fmt="{!r}")
    p = write(tmp_path / "s.csv", [HEADER] + rows)
    r = validate_submission(p)
    assert r.valid and set(codes(r, "warnings")) == {"precision"}
    assert sum(w.count for w in r.warnings) == len(ids)
    r = validate_submission(p, strict=True)
    assert not r.valid and codes(r) and set(codes(r)) == {"precision"} and not r.warnings


def test_precision_in_e_notation(tmp_path, ids):
    rows = make_rows(ids)
    rows[2] = ids[2] + "," + ",".join(["1.5e-05"] * 29 + ["1.2345e-05"])
    rows[3] = ids[3] + "," + ",".join(["1.5e-05"] * 30)
    r = validate_submission(write(tmp_path / "s.csv", [HEADER] + rows))
    (w,) = r.warnings
    assert w.code == "precision" and w.line == 4 and w.column == "calcified densities"


# -- rows and IDs ---------------------------------------------------------------------------------

def test_field_count(tmp_path, ids):
    rows = make_rows(ids)
    rows[1] = rows[1].rsplit(",", 2)[0]  # two fields short
    rows[4] = rows[4] + ","  # trailing delimiter
    r = validate_submission(write(tmp_path / "s.csv", [HEADER] + rows))
    probs = only(r, "field-count")
    assert [p.line for p in probs] == [3, 6]
    assert "found 29" in probs[0].message and "trailing delimiter" in probs[1].message


def test_truncated_file(tmp_path, ids):
    text = "\n".join([HEADER] + make_rows(ids))
    p = tmp_path / "s.csv"
    p.write_text(text[: len(text) - 40])
    r = validate_submission(p)
    assert not r.valid and only(r, "field-count")[0].line == len(ids) + 1


def test_duplicate_and_empty_and_whitespace_ids(tmp_path, ids):
    rows = make_rows(ids)
    rows[9] = ids[2] + rows[9][len(ids[9]):]
    rows[11] = rows[11][len(ids[11]):]  # empty ID
    rows[12] = " " + rows[12]
    r = validate_submission(write(tmp_path / "s.csv", [HEADER] + rows))
    (d,) = only(r, "duplicate-id")
    assert d.line == 11 and "first on line 4" in d.message and d.column == "ImageID"
    assert only(r, "empty-id")[0].line == 13
    (w,) = only(r, "id-whitespace")
    assert w.line == 14 and w.severity == "warning"


def test_missing_and_unexpected_ids(tmp_path, ids):
    rows = make_rows(ids)
    extra = make_ids(1, seed=9)[0]
    rows[5] = extra + rows[5][len(ids[5]):]
    del rows[20]
    lst = eval_list(tmp_path / "CXRLT_2026_TEST_ALL_TASK1.csv", ids)
    r = validate_submission(write(tmp_path / "s.csv", [HEADER] + rows), ids=lst)
    (u,) = only(r, "unexpected-id")
    assert u.line == 7 and extra in u.message
    missing = only(r, "missing-id")
    assert sorted(ids[5] in m.message or ids[20] in m.message for m in missing) == [True, True]
    assert r.n_ids_expected == 40


def test_unexpected_id_hints(tmp_path, ids):
    rows = make_rows(ids)
    rows[0] = "images/" + rows[0]
    rows[1] = rows[1].replace(".png", "", 1)
    r = validate_submission(write(tmp_path / "s.csv", [HEADER] + rows), ids=ids)
    msgs = [p.message for p in only(r, "unexpected-id")]
    assert "a path?" in msgs[0] and "'.png' extension" in msgs[1]


def test_wrong_id_set(tmp_path, ids):
    r = validate_submission(write(tmp_path / "s.csv", [HEADER] + make_rows(ids)),
                            ids=make_ids(10, seed=5))
    assert only(r, "wrong-id-set")


def test_blank_lines_are_warnings(tmp_path, ids):
    rows = make_rows(ids)
    p = write(tmp_path / "s.csv", [HEADER] + rows[:3] + [""] + rows[3:] + [""])
    r = validate_submission(p)
    assert r.valid and [w.line for w in only(r, "blank-line")] == [5, 43]


def test_multiline_quoted_field_keeps_editor_line_numbers(tmp_path, ids):
    rows = make_rows(ids)
    rows[1] = '"' + ids[1][:5] + "\n" + ids[1][5:] + '"' + rows[1][len(ids[1]):]
    rows[3] = rows[3].replace(",0.", ",x", 1)
    r = validate_submission(write(tmp_path / "s.csv", [HEADER] + rows))
    # rows[1] spans lines 3-4, so rows[3] is on line 6
    assert only(r, "not-a-number")[0].line == 6


def test_unterminated_quote(tmp_path, ids):
    rows = make_rows(ids)
    rows[-1] = '"' + rows[-1]
    r = validate_submission(write(tmp_path / "s.csv", [HEADER] + rows))
    assert only(r, "bad-quoting")[0].line == len(ids) + 1


# -- header ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("wrong", ["Pneumoperitoneo", "pneumoperitoneum"])
def test_near_miss_class_names(tmp_path, ids, wrong):
    header = HEADER.replace("pneumoperitoneo", wrong)
    r = validate_submission(write(tmp_path / "s.csv", [header] + make_rows(ids)))
    (u,) = only(r, "unknown-column")
    assert u.line == 1 and u.column == wrong and "did you mean 'pneumoperitoneo'" in u.message
    (m,) = only(r, "missing-column")
    assert m.column == "pneumoperitoneo"


def test_header_whitespace_and_duplicates(tmp_path, ids):
    header = HEADER.replace(",Mass,", ", Mass,").replace(",Hernia,", ",Nodule,")
    r = validate_submission(write(tmp_path / "s.csv", [header] + make_rows(ids)))
    assert only(r, "header-whitespace")[0].column == " Mass"
    assert only(r, "duplicate-column")[0].column == "Nodule"
    assert only(r, "missing-column")[0].column == "Hernia"


def test_unknown_and_metadata_and_unnamed_columns(tmp_path, ids):
    header = HEADER + ",PatientID,extra,"
    rows = [r + ",1.9E+38,0.1," for r in make_rows(ids)]
    r = validate_submission(write(tmp_path / "s.csv", [header] + rows))
    msgs = {p.column: p.message for p in only(r, "unknown-column")}
    assert "metadata" in msgs["PatientID"] and "no name" in msgs[""] and "extra" in msgs
    assert not any(p.code == "field-count" for p in r.errors)


def test_missing_id_column_and_alias(tmp_path, ids):
    r = validate_submission(write(tmp_path / "s.csv", ["image_id" + HEADER[7:]] + make_rows(ids)))
    (p,) = only(r, "missing-id-column")
    assert "image_id" in p.message
    r = validate_submission(write(tmp_path / "s.csv", ["dicom_id" + HEADER[7:]] + make_rows(ids)),
                            ids=ids)
    assert r.valid and codes(r, "warnings") == ["alias-id-column"]
    r2 = validate_submission(tmp_path / "s.csv", ids=ids, strict=True)
    assert codes(r2) == ["alias-id-column"]


def test_column_order_warning(tmp_path, ids):
    cols = ["ImageID"] + list(C1)
    order = [0] + list(range(30, 0, -1))
    rows = [",".join(r.split(",")[k] for k in order) for r in make_rows(ids)]
    r = validate_submission(write(tmp_path / "s.csv", [",".join(cols[k] for k in order)] + rows))
    assert r.valid and codes(r, "warnings") == ["column-order"]
    assert r.warnings[0].line == 1


def test_delimiter(tmp_path, ids):
    rows = [r.replace(",", ";") for r in make_rows(ids)]
    rows[3] = rows[3].replace("0.", "0,", 1)  # a decimal comma, as in a European locale
    r = validate_submission(write(tmp_path / "s.csv", [HEADER.replace(",", ";")] + rows))
    assert codes(r)[0] == "delimiter" and "semicolon" in r.errors[0].message
    p = only(r, "not-a-number")[0]
    assert p.line == 5 and "decimal comma" in p.message


def test_wrong_task_hint(tmp_path, ids):
    header = "ImageID," + ",".join(C2)
    r = validate_submission(write(tmp_path / "s.csv", [header] + make_rows(ids, C2)))
    assert "--task cxrlt2026-task2" in only(r, "wrong-task")[0].message
    r = validate_submission(tmp_path / "s.csv", task="cxrlt2026-task2")
    assert r.valid


def test_missing_header(tmp_path, ids):
    r = validate_submission(write(tmp_path / "s.csv", make_rows(ids)))
    (p,) = only(r, "missing-header")
    assert p.line == 1 and r.n_rows == len(ids)


def test_class_file_task(tmp_path, ids):
    (tmp_path / "classes.txt").write_text("A\t\nB\t")
    p = write(tmp_path / "s.csv", ["ImageID,B,A"] + make_rows(ids, ("A", "B")))
    r = validate_submission(p, task=str(tmp_path / "classes.txt"))
    assert r.valid and r.task == "classes" and codes(r, "warnings") == ["column-order"]


# -- not CSV / encoding / empty ---------------------------------------------------------------------

def test_encoding_latin1(tmp_path, ids):
    rows = make_rows(ids)
    rows[2] = "caf\u00e9" + rows[2]
    r = validate_submission(write(tmp_path / "s.csv", [HEADER] + rows, encoding="latin-1"))
    (p,) = only(r, "encoding")
    assert p.line == 4 and "0xE9" in p.message and "Windows-1252" in p.message


@pytest.mark.parametrize("encoding,word", [("utf-16", "UTF-16"), ("utf-16-le", "UTF-16"),
                                           ("utf-32", "UTF-32")])
def test_encoding_utf16(tmp_path, ids, encoding, word):
    r = validate_submission(write(tmp_path / "s.csv", [HEADER] + make_rows(ids), encoding=encoding))
    (p,) = r.errors
    assert p.code == "encoding" and word in p.message


@pytest.mark.parametrize("content,word", [
    (b"", "empty"), (b"\n\n  \n", "empty"), (b"\xef\xbb\xbf", "empty"),
    (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "HTML"),
    (b"\x00\x01\x02\x03binary\x00\x00" * 20, "binary"),
    (b"%PDF-1.4 ...", "PDF"), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "Excel"),
    (b'{"ImageID": []}', "JSON"), (b"\x1f\x8b\x08\x00", "gzip"),
])
def test_not_csv(tmp_path, content, word):
    p = tmp_path / "submission.csv"
    p.write_bytes(content)
    r = validate_submission(p)
    assert not r.valid and len(r.errors) == 1 and word in r.errors[0].message
    assert r.errors[0].code in ("empty-file", "not-csv")


def test_excel_xlsx(tmp_path):
    p = tmp_path / "submission.csv"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    r = validate_submission(p)
    assert codes(r) == ["not-csv"] and "Excel" in r.errors[0].message


def test_header_only(tmp_path):
    r = validate_submission(write(tmp_path / "s.csv", [HEADER]))
    assert codes(r) == ["no-rows"]


# -- usage errors ---------------------------------------------------------------------------------

def test_usage_errors(tmp_path, good):
    with pytest.raises(UsageError):
        validate_submission(tmp_path / "missing.csv")
    with pytest.raises(UsageError):
        validate_submission(tmp_path)
    with pytest.raises(UsageError):
        validate_submission(good, task="cxrlt2026-task3")
    with pytest.raises(UsageError):
        validate_submission(good, ids=tmp_path / "no-list.csv")


def test_absurdly_wide_header_is_handled_quickly(tmp_path, ids):
    import time

    header = HEADER + "," + ",".join(f"junk{k}" for k in range(20000))
    rows = [r + "," * 20000 for r in make_rows(ids[:3])]
    t = time.perf_counter()
    r = validate_submission(write(tmp_path / "s.csv", [header] + rows))
    assert time.perf_counter() - t < 10
    probs = only(r, "unknown-column")
    assert probs[-1].count == 20000 - 5 and "more columns like this" in probs[-1].message
