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

``--preset study`` (or ``--plan study`` with another preset) runs the loss × post-training study
of issue 12 instead: see :func:`study_main` (``--preset study --help``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for benchmarks/_common.py
from _common import load_split  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--plan" in argv or any(a == "--preset=study" for a in argv) or (
            "--preset" in argv and argv.index("--preset") + 1 < len(argv)
            and argv[argv.index("--preset") + 1] == "study"):
        raise SystemExit(study_main(argv))
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
    args = ap.parse_args(argv)

    import warnings

    import lteval
    from lteval.train.baselines import resolve, run_baseline
    from lteval.train.config import parse_set
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



# ---------------------------------------------------------------------------------------------
# The loss × post-training study (issue 12 part 3): ``--preset study``
# ---------------------------------------------------------------------------------------------

STUDY_LOSSES = ("bce", "focal", "cb_focal", "asl", "ldam", "ldam_drw", "dbloss")
#: classifier stages run before ``calib`` on these losses' runs (every seed)
STUDY_POST = {"bce": ("crt", "tau"), "ldam_drw": ("crt", "tau")}
#: LDAM-DRW ablations (one seed): label → base-run overrides; the default is
#: weight_on=positives, drw_fraction=0.8, beta=0.9999
STUDY_ABLATIONS = {
    "weight_on=both": {"loss_kwargs.weight_on": "both"},
    "drw_fraction=0.6": {"loss_kwargs.drw_fraction": 0.6},
    "beta=0.999": {"loss_kwargs.beta": 0.999},
}
GROUPS = ("overall", "head", "medium", "tail")


def study_plan(backbone: str, seeds, losses, post: dict, ablations: dict, ablation_seed: int) -> list[dict]:
    """Ordered list of pipeline items ``{label, name, seed, overrides}``.

    Order: for each seed, every loss (+calib), then that seed's cRT/τ-norm chains, then (after the
    ablation seed) the ablations — so a stopped study has whole seeds to report.
    """
    items = []
    for seed in seeds:
        for loss in losses:
            items.append(dict(label=loss, name=f"{backbone}_{loss}+calib", seed=seed, overrides={}))
        for loss in losses:
            for st in post.get(loss, ()):
                items.append(dict(label=f"{loss}+{st}", name=f"{backbone}_{loss}+{st}+calib", seed=seed,
                                  overrides={}))
        if seed == ablation_seed:
            for lab, ov in ablations.items():
                items.append(dict(label=f"ldam_drw [{lab}]", name=f"{backbone}_ldam_drw+calib", seed=seed,
                                  overrides=dict(ov)))
    return items


def _item_dirs(item: dict, preset: str, out: Path, base_sets: dict):
    """(run dir, pre-calib dir, calib dir, config hash) an item will use (nothing is trained)."""
    from lteval.posttrain.pipeline import parse_name, split_overrides, stage_dir
    from lteval.train.baselines import resolve

    base, stages = parse_name(item["name"])
    ov = dict(base_sets, **item["overrides"], seed=item["seed"])
    base_ov, _ = split_overrides(ov)
    cfg = resolve(base, preset, base_ov)
    run = out / cfg.run_name()
    pre = run if len(stages) == 1 else stage_dir(run, stages[:-1])
    return run, pre, stage_dir(run, stages), cfg


def _figures_point(y, p, thr, task, groups) -> dict:
    import warnings

    from lteval.metrics.score_report import score_arrays

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        o = score_arrays(y, p, task.classes, task=task.name, threshold=thr, groups=groups).to_dict()
    out = {"overall.mAP": o["overall"]["mAP"], "overall.mF1": o["overall"]["mF1"]}
    for g in GROUPS[1:]:
        for m in ("mAP", "mF1"):
            out[f"{g}.{m}"] = o["groups"].get(g, {}).get(m)
    return out


def _boot_cached(d: Path, run: Path, split: str, task, gidx, W, cache: Path, key: str):
    """Bootstrap figures of one prediction set on the resamples W (B, n), cached as .npz."""
    import hashlib
    import warnings

    import numpy as np

    from lteval.metrics.bootstrap import bootstrap_distribution

    h = hashlib.sha256(f"{d.resolve()}|{split}|{key}".encode()).hexdigest()[:20]
    f = cache / f"{h}.npz"
    if f.is_file():
        z = np.load(f)
        return {k: z[k] for k in z.files}
    ids, y, p, thr = load_split(d, run, split, task)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = bootstrap_distribution(y, p, threshold=thr, groups=gidx, weights=W, calibration=False)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{h}.tmp.npz"
    np.savez(tmp, **res)
    os.replace(tmp, f)
    return res


