"""Submit a baseline grid through submitit: one job per member (a SLURM job array), post-training
chains as dependent jobs.

``plan_grid(names, combos, ...)`` resolves every member first (a bad name, key or stage option
fails before anything is submitted) and says what each needs: nothing (finished), its base run,
its post-training chains, or both. ``submit_grid(plan, ClusterOptions(...))`` then

- on SLURM (submitit's AutoExecutor finds ``srun``): submits the base runs as one job array
  (``--array=0-N%K``) and, for each member with chains, one post-training job with
  ``--dependency=afterok:<its array task>`` (``--kill-on-invalid-dep=yes``: it is cancelled when
  the base run fails); returns at once (``wait=True`` waits for every job);
- elsewhere (no ``srun``: submitit's local executor): runs at most ``array_parallelism`` jobs at
  once on this machine and submits a member's post-training job when its base job has finished
  successfully; returns when every job has ended.

Every job runs :class:`lteval.grid.jobs.GridJob` (the same ``run_baseline`` as a local run, with
``--resume`` semantics); submitit's own files go to ``<out>/.lteval-grid/submitit/``.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from lteval.errors import MissingExtraError, UsageError
from lteval.grid.jobs import GridJob, grid_dir, now, prepare_data, read_record, record_key, resolve, write_record

__all__ = ["ClusterOptions", "Member", "plan_grid", "submit_grid", "require_cluster", "cluster_extra_error",
           "DEFAULT_TIMEOUT_MIN"]

#: Minutes a job may run before it is checkpointed and requeued (SLURM's ``--time``).
DEFAULT_TIMEOUT_MIN = 24 * 60


def cluster_extra_error(command: str = "baseline grid --launcher submitit") -> MissingExtraError:
    """The one message of a grid submitted without ``lteval[cluster]``."""
    return MissingExtraError(f"'lteval {command}' needs the cluster extra (submitit not installed): "
                             "pip install 'lteval[cluster]'")


def require_cluster(command: str = "baseline grid --launcher submitit") -> None:
    """Raise :class:`MissingExtraError` (exit 2) unless submitit is installed."""
    if importlib.util.find_spec("submitit") is None:
        raise cluster_extra_error(command)


@dataclass
class ClusterOptions:
    """How jobs are submitted. ``cluster``: ``None`` (auto: SLURM where ``srun`` exists, else local),
    ``"slurm"`` or ``"local"``; ``gpus_per_job`` GPUs (= processes, DDP) per base job, ``None`` = 1 on
    SLURM and none reserved locally; ``timeout_min`` per job before checkpoint and requeue;
    ``array_parallelism`` jobs at once (``None`` = 256 on SLURM, 1 locally); ``sbatch``: further
    ``#SBATCH`` options (``{"account": "abc", "mem": "64G"}``)."""

    cluster: str | None = None
    partition: str | None = None
    gpus_per_job: int | None = None
    timeout_min: int = DEFAULT_TIMEOUT_MIN
    array_parallelism: int | None = None
    sbatch: dict = field(default_factory=dict)
    poll_s: float = 1.0


@dataclass
class Member:
    """One member of the grid: baseline ``name``, its run directory, the jobs it still needs."""

    name: str
    run_dir: Path
    base: GridJob | None    # None: the base run finished
    post: GridJob | None    # None: no chain asked, or every chain finished
    running: str | None = None  # "job 123 on host (base)" when a live job already works on it
    cfg: object = None          # the resolved TrainConfig of the base run

    @property
    def label(self) -> str:
        """``name`` or ``name+post(crt,tta)``."""
        return self.post.label if self.post is not None else self.name


def plan_grid(names, combos, *, data: str = "synth", preset: str = "smoke", out: str | Path = "runs",
              overrides: dict | None = None) -> list[Member]:
    """Resolve every member (``names`` x ``combos``, ``""`` = the base run) and what it still needs.

    Raises before anything runs when a name, a ``--set`` key or a stage option is wrong."""
    from lteval.grid.status import live_job
    from lteval.posttrain.pipeline import parse_name, split_overrides, stage_dir, stage_options
    from lteval.train.rundir import is_done

    overrides = dict(overrides or {})
    base_ov, st_ov = split_overrides(overrides)
    chains = [c for c in combos if c]
    for c in chains:
        for s in parse_name("x+" + c)[1]:
            stage_options(s, st_ov.get(s))
    plan = []
    for n in names:
        cfg = resolve(n, preset, base_ov, data=data)
        run_name = cfg.run_name()
        run_dir = Path(out) / run_name
        kw = dict(name=n, run_name=run_name, out=str(out), data=data, preset=preset, overrides=overrides)
        base = None if is_done(run_dir) else GridJob("base", **kw)
        todo = tuple(c for c in chains if not is_done(stage_dir(run_dir, c.split("+"))))
        post = GridJob("post", combos=todo, **kw) if todo else None
        running = None
        for job in (base, post):
            if job is not None and running is None:
                rec = live_job(out, job.key)
                if rec is not None:
                    running = f"job {rec.get('job_id') or rec.get('pid')} on {rec.get('host')} ({job.kind})"
        plan.append(Member(n, run_dir, base, post, running, cfg))
    return plan


