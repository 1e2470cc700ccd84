"""The training loop: one function, ``train(cfg, run_dir)``, from data to a finished run directory.

What it does, in order:

1. data: the synthetic set (generated once under ``$LTEVAL_HOME/synth/``) or a CXR-LT root
   (every image checked first); train/val/calib from the training file (``make_splits``,
   written to ``splits/``). Official dev/test are only predicted and scored at the end —
   never used for fitting or model selection.
2. model (timm backbone, one channel), loss (``create_loss`` with the train split's class
   counts), AdamW without decay on norms/biases, per-step cosine schedule with linear warmup,
   optional EMA, sampler (random / class_aware / sqrt / progressive), gradient accumulation.
   CUDA: bf16 autocast and channels_last (``amp``/``channels_last`` = auto); CPU: fp32.
   Optional ``torch.compile``. DDP under torchrun (gloo on CPU, NCCL on CUDA).
3. each epoch: train, evaluate ``val`` mAP (classes with val positives), keep the best model
   (``checkpoints/best.pt``), append to ``metrics.jsonl``, checkpoint ``checkpoints/last.pt``
   atomically (also every ``checkpoint_every_steps`` optimiser steps), early-stop after
   ``patience`` evaluations without improvement. A deferred loss (DRW) switches at an optimiser
   step (``loss.schedule``); when fewer than two epoch ends follow the switch, the re-weighted phase
   is also evaluated mid-epoch (:func:`evaluation_steps`). With ``select_phase="reweighted"``
   (default) only evaluations with re-weighting active can be selected, and early stopping waits
   until the re-weighted phase had ``patience`` evaluations; ``DONE`` records
   ``best_drw_active`` and the selection rule.
4. the best model predicts val, calib, dev and test → predictions/logits/labels/scores; ``DONE``.

Resuming (``state="resume"``) restores model, optimiser, scheduler, grad scaler, EMA, the loss's
schedule (DRW), the python/numpy/torch RNG states of every rank, the sampler position within the
epoch and the running epoch loss, so a run killed at any point and resumed ends with the same
numbers as an uninterrupted one (CPU; same number of processes and threads).

Augmentation randomness is keyed by (seed, epoch, position in the epoch), not by a global stream,
which is what makes mid-epoch resume exact with any number of data-loader workers.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from lteval.errors import ConfigError, UsageError
from lteval.io.atomic import write_text_atomic
from lteval.train import rundir as rd
from lteval.train.config import TrainConfig, lteval_home, synth_params
from lteval.train.distributed import DistInfo, all_gather_object, barrier, init_distributed

__all__ = ["train", "open_data", "build_run", "evaluation_steps", "TrainState", "Stepper"]

#: Fault injection for the resume tests: SIGKILL this process right after this optimiser step.
FAULT_ENV = "LTEVAL_FAULT_KILL_AFTER_STEP"


# ----------------------------------------------------------------------------- data

def synth_root(cfg: TrainConfig) -> Path:
    p = synth_params(cfg)
    return lteval_home() / "synth" / (f"n{p['n_train']}-d{p['n_dev']}-t{p['n_test']}-{p['size']}px-seed{p['seed']}")


def open_data(cfg: TrainConfig, *, progress: bool = True, prepare: bool = True):
    """The data source of ``cfg``: the synthetic set (generated if missing, when ``prepare``) or a root."""
    from lteval.data.source import open_source

    if cfg.data == "synth":
        root = synth_root(cfg)
        if prepare:
            from lteval.data.synth import ensure_synthetic
            ensure_synthetic(root, **synth_params(cfg), progress=progress)
        return open_source(root, task=cfg.task)
    return open_source(cfg.data, image_dir=cfg.image_dir or None, task=cfg.task)


class _TrainView(Dataset):
    """Keys ``(position, index)``: the augmentation seed depends on (seed, epoch, position)."""

    def __init__(self, ds, seed: int, epoch: int):
        self.ds, self.seed, self.epoch = ds, int(seed), int(epoch)

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, key):
        pos, i = key
        self.ds.seed = (self.seed * 7919 + self.epoch * 1_000_033 + int(pos) * 31) % (2 ** 31)
        return self.ds[int(i)]


# ----------------------------------------------------------------------------- helpers

def _use_progress(progress: bool) -> bool:
    return (bool(progress) and os.environ.get("LTEVAL_NO_PROGRESS", "") not in ("1", "true")
            and sys.stderr.isatty())


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def _rng_state() -> dict:
    st = np.random.get_state()
    d = {"python": random.getstate(),
         "numpy": {"keys": torch.from_numpy(st[1].astype(np.int64)), "pos": int(st[2]),
                   "has_gauss": int(st[3]), "cached": float(st[4])},
         "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        d["cuda"] = torch.cuda.get_rng_state_all()
    return d


def _set_rng_state(d: dict) -> None:
    py = d["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = d["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(d["torch"])
    if "cuda" in d and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(d["cuda"])


def _amp_dtype(cfg: TrainConfig, device: torch.device):
    if cfg.amp == "none" or (cfg.amp == "auto" and device.type != "cuda"):
        return None
    if cfg.amp in ("auto", "bf16"):
        return torch.bfloat16
    return torch.float16


def _channels_last(cfg: TrainConfig, device: torch.device) -> bool:
    return cfg.channels_last == "on" or (cfg.channels_last == "auto" and device.type == "cuda")


class _Log:
    """Epoch lines on stderr (rank 0), plus a rich progress bar when on a TTY."""

    def __init__(self, enabled: bool, bar: bool):
        self.enabled, self.bar = enabled, bar and enabled
        self.progress = None
        self.task = None
        if self.bar:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)
            self.console = Console(stderr=True)
            self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                     TimeRemainingColumn(), console=self.console, transient=False)
            self.progress.start()

    def start(self, desc: str, total: int, completed: int = 0):
        if self.progress is not None:
            if self.task is not None:
                self.progress.remove_task(self.task)
            self.task = self.progress.add_task(desc, total=total, completed=completed, info="")

    def update(self, advance: int, info: str):
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, advance=advance, info=info)

    def line(self, msg: str):
        if not self.enabled:
            return
        if self.progress is not None:
            self.progress.console.print(msg)
        else:
            print(msg, file=sys.stderr, flush=True)

    def close(self):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


# ----------------------------------------------------------------------------- the run

class TrainState:
    """Counters that a checkpoint must restore."""

    def __init__(self):
        self.epoch = 0            # current epoch (0-based)
        self.batch = 0            # micro-batches of this epoch already done (on this rank)
        self.global_step = 0      # optimiser steps so far
        self.loss_sum = 0.0       # running sum of micro-batch losses in this epoch (this rank)
        self.loss_count = 0
        self.best = -math.inf
        self.best_epoch = -1      # the selected evaluation's "epoch" (1-based; fractional inside an epoch)
        self.best_step = -1
        self.best_drw_active = False
        self.bad_epochs = 0       # selectable evaluations since the last improvement
        self.n_active = 0         # evaluations with re-weighting active (deferred losses)
        self.history: list[dict] = []
        self.stopped_early = False

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("epoch", "batch", "global_step", "loss_sum", "loss_count", "best",
                                              "best_epoch", "best_step", "best_drw_active", "bad_epochs",
                                              "n_active", "history", "stopped_early")}

    def load(self, d: dict) -> None:
        for k, v in d.items():
            setattr(self, k, v)


def build_run(cfg: TrainConfig, source, train_ids, train_y, *, device, dist: DistInfo):
    """Model, loss, optimiser, schedule, EMA, sampler for ``cfg`` (no data loading)."""
    from lteval.train.ema import ModelEma
    from lteval.train.losses import create_loss, loss_info
    from lteval.train.models import create_model
    from lteval.train.samplers import create_sampler
    from lteval.train.schedule import build_optimizer, build_scheduler

    C = source.task.n_classes
    counts = train_y.sum(axis=0).astype(np.float64)
    _seed_everything(cfg.seed)
    model = create_model(cfg.backbone, C, in_chans=1, pretrained=cfg.pretrained, img_size=cfg.image_size,
                         drop_rate=cfg.drop_rate, head=cfg.head)
    model.to(device)
    if _channels_last(cfg, device):
        model.to(memory_format=torch.channels_last)
    loss = create_loss(cfg.loss, counts, n_samples=len(train_ids), **dict(cfg.loss_kwargs)).to(device)
    n_per_epoch = cfg.images_per_epoch or len(train_ids)
    sampler = create_sampler(cfg.sampler, train_y, num_replicas=dist.world_size, rank=dist.rank, seed=cfg.seed,
                             epochs=cfg.epochs, num_samples=n_per_epoch)
    per_rank = sampler.num_samples
    micro = per_rank // cfg.batch_size
    steps = micro // cfg.grad_accum
    if steps < 1:
        raise ConfigError(f"an epoch of {per_rank} images per process is too short for batch_size={cfg.batch_size} "
                          f"x grad_accum={cfg.grad_accum}: lower them or raise images_per_epoch")
    total = steps * cfg.epochs
    warm = min(total, int(round(cfg.warmup_epochs * steps)))
    loss.schedule(total, steps)  # DRW: the switch step, with its guards (ConfigError)
    switch = getattr(loss, "switch_step", None) if loss.deferred else None
    opt = build_optimizer(model, cfg.lr, cfg.weight_decay)
    sched = build_scheduler(opt, total, warm, min_lr_ratio=cfg.min_lr_ratio)
    ema = ModelEma(model, cfg.ema_decay) if cfg.ema else None
    return dict(model=model, loss=loss, sampler=sampler, opt=opt, sched=sched, ema=ema, steps_per_epoch=steps,
                micro_per_epoch=steps * cfg.grad_accum, total_steps=total, warmup_steps=warm,
                switch_step=switch, eval_steps=evaluation_steps(total, steps, switch))


def evaluation_steps(total_steps: int, steps_per_epoch: int, switch_step: int | None = None) -> list[int]:
    """Optimiser steps after which the model is evaluated on val: every epoch end and, for a
    deferred loss whose re-weighted phase (steps after ``switch_step``) holds fewer than two epoch
    ends, two evenly spaced points inside that phase (its middle and its end)."""
    steps = set(range(steps_per_epoch, total_steps + 1, steps_per_epoch)) | {total_steps}
    if switch_step is not None and sum(s > switch_step for s in steps) < 2:
        span = total_steps - switch_step
        steps |= {switch_step + math.ceil(j * span / 2) for j in (1, 2)}
    return sorted(steps)


def _eval_model(parts):
    from lteval.train.ema import unwrap_model
    return parts["ema"].module if parts["ema"] is not None else unwrap_model(parts["model"])


def _val_map(y: np.ndarray, probs: np.ndarray) -> tuple[float, float]:
    from lteval.metrics import mean_average_precision, mean_roc_auc
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = mean_average_precision(y, probs, empty_class="exclude")
        a = mean_roc_auc(y, probs)
    return m, a


def _finite(x):
    return None if x is None or not math.isfinite(x) else float(x)


def train(cfg: TrainConfig, run_dir: str | Path, *, state: str = "new", progress: bool = True) -> Path:
    """Train ``cfg`` into ``run_dir`` (made by :func:`lteval.train.rundir.open_run`); return it."""
    from lteval.data.dataset import AugmentConfig, CXRDataset
    from lteval.data.splits import make_splits, read_splits, write_splits
    from lteval.train.ema import unwrap_model
    from lteval.train.predict import outputs, predict_raw, write_split

    run_dir = Path(run_dir)
    dist = init_distributed()
    main = dist.is_main
    t_start = time.time()
    if torch.cuda.is_available():
        device = torch.device("cuda", dist.local_rank if dist.enabled else torch.cuda.current_device())
    else:
        device = torch.device("cpu")
    amp_dtype = _amp_dtype(cfg, device)
    chl = _channels_last(cfg, device)
    workers = cfg.num_workers
    if workers < 0:
        workers = 0 if device.type != "cuda" else min(8, max(1, (os.cpu_count() or 1) // dist.world_size - 1))
    log = _Log(main and progress, _use_progress(progress))
    try:
        # ---------------------------------------------------------------- data
        if main:
            source = open_data(cfg, progress=progress)
        barrier()
        if not main:
            source = open_data(cfg, progress=False, prepare=False)
        task = source.task
        if state == "resume" and (run_dir / "splits").is_dir():
            splits = read_splits(run_dir)
        else:
            splits = make_splits(source.train_ids, source.train_y, source.train_groups,
                                 fractions=tuple(cfg.split_fractions), seed=cfg.split_seed)
            if main:
                write_splits(run_dir, splits)
        pos = {v: i for i, v in enumerate(source.train_ids.tolist())}
        ylab = {s: source.train_y[[pos[v] for v in ids]] for s, ids in splits.items()}
        eval_sets = [(s, splits[s], ylab[s]) for s in ("val", "calib") if len(splits.get(s, ()))]
        for s in ("dev", "test"):
            if source.has_split(s) and len(source.eval_ids(s)):
                eval_sets.append((s, source.eval_ids(s), source.eval_labels(s)))
        if main and cfg.data != "synth":
            source.check_images(np.concatenate([splits["train"]] + [ids for _, ids, _ in eval_sets]))
        cache = None
        if cfg.cache != "off":
            from lteval.data.cache import build_cache, open_cache
            if cfg.cache == "build" and main:
                build_cache(source, cfg.image_size, progress=progress)
            barrier()
            cache = open_cache(source, cfg.image_size)
        train_ids, train_y = splits["train"], ylab["train"]
        if len(splits.get("val", ())) == 0:
            raise ConfigError("the val split is empty: model selection needs it (check split_fractions)")
        aug = AugmentConfig() if cfg.augment else None
        train_ds = CXRDataset(source, train_ids, cfg.image_size, labels=train_y, augment=aug, cache=cache,
                              seed=cfg.seed)

        def eval_ds(ids):
            return CXRDataset(source, ids, cfg.image_size, labels=None, augment=None, cache=cache)

        val_ds = eval_ds(splits["val"])

        # ---------------------------------------------------------------- model and optimisation
        parts = build_run(cfg, source, train_ids, train_y, device=device, dist=dist)
        model, loss, sampler, opt, sched, ema = (parts[k] for k in ("model", "loss", "sampler", "opt", "sched", "ema"))
        scaler = torch.amp.GradScaler(device.type, enabled=(amp_dtype == torch.float16))
        st = TrainState()
        if state == "resume":
            ck = rd.load_checkpoint(run_dir / rd.LAST)
            if ck.get("config_hash") != cfg.to_dict()["config_hash"]:
                raise UsageError(f"{run_dir / rd.LAST} belongs to another config; cannot resume from it")
            if ck.get("world_size", 1) != dist.world_size:
                raise UsageError(f"the run was checkpointed with {ck.get('world_size', 1)} process(es); resume it "
                                 f"with the same number (now {dist.world_size})")
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            sched.load_state_dict(ck["scheduler"])
            scaler.load_state_dict(ck["scaler"])
            loss.load_state_dict(ck["loss"])
            if ema is not None:
                ema.load_state_dict(ck["ema"])
            st.load(ck["state"])
            _set_rng_state(ck["rng"][dist.rank])
            log.line(f"resumed {run_dir.name} at epoch {st.epoch + 1}, step {st.global_step}")
        train_model = model
        if cfg.compile:
            train_model = torch.compile(model)
        if dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP
            train_model = DDP(train_model, device_ids=[device.index] if device.type == "cuda" else None)
        stepper = Stepper(train_model, model, loss, opt, sched, scaler, ema, device=device, amp_dtype=amp_dtype,
                          channels_last=chl, grad_accum=cfg.grad_accum, grad_clip=cfg.grad_clip)

        def checkpoint(path_state: TrainState):
            rngs = all_gather_object(_rng_state())
            if not main:
                return
            rd.save_checkpoint(run_dir / rd.LAST, {
                "config_hash": cfg.to_dict()["config_hash"], "world_size": dist.world_size,
                "model": unwrap_model(model).state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "scaler": scaler.state_dict(), "loss": loss.state_dict(),
                "ema": ema.state_dict() if ema is not None else None, "state": path_state.to_dict(),
                "sampler": {"epoch": path_state.epoch, "position": path_state.batch * cfg.batch_size,
                            **sampler.state_dict()},
                "rng": rngs})

        def write_metrics():
            if main:
                write_text_atomic(run_dir / "metrics.jsonl",
                                  "".join(json.dumps(h, allow_nan=False) + "\n" for h in st.history))

        fault = int(os.environ.get(FAULT_ENV, "0") or 0)
        y_val = ylab["val"]
        accum = cfg.grad_accum
        micro_total = parts["micro_per_epoch"]
        spe = parts["steps_per_epoch"]
        eval_at = set(parts["eval_steps"])
        switch = parts["switch_step"]
        deferred = switch is not None
        restrict = deferred and cfg.select_phase == "reweighted"
        selection = "re-weighted evaluations only" if restrict else "all evaluations"
        log.line(f"training {cfg.name} ({cfg.backbone}, {cfg.loss}, {cfg.preset}) on {device.type}"
                 f"{f' x{dist.world_size}' if dist.enabled else ''}: {len(train_ids)} train / {len(y_val)} val images, "
                 f"{cfg.epochs} epochs x {spe} steps")
        if deferred:
            log.line(f"deferred re-weighting from step {switch} of {parts['total_steps']}; "
                     f"{len(eval_at)} evaluations ({sum(s > switch for s in eval_at)} re-weighted); "
                     f"selection over {selection}")

        def evaluate(epoch: int, t0: float, seen: int, at_epoch_end: bool) -> None:
            """Validate, select, record; set st.stopped_early when patience runs out."""
            emodel = _eval_model(parts)
            t_train = time.time() - t0
            raw = predict_raw(emodel, val_ds, batch_size=cfg.eval_batch_size, device=device, amp_dtype=amp_dtype,
                              channels_last=chl, num_workers=workers, rank=dist.rank,
                              world_size=dist.world_size)
            _, probs = outputs(loss, raw)
            vmap, vauc = _val_map(y_val, probs)
            tl = all_gather_object((st.loss_sum, st.loss_count))
            train_loss = sum(a for a, _ in tl) / max(1, sum(b for _, b in tl))
            sel = vmap if math.isfinite(vmap) else -math.inf  # no val positives at all: keep the first one
            active = bool(getattr(loss, "reweighting", False))
            ep = epoch + 1 if at_epoch_end else round(st.global_step / spe, 4)
            selectable = active or not restrict
            improved = selectable and (sel > st.best or st.best_epoch < 0)
            if active:
                st.n_active += 1
            if improved:
                st.best, st.best_epoch, st.best_step, st.best_drw_active, st.bad_epochs = \
                    sel, ep, st.global_step, active, 0
                if main:
                    rd.save_checkpoint(run_dir / rd.BEST, {
                        "model": emodel.state_dict(), "epoch": ep, "step": st.global_step, "val_mAP": vmap,
                        "drw_active": active, "config_hash": cfg.to_dict()["config_hash"],
                        "backbone": cfg.backbone, "head": cfg.head, "loss": cfg.loss, "ema": ema is not None})
            elif selectable:
                st.bad_epochs += 1
            st.history.append({
                "epoch": ep, "step": st.global_step, "train_loss": _finite(train_loss),
                "lr": float(sched.get_last_lr()[0]), "val_mAP": _finite(vmap), "val_mAUROC": _finite(vauc),
                "best": bool(improved), "drw_active": active, "selectable": bool(selectable),
                "images_per_s": round(seen * dist.world_size / max(t_train, 1e-9), 2),
                "epoch_time_s": round(t_train, 2)})
            log.line(f"{'epoch' if at_epoch_end else 'step'} {ep if at_epoch_end else st.global_step}"
                     f"{f'/{cfg.epochs}' if at_epoch_end else f' (epoch {ep})'}: loss {train_loss:.4f}  "
                     f"val mAP {sel:.4f}{' (best)' if improved else ''}{'  [re-weighted]' if active else ''}"
                     f"  {seen * dist.world_size / max(t_train, 1e-9):.0f} img/s  {t_train:.0f}s")
            can_stop = not deferred or st.n_active >= cfg.patience
            if (cfg.patience and st.bad_epochs >= cfg.patience and can_stop
                    and st.global_step < parts["total_steps"]):
                st.stopped_early = True
                log.line(f"early stopping: no val mAP gain for {cfg.patience} evaluations")

        # ---------------------------------------------------------------- epochs
        while st.epoch < cfg.epochs and not st.stopped_early:
            epoch = st.epoch
            loss.set_epoch(epoch)
            sampler.set_epoch(epoch)
            idx = sampler.rank_indices(epoch)[:micro_total * cfg.batch_size]
            start = st.batch * cfg.batch_size
            # keys carry the position in the global epoch list (same on any number of processes)
            keys = [(p * dist.world_size + dist.rank, int(i)) for p, i in enumerate(idx.tolist())][start:]
            g = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
            loader = DataLoader(_TrainView(train_ds, cfg.seed, epoch), batch_size=cfg.batch_size, sampler=keys,
                                num_workers=workers, drop_last=True, generator=g,
                                pin_memory=device.type == "cuda")
            train_model.train()
            log.start(f"epoch {epoch + 1}/{cfg.epochs}", micro_total, st.batch)
            t0, seen = time.time(), 0
            for x, y, _ in loader:
                last_micro = (st.batch + 1) % accum == 0
                loss.set_step(st.global_step)
                value = stepper.micro_step(x, y, last_micro)
                st.loss_sum += value
                st.loss_count += 1
                st.batch += 1
                seen += len(x)
                if last_micro:
                    st.global_step += 1
                    mid = st.batch < micro_total
                    if mid and st.global_step in eval_at:  # a sub-epoch evaluation (re-weighted phase)
                        evaluate(epoch, t0, seen, at_epoch_end=False)
                        write_metrics()
                        checkpoint(st)
                        train_model.train()
                        if st.stopped_early:
                            break
                    elif cfg.checkpoint_every_steps and st.global_step % cfg.checkpoint_every_steps == 0 and mid:
                        checkpoint(st)
                    if fault and st.global_step == fault:
                        os.kill(os.getpid(), signal.SIGKILL)
                dt = max(time.time() - t0, 1e-9)
                log.update(1, f"loss {st.loss_sum / max(st.loss_count, 1):.4f}  "
                              f"{seen * dist.world_size / dt:.0f} img/s  lr {sched.get_last_lr()[0]:.2e}")
            if st.stopped_early:
                break
            # ------------------------------------------------------------ validation and selection
            evaluate(epoch, t0, seen, at_epoch_end=True)
            st.epoch += 1
            st.batch, st.loss_sum, st.loss_count = 0, 0.0, 0
            write_metrics()
            checkpoint(st)
        log.close()
        if deferred and not st.best_drw_active:
            log.line("note: the selected checkpoint was trained without re-weighting (select_phase=all)")

        # ---------------------------------------------------------------- final predictions
        barrier()  # best.pt is written by rank 0; every rank reads it (one node, shared disk)
        emodel = _eval_model(parts)
        emodel.load_state_dict(rd.load_checkpoint(run_dir / rd.BEST)["model"])
        summary = {}
        for split, ids, y in eval_sets:
            raw = predict_raw(emodel, eval_ds(ids), batch_size=cfg.eval_batch_size, device=device,
                              amp_dtype=amp_dtype, channels_last=chl, num_workers=workers, rank=dist.rank,
                              world_size=dist.world_size)
            logits, _ = outputs(loss, raw)
            if main:
                sc = write_split(run_dir, split, ids, logits, task, y)
                if sc is not None:
                    summary[split] = {k: sc["overall"][k] for k in ("mAP", "mAUROC", "mF1", "ece")}
                    summary[split].update({f"{g}_mAP": v["mAP"] for g, v in sc.get("groups", {}).items()})
        if main:
            rd.write_done(run_dir, {"best_epoch": st.best_epoch, "best_step": st.best_step,
                                    "best_val_mAP": _finite(st.best), "best_drw_active": bool(st.best_drw_active),
                                    "selection": selection, "drw_switch_step": switch,
                                    "epochs_run": st.epoch, "steps_run": st.global_step,
                                    "stopped_early": st.stopped_early,
                                    "wall_s": round(time.time() - t_start, 1), "device": str(device),
                                    "world_size": dist.world_size, "scores": summary})
            log.line(f"done: {run_dir}  " + "  ".join(f"{s} mAP {v['mAP']:.4f}" for s, v in summary.items()
                                                      if v.get("mAP") is not None))
        barrier()
        return run_dir
    finally:
        log.close()


class Stepper:
    """One training micro-step: forward (autocast), loss, backward (scaled by 1/grad_accum) and, on
    the last micro-batch of an accumulation group, clip, optimiser step, schedule step, EMA update.
    DDP gradient synchronisation is skipped on the other micro-batches. The benchmark
    (benchmarks/train_throughput.py) times exactly this against a plain loop."""

    def __init__(self, train_model, model, loss, opt, sched, scaler, ema=None, *, device, amp_dtype=None,
                 channels_last=False, grad_accum=1, grad_clip=0.0):
        self.train_model, self.model, self.loss, self.opt, self.sched = train_model, model, loss, opt, sched
        self.scaler, self.ema, self.device, self.amp_dtype = scaler, ema, device, amp_dtype
        self.channels_last, self.accum, self.clip = channels_last, int(grad_accum), float(grad_clip)
        self.ddp = hasattr(train_model, "no_sync")

    def micro_step(self, x, y, last_micro: bool = True) -> float:
        """Train on one batch ``x`` (B, 1, H, W), ``y`` (B, C); return the batch loss."""
        from lteval.train.predict import autocast_context

        x = x.to(self.device, non_blocking=True)
        y = y.to(self.device, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        ctx = self.train_model.no_sync() if (self.ddp and not last_micro) else contextlib.nullcontext()
        with ctx:
            with autocast_context(self.device, self.amp_dtype):
                out = self.train_model(x)
            value = self.loss(out.float(), y)
            self.scaler.scale(value / self.accum if self.accum > 1 else value).backward()
        if last_micro:
            if self.clip > 0:
                self.scaler.unscale_(self.opt)
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
            self.scaler.step(self.opt)
            self.scaler.update()
            self.opt.zero_grad(set_to_none=True)
            self.sched.step()
            if self.ema is not None:
                self.ema.update(self.model)
        return float(value.detach())
