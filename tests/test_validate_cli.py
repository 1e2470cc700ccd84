"""``lteval validate`` end to end: exit codes, the three formats, --strict, --write-fixed."""

from __future__ import annotations

import csv
import json
import random
import re

import pytest
from typer.testing import CliRunner

from lteval.cli import app
from lteval.submission import validate_submission
from lteval.tasks import CXRLT2026_TASK1_CLASSES as C1

HEADER = "ImageID," + ",".join(C1)
runner = CliRunner()


def make(tmp_path, name="submission.csv", n=30, seed=0, mutate=None, header=HEADER):
    rng = random.Random(seed)
    ids = [f"{rng.getrandbits(120)}_{k}ab.png" for k in range(n)]
    rows = [i + "," + ",".join(f"{rng.random():.6f}" for _ in C1) for i in ids]
    if mutate:
        mutate(rows)
    p = tmp_path / name
    p.write_text("\n".join([header] + rows) + "\n")
    return p, ids


def invoke(*args):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r


def test_valid_exit_0(tmp_path):
    p, ids = make(tmp_path)
    (tmp_path / "ids.txt").write_text("\n".join(ids))
    r = invoke("validate", p, "--ids", tmp_path / "ids.txt")
    assert r.exit_code == 0 and "valid" in r.stdout and "30 rows" in r.stdout


def test_invalid_exit_1_text(tmp_path):
    p, _ = make(tmp_path, mutate=lambda rows: rows.__setitem__(3, rows[3].replace(",0.", ",x", 1)))
    r = invoke("validate", p)
    assert r.exit_code == 1
    assert "INVALID" in r.stdout and "line 5, column 'Normal'" in r.stdout and "[not-a-number]" in r.stdout