def _executor(folder: Path, opts: ClusterOptions):
    import submitit

    cluster = opts.cluster
    if cluster not in (None, "auto", "slurm", "local"):
        raise UsageError(f"unknown cluster {cluster!r}: use auto, slurm or local")
    if cluster == "slurm" and shutil.which("srun") is None:
        raise UsageError("--cluster slurm: srun is not on PATH (not on a SLURM login node?); "
                         "leave --cluster out to run on this machine with submitit's local executor")
    ex = submitit.AutoExecutor(folder=folder, cluster=None if cluster in (None, "auto") else cluster)
    return ex


def _params(ex, opts: ClusterOptions, *, kind: str, dependency: str | None = None) -> None:
    """Set the executor's parameters for the next submission(s) of ``kind`` base/post."""
    slurm = ex.cluster == "slurm"
    gpus = opts.gpus_per_job if opts.gpus_per_job is not None else (1 if slurm else 0)
    ntasks = max(1, gpus) if kind == "base" else 1
    p = dict(name=f"lteval-grid-{kind}", timeout_min=int(opts.timeout_min), tasks_per_node=ntasks, nodes=1)
    if gpus:
        p["gpus_per_node"] = gpus if kind == "base" else 1
    if slurm:
        extra = dict(opts.sbatch)
        if dependency:
            extra.update(dependency=dependency, kill_on_invalid_dep="yes")
        p.update(slurm_array_parallelism=opts.array_parallelism or 256,
                 slurm_additional_parameters=extra or None)
        if opts.partition:
            p["slurm_partition"] = opts.partition
    ex.update_parameters(**p)


def _mark_submitted(out: Path, job: GridJob) -> None:
    old = read_record(out, job.key) or {}
    write_record(out, job.key, {"key": job.key, "kind": job.kind, "member": job.label, "name": job.name,
                                "run_dir": str(out / job.run_name), "combos": list(job.combos),
                                "state": "submitted", "attempt": int(old.get("attempt", 0)),
                                "submitted": now(), "job_id": None, "error": None})


