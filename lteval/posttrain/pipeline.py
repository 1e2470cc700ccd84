"""Post-training pipeline: ``NAME+crt+tta+calib`` on a finished base run, stage by stage.

``parse_name("convnext_ldam_drw+crt+tta+calib")`` → ``("convnext_ldam_drw", ("crt", "tta", "calib"))``.
``run_pipeline(name, data=, preset=, out=, overrides=, force=, progress=)``:

1. the base run of the resolved config is trained, or reused when a finished run of the same config
   hash exists (``lteval.train.baselines.run_baseline``);
2. each stage of the chain lives in ``RUN/post/<chain>/`` (``post/crt``, ``post/crt+tta``,
   ``post/crt+tta+calib``) with ``config.json``, ``predictions/``, ``logits/``, ``labels/`` (copies of
   the base run's, where known), ``scores/<split>.json`` (``lteval.score``) and ``DONE``; a finished
   stage made with the same options is reused, so only missing stages run.

Stages (``STAGES``, in this order; each at most once; ``tau`` and ``lws`` exclusive), each one entry of
:data:`lteval.posttrain.stages.STAGE_REGISTRY` (summary, options dataclass of
:mod:`lteval.posttrain.options`, run):

- ``crt``   classifier re-training on the frozen backbone (class-aware sampling, own schedule)
- ``tau``   τ-normalisation of the current classifier (τ chosen on ``val``)
- ``lws``   learnable per-class weight scaling of the current classifier
- ``tta``   test-time augmentation with the current classifier
- ``gate``  Normal gating ``p_c · (1 − α·p_Normal)``, α fitted on ``calib`` (``lteval.posttrain.gate``)
- ``calib`` calibration + thresholds fitted on the ``calib`` split, applied to every split

Stage options come as ``--set STAGE.KEY=VALUE`` (e.g. ``crt.epochs=20``, ``tta.transforms=identity,
scale@1.1``, ``tta.merge=mean``, ``gate.alpha=0.5``, ``calib.method=isotonic``, ``calib.thresholds=precision@0.9``);
other ``--set`` keys configure the base run. Nothing is fitted on dev or test: cRT and LWS train on
the run's ``train`` split, τ is chosen on ``val``, the gate's α, calibration and thresholds are fitted
on ``calib``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from lteval.errors import ConfigError, OutputExistsError, UsageError
from lteval.io.atomic import write_json_atomic
from lteval.io.jsonfile import read_json
from lteval.metrics.figures import headline_keys
from lteval.posttrain.stages import STAGE_REGISTRY

__all__ = ["STAGES", "parse_name", "list_stages", "split_overrides", "stage_options", "run_pipeline",
           "run_stages", "stage_dir", "run_grid", "COMBOS", "all_combos", "parse_combos"]

#: Stage names in pipeline order (the registry :data:`lteval.posttrain.stages.STAGE_REGISTRY`).
STAGES = tuple(STAGE_REGISTRY)

#: Post-training chains covered by ``lteval baseline grid --post`` by default.
COMBOS = ("", "crt", "tta", "calib", "crt+tta", "crt+calib", "tta+calib", "crt+tta+calib")


def _slots() -> list[tuple[str, ...]]:
    """The chain's positions in order, each ``("", stage, ...)``: mutually exclusive stages share one."""
    slots: list[list[str]] = []
    for e in STAGE_REGISTRY.entries():
        if slots and e.exclusive and e.exclusive in slots[-1]:
            slots[-1].append(e.name)
        else:
            slots.append(["", e.name])
    return [tuple(s) for s in slots]


def all_combos() -> list[str]:
    """Every valid chain ("" = the base run alone): crt? (tau|lws)? tta? gate? calib? — 48 in all."""
    import itertools

    return ["+".join(s for s in combo if s) for combo in itertools.product(*_slots())]


