"""Where a grid stands, from its run directories and job records alone (no scheduler queried).

``grid_status(names, combos, ...)`` → one :class:`StatusRow` per member and chain, in the order
of ``lteval baseline grid --dry-run``:

- ``done``: the run (or the chain's last stage) has its ``DONE`` marker;
- ``running``: a job's record says running and the job is alive (same host: its process exists;
  elsewhere: a heartbeat within the last ``10 x HEARTBEAT_S`` seconds); detail: epoch reached;
- ``failed``: the job's record holds an error (detail: its last error, and the job's log file), or
  the job stopped without a word (killed: its process is gone or its heartbeat stale);
- ``pending``: submitted, requeued, interrupted (resumes from ``checkpoints/last.pt``), waiting for
  its base run, or not started.

Needs neither torch nor submitit beyond resolving the configs (``lteval.train.config``).
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from lteval.grid.jobs import HEARTBEAT_S, grid_dir, read_record, record_key, resolve

__all__ = ["StatusRow", "grid_status", "live_job", "in_slurm_queue", "is_alive", "STATES", "summary_line"]

STATES = ("done", "running", "failed", "pending")


@dataclass
class StatusRow:
    """``member`` (``name`` or ``name+chain``), ``state`` (one of :data:`STATES`), ``run_dir``,
    ``detail`` (one line for a person), ``error`` and ``log`` (a failed job's last error and log file),
    ``traceback`` (its last lines, or None)."""

    member: str
    state: str
    run_dir: str
    detail: str = ""
    error: str | None = None
    log: str | None = None
    traceback: str | None = None

    def to_dict(self) -> dict:
        """The row as a JSON-ready dict."""
        return dict(self.__dict__)


def _age_s(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        t = time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    except (ValueError, OverflowError):
        return None
    return max(0.0, time.time() - t)


def is_alive(rec: dict) -> bool:
    """Whether the job of a ``running`` record is alive: its pid exists (same host), else a fresh heartbeat."""
    if rec.get("host") == socket.gethostname() and rec.get("pid"):
        try:
            os.kill(int(rec["pid"]), 0)
        except ProcessLookupError:
            return False
        except (PermissionError, ValueError, OverflowError):
            pass
        else:
            return True
    age = _age_s(rec.get("heartbeat"))
    return age is not None and age < 10 * HEARTBEAT_S


def live_job(out: str | Path, key: str) -> dict | None:
    """The record of job ``key`` when its job is running and alive, or still queued in SLURM
    (``submitted``/``requeued`` and listed by ``squeue``); else None."""
    rec = read_record(out, key)
    if not rec:
        return None
    if rec.get("state") == "running":
        return rec if is_alive(rec) else None
    if rec.get("state") in ("submitted", "requeued"):
        jid = rec.get("job_id") or _last_job_ids(Path(out)).get(key)
        if jid and in_slurm_queue(jid):
            return dict(rec, job_id=jid, host=rec.get("host") or "the SLURM queue")
    return None


def in_slurm_queue(job_id: str) -> bool:
    """Whether ``squeue`` lists SLURM job ``job_id`` (False where there is no squeue or it fails)."""
    import shutil
    import subprocess

    if not str(job_id).replace("_", "").isdigit() or shutil.which("squeue") is None:
        return False
    try:
        r = subprocess.run(["squeue", "-h", "-o", "%i", "-j", str(job_id)], capture_output=True, text=True,
                           timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0 and bool(r.stdout.strip())


def _last_job_ids(out: Path) -> dict[str, str]:
    """key -> the job id of its latest submission (``submissions.jsonl``)."""
    ids = {}
    p = grid_dir(out) / "submissions.jsonl"
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ids
    for ln in lines:
        try:
            d = json.loads(ln)
            ids[d["key"]] = str(d["job_id"])
        except (ValueError, KeyError, TypeError):
            continue
    return ids


def _progress(run_dir: Path) -> str:
    """``epoch 3/15`` from ``metrics.jsonl`` and ``config.json`` ('' when unknown)."""
    try:
        epochs = json.loads((run_dir / "config.json").read_text(encoding="utf-8")).get("epochs")
        lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
        done = json.loads(lines[-1]).get("epoch", 0) if lines else 0
    except (OSError, ValueError, IndexError, AttributeError):
        return ""
    return f"epoch {done}/{epochs} done" if epochs else ""


def _job_state(rec: dict | None, job_id: str | None, run_dir: Path, what: str) -> tuple[str, str, dict]:
    """(state, detail, extra) of a member whose output is not finished, from its job record."""
    jid = (rec or {}).get("job_id") or job_id
    tag = f"job {jid}" if jid else "local"
    if rec is None:
        if (run_dir / "checkpoints").is_dir():
            return "pending", f"unfinished run, not running ({_progress(run_dir) or 'no epoch done'}): " \
                              "a grid command resumes it from last.pt", {}
        return "pending", "not started", {}
    st = rec.get("state")
    attempt = f", attempt {rec.get('attempt')}" if (rec.get("attempt") or 0) > 1 else ""
    if st == "running":
        if is_alive(rec):
            prog = _progress(run_dir) if what == "base" else "post-training"
            return "running", f"{tag} on {rec.get('host')}{attempt}" + (f", {prog}" if prog else ""), {}
        return "failed", f"{tag} stopped without a result", {
            "error": f"the job stopped without a result (killed? last heartbeat {rec.get('heartbeat')}); "
                     "a grid command resumes it from last.pt", "log": rec.get("stderr")}
    if st == "failed":
        tb = rec.get("traceback")
        return "failed", f"{tag}: {rec.get('error')}", {
            "error": rec.get("error"), "log": rec.get("stderr"),
            "traceback": "\n".join((tb or "").rstrip().splitlines()[-6:]) or None}
    if st == "requeued":
        return "pending", f"{tag} requeued (preempted or out of time), resumes from last.pt", {}
    if st == "interrupted":
        return "pending", f"{tag} interrupted ({rec.get('error')}); a grid command resumes it", {}
    if st == "submitted":
        return "pending", f"{tag} submitted {rec.get('submitted')}", {}
    if st == "done":  # the record says done but the output is not there (removed since)
        return "pending", "its job finished but the output is missing (removed?)", {}
    return "pending", f"unknown job state {st!r}", {}


def grid_status(names, combos, *, data: str = "synth", preset: str = "smoke", out: str | Path = "runs",
                overrides: dict | None = None) -> list[StatusRow]:
    """One row per member and chain (``combos``: ``""`` = the base run); see the module docstring."""
    from lteval.posttrain.pipeline import split_overrides, stage_dir
    from lteval.train.rundir import is_done

    out = Path(out)
    base_ov, _ = split_overrides(overrides)
    ids = _last_job_ids(out)
    rows = []
    for n in names:
        run_name = resolve(n, preset, base_ov, data=data).run_name()
        run_dir = out / run_name
        base_key, post_key = record_key(run_name, "base"), record_key(run_name, "post")
        base_rec, post_rec = read_record(out, base_key), read_record(out, post_key)
        base_done = is_done(run_dir)
        if base_done:
            base_state = ("done", "", {})
        else:
            base_state = _job_state(base_rec, ids.get(base_key), run_dir, "base")
        for combo in combos:
            member = f"{n}+{combo}" if combo else n
            if not combo:
                state, detail, extra = base_state
                rows.append(StatusRow(member, state, str(run_dir), detail, **extra))
                continue
            sdir = stage_dir(run_dir, combo.split("+"))
            if is_done(sdir):
                rows.append(StatusRow(member, "done", str(sdir)))
                continue
            if post_rec is None or combo not in (post_rec.get("combos") or []):
                if base_done:
                    why = "not submitted"
                else:
                    why = f"waits for its base run ({'failed' if base_state[0] == 'failed' else 'not finished'})"
                rows.append(StatusRow(member, "pending", str(sdir), why))
                continue
            state, detail, extra = _job_state(post_rec, ids.get(post_key), sdir, "post")
            rows.append(StatusRow(member, state, str(sdir), detail, **extra))
    return rows


def summary_line(rows: list[StatusRow]) -> str:
    """``"3 done, 1 running, 1 failed, 2 pending (7 in all)"``."""
    counts = {s: sum(r.state == s for r in rows) for s in STATES}
    return ", ".join(f"{counts[s]} {s}" for s in STATES) + f" ({len(rows)} in all)"
