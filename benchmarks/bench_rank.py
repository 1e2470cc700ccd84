"""Benchmark `lteval.metrics.rank` against a naive scikit-learn loop, in one run, on the same data.

10 systems x 1,000 paired resamples on 1,620 x 30 long-tailed labels (6-decimal scores, ties).
The reference draws each resample's rows (`resample_indices`, the same rows lteval weights),
calls scikit-learn's average_precision_score per class and system, ranks with scipy and
computes Kendall's tau with scipy; it is timed on a subset of resamples and extrapolated.
Checks that every checked resample's figures agree to 1e-12 and its ranking is identical.

    .venv/bin/python benchmarks/bench_rank.py            # 40 reference resamples
    .venv/bin/python benchmarks/bench_rank.py --quick    # 10
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def data(n=1620, C=30, k=10, seed=0):
    rng = np.random.default_rng(seed)
    prev = np.geomspace(0.30, 0.003, C)
    y = (rng.random((n, C)) < prev).astype(np.int8)
    y[0] = 1
    systems = {}
    for i in range(k):
        logits = np.log(prev / (1 - prev)) + (1.2 + 0.05 * i) * y + rng.normal(size=(n, C))
        systems[f"system{i:02d}"] = np.round(1 / (1 + np.exp(-logits)), 6)
    patients = np.repeat(np.arange(n), 1 + rng.poisson(1.4, n))[:n]
    return y, systems, patients


def reference_map(y, p):
    from sklearn.metrics import average_precision_score

    return float(np.mean([average_precision_score(y[:, c], p[:, c]) if y[:, c].any() else 0.0
                          for c in range(y.shape[1])]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 reference resamples instead of 40")
    ap.add_argument("--boot", type=int, default=1000)
    args = ap.parse_args()
    from scipy.stats import kendalltau, rankdata

    from lteval.metrics.bootstrap import resample_indices
    from lteval.metrics.rank import rank_systems

    y, systems, patients = data()
    names = list(systems)
    B = args.boot
    rank_systems(y, systems, n_boot=5)  # warm up (imports)
    t0 = time.perf_counter()
    res = rank_systems(y, systems, n_boot=B, seed=0)
    t_lt = time.perf_counter() - t0
    t0 = time.perf_counter()
    rank_systems(y, systems, n_boot=B, seed=0, clusters=patients)
    t_cl = time.perf_counter() - t0

    R = 10 if args.quick else 40
    idx = resample_indices(len(y), B, seed=0)[:R]
    full = np.array([reference_map(y, systems[m]) for m in names])
    t0 = time.perf_counter()
    ref = np.empty((R, len(names)))
    taus = []
    for b in range(R):
        ref[b] = [reference_map(y[idx[b]], systems[m][idx[b]]) for m in names]
        rankdata(-ref[b], method="min")
        taus.append(kendalltau(full, ref[b]).statistic)
    t_ref = (time.perf_counter() - t0) / R * B

    diff = float(np.max(np.abs(res.boot_values[:R] - ref)))
    same_rank = all((rankdata(-res.boot_values[b], method="min") == rankdata(-ref[b], method="min")).all()
                    for b in range(R))
    tau_diff = float(np.max(np.abs(res.kendall_tau[:R] - np.array(taus))))
    print(f"data: {len(y)} x {y.shape[1]}, {len(names)} systems, {B} paired resamples (mAP)")
    print(f"lteval rank_systems                 {t_lt:8.3f} s")
    print(f"lteval rank_systems, by patient     {t_cl:8.3f} s  ({len(np.unique(patients))} clusters)")
    print(f"naive scikit-learn loop (from {R:>3})  {t_ref:8.1f} s  (extrapolated to {B})")
    print(f"ratio                               {t_ref / t_lt:8.0f} x")
    print(f"max |lteval - sklearn| on {R} resamples: {diff:.1e}; rankings identical: {same_rank}; "
          f"max |tau - scipy|: {tau_diff:.1e}")
    assert diff < 1e-12 and same_rank and tau_diff < 1e-12


if __name__ == "__main__":
    main()
