"""``lteval baseline list | show | run | grid``: named reference baselines (loss x backbone)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from lteval.commands._common import console, err_console, guarded, require_train

app = typer.Typer(help="Reference baselines of the seed paper (every loss x backbone), trained by name. "
                       "Start with `lteval baseline list`, then `lteval baseline run convnext_ldam_drw`.",
                  no_args_is_help=True)

DATA_HELP = ("'synth' (default): the built-in synthetic data set, generated once under $LTEVAL_HOME "
             "(default ~/.cache/lteval) and reused; or the folder of a CXR-LT 2026 data root "
             "(CXRLT_2026_training.csv, images/, evaluation lists).")
PRESET_HELP = ("smoke: CPU, smallest model of the family, 64 px, minutes; cpu: CPU, under 20 min; "
               "study: CPU, 48 px, a larger synthetic set with 15+ tail positives, about 4 min; "
               "paper: the seed paper's settings (512 px, ImageNet weights, 15 epochs, AdamW 1e-4, batch 12; GPU).")
SET_HELP = "Override one config key, e.g. --set lr=3e-4 --set loss_kwargs.drw_epoch=3 (repeatable)."


@app.command("list")
@guarded
def list_command(
    tag: Optional[str] = typer.Option(None, "--tag", help="Only baselines with this tag (seed-grid, extra-loss, headline)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Table of the named baselines: backbone, loss, head, description."""
    from lteval.train.baselines import get_baseline, list_baselines

    rows = [get_baseline(n) for n in list_baselines()]
    if tag:
        rows = [r for r in rows if tag in r.get("tags", [])]
    if as_json:
        console.print_json(json.dumps([{k: r.get(k) for k in ("name", "backbone", "loss", "head", "tags",
                                                             "description")} for r in rows]))
        return
    from rich.markup import escape

    from lteval.commands._tables import Col, print_table

    print_table(console, f"{len(rows)} baselines (run one: lteval baseline run NAME [--preset smoke|study|cpu|paper|seed])",
                [Col("name", "left", name=True), Col("backbone", "left", drop=2),
                 Col("loss", "left", drop=3), Col("head", "left", drop=4),
                 Col("description", "left", wrap=True, drop=1)],
                [[escape(str(r[k])) for k in ("name", "backbone", "loss")]
                 + [escape(str(r.get("head", "linear"))), escape(str(r.get("description", "")))]
                 for r in rows])
    from lteval.posttrain.pipeline import list_stages
    print_table(console, "Post-training stages: append to a name, e.g. convnext_ldam_drw+crt+tta+calib "
                         "(order crt, tau|lws, tta, gate, calib; docs/posttrain.md)",
                [Col("stage", "left", name=True), Col("what it does", "left", wrap=True),
                 Col("options (--set STAGE.KEY=VALUE) and defaults", "left", wrap=True, drop=1)],
                [[escape(s["name"]), escape(s["summary"]),
                  escape(", ".join(f"{k}={v}" for k, v in s["options"].items()))]
                 for s in list_stages()])
    console.print("Ensembles of finished runs: lteval ensemble RUN_DIR... -o DIR.")


@app.command("show")
@guarded
def show_command(
    name: str = typer.Argument(..., help="Baseline name (see `lteval baseline list`)."),
    preset: str = typer.Option("smoke", "--preset", "-p", help=PRESET_HELP),
    data: str = typer.Option("synth", "--data", "-d", help=DATA_HELP),
    sets: List[str] = typer.Option([], "--set", help=SET_HELP),
) -> None:
    """Print the fully resolved config (JSON) of a baseline under a preset, with its config hash.

    Needs no training extra: the config is resolved without torch."""
    from lteval.train.baselines import resolve
    from lteval.train.config import parse_set

    from lteval.posttrain.pipeline import parse_name, split_overrides, stage_options

    base, stages = parse_name(name)
    base_ov, st_ov = split_overrides(parse_set(sets))
    cfg = resolve(base, preset, base_ov, data=data)
    d = cfg.to_dict()
    if stages:
        d["post_training"] = {s: stage_options(s, st_ov.get(s)) for s in stages}
    console.print_json(json.dumps(d))
    err_console.print(f"run directory name: {cfg.run_name()}")


