"""Effect of each post-training stage on mAP, mF1 and ECE (dev and test), over several seeds.

For one baseline (default ``convnext_ldam_drw``: ConvNeXt-atto under the smoke/cpu presets) and each
seed, trains (or reuses) the base run and runs each post-training chain with the pipeline
(``lteval.posttrain.pipeline.run_pipeline``); then scores every variant on dev and test.

Figures: the mean over seeds of each metric, with a 95 % bootstrap CI over images (the same image
resamples for every seed and variant, so the CI is that of the seed-averaged figure), and the paired
difference to the base run with its CI (same resamples). mF1 is at 0.5 except for ``+calib``
variants, which use their per-class thresholds fitted on the run's calib split.

Full version (what docs/posttrain.md asks for; ~1.5-2 h on 2 CPU cores)::

    python benchmarks/posttrain_study.py --preset cpu --seeds 0,1,2

Reduced (what fits a shared 2-core session; the exact command used is printed in the docs)::

    python benchmarks/posttrain_study.py --preset smoke --seeds 0,1,2 --n-boot 500

Writes ``--md`` (markdown table) and ``--json`` (every figure) when given; prints the table and the
wall time of every step.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for benchmarks/_common.py
from _common import load_split  # noqa: E402

VARIANTS = ("base", "crt", "tau", "lws", "tta", "calib", "crt+tta", "crt+calib", "crt+tta+calib")
FIGS = ("mAP", "mF1", "ece", "tail.mAP")


def _parse_sets(items):
    from lteval.train.config import parse_set

    return parse_set(items)


def run_all(args) -> dict:
    from lteval.posttrain.pipeline import run_pipeline

    dirs: dict[str, dict[int, Path]] = {v: {} for v in args.variants}
    timings = []
    for seed in args.seeds:
        ov = {**args.sets, "seed": seed}
        for v in args.variants:
            name = args.baseline if v == "base" else f"{args.baseline}+{v}"
            t0 = time.time()
            d = run_pipeline(name, data=args.data, preset=args.preset, out=args.out, overrides=ov,
                             progress=not args.quiet, strict=False)
            dt = time.time() - t0
            timings.append({"seed": seed, "variant": v, "wall_s": round(dt, 1), "dir": str(d)})
            print(f"[seed {seed}] {v:<16} {dt:7.1f}s  {d}", file=sys.stderr, flush=True)
            dirs[v][seed] = Path(d)
    return {"dirs": dirs, "timings": timings}


def evaluate(dirs: dict, seeds, splits=("dev", "test"), n_boot: int = 1000, boot_seed: int = 0) -> dict:
    from lteval.metrics.bootstrap import bootstrap_distribution, percentile_ci, resample_weights
    from lteval.metrics.score_report import score_arrays
    from lteval.scoring import resolve_groups
    from lteval.tasks import get_task

    base_dirs = dirs["base"]
    cfg = json.loads((base_dirs[seeds[0]] / "config.json").read_text())
    task = get_task(cfg["task"])
    groups = resolve_groups(task)
    gidx = groups.indices(task.classes) if groups else None
    out = {}
    for split in splits:
        ids0, y0, _, _ = load_split(base_dirs[seeds[0]], base_dirs[seeds[0]], split, task)
        W = np.concatenate(list(resample_weights(len(ids0), n_boot, boot_seed, 200)))
        point: dict[str, list] = {}
        dist: dict[str, dict[str, list]] = {}
        for v, per_seed in dirs.items():
            point[v], dist[v] = [], {f: [] for f in FIGS}
            for s in seeds:
                ids, y, p, thr = load_split(per_seed[s], base_dirs[s], split, task)
                if list(ids) != list(ids0):
                    raise RuntimeError(f"{split}: label order differs between seeds")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    rep = score_arrays(y, p, task.classes, task=task.name, threshold=thr, groups=groups)
                    dd = bootstrap_distribution(y, p, threshold=thr, groups=gidx, weights=W)
                o = rep.to_dict()
                point[v].append({"mAP": o["overall"]["mAP"], "mF1": o["overall"]["mF1"],
                                 "ece": o["overall"]["ece"], "tail.mAP": o["groups"].get("tail", {}).get("mAP")})
                for f in FIGS:
                    dist[v][f].append(dd.get(f, np.full(len(W), np.nan)))
        res = {}
        for v in dirs:
            res[v] = {}
            for f in FIGS:
                vals = [r[f] for r in point[v] if r[f] is not None]
                mean_dist = np.nanmean(np.stack(dist[v][f]), axis=0)
                base_dist = np.nanmean(np.stack(dist["base"][f]), axis=0)
                base_vals = [r[f] for r in point["base"] if r[f] is not None]
                res[v][f] = {"mean": float(np.mean(vals)) if vals else None,
                             "per_seed": [r[f] for r in point[v]],
                             "sd": float(np.std(vals, ddof=1)) if len(vals) > 1 else None,
                             "ci": percentile_ci(mean_dist),
                             "diff": (float(np.mean(vals) - np.mean(base_vals)) if vals and base_vals else None),
                             "diff_ci": percentile_ci(mean_dist - base_dist)}
        out[split] = res
    return out


def markdown(results: dict, args) -> str:
    def f(x, d=3):
        return "—" if x is None else f"{x:.{d}f}"

    lines = []
    for split, res in results.items():
        lines.append(f"\n**{split}** (mean of {len(args.seeds)} seeds; [95% CI over images]; Δ vs base [paired CI])\n")
        lines.append("| variant | mAP | Δ mAP | mF1 | Δ mF1 | ECE | Δ ECE | tail mAP |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for v, r in res.items():
            cells = []
            for fig in ("mAP", "mF1", "ece"):
                x = r[fig]
                cells.append(f"{f(x['mean'])} [{f(x['ci'][0])}, {f(x['ci'][1])}]")
                cells.append("" if v == "base" else f"{x['diff']:+.3f} [{x['diff_ci'][0]:+.3f}, {x['diff_ci'][1]:+.3f}]")
            t = r["tail.mAP"]
            cells.append(f"{f(t['mean'])}")
            lines.append(f"| {v} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", default="convnext_ldam_drw")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--data", default="synth")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--out", default="runs/posttrain_study")
    ap.add_argument("--set", dest="sets", action="append", default=[],
                    help="key=value for the base run, or STAGE.key=value for a stage (repeatable)")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--md", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if "base" not in args.variants:
        args.variants.insert(0, "base")
    args.sets = _parse_sets(args.sets)
    t0 = time.time()
    ran = run_all(args)
    t1 = time.time()
    results = evaluate(ran["dirs"], args.seeds, n_boot=args.n_boot)
    t2 = time.time()
    md = markdown(results, args)
    cmd = "python benchmarks/posttrain_study.py " + " ".join(sys.argv[1:] if argv is None else argv)
    header = (f"{args.baseline}, preset {args.preset}, seeds {args.seeds}, n_boot {args.n_boot}; "
              f"runs+stages {t1 - t0:.0f}s, scoring {t2 - t1:.0f}s; command: `{cmd}`")
    print(header)
    print(md)
    if args.md:
        Path(args.md).write_text(header + "\n" + md)
    if args.json:
        Path(args.json).write_text(json.dumps({"command": cmd, "args": {k: (v if not isinstance(v, Path) else str(v))
                                                                        for k, v in vars(args).items()},
                                               "timings": ran["timings"], "results": results,
                                               "wall_s": {"runs": t1 - t0, "scoring": t2 - t1}},
                                              indent=1, default=str))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    raise SystemExit(main())