def _bkey(fig: str) -> str:
    """Study figure name → bootstrap_distribution key ("overall.mAP" → "mAP")."""
    return fig.split(".", 1)[1] if fig.startswith("overall.") else fig


def study_evaluate(done: list[dict], *, n_boot: int, boot_seed: int = 0, cache: Path) -> dict:
    """Point figures (mean ± sd over seeds) and paired-bootstrap Δ vs BCE pooled over seeds.

    ``done``: finished items with ``run``, ``pre`` and ``calib`` dirs. mAP is read from the
    predictions before the calib stage (calibration can tie scores), mF1 from the calib stage with
    its thresholds fitted on the calib split. The Δ distribution of a method is the mean over its
    seeds minus the mean over the same seeds of BCE, on the same image resamples (dev and test
    images are the same for every seed), so its CI is that of the seed-pooled difference.
    """
    import numpy as np

    from lteval.metrics.bootstrap import percentile_ci, resample_weights
    from lteval.scoring import resolve_groups
    from lteval.tasks import get_task

    if not done:
        return {}
    cfg0 = json.loads((done[0]["run"] / "config.json").read_text())
    task = get_task(cfg0["task"])
    groups = resolve_groups(task)
    gidx = groups.indices(task.classes) if groups else None
    figs = [f"{g}.{m}" for g in GROUPS for m in ("mAP", "mF1")]
    labels = list(dict.fromkeys(it["label"] for it in done))
    out: dict = {}
    for split in ("dev", "test"):
        ids0, _, _, _ = load_split(done[0]["pre"], done[0]["run"], split, task)
        W = np.concatenate(list(resample_weights(len(ids0), n_boot, boot_seed, 200))) if n_boot else None
        per: dict[str, dict[int, dict]] = {}
        dist: dict[str, dict[int, dict]] = {}
        for it in done:
            ids, y, p, _ = load_split(it["pre"], it["run"], split, task)
            if ids != ids0:
                raise RuntimeError(f"{split}: the images differ between runs ({it['run']})")
            _, yc, pc, thr = load_split(it["calib"], it["run"], split, task)
            a = _figures_point(y, p, 0.5, task, groups)
            b = _figures_point(yc, pc, thr, task, groups)
            per.setdefault(it["label"], {})[it["seed"]] = {f: (a if f.endswith("mAP") else b)[f] for f in figs}
            if W is not None:
                key = f"{n_boot}|{boot_seed}"
                da = _boot_cached(it["pre"], it["run"], split, task, gidx, W, cache, key)
                db = _boot_cached(it["calib"], it["run"], split, task, gidx, W, cache, key)
                dist.setdefault(it["label"], {})[it["seed"]] = {
                    f: (da if f.endswith("mAP") else db).get(_bkey(f), np.full(len(W), np.nan)) for f in figs}
        res = {}
        for lab in labels:
            seeds = sorted(per.get(lab, {}))
            r = {"seeds": seeds}
            for f in figs:
                vals = [per[lab][s][f] for s in seeds if per[lab][s][f] is not None]
                e = {"per_seed": [per[lab][s][f] for s in seeds],
                     "mean": float(np.mean(vals)) if vals else None,
                     "sd": float(np.std(vals, ddof=1)) if len(vals) > 1 else None}
                common = [s for s in seeds if s in per.get("bce", {})]
                if lab != "bce" and common and W is not None:
                    d = (np.nanmean(np.stack([dist[lab][s][f] for s in common]), axis=0)
                         - np.nanmean(np.stack([dist["bce"][s][f] for s in common]), axis=0))
                    pv = [per[lab][s][f] - per["bce"][s][f] for s in common
                          if per[lab][s][f] is not None and per["bce"][s][f] is not None]
                    e["diff"] = float(np.mean(pv)) if pv else None
                    e["diff_ci"] = percentile_ci(d)
                    e["diff_seeds"] = common
                r[f] = e
            res[lab] = r
        out[split] = res
    return out


