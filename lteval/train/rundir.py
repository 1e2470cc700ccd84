"""Run directories: ``<out>/<name>-<confighash8>/`` (layout: docs/baselines.md, notes in rundir.md).

``open_run(out, cfg, resume=False, force=False) -> (run_dir, state)`` with state ``"new"``,
``"resume"`` or ``"done"``: a finished run (``DONE`` present) is reused, never overwritten unless
``force``; an unfinished one is continued with ``resume`` (from ``checkpoints/last.pt``) or
started over with ``force``, and refused otherwise. Checkpoints are written atomically
(temporary file, fsync, rename) and read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from lteval.errors import LtevalError, OutputExistsError, UsageError
from lteval.io.atomic import write_json_atomic
from lteval.io.jsonfile import read_json

__all__ = ["open_run", "find_runs", "is_done", "read_config", "save_checkpoint", "load_checkpoint",
           "write_done", "CONFIG", "DONE", "LAST", "BEST"]

CONFIG = "config.json"
DONE = "DONE"
LAST = Path("checkpoints") / "last.pt"
BEST = Path("checkpoints") / "best.pt"


def is_done(run_dir: str | Path) -> bool:
    """Whether the run finished (its ``DONE`` marker exists)."""
    return (Path(run_dir) / DONE).is_file()


def read_config(run_dir: str | Path) -> dict:
    """The resolved config a run was made with (``config.json``)."""
    p = Path(run_dir) / CONFIG
    if not p.exists():
        raise UsageError(f"{run_dir} is not an lteval run directory (no {CONFIG})")
    return read_json(p, "run config", expect=dict)


def find_runs(out: str | Path, config_hash: str, *, done_only: bool = False) -> list[Path]:
    """Run directories under ``out`` whose config has ``config_hash`` (full hash or its first 8+ chars)."""
    out = Path(out)
    if not out.is_dir():
        return []
    found = []
    for d in sorted(out.glob(f"*-{config_hash[:8]}")):
        try:
            h = read_config(d).get("config_hash", "")
        except LtevalError:
            continue
        if h.startswith(config_hash) and (is_done(d) or not done_only):
            found.append(d)
    return found


def open_run(out: str | Path, cfg, *, resume: bool = False, force: bool = False) -> tuple[Path, str]:
    """Create or find the run directory of ``cfg`` under ``out``; see the module docstring."""
    run_dir = Path(out) / cfg.run_name()
    if run_dir.exists():
        ours = (run_dir / CONFIG).is_file()
        if not ours and any(run_dir.iterdir()):
            raise OutputExistsError(f"{run_dir} exists and is not an lteval run directory; remove it or "
                                    "choose another --out")
        if ours and not force:
            if is_done(run_dir):
                return run_dir, "done"
            if resume:
                if (run_dir / LAST).is_file():
                    return run_dir, "resume"
                # nothing to resume from yet: start the same run again
            else:
                raise OutputExistsError(
                    f"an unfinished run of this config exists in {run_dir}; pass --resume to continue it "
                    "or --force to start it over")
        if force or ours:
            shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_dir / CONFIG, cfg.to_dict())
    return run_dir, "new"


def save_checkpoint(path: str | Path, state: dict) -> Path:
    """``torch.save`` ``state`` to ``path`` atomically (a crash leaves the previous file intact)."""
    import torch

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return p


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``)."""
    import torch

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"checkpoint {p} not found")
    try:
        return torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:  # corrupt or foreign file
        raise UsageError(f"cannot read checkpoint {p}: {e}", file=str(p)) from None


def write_done(run_dir: str | Path, info: dict) -> Path:
    """Write the ``DONE`` marker (JSON: finish time and a summary) — the last file of a run."""
    return write_json_atomic(Path(run_dir) / DONE, dict(info, finished=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                   time.gmtime())))
