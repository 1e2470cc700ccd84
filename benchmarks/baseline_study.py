"""Loss study on the synthetic data: BCE vs ASL vs LDAM vs LDAM-DRW on one small backbone, several seeds.

    python benchmarks/baseline_study.py [--preset cpu] [--backbone resnet50] [--seeds 0,1,2]
        [--losses bce,asl,ldam,ldam_drw] [--out runs-study] [--n-boot 1000] [--set key=value ...]
        [--markdown results.md]

Trains (or reuses) ``<backbone>_<loss>`` under the preset for each seed (the smoke/cpu presets
train the smallest member of the backbone's family, e.g. resnet10t for resnet50), then reports,
on dev and test: mAP and tail-group mAP per run (mean ± sd over seeds), and for each seed a
paired bootstrap of every loss against BCE (same images resampled for both; ``lteval.compare``):
the difference and its 95% CI. The full study of docs/baselines.md is the default
(``--preset cpu``); pass ``--preset smoke`` for a quick one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--backbone", default="resnet50")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--losses", default="bce,asl,ldam,ldam_drw")
    ap.add_argument("--out", default="runs-study")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--set", dest="sets", action="append", default=[])
    ap.add_argument("--markdown", default=None, help="also write the tables to this file")
    ap.add_argument("--no-train", action="store_true", help="only report runs that already finished")
    args = ap.parse_args()

    import warnings

    import lteval
    from lteval.train.config import parse_set
    from lteval.train.registry import resolve, run_baseline
    from lteval.train.rundir import is_done

    seeds = [int(s) for s in args.seeds.split(",")]
    losses = args.losses.split(",")
    base = parse_set(args.sets)
    runs: dict[tuple[str, int], Path] = {}
    t_all = time.time()
    for seed in seeds:
        for loss in losses:
            name = f"{args.backbone}_{loss}"
            over = dict(base, seed=seed)
            cfg = resolve(name, args.preset, over)
            d = Path(args.out) / cfg.run_name()
            if args.no_train and not is_done(d):
                continue
            t = time.time()
            runs[(loss, seed)] = run_baseline(name, preset=args.preset, out=args.out, overrides=over,
                                              resume=True, progress=False)
            print(f"# {name} seed {seed}: {time.time() - t:.0f} s ({runs[(loss, seed)]})", flush=True)
    backbone = resolve(f"{args.backbone}_{losses[0]}", args.preset, base).backbone
    lines = [f"Preset `{args.preset}`, backbone `{backbone}`, seeds {seeds}; total wall time "
             f"{time.time() - t_all:.0f} s (including reused runs).", ""]
    for split in ("dev", "test"):
        lines += [f"### {split}", "", "| loss | mAP (mean ± sd) | tail mAP (mean ± sd) | runs |", "|---|---|---|---|"]
        for loss in losses:
            sc = [json.loads((runs[(loss, s)] / "scores" / f"{split}.json").read_text())
                  for s in seeds if (loss, s) in runs]
            m = [d["overall"]["mAP"] for d in sc]
            tl = [d["groups"]["tail"]["mAP"] for d in sc if d["groups"].get("tail", {}).get("mAP") is not None]

            def ms(v):
                if not v:
                    return "—"
                return f"{statistics.mean(v):.4f} ± {statistics.stdev(v):.4f}" if len(v) > 1 else f"{v[0]:.4f}"
            lines.append(f"| {loss} | {ms(m)} | {ms(tl)} | {len(sc)} |")
        lines += ["", f"Paired bootstrap vs BCE on {split} ({args.n_boot} resamples, 95% CI of loss − BCE):", "",
                  "| loss | seed | Δ mAP [95% CI] | Δ tail mAP [95% CI] |", "|---|---|---|---|"]
        for loss in losses:
            if loss == "bce":
                continue
            for s in seeds:
                if (loss, s) not in runs or ("bce", s) not in runs:
                    continue
                a, b = runs[("bce", s)], runs[(loss, s)]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = lteval.compare(a / "predictions" / f"{split}.csv", b / "predictions" / f"{split}.csv",
                                         a / "labels" / f"{split}.csv", task="cxrlt2026-task1",
                                         n_boot=args.n_boot, seed=s)
                f = res["figures"]

                def fmt(k):
                    if k not in f or f[k]["diff"] is None:
                        return "—"
                    lo, hi = f[k]["ci"]
                    return f"{f[k]['diff']:+.4f} [{lo:+.4f}, {hi:+.4f}]"
                lines.append(f"| {loss} | {s} | {fmt('mAP')} | {fmt('tail.mAP')} |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")


if __name__ == "__main__":
    main()