def parse_combos(text: str | None) -> list[str]:
    """``--post`` value → chains: ``"all"`` (every chain), ``"default"`` (``COMBOS``) or a comma list
    (the base run itself is always included, first)."""
    if text is None or not str(text).strip():
        return [""]
    t = str(text).strip().lower()
    if t == "all":
        return all_combos()
    if t == "default":
        return list(COMBOS)
    out = [""]
    for c in (x.strip() for x in str(text).split(",")):
        if c and c not in out:
            parse_name("x+" + c)
            out.append(c)
    return out


def list_stages() -> list[dict]:
    """``[{"name", "summary", "options": {key: default}}]`` for every stage, in pipeline order."""
    return [{"name": e.name, "summary": e.summary, "options": e.options().to_dict()}
            for e in STAGE_REGISTRY.entries()]


def parse_name(name: str) -> tuple[str, tuple[str, ...]]:
    """``"base+crt+tta"`` → ``("base", ("crt", "tta"))``; checks stage names and order."""
    parts = [p.strip() for p in str(name).split("+")]
    base, stages = parts[0], tuple(parts[1:])
    if not base:
        raise UsageError(f"{name!r}: missing the baseline name before the first '+'")
    order = STAGE_REGISTRY.names()
    seen = []
    for s in stages:
        STAGE_REGISTRY.resolve(s, where=name)
        if s in seen:
            raise UsageError(f"stage {s!r} appears twice in {name!r}")
        if seen and order.index(s) < order.index(seen[-1]):
            raise UsageError(f"{name!r}: stages must come in the order {'+'.join(order)} (classifier stages, "
                             "then TTA, then gating, then calibration)")
        seen.append(s)
    for s in seen:
        other = STAGE_REGISTRY.entry(s).exclusive
        if other in seen and order.index(s) < order.index(other):
            raise UsageError(f"{name!r}: choose one of {s!r} and {other!r} (both rescale the classifier)")
    return base, stages


def split_overrides(overrides: dict | None) -> tuple[dict, dict[str, dict]]:
    """``{"lr": 1e-3, "crt.epochs": 5}`` → ``({"lr": 1e-3}, {"crt": {"epochs": 5}})``."""
    base, stages = {}, {}
    for k, v in (overrides or {}).items():
        head, dot, rest = str(k).partition(".")
        if dot and head in STAGE_REGISTRY:
            if not rest:
                raise ConfigError(f"--set {k}=...: expected {head}.<option>")
            stages.setdefault(head, {})[rest] = v
        else:
            base[k] = v
    return base, stages


def stage_options(stage: str, given: dict | None = None) -> dict:
    """The resolved options of ``stage``: defaults updated by ``given`` (validated, coerced)."""
    return STAGE_REGISTRY.entry(stage, where=stage).options.resolve(given)


def stage_dir(run_dir: str | Path, stages) -> Path:
    """``RUN/post/<stage+stage+...>``."""
    return Path(run_dir) / "post" / "+".join(stages)


def _opts_hash(chain_opts: list) -> str:
    blob = json.dumps(chain_opts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class _Log:
    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, msg: str) -> None:
        if self.enabled:
            print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- the public entry points

def run_pipeline(name: str, *, data: str = "synth", preset: str = "smoke", out: str | Path = "runs",
                 overrides: dict | None = None, force: bool = False, progress: bool = True,
                 device: str | None = None, strict: bool = True) -> Path:
    """Run ``name`` (``base[+stage...]``): train or reuse the base run, add the missing stages.

    Returns the directory of the last stage (the base run directory when there is no stage).
    ``force`` redoes the post-training stages of the chain (the base run is reused, never retrained).
    ``strict``: options given for a stage the name lacks are an error (else ignored, as in grids).
    """
    from lteval.train.baselines import run_baseline

    base, stages = parse_name(name)
    base_ov, st_ov = split_overrides(overrides)
    unused = [s for s in st_ov if s not in stages]
    if unused and strict:
        raise ConfigError(f"--set {unused[0]}.… given but {name!r} has no {unused[0]!r} stage")
    opts = {s: stage_options(s, st_ov.get(s)) for s in stages}  # validate before training anything
    checks = [(s, STAGE_REGISTRY.entry(s).preflight) for s in stages if STAGE_REGISTRY.entry(s).preflight]
    if checks:  # task-dependent checks (e.g. the gate's Normal class): say so before training
        from lteval.tasks import get_task
        from lteval.train.baselines import resolve

        classes = get_task(resolve(base, preset, base_ov, data=data).task).classes
        for s, check in checks:
            check(classes, opts[s])
    run_dir = run_baseline(base, data=data, preset=preset, out=out, overrides=base_ov, resume=True,
                           progress=progress)
    if not stages:
        return Path(run_dir)
    return run_stages(run_dir, stages, options=opts, force=force, progress=progress, device=device)


