"""Benchmark the metrics core against scikit-learn + netcal, in one run, on the same data.

Prints, for each measurement, lteval's time, the reference's time and the ratio, checks
that the values agree to 1e-12, and reports peak memory (tracemalloc, numpy arrays included).

    .venv/bin/python benchmarks/bench_metrics.py            # all parts
    .venv/bin/python benchmarks/bench_metrics.py --quick    # smaller reference runs

Parts:
1. full metric set (per-class AP, AUROC, P/R/F1, ECE; macro figures; pooled ECE/MCE/Brier)
   on 145,000 x 30 long-tailed labels (prevalence 30 % ... 0.03 %);
2. 1,000 bootstrap resamples of all macro figures on 1,620 x 30; the reference resamples
   rows and calls scikit-learn/netcal (timed on a subset of resamples, extrapolated);
3. end to end on 145,000 x 30 CSV files: `lteval score` vs a pandas + scikit-learn + netcal
   script, both as fresh processes (start-up and CSV parsing included); checks that the six
   overall figures agree to 1e-12;
4. (``--part parse``) reading the same predictions CSV: lteval's numpy path, the general pandas
   path, and pyarrow's CSV reader when pyarrow is importable (it is not a dependency).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")


def data(n, C=30, seed=0):
    rng = np.random.default_rng(seed)
    prev = np.geomspace(0.30, 0.0003, C)
    y = (rng.random((n, C)) < prev).astype(np.int8)
    y[0] = 1
    logits = np.log(prev / (1 - prev)) + 2.0 * y + rng.normal(size=(n, C))
    p = np.round(1 / (1 + np.exp(-logits)), 6)  # 6 decimals: realistic ties
    return y, p


def reference_full(y, p):
    from netcal.metrics import ECE, MCE
    from sklearn.metrics import (average_precision_score, f1_score, precision_score,
                                 recall_score, roc_auc_score)

    C = y.shape[1]
    ap = np.array([average_precision_score(y[:, c], p[:, c]) for c in range(C)])
    auc = np.array([roc_auc_score(y[:, c], p[:, c]) for c in range(C)])
    pred = (p >= 0.5).astype(int)
    prec = precision_score(y, pred, average=None, zero_division=0)
    rec = recall_score(y, pred, average=None, zero_division=0)
    f1 = f1_score(y, pred, average=None, zero_division=0)
    ece_c = np.array([ECE(15).measure(p[:, c], y[:, c]) for c in range(C)])
    ece = ECE(15).measure(p.ravel(), y.ravel())
    mce = MCE(15).measure(p.ravel(), y.ravel())
    brier = np.mean((p - y) ** 2)
    return {"mAP": ap.mean(), "mAUROC": auc.mean(), "mF1": f1.mean(), "ece": ece, "mce": mce,
            "brier": brier, "ap": ap, "auc": auc, "f1": f1, "precision": prec, "recall": rec,
            "ece_c": ece_c}


def lteval_full(y, p):
    from lteval.metrics import score_arrays

    r = score_arrays(y, p, [f"c{i}" for i in range(y.shape[1])])
    pc = r.per_class
    cls = r.classes
    return {**r.overall, "ap": np.array([pc[c]["ap"] for c in cls]),
            "auc": np.array([pc[c]["auroc"] for c in cls]), "f1": np.array([pc[c]["f1"] for c in cls]),
            "precision": np.array([pc[c]["precision"] for c in cls]),
            "recall": np.array([pc[c]["recall"] for c in cls]),
            "ece_c": np.array([pc[c]["ece"] for c in cls])}


def timed(fn, *a, repeat=1):
    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(*a)
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return out, best


def peak_mb(fn, *a):
    tracemalloc.start()
    fn(*a)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def max_diff(a, b):
    return max(float(np.max(np.abs(np.asarray(a[k]) - np.asarray(b[k])))) for k in b)


def part_full(quick):
    y, p = data(145_000)
    lteval_full(y, p)  # warm-up (imports)
    ours, t_ours = timed(lteval_full, y, p, repeat=3)
    ref, t_ref = timed(reference_full, y, p)
    diff = max_diff(ours, ref)
    mem = peak_mb(lteval_full, y, p)
    print(f"[1] full metric set, 145,000 x 30: lteval {t_ours:.3f} s, sklearn+netcal {t_ref:.3f} s, "
          f"ratio {t_ref / t_ours:.1f}x; max |diff| {diff:.1e}; lteval peak memory {mem:.0f} MB")
    return t_ref / t_ours, diff


def reference_boot(y, p, idx):
    from netcal.metrics import ECE, MCE
    from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

    out = []
    for rows in idx:
        yy, pp = y[rows], p[rows]
        C = y.shape[1]
        ap = [average_precision_score(yy[:, c], pp[:, c]) for c in range(C)]
        auc = [roc_auc_score(yy[:, c], pp[:, c]) for c in range(C) if 0 < yy[:, c].sum() < len(yy)]
        f1 = f1_score(yy, (pp >= 0.5).astype(int), average=None, zero_division=0)
        out.append((np.mean(ap), np.mean(auc), np.mean(f1), ECE(15).measure(pp.ravel(), yy.ravel()),
                    MCE(15).measure(pp.ravel(), yy.ravel()), np.mean((pp - yy) ** 2)))
    return np.array(out)


def part_boot(quick):
    from lteval.metrics import bootstrap_distribution, resample_indices

    y, p = data(1620, seed=1)
    B = 1000
    bootstrap_distribution(y, p, n_boot=10)  # warm-up
    dist, t_ours = timed(lambda: bootstrap_distribution(y, p, n_boot=B, seed=0), repeat=3)
    k = 20 if quick else 50
    idx = resample_indices(1620, B, seed=0)[:k]
    ref, t_ref_k = timed(reference_boot, y, p, idx)
    t_ref = t_ref_k * B / k
    ours_k = np.stack([dist[f][:k] for f in ("mAP", "mAUROC", "mF1", "ece", "mce", "brier")], axis=1)
    diff = float(np.max(np.abs(ours_k - ref)))
    mem = peak_mb(lambda: bootstrap_distribution(y, p, n_boot=B, seed=0))
    print(f"[2] 1,000 bootstrap resamples, 1,620 x 30: lteval {t_ours:.3f} s, resample+sklearn+netcal "
          f"{t_ref:.1f} s (timed on {k} resamples, x{B // k}), ratio {t_ref / t_ours:.0f}x; "
          f"max |diff| on those resamples {diff:.1e}; lteval peak memory {mem:.0f} MB")
    return t_ref / t_ours, diff


REF_SCRIPT = textwrap.dedent("""
    import sys, warnings
    warnings.filterwarnings("ignore")
    import numpy as np, pandas as pd
    from sklearn.metrics import average_precision_score, roc_auc_score, f1_score
    from netcal.metrics import ECE, MCE
    pred = pd.read_csv(sys.argv[1]); lab = pd.read_csv(sys.argv[2])
    classes = [c for c in lab.columns if c != "ImageID"]
    m = lab.merge(pred, on="ImageID", suffixes=("", "_p"))
    y = m[classes].to_numpy(); p = m[[c + "_p" for c in classes]].to_numpy()
    ap = [average_precision_score(y[:, c], p[:, c]) for c in range(len(classes))]
    auc = [roc_auc_score(y[:, c], p[:, c]) for c in range(len(classes))]
    f1 = f1_score(y, (p >= 0.5).astype(int), average=None, zero_division=0)
    ece_c = [ECE(15).measure(p[:, c], y[:, c]) for c in range(len(classes))]
    print(np.mean(ap), np.mean(auc), np.mean(f1), ECE(15).measure(p.ravel(), y.ravel()),
          MCE(15).measure(p.ravel(), y.ravel()), np.mean((p - y) ** 2))
