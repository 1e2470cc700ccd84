"""One grid member as a submitit job, and the JSON record each job keeps of itself.

A :class:`GridJob` is a picklable callable (submitit's ``__call__`` + ``checkpoint()`` protocol):

- ``kind="base"`` trains baseline ``name`` into ``<out>/<name>-<hash8>/`` exactly as a local
  ``lteval baseline run NAME --resume`` does (a finished run is reused, an unfinished one resumes
  from ``checkpoints/last.pt``);
- ``kind="post"`` adds the post-training chains ``combos`` (e.g. ``("crt", "crt+tta")``) to that
  finished run, one after another in one job (chains share their prefix stages, so they never run
  in parallel on the same run directory).

When the scheduler preempts the job (or its time is nearly up), submitit calls :meth:`GridJob.checkpoint`
on the signal and requeues the job; the requeued job runs the same callable, which resumes from
``last.pt`` (the state written at the last epoch end or every ``checkpoint_every_steps`` steps).

Records live in ``<out>/.lteval-grid/jobs/<key>.json`` (``key`` = the run directory's name, plus
``+post`` for the post-training job): ``state`` (``submitted``, ``running``, ``requeued``,
``done``, ``failed``, ``interrupted``), ``attempt``, ``job_id``, ``host``, ``pid``, times
(UTC ISO), ``heartbeat`` (refreshed every :data:`HEARTBEAT_S` seconds while running), ``error``
(one line), ``traceback`` (its last lines) and the job's ``stdout``/``stderr`` log files.
Only the first process of a multi-process job writes them.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from lteval.io.atomic import write_json_atomic

__all__ = ["GRID_DIR", "HEARTBEAT_S", "GridJob", "grid_dir", "record_key", "record_path", "read_record",
           "write_record", "run_baseline", "resolve", "prepare_data", "now"]

#: The grid's folder under ``--out``: ``jobs/`` (records), ``submitit/`` (submitit's logs and
#: pickles), ``submissions.jsonl`` (one line per submitted job: key, job id, logs).
GRID_DIR = ".lteval-grid"
#: Seconds between two heartbeats of a running job (a record older than 10 of them is stale).
HEARTBEAT_S = 30.0


# The baselines (train/baselines.py) and the run-data opener (data/run_data.py) are imported
# here only: the rest of lteval.grid calls these three.

def run_baseline(name: str, **kw) -> Path:
    """Train baseline ``name`` exactly as ``lteval baseline run`` does (keywords: data, preset, out,
    overrides, resume, force, progress); returns the finished run directory."""
    from lteval.train.baselines import run_baseline as _run

    return _run(name, **kw)


def resolve(name: str, preset: str = "smoke", overrides: dict | None = None, *, data: str = "synth"):
    """The resolved TrainConfig of baseline ``name`` (its ``run_name()`` is ``<name>-<hash8>``)."""
    from lteval.train.baselines import resolve as _resolve

    return _resolve(name, preset, overrides, data=data)


def prepare_data(cfg, *, progress: bool = True) -> None:
    """Generate the synthetic data set of ``cfg`` once, before jobs start (they would race on it)."""
    from lteval.data.run_data import open_data

    open_data(cfg, progress=progress)


def now() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def grid_dir(out: str | Path) -> Path:
    """``<out>/.lteval-grid``."""
    return Path(out) / GRID_DIR


def record_key(run_name: str, kind: str) -> str:
    """``<name>-<hash8>`` for a base job, ``<name>-<hash8>+post`` for its post-training job."""
    return run_name if kind == "base" else f"{run_name}+post"


def record_path(out: str | Path, key: str) -> Path:
    """``<out>/.lteval-grid/jobs/<key>.json``."""
    return grid_dir(out) / "jobs" / f"{key}.json"


def read_record(out: str | Path, key: str) -> dict | None:
    """The record of job ``key`` (a dict), or None when there is none or it cannot be read."""
    try:
        d = json.loads(record_path(out, key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None


def write_record(out: str | Path, key: str, record: dict) -> Path:
    """Write the record of job ``key`` atomically (readers never see half a file)."""
    p = record_path(out, key)
    p.parent.mkdir(parents=True, exist_ok=True)
    return write_json_atomic(p, record)


def _error_line(e: BaseException) -> str:
    from lteval.errors import LtevalError

    msg = str(e) if isinstance(e, LtevalError) else f"{type(e).__name__}: {e}"
    notes = getattr(e, "__notes__", None) or []
    return f"{'; '.join(notes)}: {msg}" if notes else msg


@dataclass
class GridJob:
    """One job of a grid: ``kind`` ``"base"`` (train ``name``) or ``"post"`` (its ``combos``).

    ``run_name`` is the run directory's name under ``out`` (``<name>-<hash8>``, from the resolved
    config); ``overrides`` are the ``--set`` keys (stage keys ``STAGE.KEY`` included)."""

    kind: str
    name: str
    run_name: str
    out: str
    data: str = "synth"
    preset: str = "smoke"
    overrides: dict = field(default_factory=dict)
    combos: tuple = ()
    progress: bool = True

    @property
    def key(self) -> str:
        """The record's key (see :func:`record_key`)."""
        return record_key(self.run_name, self.kind)

    @property
    def label(self) -> str:
        """What a person reads: ``name`` or ``name+post(crt,tta)``."""
        return self.name if self.kind == "base" else f"{self.name}+post({','.join(self.combos)})"

    # ------------------------------------------------------------------ submitit's protocol

    def __call__(self) -> str:
        """Run the job in this process; returns the run (or last stage) directory as a string.

        Raises what the run raised (the record says ``failed`` with the error first)."""
        env = _job_env()
        if env is not None and env.num_tasks > 1:  # one process per GPU: torch's env:// variables
            import submitit.helpers

            submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
        main = env is None or env.global_rank == 0
        self._requeued = False
        rec = self._rec = self._start(env) if main else None
        beat = self._beat = _Heartbeat(self, rec) if main else None
        try:
            result = self._run()
        except Exception as e:
            if main:
                beat.stop()
                self._update(rec, state="failed", finished=now(), error=_error_line(e),
                             traceback="".join(traceback.format_exception(e))[-4000:])
            raise
        except BaseException as e:  # preemption (requeue) or an interrupt
            if main:
                beat.stop()
                if not self._requeued:
                    self._update(rec, state="interrupted", finished=now(), error=_error_line(e) or type(e).__name__)
            raise
        if main:
            beat.stop()
            self._update(rec, state="done", finished=now(), error=None, traceback=None, result=str(result))
        return str(result)

    def checkpoint(self, *args, **kwargs):
        """Called by submitit on preemption or near the time limit: the training state is already in
        ``checkpoints/last.pt``, so requeue the same job (which resumes from it)."""
        import submitit.helpers

        self._requeued = True
        rec = self.__dict__.get("_rec")
        if rec is None:  # not the process that runs the job (or an old pickle): the record on disk
            rec = read_record(self.out, self.key) or {}
        else:
            self._beat.stop()
        self._update(rec, state="requeued", requeued=now())
        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)

    def __getstate__(self) -> dict:
        d = dict(self.__dict__)
        for k in ("_requeued", "_lock", "_rec", "_beat"):
            d.pop(k, None)
        return d

    # ------------------------------------------------------------------ the work

    def _run(self) -> Path:
        if self.kind == "base":
            from lteval.posttrain.pipeline import split_overrides

            base_ov, _ = split_overrides(self.overrides)
            return run_baseline(self.name, data=self.data, preset=self.preset, out=self.out, overrides=base_ov,
                                resume=True, progress=self.progress)
        from lteval.posttrain.pipeline import run_pipeline

        last, failed = Path(self.out) / self.run_name, []
        for combo in self.combos:
            try:
                last = run_pipeline(f"{self.name}+{combo}", data=self.data, preset=self.preset, out=self.out,
                                    overrides=self.overrides, strict=False, progress=self.progress)
            except Exception as e:  # the other chains still run; the job fails at the end
                failed.append((combo, e))
        if failed:
            combo, e = failed[0]
            e.add_note(f"post-training chain {combo!r} of {self.name!r}"
                       + (f" ({len(failed) - 1} more chain(s) failed too)" if len(failed) > 1 else ""))
            raise e
        return last

    # ------------------------------------------------------------------ the record

    def _start(self, env) -> dict:
        old = read_record(self.out, self.key) or {}
        rec = {"key": self.key, "kind": self.kind, "member": self.label, "name": self.name,
               "run_dir": str(Path(self.out) / self.run_name), "combos": list(self.combos),
               "state": "running", "attempt": int(old.get("attempt", 0)) + 1,
               "job_id": env.job_id if env is not None else None,
               "host": socket.gethostname(), "pid": os.getpid(),
               "submitted": old.get("submitted"), "requeued": old.get("requeued"), "started": now(), "heartbeat": now(), "finished": None,
               "error": None, "traceback": None}
        if env is not None:
            paths = env.paths
            rec["stdout"], rec["stderr"] = str(paths.stdout), str(paths.stderr)
        self._update(rec)
        return rec

    def _update(self, rec: dict, **changes) -> None:
        # re-entrant: submitit's signal handler (checkpoint) runs in the main thread, maybe inside _update
        lock = self.__dict__.setdefault("_lock", threading.RLock())
        with lock:
            rec.update(changes)
            try:
                write_record(self.out, self.key, rec)
            except OSError:  # a full or read-only disk must not kill the training itself
                pass


def _job_env():
    """submitit's JobEnvironment inside a submitit job, else None (a plain call, e.g. in a test)."""
    if not any(k.startswith("SUBMITIT_") for k in os.environ):
        return None
    try:
        import submitit

        env = submitit.JobEnvironment()
        env.job_id  # noqa: B018 — raises outside a job
        return env
    except Exception:
        return None


class _Heartbeat:
    """A daemon thread refreshing the record's ``heartbeat`` every :data:`HEARTBEAT_S` seconds."""

    def __init__(self, job: GridJob, rec: dict):
        self._job, self._rec, self._stop = job, rec, threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lteval-grid-heartbeat", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            self._job._update(self._rec, heartbeat=now())

    def stop(self) -> None:
        self._stop.set()