@pytest.mark.parametrize("args", [
    ["validate", "missing.csv"],
    ["validate", "{sub}", "--task", "no-such-task"],
    ["validate", "{sub}", "--format", "xml"],
    ["validate", "{sub}", "--ids", "missing-ids.csv"],
    ["validate", "{sub}", "--ids", "{badids}"],
    ["validate", "{sub}", "{sub}", "--write-fixed", "out.csv"],
    ["validate"],
])
def test_usage_errors_exit_2(tmp_path, args, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p, _ = make(tmp_path)
    (tmp_path / "bad-ids.csv").write_text("ImageID,x\na,1\na,2\n")  # duplicate ID in the list
    args = [a.format(sub=p, badids=tmp_path / "bad-ids.csv") for a in args]
    r = invoke(*args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output


def test_json_format_schema(tmp_path):
    p, _ = make(tmp_path, mutate=lambda rows: rows.__setitem__(0, rows[0] + ",0.1"))
    r = invoke("validate", p, "--format", "json")
    assert r.exit_code == 1
    d = json.loads(r.stdout)
    assert {"valid", "task", "n_rows", "errors", "warnings"} <= set(d)
    assert d["valid"] is False and d["task"] == "cxrlt2026-task1" and d["n_rows"] == 30
    (e,) = d["errors"]
    assert set(e) == {"code", "message", "line", "column"}
    assert e["code"] == "field-count" and e["line"] == 2 and e["column"] is None


def test_json_several_files_is_a_list(tmp_path):
    a, _ = make(tmp_path, "a.csv")
    b, _ = make(tmp_path, "b.csv", header=HEADER.replace("Mass", "mass"))
    r = invoke("validate", a, b, "-f", "json")
    d = json.loads(r.stdout)
    assert r.exit_code == 1 and [x["valid"] for x in d] == [True, False]


def test_github_format(tmp_path):
    def mut(rows):
        f = rows[2].split(",")
        f[1] = "NaN"
        rows[2] = ",".join(f)
    p, _ = make(tmp_path, mutate=mut)
    r = invoke("validate", p, "--format", "github")
    assert r.exit_code == 1
    ann = [ln for ln in r.stdout.splitlines() if ln.startswith("::")]
    assert len(ann) == 1
    assert re.fullmatch(r"::error file=[^,]+submission\.csv,line=4,title=lteval non-finite::"
                        r"column 'Normal': .*NaN.*", ann[0])
    # messages with newlines / percent signs are escaped
    p2, _ = make(tmp_path, "w.csv", header=HEADER.replace("ImageID", "dicom_id"))
    r = invoke("validate", p2, "-f", "github")
    assert r.exit_code == 0 and r.stdout.startswith("::warning file=")


def test_strict(tmp_path):
    p, _ = make(tmp_path, header=HEADER.replace("ImageID", "dicom_id"))
    assert invoke("validate", p).exit_code == 0
    r = invoke("validate", p, "--strict")
    assert r.exit_code == 1 and "alias-id-column" in r.stdout


def test_max_examples_groups(tmp_path):
    def mut(rows):
        for k in range(len(rows)):
            rows[k] = rows[k].replace(",0.", ",-0.", 1)
    p, _ = make(tmp_path, mutate=mut)
    r = invoke("validate", p, "--max-examples", "2")
    assert "28 more rows like this (lines 4-31)" in r.stdout


def _values_by_id(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    idcol = "ImageID" if "ImageID" in rows[0] else "dicom_id"
    return {r[idcol].strip(): {k.strip(): v.strip() for k, v in r.items() if k != idcol}
            for r in rows if r[idcol] is not None}


def test_write_fixed_repairs_only_unambiguous_problems(tmp_path):
    rng = random.Random(3)
    order = list(range(len(C1)))
    rng.shuffle(order)
    ids = [f"{k}_img.png" for k in range(25)]
    header = ";".join(["dicom_id"] + [(" " + C1[j]) if j == 4 else C1[j] for j in order])
    rows = [(" " if k % 3 == 0 else "") + i + ";" + ";".join(f" {rng.random():.7f}" if j == 2 else
                                                           f"{rng.random():.7f}" for j in order)
            for k, i in enumerate(ids)]
    src = tmp_path / "messy.csv"
    src.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join([header] + rows[:10] + [""] + rows[10:]) +
                                       "\r\n").encode())
    before = validate_submission(src, ids=ids)
    assert not before.valid
    out = tmp_path / "fixed.csv"
    r = invoke("validate", src, "--write-fixed", out)
    assert r.exit_code == 1  # about the original file
    fixed = validate_submission(out, ids=ids, strict=True)
    assert fixed.valid and not fixed.warnings, fixed.errors
    assert out.read_text().splitlines()[0] == HEADER
    assert [ln.split(",")[0] for ln in out.read_text().splitlines()[1:]] == ids
    for word in ("byte-order mark", "delimiter", "'dicom_id'", "official order", "blank line",
                 "whitespace"):
        assert word in r.stderr, (word, r.stderr)
    # values are untouched: same strings per (ID, class)
    orig = {}
    for line in rows:
        f = line.split(";")
        orig[f[0].strip()] = {C1[j]: v.strip() for j, v in zip(order, f[1:])}
    assert _values_by_id(out) == orig


def test_write_fixed_refuses_unfixable_and_existing(tmp_path):
    p, _ = make(tmp_path, mutate=lambda rows: rows.__setitem__(0, rows[0].replace(",0.", ",-1.", 1)))
    out = tmp_path / "fixed.csv"
    r = invoke("validate", p, "--write-fixed", out)
    assert r.exit_code == 1 and not out.exists() and "out-of-range" in r.stderr
    good, _ = make(tmp_path, "good.csv")
    out.write_text("keep me")
    r = invoke("validate", good, "--write-fixed", out)
    assert r.exit_code == 2 and out.read_text() == "keep me" and "--force" in r.stderr
    r = invoke("validate", good, "--write-fixed", out, "--force")
    assert r.exit_code == 0 and out.read_text() == good.read_text()
    r = invoke("validate", good, "--write-fixed", good, "--force")
    assert r.exit_code == 2 and good.read_text() == out.read_text()


def test_help_mentions_every_option():
    r = invoke("validate", "--help")
    for opt in ("--task", "--ids", "--format", "--strict", "--write-fixed", "--force"):
        assert opt in r.stdout
    r = invoke("make-submission", "--help")
    for opt in ("--ids", "--output", "--zip", "--task", "--force", "--decimals"):
        assert opt in r.stdout
