"""The platform upload: one predictions CSV plus a code/ folder, checked without extracting."""

from __future__ import annotations

import random
import zipfile

import pytest

from lteval.submission import validate_submission
from lteval.submission import zipcheck
from lteval.tasks import CXRLT2026_TASK1_CLASSES as C1

HEADER = "ImageID," + ",".join(C1)


def csv_text(n=20, seed=0, bad_line=None):
    rng = random.Random(seed)
    ids = [f"{rng.getrandbits(120)}_x{k}.png" for k in range(n)]
    rows = [i + "," + ",".join(f"{rng.random():.5f}" for _ in C1) for i in ids]
    if bad_line is not None:
        rows[bad_line - 2] = rows[bad_line - 2].replace(",0.", ",-0.", 1)
    return "\n".join([HEADER] + rows) + "\n", ids


def make_zip(path, members: dict[str, str | bytes]):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            if name.endswith("/"):
                z.writestr(zipfile.ZipInfo(name), b"")
            else:
                z.writestr(name, data)
    return path


def codes(r):
    return [p.code for p in r.errors]


def test_valid_zip(tmp_path):
    text, ids = csv_text()
    p = make_zip(tmp_path / "sub.zip", {"predictions.csv": text, "code/train.py": "print(1)\n",
                                        "code/": b""})
    r = validate_submission(p, ids=ids)
    assert r.valid and r.member == "predictions.csv" and r.n_rows == 20 and not r.warnings


def test_problems_inside_member_name_the_member_and_line(tmp_path):
    text, _ = csv_text(bad_line=7)
    p = make_zip(tmp_path / "sub.zip", {"predictions.csv": text, "code/a.py": "x"})
    r = validate_submission(p)
    (e,) = r.errors
    assert e.code == "out-of-range" and e.line == 7 and e.file == "predictions.csv"


def test_missing_code_folder_and_nested_layout(tmp_path):
    text, _ = csv_text()
    r = validate_submission(make_zip(tmp_path / "a.zip", {"predictions.csv": text}))
    assert codes(r) == ["zip-no-code"]
    r = validate_submission(make_zip(tmp_path / "b.zip", {"team/predictions.csv": text,
                                                          "team/code/a.py": "x"}))
    assert codes(r) == ["zip-no-code"] and "'team/code/'" in r.errors[0].message
    assert [w.code for w in r.warnings] == ["zip-nested-csv"]


def test_csv_count(tmp_path):
    text, _ = csv_text()
    r = validate_submission(make_zip(tmp_path / "a.zip", {"code/a.py": "x", "readme.txt": "hi"}))
    assert codes(r) == ["zip-no-csv"] and "readme.txt" in r.errors[0].message
    r = validate_submission(make_zip(tmp_path / "b.zip", {"a.csv": text, "b.csv": text,
                                                          "code/a.py": "x"}))
    assert codes(r) == ["zip-several-csv"]
    # a CSV inside code/ and macOS metadata are not the predictions file
    r = validate_submission(make_zip(tmp_path / "c.zip", {"a.csv": text, "code/labels.csv": "x",
                                                          "__MACOSX/._a.csv": "junk",
                                                          "code/a.py": "x"}))
    assert r.valid


@pytest.mark.parametrize("name", ["../evil.py", "/etc/evil.py", "code/../../evil.py",
                                  "C:/evil.py"])
def test_unsafe_member_paths(tmp_path, name):
    text, _ = csv_text()
    r = validate_submission(make_zip(tmp_path / "a.zip", {"p.csv": text, "code/a.py": "x",
                                                          name: "x"}))
    assert codes(r) == ["zip-unsafe-path"] and repr(name) in r.errors[0].message


def test_absurd_uncompressed_size_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(zipcheck, "_RATIO_MIN_BYTES", 1 << 20)
    text, _ = csv_text()
    p = make_zip(tmp_path / "a.zip", {"p.csv": text, "code/a.py": "x",
                                      "code/weights.bin": b"\0" * (4 << 20)})
    r = validate_submission(p)
    assert codes(r) == ["zip-bomb"] and "code/weights.bin" in r.errors[0].message
    # the predictions member itself: refused, not read
    p = make_zip(tmp_path / "b.zip", {"p.csv": text + "\n" * (4 << 20), "code/a.py": "x"})
    r = validate_submission(p)
    assert codes(r) == ["zip-bomb"] and r.n_rows == 0


def test_member_larger_than_declared_is_cut_off(tmp_path):
    from lteval.submission.result import Collector
    from lteval.submission.validate import check_csv_stream
    from lteval.tasks import get_task
    import io

    text, _ = csv_text()
    col = Collector()
    check_csv_stream(io.BytesIO(text.encode()), get_task(None), None, col, max_bytes=1000)
    assert "zip-bomb" in [p.code for p in col.problems("error")]


def test_corrupt_archive(tmp_path):
    text, _ = csv_text()
    p = make_zip(tmp_path / "a.zip", {"p.csv": text, "code/a.py": "x"})
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    r = validate_submission(p)
    assert codes(r) == ["zip-unreadable"]


def test_corrupt_member_data(tmp_path):
    text, _ = csv_text(n=200)
    p = make_zip(tmp_path / "a.zip", {"p.csv": text, "code/a.py": "x"})
    data = bytearray(p.read_bytes())
    with zipfile.ZipFile(p) as z:
        info = z.getinfo("p.csv")
    start = info.header_offset + 30 + len(info.filename) + 200
    data[start:start + 50] = b"\xff" * 50
    p.write_bytes(bytes(data))
    r = validate_submission(p)
    assert not r.valid and r.errors


def test_encrypted_member(tmp_path):
    text, _ = csv_text()
    p = make_zip(tmp_path / "a.zip", {"p.csv": text, "code/a.py": "x"})
    data = bytearray(p.read_bytes())
    # set the "encrypted" flag bit of p.csv in its local header and central directory record
    local = data.index(b"PK\x03\x04")
    data[local + 6] |= 0x1
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x1
    p.write_bytes(bytes(data))
    r = validate_submission(p)
    assert "zip-encrypted" in codes(r)


def test_unsafe_member_helper():
    assert zipcheck.unsafe_member("code/a.py") is None
    assert zipcheck.unsafe_member("a..b/c.py") is None
    assert zipcheck.unsafe_member("..\\x") and zipcheck.unsafe_member("\\x")
