"""Benchmark: ``lteval validate`` on a generated 1,000,000-row Task 1 submission.

Generates the files itself in a temporary directory (nothing is downloaded), then runs each
measurement in a fresh Python process so that its peak memory (``ru_maxrss``) is its own:

* ``lteval validate SUB.csv --ids EVAL.csv`` through the CLI (the full command a user runs),
  for values with 8 decimals, values as Python's ``repr`` writes them (17 significant digits,
  what ``DataFrame.to_csv`` produces by default: every row then carries a precision warning),
  and a file where 1 % of the rows are broken (each re-checked field by field);
* the reference: ``pandas.read_csv`` of the same file (parsing only, no checks at all).

Requirement (issue 3): under 10 s and under 1 GB peak memory on 2 cores.

    python benchmarks/bench_validate.py            # 1,000,000 rows
    python benchmarks/bench_validate.py --rows 200000 --keep
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lteval.tasks import CXRLT2026_TASK1_CLASSES as CLASSES  # noqa: E402

MEASURE = r"""
import json, resource, sys, time
kind, args = sys.argv[1], sys.argv[2:]
t0, c0 = time.perf_counter(), time.process_time()
if kind == "cli":
    from lteval.cli import app
    try:
        code = app(args, standalone_mode=False) or 0  # typer.Exit(n) comes back as n
    except SystemExit as e:
        code = e.code
    except Exception as e:  # click raises typer.Exit as an exception when not standalone
        code = getattr(e, "exit_code", 1)
else:
    import pandas as pd
    pd.read_csv(args[0], dtype={"ImageID": str})
    code = 0
children = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": time.perf_counter() - t0,
                  "cpu": time.process_time() - c0 + children.ru_utime + children.ru_stime,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "child_rss_mb": children.ru_maxrss / 1024, "code": code}), file=sys.stderr)
"""


def generate(path: Path, ids: list[str], fmt: str, bad_fraction: float = 0.0, seed: int = 0):
    """Write a submission quickly: a pool of value rows is reused, IDs are unique."""
    rng = random.Random(seed)
    if fmt == "8dec":
        pool = [",".join(f"{rng.random():.8f}" for _ in CLASSES) for _ in range(997)]
    else:
        pool = [",".join(repr(rng.random()) for _ in CLASSES) for _ in range(997)]
    bad_every = int(1 / bad_fraction) if bad_fraction else 0
    with open(path, "w", newline="") as f:
        f.write("ImageID," + ",".join(CLASSES) + "\n")
        chunk = []
        for k, i in enumerate(ids):
            vals = pool[k % 997]
            if bad_every and k % bad_every == 0:
                vals = "nan" + vals[vals.index(","):]  # one NaN in the first class column
            chunk.append(f"{i},{vals}\n")
            if len(chunk) == 20000:
                f.write("".join(chunk))
                chunk = []
        f.write("".join(chunk))


def measure(kind: str, *args: str) -> dict:
    env = dict(os.environ, LTEVAL_NO_PROGRESS="1")
    r = subprocess.run([sys.executable, "-c", MEASURE, kind, *args], capture_output=True,
                       text=True, env=env)
    line = [ln for ln in r.stderr.splitlines() if ln.startswith("{")]
    if not line:
        raise SystemExit(f"measurement failed:\n{r.stderr[-2000:]}")
    return json.loads(line[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--no-pandas", action="store_true", help="skip the pandas reference")
    a = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="lteval-bench-"))
    rng = random.Random(1)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    ids = [f"{rng.getrandbits(126)}_{''.join(rng.choices(alphabet, k=6))}.png"
           for _ in range(a.rows)]
    ids_path = tmp / "CXRLT_2026_TEST_ALL_TASK1.csv"  # the organisers' shape, 33 fields a line
    with open(ids_path, "w") as f:
        f.write("ImageID,StudyDate_DICOM,PatientID" + "," * 30 + "\n")
        f.write("\n".join(f"{i},20160101,1.90E+38" + "," * 30 for i in ids))
    # (name, value format, fraction of broken rows)
    cases = [("8 decimals", "8dec", 0.0), ("repr (17 digits)", "repr", 0.0),
             ("8 decimals, 1% rows broken", "8dec", 0.01)]
    print(f"lteval validate benchmark: {a.rows:,} rows x {len(CLASSES)} classes, "
          f"{os.cpu_count()} CPU(s), Python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    print(f"{'case':<31} {'file MB':>8} {'exit':>4} {'wall s':>7} {'cpu s':>7} {'peak MB':>8} "
          f"{'pandas s':>9} {'pandas MB':>9} {'ratio':>6}")
    results = []
    made: dict[tuple, Path] = {}
    for name, fmt, bad in cases:
        sub = tmp / f"submission_{fmt}_{int(bad * 100)}.csv"
        if (fmt, bad) not in made:
            generate(sub, ids, fmt, bad)
            made[(fmt, bad)] = sub
        m = measure("cli", "validate", str(sub), "--ids", str(ids_path), "--format", "json")
        ref = {"wall": float("nan"), "rss_mb": float("nan")}
        if not a.no_pandas:
            ref = measure("pandas", str(sub))
        mb = sub.stat().st_size / 1e6
        peak = m["rss_mb"]
        ratio = m["wall"] / ref["wall"] if ref["wall"] == ref["wall"] else float("nan")
        print(f"{name:<31} {mb:>8.0f} {m['code']!s:>4} {m['wall']:>7.2f} {m['cpu']:>7.2f} "
              f"{peak:>8.0f} {ref['wall']:>9.2f} {ref['rss_mb']:>9.0f} {ratio:>6.2f}")
        results.append((name, m, peak))
    if not a.keep:
        for sub in made.values():
            sub.unlink()
    valid = [(m, peak) for name, m, peak in results if "broken" not in name]
    ok_wall = all(m["wall"] < 10 and peak < 1024 for m, peak in valid)
    ok_cpu = all(m["cpu"] < 10 and peak < 1024 for m, peak in valid)
    print(f"requirement (valid files, < 10 s and < 1 GB): wall time "
          f"{'met' if ok_wall else 'NOT met'}, CPU time {'met' if ok_cpu else 'NOT met'} "
          f"(load average {os.getloadavg()[0]:.1f} at the end: on a busy machine wall time "
          "exceeds CPU time)")
    print("ratio = lteval wall time / pandas.read_csv wall time (pandas parses, checks nothing)")
    if a.keep:
        print(f"files kept in {tmp}")
    else:
        ids_path.unlink()
        tmp.rmdir()


if __name__ == "__main__":
    main()
