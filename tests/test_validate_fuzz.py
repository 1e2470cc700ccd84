"""Fuzzing the validator: mutated submissions never crash it, and the verdict is right.

Each example applies any number of validity-preserving mutations (swap rows, permute columns,
change values, CRLF, BOM, truncate at a row boundary) and at most one mutation that makes the
file invalid (drop/duplicate a row, drop/duplicate a column, inject text, NaN, negative numbers,
truncate mid-row, random bytes in a value). The exit code must be 0 for valid files and 1 with
at least one error for invalid ones; arbitrary byte corruption must still never crash.
"""

from __future__ import annotations

import json
import os
import random

from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

from lteval.cli import app
from lteval.tasks import CXRLT2026_TASK2_CLASSES as C

runner = CliRunner()
#: Raise for a longer hunt, e.g. ``LTEVAL_FUZZ_EXAMPLES=2000 pytest tests/test_validate_fuzz.py``.
SETTINGS = settings(max_examples=int(os.environ.get("LTEVAL_FUZZ_EXAMPLES", "60")), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
N = 12


def base(seed):
    rng = random.Random(seed)
    ids = [f"{rng.getrandbits(100)}_{k}.png" for k in range(N)]
    table = [["ImageID", *C]] + [[i, *(f"{rng.random():.5f}" for _ in C)] for i in ids]
    return ids, table


def render(table):
    return "\n".join(",".join(r) for r in table) + "\n"


VALID_MUTATIONS = ["swap_rows", "permute_columns", "new_values", "crlf", "bom",
                   "truncate_at_row"]
INVALID_MUTATIONS = ["drop_row", "duplicate_row", "drop_column", "duplicate_column", "text",
                     "nan", "negative", "above_one", "truncate_mid_row", "random_bytes_value",
                     "empty_value", "inf", "extra_field"]


def apply(table, name, rng):
    """Mutate the table (list of rows) in place; return a byte-level transform or None."""
    rows = table[1:]
    if name == "swap_rows":
        a, b = rng.randrange(len(rows)), rng.randrange(len(rows))
        rows[a], rows[b] = rows[b], rows[a]
        table[1:] = rows
    elif name == "permute_columns":
        order = list(range(len(table[0])))
        rng.shuffle(order)
        table[:] = [[r[k] for k in order] for r in table]
    elif name == "new_values":
        r = rng.randrange(1, len(table))
        c = rng.randrange(1, len(C) + 1)
        table[r][c] = rng.choice(["0", "1", "0.25", "1e-05", ".5", "1.0"])
    elif name == "crlf":  # idempotent: applying it twice must not produce "\r\r\n"
        return lambda b: b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    elif name == "bom":
        return lambda b: b if b.startswith(b"\xef\xbb\xbf") else b"\xef\xbb\xbf" + b
    elif name == "truncate_at_row":
        keep = rng.randrange(1, len(table))
        del table[keep + 1:]
    elif name == "drop_row":
        del table[rng.randrange(1, len(table))]
    elif name == "duplicate_row":
        table.append(list(table[rng.randrange(1, len(table))]))
    elif name == "drop_column":
        k = rng.randrange(len(table[0]))
        for r in table:
            del r[k]
    elif name == "duplicate_column":
        k = rng.randrange(len(table[0]))
        for r in table:
            r.append(r[k])
    else:
        r = rng.randrange(1, len(table))
        idc = table[0].index("ImageID") if "ImageID" in table[0] else 0
        c = rng.choice([k for k in range(len(table[r])) if k != idc])
        if name == "text":
            table[r][c] = rng.choice(["abc", "yes", "0.5x", "--", "N/A", "0..5", "½"])
        elif name == "nan":
            table[r][c] = rng.choice(["nan", "NaN", "-nan"])
        elif name == "inf":
            table[r][c] = rng.choice(["inf", "-Infinity", "1e400"])
        elif name == "negative":
            table[r][c] = "-" + table[r][c].lstrip("-") + "1"
        elif name == "above_one":
            table[r][c] = rng.choice(["1.0001", "2", "99.5", "3e2"])
        elif name == "empty_value":
            table[r][c] = ""
        elif name == "extra_field":
            table[r].append("0.5")
        elif name == "random_bytes_value":
            junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
            marker = f"@@JUNK{r}_{c}@@"
            table[r][c] = marker
            return lambda b: b.replace(marker.encode(), b"x" + junk)
        elif name == "truncate_mid_row":
            rows_text = render(table)
            # cut inside the last row, before its last delimiter: the row loses a field
            last = rows_text.rstrip("\n")
            cut = last.rfind(",")
            return lambda b: b[: len(last[:cut].encode())]
    return None


def run(tmp_path, data, ids, extra=()):
    p = tmp_path / "submission.csv"
    p.write_bytes(data)
    idfile = tmp_path / "ids.txt"
    idfile.write_text("\n".join(ids))
    r = runner.invoke(app, ["validate", str(p), "--task", "cxrlt2026-task2", "--ids",
                            str(idfile), "--format", "json", *extra])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output
    return r, json.loads(r.stdout)


@SETTINGS
@given(seed=st.integers(0, 10**6),
       valid_ops=st.lists(st.sampled_from(VALID_MUTATIONS), max_size=4),
       invalid_op=st.one_of(st.none(), st.sampled_from(INVALID_MUTATIONS)))
def test_mutated_submissions(tmp_path_factory, seed, valid_ops, invalid_op):
    tmp_path = tmp_path_factory.mktemp("fuzz")
    rng = random.Random(seed)
    ids, table = base(seed)
    transforms = []
    for op in valid_ops:
        t = apply(table, op, rng)
        if t:
            transforms.append(t)
    kept = [r[table[0].index("ImageID")] for r in table[1:]]
    if invalid_op is not None:
        t = apply(table, invalid_op, rng)
        if t:
            transforms.insert(0, t)  # byte transforms of the invalid op act on the plain text
    data = render(table).encode()
    for t in transforms:
        data = t(data)
    # the evaluation list is the IDs the valid mutations left (truncation drops some)
    r, d = run(tmp_path, data, kept)
    if invalid_op is None:
        assert r.exit_code == 0 and d["valid"] and d["errors"] == [], d["errors"]
    else:
        assert r.exit_code == 1 and not d["valid"] and len(d["errors"]) >= 1, (invalid_op, d)
        for e in d["errors"]:
            assert set(e) == {"code", "message", "line", "column"} and e["message"]


@SETTINGS
@given(seed=st.integers(0, 10**6), n=st.integers(1, 12), data=st.data())
def test_arbitrary_corruption_never_crashes(tmp_path_factory, seed, n, data):
    tmp_path = tmp_path_factory.mktemp("corrupt")
    ids, table = base(seed)
    raw = bytearray(render(table).encode())
    for _ in range(n):
        op = data.draw(st.sampled_from(["set", "insert", "delete", "truncate"]))
        pos = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "set" and raw:
            raw[pos] = data.draw(st.integers(0, 255))
        elif op == "insert":
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del raw[pos:pos + data.draw(st.integers(1, 8))]
        else:
            del raw[pos:]
    r, d = run(tmp_path, bytes(raw), ids)
    assert r.exit_code in (0, 1)
    assert (r.exit_code == 0) == d["valid"] == (d["errors"] == [])
    for e in d["errors"] + d["warnings"]:
        assert isinstance(e["message"], str) and e["message"]
        assert e["line"] is None or (isinstance(e["line"], int) and e["line"] >= 1)


@SETTINGS
@given(blob=st.binary(max_size=300))
def test_random_bytes_never_crash(tmp_path_factory, blob):
    tmp_path = tmp_path_factory.mktemp("blob")
    r, d = run(tmp_path, blob, ["a.png"])
    assert r.exit_code == 1 and d["errors"]


@SETTINGS
@given(value=st.text(alphabet="0123456789.eE+- 1", max_size=14),
       quoted=st.booleans(), position=st.integers(0, len(C) - 1))
def test_fast_path_agrees_with_the_field_check(tmp_path_factory, value, quoted, position):
    """The row regex (fast path) and ``check_value`` (slow path) must agree on every value."""
    from lteval.submission import validate_submission
    from lteval.submission.values import check_value

    tmp_path = tmp_path_factory.mktemp("agree")
    ids, table = base(0)
    shown = f'"{value}"' if quoted else value
    table[3][1 + position] = shown
    p = tmp_path / "s.csv"
    p.write_text(render(table))
    r = validate_submission(p, task="cxrlt2026-task2")
    expected = check_value(value)
    exp_errors = sorted({c for s, c, _ in expected if s == "error"})
    exp_warnings = sorted({c for s, c, _ in expected if s == "warning"})
    assert sorted({e.code for e in r.errors}) == exp_errors, (value, r.errors)
    assert sorted({w.code for w in r.warnings}) == exp_warnings, (value, r.warnings)
    for prob in r.errors + r.warnings:
        assert prob.line == 4 and prob.column == C[position]


@SETTINGS
@given(seed=st.integers(0, 10**6),
       kinds=st.lists(st.sampled_from(["logit", "percent", "nan", "text", "ws", "long", "dup",
                                       "e", "ok", "ok", "short"]), min_size=20, max_size=60))
def test_grouped_counts_do_not_depend_on_max_examples(tmp_path_factory, seed, kinds):
    """Shortcuts taken once examples are full must count exactly what the full check counts."""
    from lteval.submission import validate_submission

    tmp_path = tmp_path_factory.mktemp("counts")
    rng = random.Random(seed)
    lines = ["ImageID," + ",".join(C)]
    for k, kind in enumerate(kinds):
        vals = [f"{rng.random():.4f}" for _ in C]
        j = rng.randrange(len(C))
        rid = f"id{k}.png"
        if kind == "logit":
            vals = [f"{rng.gauss(0, 3):.3f}" for _ in C]
        elif kind == "percent":
            vals[j] = f"{rng.uniform(1.5, 99):.2f}"
        elif kind == "nan":
            vals[j] = "nan"
        elif kind == "text":
            vals[j] = "abc"
        elif kind == "ws":
            vals[j] = " " + vals[j]
        elif kind == "long":
            vals[j] = f"{rng.random():.12f}"
            if rng.random() < 0.5:
                vals[(j + 1) % len(C)] = "-" + vals[(j + 1) % len(C)]
        elif kind == "dup":
            rid = "id0.png"
        elif kind == "e":
            vals[j] = rng.choice(["1.5e-05", "-2e-3", "3E2", "1.234567891e-02"])
        elif kind == "short":
            vals = vals[:-1]
        lines.append(",".join([rid, *vals]))
    p = tmp_path / "s.csv"
    p.write_text("\n".join(lines) + "\n")

    def totals(result):
        out = {}
        for prob in result.errors + result.warnings:
            key = (prob.severity, prob.code)
            out[key] = out.get(key, 0) + prob.count
        return out

    few = validate_submission(p, task="cxrlt2026-task2", max_examples=1)
    every = validate_submission(p, task="cxrlt2026-task2", max_examples=10_000)
    assert all(prob.count == 1 for prob in every.errors + every.warnings)
    assert totals(few) == totals(every)
    assert few.n_rows == every.n_rows == len(kinds)