""")


def part_e2e(quick):
    from lteval.io.tables import write_labels, write_predictions
    from lteval.tasks import BUILTIN_TASKS

    task = BUILTIN_TASKS["cxrlt2026-task1"]
    y, p = data(145_000, seed=2)
    ids = np.array([f"{i:039d}_{i % 97:x}.png" for i in range(145_000)])
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        write_labels(d / "labels.csv", ids, y, task)
        perm = np.random.default_rng(0).permutation(len(ids))
        write_predictions(d / "preds.csv", ids[perm], p[perm], task)
        (d / "ref.py").write_text(REF_SCRIPT)
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        lteval_bin = str(Path(sys.executable).with_name("lteval"))
        cmd_ours = [lteval_bin, "score", str(d / "preds.csv"), "-l", str(d / "labels.csv"),
                    "--json", str(d / "s.json"), "--no-classes", "--force"]
        cmd_ref = [sys.executable, str(d / "ref.py"), str(d / "preds.csv"), str(d / "labels.csv")]
        subprocess.run(cmd_ours, env=env, check=True, capture_output=True)  # warm file cache
        _, t_ours = timed(lambda: subprocess.run(cmd_ours, env=env, check=True, capture_output=True), repeat=3)
        ref, t_ref = timed(lambda: subprocess.run(cmd_ref, env=env, check=True, capture_output=True,
                                                  text=True), repeat=1 if quick else 2)
        import json

        overall = json.loads((d / "s.json").read_text())["overall"]
        ours = [overall[k] for k in ("mAP", "mAUROC", "mF1", "ece", "mce", "brier")]
        diff = max(abs(a - float(b)) for a, b in zip(ours, ref.stdout.split()))
    print(f"[3] end to end on 145,000 x 30 CSV files: `lteval score` {t_ours:.2f} s, "
          f"pandas+sklearn+netcal script {t_ref:.2f} s, ratio {t_ref / t_ours:.1f}x; "
          f"max |diff| of the six overall figures {diff:.1e}")
    assert diff <= 1e-12, diff
    return t_ref / t_ours


def part_parse(quick):
    """Read one 145,000 x 30 predictions CSV with each parser (in this process, imports apart)."""
    from lteval.io import plaincsv
    from lteval.io.tables import read_predictions, write_predictions
    from lteval.tasks import BUILTIN_TASKS

    task = BUILTIN_TASKS["cxrlt2026-task1"]
    _, p = data(145_000, seed=2)
    ids = np.array([f"{i:039d}_{i % 97:x}.png" for i in range(145_000)])
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "preds.csv"
        write_predictions(f, ids, p, task)
        import pandas  # noqa: F401  (import time is not the parser's)

        fast, t_fast = timed(read_predictions, f, task, repeat=3)
        real = plaincsv.read_plain
        plaincsv.read_plain = lambda *a, **k: None
        try:
            slow, t_slow = timed(read_predictions, f, task, repeat=3)
        finally:
            plaincsv.read_plain = real
        assert np.array_equal(fast.p, slow.p) and fast.ids.tolist() == slow.ids.tolist()
        line = (f"[4] read 145,000 x 30 predictions CSV: lteval numpy path {t_fast:.3f} s, "
                f"pandas path {t_slow:.3f} s")
        try:
            t0 = time.perf_counter()
            import pyarrow as pa
            import pyarrow.csv as pcsv
            t_imp = time.perf_counter() - t0
        except ImportError:
            print(line + ", pyarrow not installed")
            return
        types = {"ImageID": pa.string(), **{c: pa.float64() for c in task.classes}}

        def arrow():
            tb = pcsv.read_csv(f, convert_options=pcsv.ConvertOptions(column_types=types))
            return (np.array(tb.column("ImageID").to_pylist()),
                    np.column_stack([tb.column(c).to_numpy() for c in task.classes]))

        (a_ids, a_p), t_arrow = timed(arrow, repeat=3)
        assert np.array_equal(a_p, fast.p) and a_ids.tolist() == fast.ids.tolist()
        print(line + f", pyarrow {pa.__version__} read_csv + to numpy {t_arrow:.3f} s "
              f"(+ {t_imp:.3f} s import; no validation)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="time the reference on fewer resamples")
    ap.add_argument("--part", choices=["full", "boot", "e2e", "parse"], action="append")
    a = ap.parse_args()
    parts = a.part or ["full", "boot", "e2e", "parse"]
    import threadpoolctl

    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, cores {os.cpu_count()}, "
          f"BLAS {[i.get('internal_api') for i in threadpoolctl.threadpool_info()]}"
          + (", load average %.2f %.2f %.2f" % os.getloadavg() if hasattr(os, "getloadavg") else ""))
    if "full" in parts:
        part_full(a.quick)
    if "boot" in parts:
        part_boot(a.quick)
    if "e2e" in parts:
        part_e2e(a.quick)
    if "parse" in parts:
        part_parse(a.quick)
    if hasattr(os, "getloadavg"):
        print("load average (1, 5, 15 min) at the end: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