def study_markdown(results: dict, header: str) -> str:
    def ms(e):
        if e is None or e["mean"] is None:
            return "—"
        return f"{e['mean']:.3f} ± {e['sd']:.3f}" if e["sd"] is not None else f"{e['mean']:.3f}"

    def dd(e):
        if e is None or e.get("diff") is None or e.get("diff_ci", (None,))[0] is None:
            return ""
        lo, hi = e["diff_ci"]
        return f"{e['diff']:+.3f} [{lo:+.3f}, {hi:+.3f}]"

    lines = [header, ""]
    for split, res in results.items():
        lines += [f"**{split}** — mean ± sd over seeds (n = seeds); mAP before the calib stage, mF1 after it "
                  "(thresholds fitted on calib)", "",
                  "| method | n | mAP | head | medium | tail | mF1 | head mF1 | medium mF1 | tail mF1 |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for lab, r in res.items():
            cells = [ms(r[f"{g}.mAP"]) for g in GROUPS] + [ms(r[f"{g}.mF1"]) for g in GROUPS]
            lines.append(f"| {lab} | {len(r['seeds'])} | " + " | ".join(cells) + " |")
        lines += ["", f"**{split}** — Δ vs BCE (method − BCE, mean over the seeds both have) "
                  "[paired-bootstrap 95 % CI over images, pooled over seeds]", "",
                  "| method | seeds | Δ mAP | Δ head | Δ medium | Δ tail | Δ mF1 | Δ tail mF1 |",
                  "|---|---|---|---|---|---|---|---|"]
        for lab, r in res.items():
            if lab == "bce" or "diff" not in r["overall.mAP"]:
                continue
            cells = [dd(r[f"{g}.mAP"]) for g in GROUPS] + [dd(r["overall.mF1"]), dd(r["tail.mF1"])]
            lines.append(f"| {lab} | {len(r['overall.mAP']['diff_seeds'])} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def study_main(argv=None) -> int:
    """``--preset study``: the loss × post-training study; resumable, results rewritten after each item."""
    ap = argparse.ArgumentParser(
        prog="baseline_study.py --preset study",
        description="Loss x post-training study (issue 12): every loss x seeds (+calib), cRT and tau-norm on "
                    "the BCE and LDAM-DRW runs, LDAM-DRW ablations on one seed; one table of overall/head/"
                    "medium/tail mAP and mF1 on dev and test with paired-bootstrap differences vs BCE. "
                    "Runs are reused by config hash: rerun the same command to resume.")
    ap.add_argument("--preset", default="study")
    ap.add_argument("--plan", default="study", choices=["study"])
    ap.add_argument("--backbone", default="convnext_tiny",
                    help="baseline backbone (the preset trains the smallest member of its family)")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--losses", default=",".join(STUDY_LOSSES))
    ap.add_argument("--post", default="bce:crt+tau,ldam_drw:crt+tau",
                    help="LOSS:STAGE+STAGE,... classifier stages run before calib ('' for none)")
    ap.add_argument("--ablations", default=",".join(STUDY_ABLATIONS),
                    help=f"LDAM-DRW ablations on --ablation-seed, from: {', '.join(STUDY_ABLATIONS)} ('' for none)")
    ap.add_argument("--ablation-seed", type=int, default=0)
    ap.add_argument("--runs", default="runs-study", help="run directory root (keep it outside the work tree)")
    ap.add_argument("--results", default=None, help="folder for study.md, study.json, runs.jsonl "
                                                     "(default: RUNS/_study)")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="key=value for every base run")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--dry-run", action="store_true", help="print the plan (config hash, done or not) and exit")
    ap.add_argument("--no-train", action="store_true", help="only evaluate the items that already finished")
    args = ap.parse_args(argv)

    from lteval.posttrain.pipeline import run_pipeline
    from lteval.data.run_data import lteval_home
    from lteval.train.config import parse_set

    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    losses = [x for x in args.losses.split(",") if x]
    post = {}
    for part in filter(None, args.post.split(",")):
        loss, _, sts = part.partition(":")
        post[loss] = tuple(filter(None, sts.split("+")))
    abl = {}
    for a in filter(None, args.ablations.split(",")):
        if a not in STUDY_ABLATIONS:
            ap.error(f"unknown ablation {a!r}; choose from {', '.join(STUDY_ABLATIONS)}")
        abl[a] = STUDY_ABLATIONS[a]
    if "bce" not in losses:
        ap.error("the study compares against bce: keep it in --losses")
    base_sets = parse_set(args.sets)
    runs = Path(args.runs).expanduser().resolve()
    res_dir = Path(args.results).expanduser().resolve() if args.results else runs / "_study"
    plan = study_plan(args.backbone, seeds, losses, post, abl, args.ablation_seed)
    cmd = "python benchmarks/baseline_study.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"# study: {len(plan)} items, runs under {runs}, results in {res_dir}, data under {lteval_home()}",
          flush=True)

    def item_state(it):
        run, pre, cal, cfg = _item_dirs(it, args.preset, runs, base_sets)
        return dict(it, run=run, pre=pre, calib=cal, hash=cfg.hash8, backbone=cfg.backbone,
                    done=(cal / "DONE").exists())

    if args.dry_run:
        for it in map(item_state, plan):
            print(f"{'done' if it['done'] else 'todo'}  seed {it['seed']}  {it['label']:<26} {it['name']:<36} "
                  f"{it['hash']}  {it['calib']}")
        return 0

    log = res_dir / "runs.jsonl"
    done: list[dict] = []
    failed: list[dict] = []
    t_all = time.time()

    def write_results(final: bool):
        states = [it for it in map(item_state, plan) if it["done"]]
        results = study_evaluate(states, n_boot=args.n_boot, cache=res_dir / "boot-cache")
        load = os.getloadavg()
        n_base = len({str(s["run"]) for s in states})
        header = (f"{'Study' if final and len(states) == len(plan) else 'PARTIAL study'}: {len(states)} of "
                  f"{len(plan)} items finished ({n_base} base runs); preset `{args.preset}`, backbone "
                  f"`{states[0]['backbone'] if states else args.backbone}`, seeds {seeds}, n_boot "
                  f"{args.n_boot}; written {time.strftime('%Y-%m-%d %H:%M:%S')} (load average "
                  f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}); command: `{cmd}`")
        _write_atomic(res_dir / "study.md", study_markdown(results, header) + "\n")
        _write_atomic(res_dir / "study.json", json.dumps(
            {"command": cmd, "preset": args.preset, "seeds": seeds, "n_boot": args.n_boot, "complete":
             len(states) == len(plan), "items": [{k: str(v) if isinstance(v, Path) else v for k, v in s.items()
                                                   if k != "overrides"} | {"overrides": s["overrides"]}
                                                  for s in states], "results": results}, indent=1, default=str))
        return header

    for i, it in enumerate(plan):
        st = item_state(it)
        if args.no_train or st["done"]:
            continue
        ov = dict(base_sets, **it["overrides"], seed=it["seed"])
        load0, cpu0, t0 = os.getloadavg(), os.times(), time.time()
        print(f"# [{i + 1}/{len(plan)}] seed {it['seed']} {it['label']} ({it['name']}) ... "
              f"load {load0[0]:.2f}", flush=True)
        try:
            d = run_pipeline(it["name"], data="synth", preset=args.preset, out=runs, overrides=ov,
                             progress=False, strict=False)
        except Exception as e:  # one failed item must not stop an unattended study: log it, go on
            rec = {"item": i, "label": it["label"], "seed": it["seed"], "error": f"{type(e).__name__}: {e}",
                   "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("a") as fh:
                fh.write(json.dumps(rec) + "\n")
            print(f"#   FAILED: {rec['error']}", flush=True)
            failed.append(rec)
            continue
        cpu1, load1 = os.times(), os.getloadavg()
        rec = {"item": i, "label": it["label"], "name": it["name"], "seed": it["seed"], "overrides": it["overrides"],
               "dir": str(d), "wall_s": round(time.time() - t0, 1),
               "cpu_s": round((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system), 1),
               "load_start": [round(x, 2) for x in load0], "load_end": [round(x, 2) for x in load1],
               "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as fh:
            fh.write(json.dumps(rec) + "\n")
        print(f"#   {rec['wall_s']:.0f} s wall, {rec['cpu_s']:.0f} s CPU, load {load1[0]:.2f} -> {d}", flush=True)
        done.append(rec)
        write_results(final=False)
    write_results(final=True)
    print((res_dir / "study.md").read_text())
    print(f"# total {time.time() - t_all:.0f} s; {len(failed)} item(s) failed (see {log})", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    main()
