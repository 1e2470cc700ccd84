"""Benchmark: render an ``lteval report`` of 20 runs; time and size against the budget.

Budget (issue 8): a 20-run report renders in under 30 s on 2 cores and stays under 5 MB.
Reference printed in the same run: scoring the same 40 (run, split) pairs with
``lteval.score`` and the same bootstrap (the metrics work the report cannot avoid), so the
ratio shows what loading, figures and HTML add on top.

    .venv/bin/python benchmarks/bench_report.py [--runs 20] [--n 2000] [--bootstrap 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

BACKBONES = ("resnet50", "densenet121", "convnext_tiny", "efficientnet_b4")
LOSSES = ("bce", "focal", "asl", "ldam", "ldam_drw")


def make_runs(root: Path, n_runs: int, n: int, stages: int) -> list[Path]:
    from lteval.report.synthetic import make_run

    runs = []
    for i in range(n_runs):
        bb, loss = BACKBONES[i % len(BACKBONES)], LOSSES[(i // len(BACKBONES)) % len(LOSSES)]
        runs.append(make_run(root, f"{bb}-{loss}-{i:02d}", seed=i, n_dev=n, n_test=n,
                             backbone=bb, loss=loss, strength=1.5 + 0.05 * i,
                             calib_stage=i < stages))
    return runs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--n", type=int, default=2000, help="images per split (dev and test)")
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--stages", type=int, default=0, help="runs that also get a post/calib stage")
    ap.add_argument("--keep", help="write the report here instead of a temporary directory")
    args = ap.parse_args(argv)
    os.environ.setdefault("LTEVAL_NO_PROGRESS", "1")

    import lteval
    from lteval.report import render_report

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        runs = make_runs(root, args.runs, args.n, args.stages)
        print(f"generated {args.runs} runs x (dev {args.n} + test {args.n}) x 30 classes "
              f"in {time.perf_counter() - t0:.1f} s; cpus available: {len(os.sched_getaffinity(0))}")

        out = Path(args.keep) if args.keep else root / "report.html"
        t0 = time.perf_counter()
        render_report(runs, out, bootstrap=args.bootstrap, force=True)
        t_report = time.perf_counter() - t0
        size = out.stat().st_size

        t0 = time.perf_counter()
        for r in runs:
            for split, seed in (("dev", 0), ("test", 1)):
                lteval.score(r / "predictions" / f"{split}.csv", r / "labels" / f"{split}.csv",
                             n_boot=args.bootstrap, seed=seed)
        t_score = time.perf_counter() - t0

    print(f"report: {t_report:.2f} s, {size / 1e6:.2f} MB ({args.runs} runs + {args.stages} stages, "
          f"--bootstrap {args.bootstrap})")
    print(f"reference, lteval.score on the same {2 * args.runs} (run, split) pairs with the same "
          f"bootstrap: {t_score:.2f} s; report / scoring = {t_report / t_score:.2f}x")
    print(f"budget: time {t_report:.1f} / 30 s = {t_report / 30:.2f}; size {size / 1e6:.2f} / 5 MB "
          f"= {size / 5e6:.2f}")
    ok = t_report < 30 and size < 5_000_000
    print("within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