def _log_submission(out: Path, job: GridJob, sjob, cluster: str, depends_on: str | None = None) -> None:
    line = {"time": now(), "key": job.key, "member": job.label, "kind": job.kind, "cluster": cluster,
            "job_id": str(sjob.job_id), "depends_on": depends_on,
            "stdout": str(sjob.paths.stdout), "stderr": str(sjob.paths.stderr)}
    p = grid_dir(out) / "submissions.jsonl"
    with open(p, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")


def submit_grid(plan: list[Member], opts: ClusterOptions | None = None, *, wait: bool = False,
                log=None, progress: bool = True) -> list[tuple[str, str, str]]:
    """Submit the jobs of ``plan``; returns ``(member, status, detail)`` rows.

    Status ``ok`` (finished, or already finished), ``failed`` (detail: the error), ``running``
    (a live job already works on it: not submitted twice), ``submitted`` (SLURM without ``wait``:
    detail = the job id). ``log(msg)`` receives one line per submission and per finished job;
    ``progress``: the progress bar of generating the synthetic data (and epoch lines in job logs)."""
    require_cluster()
    opts = opts or ClusterOptions()
    log = log or (lambda msg: None)
    out = {Path(m.run_dir).parent for m in plan}
    if len(out) > 1:  # pragma: no cover - plan_grid uses one --out
        raise UsageError("one grid, one --out")
    rows: dict[str, tuple[str, str, str]] = {}
    todo = []
    for m in plan:
        if m.running:
            rows[m.name] = (m.label, "running", f"already running: {m.running}; not submitted again")
        elif m.base is None and m.post is None:
            rows[m.name] = (m.label, "ok", f"{m.run_dir} (finished earlier)")
        else:
            todo.append(m)
    if todo:
        roots = {}
        for m in todo:  # the synthetic set once, here: jobs generating it at the same time would race
            if m.cfg is not None and m.cfg.data == "synth":
                roots.setdefault(json.dumps({k: v for k, v in m.cfg.to_dict().items() if k.startswith("synth")},
                                            sort_keys=True), m.cfg)
        for cfg in roots.values():
            prepare_data(cfg, progress=progress)
        out_dir = next(iter(out))
        folder = grid_dir(out_dir) / "submitit" / "%j"
        ex = _executor(folder, opts)
        if ex.cluster == "slurm":
            rows.update(_submit_slurm(ex, out_dir, todo, opts, wait=wait, log=log))
        else:
            rows.update(_run_local(ex, out_dir, todo, opts, log=log))
    return [rows[m.name] for m in plan]


def _submit_slurm(ex, out: Path, todo: list[Member], opts: ClusterOptions, *, wait: bool, log) -> dict:
    base_members = [m for m in todo if m.base is not None]
    jobs: dict[str, object] = {}
    if base_members:
        _params(ex, opts, kind="base")
        for m in base_members:
            _mark_submitted(out, m.base)
        with ex.batch():
            pending = [(m, ex.submit(m.base)) for m in base_members]
        for m, j in pending:
            jobs[m.base.key] = j
            _log_submission(out, m.base, j, "slurm")
            log(f"submitted {m.name}: job {j.job_id}")
    for m in todo:
        if m.post is None:
            continue
        dep = f"afterok:{jobs[m.base.key].job_id}" if m.base is not None else None
        _params(ex, opts, kind="post", dependency=dep)
        _mark_submitted(out, m.post)
        j = ex.submit(m.post)
        jobs[m.post.key] = j
        _log_submission(out, m.post, j, "slurm", depends_on=dep)
        log(f"submitted {m.post.label}: job {j.job_id}" + (f" (after {dep[8:]})" if dep else ""))
    if not wait:
        rows = {}
        for m in todo:
            ids = [str(jobs[j.key].job_id) for j in (m.base, m.post) if j is not None]
            rows[m.name] = (m.label, "submitted", "job " + ", ".join(ids))
        return rows
    while not all(j.done() for j in jobs.values()):
        time.sleep(max(opts.poll_s, 10.0))
    return {m.name: _outcome(out, m) for m in todo}


def _run_local(ex, out: Path, todo: list[Member], opts: ClusterOptions, *, log) -> dict:
    """submitit's local executor: at most K jobs at once; a post job starts after its base job."""
    k = max(1, opts.array_parallelism or 1)
    queue = [(m, m.base if m.base is not None else m.post) for m in todo]
    running: list[tuple[Member, GridJob, object]] = []
    rows = {}
    while queue or running:
        while queue and len(running) < k:
            m, job = queue.pop(0)
            _params(ex, opts, kind=job.kind)
            _mark_submitted(out, job)
            sj = ex.submit(job)
            _log_submission(out, job, sj, "local")
            log(f"started {job.label}: local job {sj.job_id}")
            running.append((m, job, sj))
        time.sleep(opts.poll_s)
        for item in list(running):
            m, job, sj = item
            if not sj.done():
                continue
            running.remove(item)
            status, detail = _job_outcome(out, job)
            log(f"{job.label}: {status}")
            if status == "ok" and job.kind == "base" and m.post is not None:
                queue.insert(0, (m, m.post))  # its dependent job, before the next member's base run
            else:
                rows[m.name] = _outcome(out, m) if status == "ok" else (m.label, status, detail)
    return rows


def _job_outcome(out: Path, job: GridJob) -> tuple[str, str]:
    rec = read_record(out, record_key(job.run_name, job.kind)) or {}
    if rec.get("state") == "done":
        return "ok", rec.get("result") or rec.get("run_dir", "")
    err = rec.get("error") or f"the job stopped without a result (state {rec.get('state', 'unknown')})"
    logf = rec.get("stderr")
    return "failed", err + (f"; log: {logf}" if logf else "")


def _outcome(out: Path, m: Member) -> tuple[str, str, str]:
    for job in (m.base, m.post):
        if job is not None:
            status, detail = _job_outcome(out, job)
            if status != "ok":
                return m.label, status, detail
    last = m.post or m.base
    return m.label, "ok", _job_outcome(out, last)[1]