@app.command("run")
@guarded
def run_command(
    name: str = typer.Argument(..., help="Baseline name (see `lteval baseline list`)."),
    data: str = typer.Option("synth", "--data", "-d", help=DATA_HELP),
    preset: str = typer.Option("smoke", "--preset", "-p", help=PRESET_HELP),
    out: Path = typer.Option(Path("runs"), "--out", "-o", help="Folder holding run directories (<name>-<hash>/)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from its last checkpoint."),
    force: bool = typer.Option(False, "--force", help="Train again even if this config already finished (its run "
                                                       "directory is replaced)."),
    sets: List[str] = typer.Option([], "--set", help=SET_HELP),
    nproc: int = typer.Option(1, "--nproc", min=1, help="Processes (GPUs) to train on, on this machine, through "
                                                        "torchrun. batch_size is per process: the global batch is "
                                                        "batch_size x processes of all nodes."),
    nnodes: int = typer.Option(1, "--nnodes", min=1, help="Machines training together (torch's c10d elastic "
                                                          "rendezvous); start the same command on each, with its "
                                                          "own --node-rank."),
    node_rank: int = typer.Option(0, "--node-rank", min=0, help="This machine's number, 0 to --nnodes - 1. The "
                                                                "rendezvous numbers the processes itself; global "
                                                                "rank 0 alone writes."),
    rdzv_endpoint: Optional[str] = typer.Option(None, "--rdzv-endpoint", help="HOST:PORT where the nodes meet: "
                                                                              "node 0's address and a free port, "
                                                                              "the same on every node. --out must "
                                                                              "be a folder every node sees."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar or epoch lines."),
) -> None:
    """Train a named baseline (or reuse its finished run) and score val, calib, dev and test.

    Writes runs/NAME-HASH/: config.json, splits/, checkpoints/, metrics.jsonl, predictions/, logits/,
    labels/, scores/ and DONE. Official dev/test are never used for training or model selection.
    Several machines: run `lteval baseline run NAME --nnodes 2 --node-rank R --rdzv-endpoint HOST:29400
    --nproc P` on each (R = 0 and 1), with --out on a shared disk.
    """
    from lteval.train.launch import check_multinode

    check_multinode(nnodes, node_rank, rdzv_endpoint)
    require_train("baseline run")
    from lteval.train.config import parse_set

    overrides = parse_set(sets)
    several = nproc > 1 or nnodes > 1 or rdzv_endpoint is not None
    if "+" in name:
        from lteval.errors import UsageError
        from lteval.posttrain.pipeline import run_pipeline
        if several:
            raise UsageError("post-training stages run in one process: train the base run with --nproc/--nnodes "
                             "first, then run NAME+STAGES without them (the finished base run is reused)")
        d = run_pipeline(name, data=data, preset=preset, out=out, overrides=overrides, force=force,
                         progress=not no_progress)
        _print_summary(d)
        return
    if several:
        from lteval.train.baselines import resolve
        from lteval.train.launch import launch
        cfg = resolve(name, preset, overrides, data=data)  # fail fast on a bad name or key
        import torch

        from lteval.train.device import check_compile
        check_compile(cfg.compile, torch.device("cuda" if torch.cuda.is_available() else "cpu"), nproc * nnodes)
        if data == "synth" and nnodes == 1:  # generate the data once, before the processes start
            from lteval.data.run_data import open_data
            open_data(cfg, progress=not no_progress)
        rc = launch(nproc, name, data=data, preset=preset, out=str(out), sets=sets, resume=resume, force=force,
                    progress=not no_progress, nnodes=nnodes, node_rank=node_rank, rdzv_endpoint=rdzv_endpoint)
        raise typer.Exit(rc)
    from lteval.train.baselines import run_baseline
    run_dir = run_baseline(name, data=data, preset=preset, out=out, overrides=overrides, resume=resume, force=force,
                           progress=not no_progress)
    _print_summary(run_dir)


def _print_summary(run_dir: Path) -> None:
    from rich.table import Table

    from lteval.commands._tables import fmt
    from lteval.io.jsonfile import read_json
    from lteval.metrics.figures import figure, headline_keys

    groups = ("head", "medium", "tail")
    t = Table(title=f"{run_dir}", title_justify="left")
    for c in ("split", "n", *(figure(k).label for k in headline_keys()),
              *(f"{g} {figure('mAP').label}" for g in groups)):
        t.add_column(c)
    for split in ("val", "calib", "dev", "test"):
        p = Path(run_dir) / "scores" / f"{split}.json"
        if not p.is_file():
            continue
        d = read_json(p, "score file", expect=dict)
        o, g = d["overall"], d.get("groups", {})
        t.add_row(split, str(d["n_samples"]), *(fmt(o[k]) for k in headline_keys()),
                  *(fmt(g.get(k, {}).get("mAP")) for k in groups))
    console.print(t)


@app.command("grid")
@guarded
def grid_command(
    backbones: Optional[str] = typer.Option(None, "--backbones", help="Comma-separated backbones (default: all)."),
    losses: Optional[str] = typer.Option(None, "--losses", help="Comma-separated losses (default: all)."),
    preset: str = typer.Option("smoke", "--preset", "-p", help=PRESET_HELP),
    data: str = typer.Option("synth", "--data", "-d", help=DATA_HELP),
    out: Path = typer.Option(Path("runs"), "--out", "-o", help="Folder holding run directories."),
    sets: List[str] = typer.Option([], "--set", help=SET_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list the runs and whether they already finished."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar or epoch lines."),
    post: Optional[str] = typer.Option(None, "--post", help="Post-training chains to add to every member: a comma "
                                                           "list (e.g. 'crt,tta,crt+tta+calib'), 'default' (every "
                                                           "combination of crt, tta, calib) or 'all' (also tau, "
                                                           "lws, gate). Finished stages are reused."),
    launcher: str = typer.Option("local", "--launcher", help="local: one member after another in this process. "
                                                             "submitit: one job per member (a SLURM job array; "
                                                             "post-training as dependent jobs); without SLURM, "
                                                             "submitit's local executor runs them on this machine. "
                                                             "Needs the cluster extra: pip install 'lteval\\[cluster]'."),
    partition: Optional[str] = typer.Option(None, "--partition", help="submitit: SLURM partition."),
    gpus_per_job: Optional[int] = typer.Option(None, "--gpus-per-job", min=0,
                                               help="submitit: GPUs per training job, one process each (DDP); "
                                                    "default: 1 on SLURM, none reserved locally."),
    timeout_min: int = typer.Option(24 * 60, "--timeout-min", min=1,
                                    help="submitit: minutes per job; near the end it is checkpointed and requeued "
                                         "(resumes from last.pt, up to 3 times)."),
    array_parallelism: Optional[int] = typer.Option(None, "--array-parallelism", min=1,
                                                    help="submitit: jobs running at once; default: 256 on SLURM, "
                                                         "1 with the local executor."),
    sbatch: List[str] = typer.Option([], "--sbatch", help="submitit: a further #SBATCH option, e.g. --sbatch "
                                                          "account=abc --sbatch mem=64G (repeatable)."),
    cluster: str = typer.Option("auto", "--cluster", help="submitit: auto (SLURM where srun exists, else the "
                                                          "local executor), slurm or local."),
    wait: bool = typer.Option(False, "--wait", help="submitit on SLURM: wait until every job has ended "
                                                    "(the local executor always waits)."),
    status: bool = typer.Option(False, "--status", help="Only say what the grid's members are: done, running, "
                                                        "failed (with the last error) or pending, from the run "
                                                        "directories; exit code 1 when one failed."),
    as_json: bool = typer.Option(False, "--json", help="With --status: print JSON instead of a table."),
) -> None:
    """Run every named baseline of the chosen backbones x losses (x post-training chains with --post);
    finished runs and stages are reused, a failed member does not stop the others (failures are listed
    at the end, exit code 1). With --launcher submitit each member is a job (SLURM, or submitit's local
    executor); jobs write the same run directories, and their records go to OUT/.lteval-grid/."""
    from lteval.errors import UsageError

    if launcher not in ("local", "submitit"):
        raise UsageError(f"--launcher {launcher!r}: use local or submitit")
    if launcher == "submitit" and not (dry_run or status):
        from lteval.grid.submit import require_cluster
        require_cluster()
    if not (dry_run or status):
        require_train("baseline grid")
    from rich.table import Table

    from lteval.train.baselines import grid_members, resolve, run_grid
    from lteval.train.config import parse_set
    from lteval.train.rundir import is_done

    bb = [s.strip() for s in backbones.split(",")] if backbones else None
    ll = [s.strip() for s in losses.split(",")] if losses else None
    names = grid_members(bb, ll)
    if not names:
        raise UsageError("no baseline matches these --backbones/--losses (see `lteval baseline list`)")
    overrides = parse_set(sets)
    from lteval.posttrain.pipeline import parse_combos, split_overrides, stage_dir
    combos = parse_combos(post)
    base_ov, _ = split_overrides(overrides)
    if dry_run:
        t = Table(title=f"{len(names) * len(combos)} runs ({preset} preset)", title_justify="left")
        for c in ("name", "backbone trained", "loss", "run directory", "status"):
            t.add_column(c)
        for n in names:
            cfg = resolve(n, preset, base_ov, data=data)
            for combo in combos:
                d = stage_dir(out / cfg.run_name(), combo.split("+")) if combo else out / cfg.run_name()
                t.add_row(f"{n}+{combo}" if combo else n, cfg.backbone, cfg.loss, str(d),
                          "done" if is_done(d) else ("partial" if d.exists() else "todo"))
        console.print(t)
        return
    if status:
        _print_grid_status(names, combos, data=data, preset=preset, out=out, overrides=overrides, as_json=as_json)
        return
    if launcher == "submitit":
        from lteval.grid.submit import ClusterOptions, plan_grid, submit_grid
        opts = ClusterOptions(cluster=cluster, partition=partition, gpus_per_job=gpus_per_job,
                              timeout_min=timeout_min, array_parallelism=array_parallelism,
                              sbatch=_parse_sbatch(sbatch))
        plan = plan_grid(names, combos, data=data, preset=preset, out=out, overrides=overrides)
        res = submit_grid(plan, opts, wait=wait, log=None if no_progress else _plain_line,
                          progress=not no_progress)
        if any(s == "submitted" for _, s, _ in res):
            err_console.print("follow it with the same command and --status instead of --launcher; "
                              "job logs: " + str(out / ".lteval-grid" / "submitit"))
    elif post:
        from lteval.posttrain.pipeline import run_grid as run_post_grid
        res = run_post_grid(names, combos, data=data, preset=preset, out=out, overrides=overrides,
                            progress=not no_progress)
    else:
        res = run_grid(names, data=data, preset=preset, out=out, overrides=overrides, resume=True,
                       progress=not no_progress)
    t = Table(title="grid", title_justify="left")
    for c in ("name", "status", "run directory / error"):
        t.add_column(c)
    for r in res:
        t.add_row(*r)
    console.print(t)
    if any(s == "failed" for _, s, _ in res):
        raise typer.Exit(1)


def _plain_line(msg: str) -> None:
    err_console.print(msg, markup=False, highlight=False, soft_wrap=True)


def _parse_sbatch(items: List[str]) -> dict:
    """``["account=abc", "exclusive"]`` → ``{"account": "abc", "exclusive": True}`` (#SBATCH options)."""
    from lteval.errors import UsageError

    out = {}
    for it in items:
        key, eq, value = it.partition("=")
        key = key.strip().lstrip("-")
        if not key:
            raise UsageError(f"--sbatch {it!r}: expected KEY=VALUE, e.g. --sbatch account=abc")
        out[key] = value.strip() if eq else True
    return out


def _print_grid_status(names, combos, *, data, preset, out, overrides, as_json) -> None:
    """The table (or JSON) of ``lteval baseline grid --status``; exit code 1 when a member failed."""
    from rich.markup import escape

    from lteval.commands._tables import Col, print_table
    from lteval.grid.status import grid_status, summary_line

    rows = grid_status(names, combos, data=data, preset=preset, out=out, overrides=overrides)
    if as_json:
        console.print_json(json.dumps({"summary": summary_line(rows), "members": [r.to_dict() for r in rows]}))
    else:
        print_table(console, f"grid status: {summary_line(rows)}",
                    [Col("member", "left", name=True), Col("state", "left"),
                     Col("detail", "left", wrap=True, drop=1), Col("run directory", "left", wrap=True, drop=2)],
                    [[escape(r.member), r.state, escape(r.detail), escape(r.run_dir)] for r in rows])
        for r in rows:
            if r.state == "failed":
                err_console.print(f"{escape(r.member)}: {escape(r.error or r.detail)}", highlight=False,
                                  soft_wrap=True)
                if r.log:
                    err_console.print(f"  log: {escape(r.log)}", highlight=False, soft_wrap=True)
    if any(r.state == "failed" for r in rows):
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="baseline")
