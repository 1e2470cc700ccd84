"""Parallel row matching gives exactly the serial result (forced on small files, tiny blocks)."""

from __future__ import annotations

import os
import random
import sys

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from lteval.submission import textstream, validate_submission
from lteval.submission.validate import auto_workers
from lteval.tasks import CXRLT2026_TASK2_CLASSES as C

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="parallel matching uses fork (Linux only)")

KINDS = ["ok", "ok", "ok", "logit", "nan", "text", "ws_id", "ws_val", "long", "e", "dup",
         "short", "blank", "quote", "unexpected", "empty_id", "latin1"]


def build(rng, kinds, ids):
    lines = [("ImageID," + ",".join(C)).encode()]
    for k, kind in enumerate(kinds):
        rid = ids[k]
        vals = [f"{rng.random():.4f}" for _ in C]
        j = rng.randrange(len(C))
        if kind == "logit":
            vals = [f"{rng.gauss(0, 3):.3f}" for _ in C]
        elif kind == "nan":
            vals[j] = "nan"
        elif kind == "text":
            vals[j] = "abc"
        elif kind == "ws_id":
            rid = " " + rid
        elif kind == "ws_val":
            vals[j] = vals[j] + " "
        elif kind == "long":
            vals[j] = repr(rng.random())
        elif kind == "e":
            vals[j] = rng.choice(["1.5e-05", "1.2345678e-05", "2e3"])
        elif kind == "dup":
            rid = ids[rng.randrange(len(ids))]
        elif kind == "short":
            vals = vals[:-2]
        elif kind == "unexpected":
            rid = f"other{k}.png"
        elif kind == "empty_id":
            rid = ""
        elif kind == "blank":
            lines.append(b"")
            continue
        line = (",".join([rid, *vals])).encode()
        if kind == "quote":
            line = (f'"{rid}",' + ",".join(f'"{v}"' for v in vals)).encode()
        if kind == "latin1":
            line = line.replace(b".png", b"\xe9.png", 1)
        lines.append(line)
    return b"\n".join(lines) + b"\n"


@settings(max_examples=int(os.environ.get("LTEVAL_FUZZ_EXAMPLES", "15")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=80),
       block=st.sampled_from([64, 200, 1000, 1 << 16]), max_examples=st.sampled_from([1, 3, 50]))
def test_parallel_equals_serial(tmp_path_factory, monkeypatch, seed, kinds, block, max_examples):
    monkeypatch.setattr(textstream, "BLOCK_BYTES", block)
    tmp = tmp_path_factory.mktemp("par")
    rng = random.Random(seed)
    ids = [f"{rng.getrandbits(64)}_{k}.png" for k in range(len(kinds))]
    p = tmp / "s.csv"
    p.write_bytes(build(rng, kinds, ids))
    serial = validate_submission(p, task="cxrlt2026-task2", ids=ids, max_examples=max_examples,
                                 workers=1)
    parallel = validate_submission(p, task="cxrlt2026-task2", ids=ids,
                                   max_examples=max_examples, workers=2)
    assert parallel.to_dict() == serial.to_dict()
    assert [p.count for p in parallel.errors] == [p.count for p in serial.errors]


def test_multiline_quoted_field_falls_back_to_serial(tmp_path, monkeypatch):
    monkeypatch.setattr(textstream, "BLOCK_BYTES", 128)
    rows = [f"id{k}.png," + ",".join(["0.5"] * len(C)) for k in range(40)]
    rows[20] = '"id20\n.png",' + ",".join(["0.5"] * len(C))
    rows[30] = rows[30].replace("0.5", "x", 1)
    p = tmp_path / "s.csv"
    p.write_text("ImageID," + ",".join(C) + "\n" + "\n".join(rows) + "\n")
    serial = validate_submission(p, task="cxrlt2026-task2", workers=1)
    parallel = validate_submission(p, task="cxrlt2026-task2", workers=2)
    assert parallel.to_dict() == serial.to_dict()
    assert [e.line for e in serial.errors] == [33]  # rows[20] spans lines 22-23


def test_auto_workers(monkeypatch):
    monkeypatch.delenv("LTEVAL_VALIDATE_WORKERS", raising=False)
    assert auto_workers(10**12) == 1  # opt-in
    monkeypatch.setenv("LTEVAL_VALIDATE_WORKERS", "3")
    assert auto_workers(10**12) == 3 and auto_workers(1000) == 1  # small files stay serial
    monkeypatch.setenv("LTEVAL_VALIDATE_WORKERS", "junk")
    assert auto_workers(10**12) == 1