def run_stages(run_dir: str | Path, stages, *, options: dict | None = None, force: bool = False,
               progress: bool = True, device: str | None = None) -> Path:
    """Add the stages of ``stages`` (a tuple or ``"crt+tta"``) to the finished run ``run_dir``."""
    from lteval.train.rundir import is_done, read_config

    run_dir = Path(run_dir)
    if isinstance(stages, str):
        _, stages = parse_name("x+" + stages) if stages else ("x", ())
    stages = tuple(stages)
    parse_name("x+" + "+".join(stages))
    if not is_done(run_dir):
        raise UsageError(f"{run_dir} is not a finished run (no DONE marker): train it first")
    options = {s: stage_options(s, (options or {}).get(s)) for s in stages}
    base_cfg = read_config(run_dir)
    log = _Log(progress)
    ctx = _Context(run_dir, base_cfg, device=device, log=log)
    head = None  # the current classifier (StageHead) when a classifier stage ran or was reused
    last = run_dir
    for i, st in enumerate(stages):
        chain = stages[:i + 1]
        sdir = stage_dir(run_dir, chain)
        chain_opts = [[s, options[s]] for s in chain]
        h = _opts_hash(chain_opts)
        if sdir.exists() and not force:
            done = is_done(sdir)
            stored = read_json(sdir / "config.json", "stage config", expect=dict) if (sdir / "config.json").is_file() else {}
            if done and stored.get("options_hash") == h:
                log(f"post/{'+'.join(chain)}: finished stage reused")
                if STAGE_REGISTRY.entry(st).classifier:
                    head = ctx.load_head(sdir)
                last = sdir
                continue
            if done:
                raise OutputExistsError(
                    f"{sdir} was made with other stage options ({json.dumps(stored.get('options'))}); pass "
                    "--force to redo it")
        t0 = time.time()
        log(f"post/{'+'.join(chain)}: running {st}")
        for stale in sdir.parent.glob(f".{'+'.join(chain)}.*.tmp") if sdir.parent.is_dir() else []:
            shutil.rmtree(stale, ignore_errors=True)  # left by a killed earlier attempt
        tmp = Path(tempfile.mkdtemp(prefix=f".{'+'.join(chain)}.", suffix=".tmp", dir=_mkdir(sdir.parent)))
        try:
            prev = stage_dir(run_dir, stages[:i]) if i else run_dir
            info, head = STAGE_REGISTRY.entry(st).run(ctx, options[st], tmp, prev, head)
            cfg = {**{k: base_cfg.get(k) for k in ("task", "backbone", "baseline_backbone", "loss", "head",
                                                      "preset", "seed", "image_size", "data")},
                   "name": f"{run_dir.name}+{'+'.join(chain)}", "stage": st, "chain": "+".join(chain),
                   "stages": list(chain), "options": dict(chain_opts), "options_hash": h,
                   "base_run": run_dir.name, "base_config_hash": base_cfg.get("config_hash"),
                   "info": info, "lteval_version": _version()}
            write_json_atomic(tmp / "config.json", cfg)
            scores = {}
            for p in sorted((tmp / "scores").glob("*.json")) if (tmp / "scores").is_dir() else []:
                o = read_json(p, "score file", expect=dict)["overall"]
                scores[p.stem] = {k: o[k] for k in headline_keys()}
            write_json_atomic(tmp / "DONE", {"scores": scores, "wall_s": round(time.time() - t0, 1),
                                             "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
            if sdir.exists():
                shutil.rmtree(sdir)
            os.replace(tmp, sdir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        msg = "  ".join(f"{s} mAP {v['mAP']:.4f} mF1 {v['mF1']:.4f}" for s, v in scores.items()
                        if s in ("dev", "test") and v.get("mAP") is not None)
        log(f"post/{'+'.join(chain)}: done in {time.time() - t0:.0f}s  {msg}")
        last = sdir
    return last


def run_grid(names, combos=COMBOS, **kw) -> list[tuple[str, str, str]]:
    """Run every ``name+combo``; a failure does not stop the others. ``(name, status, detail)`` each."""
    from lteval.errors import LtevalError

    results = []
    for n in names:
        for c in combos:
            full = f"{n}+{c}" if c else n
            try:
                results.append((full, "ok", str(run_pipeline(full, strict=False, **kw))))
            except LtevalError as e:
                results.append((full, "failed", str(e)))
            except Exception as e:  # keep going: report at the end
                results.append((full, "failed", f"{type(e).__name__}: {e}"))
    return results


# ----------------------------------------------------------------------------- what the stages read

class _Context:
    """What the model stages need from the base run, loaded lazily: config, data source, model (best
    checkpoint), loss, split IDs, datasets, penultimate features. Reads labels of train/val/calib only
    (the run's own splits of the training file); dev/test labels are never opened here."""

    def __init__(self, run_dir: Path, cfg: dict, *, device=None, log=None):
        self.run_dir = run_dir
        self.cfg_dict = cfg
        self.task = cfg.get("task", "cxrlt2026-task1")
        self._device = device
        self.log = log or (lambda m: None)
        self._cache: dict = {}

    # -- basics
    @property
    def device(self):
        import torch

        if "device" not in self._cache:
            self._cache["device"] = torch.device(self._device or ("cuda" if torch.cuda.is_available() else "cpu"))
        return self._cache["device"]

    @property
    def cfg(self):
        if "cfg" not in self._cache:
            from lteval.train.config import TrainConfig

            self._cache["cfg"] = TrainConfig.from_dict(self.cfg_dict)
        return self._cache["cfg"]

    @property
    def amp_dtype(self):
        from lteval.train.device import amp_dtype

        return amp_dtype(self.cfg.amp, self.device)

    @property
    def source(self):
        if "source" not in self._cache:
            from lteval.data.run_data import open_data

            self._cache["source"] = open_data(self.cfg, progress=False, prepare=False)
        return self._cache["source"]

    def split_ids(self, split: str):
        """IDs of ``split``: the run's own splits (train/val/calib) or what the base run predicted."""
        key = ("ids", split)
        if key not in self._cache:
            if split == "train":
                from lteval.data.splits import read_splits

                self._cache[key] = read_splits(self.run_dir)["train"]
            else:
                from lteval.io.tables import read_predictions

                self._cache[key] = read_predictions(self.run_dir / "predictions" / f"{split}.csv", self.task).ids
        return self._cache[key]

    def out_splits(self) -> list[str]:
        from lteval.posttrain.calib_stage import SPLITS

        return [s for s in SPLITS if (self.run_dir / "predictions" / f"{s}.csv").is_file()]

    def labels(self, split: str):
        """Labels (n, C) of train / val / calib from the training file — never dev or test."""
        import numpy as np

        if split not in ("train", "val", "calib"):
            raise UsageError(f"post-training stages fit on train/val/calib only, not {split!r}")
        src = self.source
        pos = {v: i for i, v in enumerate(src.train_ids.tolist())}
        ids = self.split_ids(split)
        missing = [v for v in ids[:5] if v not in pos]
        if missing:
            raise UsageError(f"{split} split of {self.run_dir} names images not in the training file "
                             f"(e.g. {str(missing[0])!r})")
        return src.train_y[np.fromiter((pos[v] for v in ids), np.int64, len(ids))]

    def dataset(self, split: str, *, augment: bool = False):
        from lteval.data.dataset import AugmentConfig, CXRDataset

        cache = None
        if self.cfg.cache != "off":
            if "img_cache" not in self._cache:
                from lteval.data.cache import open_cache

                self._cache["img_cache"] = open_cache(self.source, self.cfg.image_size)
            cache = self._cache["img_cache"]
        return CXRDataset(self.source, self.split_ids(split), self.cfg.image_size, labels=None,
                          augment=AugmentConfig() if augment else None, cache=cache,
                          seed=self.cfg.seed if augment else None)

    @property
    def num_workers(self) -> int:
        """The run's data-loader processes; -1 (auto) as the engine resolves it (0 on CPU)."""
        from lteval.train.device import data_workers

        return data_workers(int(self.cfg.num_workers), self.device)

    def loader(self, split: str):
        from lteval.data.dataset import make_loader

        return make_loader(self.dataset(split), self.cfg.eval_batch_size, num_workers=self.num_workers)

    # -- model
    def _build(self):
        """Model (best checkpoint, eval mode) and trained loss via the engine's ``load_run``."""
        from lteval.train.predict import load_run

        lr = load_run(self.run_dir, device=self.device)
        self._cache["model"], self._cache["loss"] = lr.model, lr.loss
        self._cache.setdefault("source", lr.source)
        self.log(f"loaded {self.run_dir.name} ({self.cfg.backbone}, {self.cfg.loss}) on {self.device}")

    @property
    def model(self):
        if "model" not in self._cache:
            self._build()
        return self._cache["model"]

    @property
    def loss(self):
        if "loss" not in self._cache:
            self._build()
        return self._cache["loss"]

    def base_head(self):
        from lteval.posttrain.crt import StageHead

        return StageHead.from_model(self.model, self.loss.to_logits).to(self.device)

    def features(self, split: str):
        key = ("feat", split)
        if key not in self._cache:
            from lteval.posttrain.crt import extract_features

            t0 = time.time()
            ids, f = extract_features(self.model, self.loader(split), device=self.device, amp_dtype=self.amp_dtype)
            self.check_ids(split, ids)
            self._cache[key] = f
            self.log(f"  features of {split}: {tuple(f.shape)} in {time.time() - t0:.0f}s")
        return self._cache[key]

    def check_ids(self, split, ids):
        want = self.split_ids(split)
        if len(ids) != len(want) or any(a != b for a, b in zip(ids, want)):
            raise UsageError(f"internal: {split} predictions are not in the base run's order")  # pragma: no cover

    # -- outputs
    def save_head(self, head, out: Path) -> None:
        from lteval.train.rundir import save_checkpoint

        save_checkpoint(out / "head.pt", {k: v.detach().cpu() for k, v in head.state_dict().items()})
        write_json_atomic(out / "head.json", head.spec())

    def load_head(self, sdir: Path):
        from lteval.posttrain.crt import StageHead
        from lteval.train.rundir import load_checkpoint

        if not (sdir / "head.pt").is_file() or not (sdir / "head.json").is_file():
            raise UsageError(f"{sdir} has no head.pt/head.json: pass --force to redo the stage")
        return StageHead.from_spec(read_json(sdir / "head.json", "stage head file", expect=dict), load_checkpoint(sdir / "head.pt")).to(self.device)

    def write(self, out: Path, split: str, ids, z) -> None:
        from lteval.posttrain.calib_stage import sigmoid, write_stage_split

        write_stage_split(out, split, ids, sigmoid(z), z, self.task,
                          label_src=self.run_dir / "labels" / f"{split}.csv")

    def write_from_head(self, head, out: Path) -> None:
        from lteval.posttrain.crt import head_logits

        for split in self.out_splits():
            self.write(out, split, self.split_ids(split), head_logits(head, self.features(split)))


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def _version() -> str:
    from lteval import __version__

    return __version__
