"""Named baselines: one small TOML file per baseline in ``baselines/`` (``<backbone>_<loss>.toml``).

A baseline file names what differs between baselines; everything else comes from the preset::

    description = "ResNet-50 + LDAM-DRW (seed paper grid)"
    backbone = "resnet50"
    loss = "ldam_drw"
    head = "cosine"
    [loss_kwargs]          # optional: the loss's hyper-parameters
    [presets.paper]        # optional: per-preset settings (e.g. a smaller batch for a large model)

``list_baselines()``, ``get_baseline(name)``, ``resolve(name, preset, overrides)`` (the
:class:`TrainConfig`), and ``run_baseline(name, ...)`` → the finished run directory (reused when
the same resolved config already finished). The folder is ``$LTEVAL_BASELINES`` when set, else
``baselines/`` next to the ``lteval`` package, else the installed copy (:func:`baseline_dirs`).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import fields
from functools import lru_cache
from pathlib import Path

from lteval.errors import ConfigError, InputError, did_you_mean

__all__ = ["baselines_dir", "baseline_dirs", "list_baselines", "get_baseline", "resolve", "run_baseline", "grid_members",
           "run_grid"]

_EXTRA_KEYS = ("presets", "tags")


def baselines_dir() -> Path:
    """The folder of baseline TOMLs: ``$LTEVAL_BASELINES``, else the first that exists of
    :func:`baseline_dirs` (a checkout, the package's data, ``<prefix>/share``, ``<user base>/share``)."""
    env = os.environ.get("LTEVAL_BASELINES")
    if env:
        return Path(env)
    candidates = baseline_dirs()
    return next((d for d in candidates if d.is_dir()), candidates[2])


def baseline_dirs() -> list[Path]:
    """Where an install keeps the baseline TOMLs, in the order they are looked for."""
    import site
    import sys

    here = Path(__file__).resolve()
    return [here.parents[2] / "baselines",                          # a checkout / editable install
            here.parents[1] / "baselines",                          # package data (lteval/baselines)
            Path(sys.prefix) / "share" / "lteval" / "baselines",    # a wheel in a venv (data-files)
            Path(site.getuserbase()) / "share" / "lteval" / "baselines"]  # pip install --user


@lru_cache(maxsize=8)
def _load_all(folder: str) -> dict[str, dict]:
    from lteval.train.config import TrainConfig

    allowed = {f.name for f in fields(TrainConfig)} | set(_EXTRA_KEYS)
    out = {}
    d = Path(folder)
    if not d.is_dir():
        return out
    for p in sorted(d.glob("*.toml")):
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read baseline file: {e}", file=str(p)) from None
        except tomllib.TOMLDecodeError as e:
            raise InputError(f"invalid TOML: {e}", file=str(p)) from None
        bad = [k for k in data if k not in allowed]
        if bad:
            raise InputError(f"unknown key {bad[0]!r}{did_you_mean(bad[0], sorted(allowed))}", file=str(p))
        for k in ("backbone", "loss"):
            if k not in data:
                raise InputError(f"baseline file needs a {k!r} key", file=str(p))
        data["name"] = p.stem
        data.setdefault("description", "")
        out[p.stem] = data
    return out


def _all() -> dict[str, dict]:
    return _load_all(str(baselines_dir()))


def list_baselines() -> list[str]:
    """Names of the registered baselines, sorted."""
    return sorted(_all())


def get_baseline(name: str) -> dict:
    """The baseline's TOML content as a dict (with ``name``); ConfigError with a suggestion if unknown."""
    base = name.split("+", 1)[0]
    entries = _all()
    if base not in entries:
        raise ConfigError(f"unknown baseline {base!r}{did_you_mean(base, list(entries))}; "
                          "`lteval baseline list` shows them all")
    if "+" in name:
        raise ConfigError(f"{name!r}: post-training stages ({name.split('+', 1)[1]}) are run by the post-training "
                          "pipeline, not by the base trainer")
    d = dict(entries[base])
    d["loss_kwargs"] = dict(d.get("loss_kwargs", {}))
    return d


def resolve(name: str, preset: str = "smoke", overrides: dict | None = None, *, data: str = "synth"):
    """The fully resolved :class:`TrainConfig` of baseline ``name`` under ``preset`` and ``overrides``."""
    from lteval.train.config import resolve_config

    b = get_baseline(name)
    b.pop("tags", None)
    return resolve_config(b, preset, overrides, data=data)


def run_baseline(name: str, *, data: str = "synth", preset: str = "smoke", out: str | Path = "runs",
                 overrides: dict | None = None, resume: bool = False, force: bool = False,
                 progress: bool = True) -> Path:
    """Train baseline ``name`` (or reuse its finished run); return the run directory.

    Works in one process or in each process of a torchrun launch (rank 0 creates the folder).
    """
    from lteval.train.distributed import broadcast_object, init_distributed
    from lteval.train.engine import train
    from lteval.train.rundir import open_run

    cfg = resolve(name, preset, overrides, data=data)
    dist = init_distributed()
    res = None
    if dist.is_main:
        try:
            res = open_run(out, cfg, resume=resume, force=force)
        except Exception as e:  # tell the other processes instead of leaving them waiting
            broadcast_object(("error", str(e)))
            raise
    res = broadcast_object(res)
    if res[0] == "error":
        from lteval.errors import UsageError
        raise UsageError(f"rank 0 could not open the run directory: {res[1]}")
    run_dir, state = res
    if state == "done":
        if dist.is_main and progress:
            import sys
            print(f"{run_dir}: finished run of the same config reused (pass --force to train again)",
                  file=sys.stderr)
        return Path(run_dir)
    try:
        return train(cfg, run_dir, state=state, progress=progress)
    except BaseException:
        if dist.is_main and state == "new":
            _discard_unstarted(Path(run_dir))
        raise


def _discard_unstarted(run_dir: Path) -> None:
    """Remove a new run directory whose run failed before its first checkpoint (a missing image, a bad
    config, an interrupt while preparing): it holds nothing worth keeping (config.json, splits) and
    would otherwise block the same command with "an unfinished run exists" once the cause is fixed."""
    import shutil

    from lteval.train.rundir import CONFIG, LAST  # LAST.parent: checkpoints/

    if (run_dir / LAST).parent.exists() or not (run_dir / CONFIG).is_file():
        return  # training started (resume it) or not ours
    shutil.rmtree(run_dir, ignore_errors=True)


def grid_members(backbones=None, losses=None) -> list[str]:
    """Baselines whose backbone is in ``backbones`` and loss in ``losses`` (None = any), sorted.
    Aliases (tags ``headline``/``alias``: the same config under a second name) are left out."""
    out = []
    for n, d in _all().items():
        if {"alias", "headline"} & set(d.get("tags", [])):
            continue
        if backbones and d["backbone"] not in backbones:
            continue
        if losses and d["loss"] not in losses:
            continue
        out.append(n)
    return sorted(out)


def run_grid(names, **kw) -> list[tuple[str, str, str]]:
    """Run each baseline; a failure does not stop the others. Returns ``(name, status, detail)``."""
    from lteval.errors import LtevalError

    results = []
    for n in names:
        try:
            p = run_baseline(n, **kw)
            results.append((n, "ok", str(p)))
        except LtevalError as e:
            results.append((n, "failed", str(e)))
        except Exception as e:  # keep going: report at the end
            results.append((n, "failed", f"{type(e).__name__}: {e}"))
    return results
