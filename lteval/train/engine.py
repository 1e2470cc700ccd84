"""The training loop: ``train(cfg, run_dir)``, from data to a finished run directory, in named parts.

What it does, in order (as timm's ``train.py``):

1. set-up — :func:`prepare_data`: the synthetic set (generated once under ``$LTEVAL_HOME/synth/``)
   or a CXR-LT root (every image checked first); train/val/calib from the training file
   (``make_splits``, written to ``splits/``). Official dev/test are only predicted and scored at
   the end — never used for fitting or model selection. :func:`lteval.train.parts.build_run`:
   model (timm backbone, one channel), loss (the train split's class counts), AdamW without decay
   on norms/biases, per-step cosine schedule with linear warmup, optional EMA, sampler (random /
   class_aware / sqrt / progressive), gradient accumulation. Device settings
   (:mod:`lteval.train.device`): CUDA: bf16 autocast and channels_last (``amp``/``channels_last`` =
   auto); CPU: fp32. Optional ``torch.compile``. DDP under torchrun (gloo on CPU, NCCL on CUDA).
2. each epoch — :func:`train_one_epoch`, then :func:`evaluate`: val mAP (classes with val
   positives), keep the best model (``checkpoints/best.pt``), append to ``metrics.jsonl``,
   checkpoint ``checkpoints/last.pt`` atomically (also every ``checkpoint_every_steps`` optimiser
   steps; :class:`~lteval.train.checkpointer.Checkpointer`), early-stop after ``patience``
   evaluations without improvement. A deferred loss (DRW) switches at an optimiser step
   (``loss.schedule``); when fewer than two epoch ends follow the switch, the re-weighted phase is
   also evaluated mid-epoch (:func:`~lteval.train.parts.evaluation_steps`). With
   ``select_phase="reweighted"`` (default) only evaluations with re-weighting active can be
   selected, and early stopping waits until the re-weighted phase had ``patience`` evaluations;
   ``DONE`` records ``best_drw_active`` and the selection rule.
3. :func:`predict_and_finish`: the best model predicts val, calib, dev and test →
   predictions/logits/labels/scores; ``DONE``.

Resuming (``state="resume"``) restores everything in ``last.pt`` (see
:mod:`lteval.train.checkpointer`), so a run killed at any point and resumed ends with the same
numbers as an uninterrupted one (CPU; same number of processes and threads).

Augmentation randomness is keyed by (seed, epoch, position in the epoch), not by a global stream,
which is what makes mid-epoch resume exact with any number of data-loader workers.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from lteval.errors import ConfigError
from lteval.io.atomic import write_text_atomic
from lteval.io.progress import progress_enabled
from lteval.metrics.figures import group_name, headline_keys
from lteval.train import rundir as rd
from lteval.train.checkpointer import Checkpointer
from lteval.train.config import TrainConfig
from lteval.train.device import DeviceSettings, autocast_context, check_compile, run_device, settings, to_device
from lteval.train.distributed import DistInfo, all_gather_object, barrier, init_distributed
from lteval.train.parts import RunParts, build_run
from lteval.train.predict import outputs, predict_raw, write_split

__all__ = ["train", "prepare_data", "setup", "train_one_epoch", "evaluate", "predict_and_finish", "RunData", "Run",
           "TrainState", "Stepper"]

#: Fault injection for the resume tests: SIGKILL this process right after this optimiser step.
FAULT_ENV = "LTEVAL_FAULT_KILL_AFTER_STEP"


# ----------------------------------------------------------------------------- data

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


@dataclass
class RunData:
    """The data of a run: ``source``, its ``splits`` ({split: ids}) and their ``labels`` ({split: (n, C)}),
    the ``eval_sets`` predicted at the end, the decode ``cache`` (or None) and the train/val datasets."""

    source: object
    splits: dict
    labels: dict
    eval_sets: list
    cache: object
    train_ds: Dataset
    val_ds: Dataset
    image_size: int

    def eval_dataset(self, ids) -> Dataset:
        """Images ``ids`` without augmentation or labels (for prediction)."""
        from lteval.data.dataset import CXRDataset

        return CXRDataset(self.source, ids, self.image_size, labels=None, augment=None, cache=self.cache)


def prepare_data(cfg: TrainConfig, run_dir: Path, *, state: str, dist: DistInfo, progress: bool) -> RunData:
    """Open (rank 0: generate or check) the data of ``cfg``, make or read the run's splits, open the
    cache, build the train and val datasets. ConfigError when the val split is empty."""
    from lteval.data.cache import build_cache, open_cache
    from lteval.data.dataset import AugmentConfig, CXRDataset
    from lteval.data.run_data import eval_sets, open_data, split_labels
    from lteval.data.splits import make_splits, read_splits, write_splits

    main = dist.is_main
    if main:
        source = open_data(cfg, progress=progress)
    barrier()
    if not main:
        source = open_data(cfg, progress=False, prepare=False)
    if state == "resume" and (run_dir / "splits").is_dir():
        splits = read_splits(run_dir)
    else:
        splits = make_splits(source.train_ids, source.train_y, source.train_groups,
                             fractions=tuple(cfg.split_fractions), seed=cfg.split_seed)
        if main:
            write_splits(run_dir, splits)
    labels = split_labels(source, splits)
    predicted = eval_sets(source, splits, labels)
    if main and cfg.data != "synth":
        source.check_images(np.concatenate([splits["train"]] + [ids for _, ids, _ in predicted]))
    cache = None
    if cfg.cache != "off":
        if cfg.cache == "build" and main:
            build_cache(source, cfg.image_size, progress=progress)
        barrier()
        cache = open_cache(source, cfg.image_size)
    if len(splits.get("val", ())) == 0:
        raise ConfigError("the val split is empty: model selection needs it (check split_fractions)")
    aug = AugmentConfig() if cfg.augment else None
    train_ds = CXRDataset(source, splits["train"], cfg.image_size, labels=labels["train"], augment=aug, cache=cache,
                          seed=cfg.seed)
    val_ds = CXRDataset(source, splits["val"], cfg.image_size, labels=None, augment=None, cache=cache)
    return RunData(source, splits, labels, predicted, cache, train_ds, val_ds, cfg.image_size)


def _train_loader(cfg: TrainConfig, data: RunData, parts: RunParts, st: "TrainState", dist: DistInfo,
                  dev: DeviceSettings) -> DataLoader:
    """The rest of epoch ``st.epoch`` on this rank, from micro-batch ``st.batch`` on."""
    epoch = st.epoch
    idx = parts.sampler.rank_indices(epoch)[:parts.micro_per_epoch * cfg.batch_size]
    start = st.batch * cfg.batch_size
    # keys carry the position in the global epoch list (same on any number of processes)
    keys = [(p * dist.world_size + dist.rank, int(i)) for p, i in enumerate(idx.tolist())][start:]
    g = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
    return DataLoader(_TrainView(data.train_ds, cfg.seed, epoch), batch_size=cfg.batch_size, sampler=keys,
                      num_workers=dev.num_workers, drop_last=True, generator=g,
                      pin_memory=dev.device.type == "cuda")


# ----------------------------------------------------------------------------- logging

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
        """The counters as plain values (for ``last.pt``)."""
        return {k: getattr(self, k) for k in ("epoch", "batch", "global_step", "loss_sum", "loss_count", "best",
                                              "best_epoch", "best_step", "best_drw_active", "bad_epochs",
                                              "n_active", "history", "stopped_early")}

    def load(self, d: dict) -> None:
        """Restore the counters from :meth:`to_dict`'s output."""
        for k, v in d.items():
            setattr(self, k, v)


@dataclass
class Run:
    """Everything the loop needs: the config, where it writes, the processes and device, the data, the
    :class:`~lteval.train.parts.RunParts`, the wrapped training model and its :class:`Stepper`,
    the checkpointer and the log."""

    cfg: TrainConfig
    run_dir: Path
    dist: DistInfo
    dev: DeviceSettings
    data: RunData
    parts: RunParts
    train_model: torch.nn.Module
    stepper: "Stepper"
    ckpt: Checkpointer
    log: _Log

    @property
    def restrict(self) -> bool:
        """Whether only re-weighted evaluations can be selected (a deferred loss, ``select_phase="reweighted"``)."""
        return self.parts.deferred and self.cfg.select_phase == "reweighted"

    @property
    def selection(self) -> str:
        """The selection rule in words, as ``DONE`` records it."""
        return "re-weighted evaluations only" if self.restrict else "all evaluations"

    def predict(self, model, dataset) -> np.ndarray:
        """Raw outputs (n, C) of ``model`` on ``dataset``, sharded over the processes and gathered."""
        dev, dist = self.dev, self.dist
        return predict_raw(model, dataset, batch_size=self.cfg.eval_batch_size, device=dev.device,
                           amp_dtype=dev.amp_dtype, channels_last=dev.channels_last, num_workers=dev.num_workers,
                           rank=dist.rank, world_size=dist.world_size)

    def write_metrics(self, st: TrainState) -> None:
        """Rewrite ``metrics.jsonl`` (one JSON line per evaluation; rank 0)."""
        if self.dist.is_main:
            write_text_atomic(self.run_dir / "metrics.jsonl",
                              "".join(json.dumps(h, allow_nan=False) + "\n" for h in st.history))


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


def setup(cfg: TrainConfig, run_dir: Path, *, state: str, dist: DistInfo, dev: DeviceSettings, log: _Log,
          progress: bool) -> tuple[Run, TrainState]:
    """Data, parts, checkpointer (resumed from ``last.pt`` when ``state == "resume"``), compile/DDP wrap."""
    check_compile(cfg.compile, dev.device, dist.world_size)
    data = prepare_data(cfg, run_dir, state=state, dist=dist, progress=progress)
    parts = build_run(cfg, data.source.task.n_classes, data.labels["train"], dev=dev, dist=dist)
    ckpt = Checkpointer(run_dir, cfg, dist)
    st = TrainState()
    if state == "resume":
        ckpt.resume(parts, st)
        log.line(f"resumed {run_dir.name} at epoch {st.epoch + 1}, step {st.global_step}")
    train_model = parts.model
    if cfg.compile:
        train_model = torch.compile(parts.model)
    if dist.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP
        train_model = DDP(train_model, device_ids=[dev.device.index] if dev.device.type == "cuda" else None)
    stepper = Stepper(train_model, parts.model, parts.loss, parts.optimizer, parts.scheduler, parts.scaler,
                      parts.ema, device=dev.device, amp_dtype=dev.amp_dtype, channels_last=dev.channels_last,
                      grad_accum=cfg.grad_accum, grad_clip=cfg.grad_clip)
    run = Run(cfg, run_dir, dist, dev, data, parts, train_model, stepper, ckpt, log)
    _announce(run)
    return run, st


def _announce(run: Run) -> None:
    cfg, dist, parts, log = run.cfg, run.dist, run.parts, run.log
    log.line(f"training {cfg.name} ({cfg.backbone}, {cfg.loss}, {cfg.preset}) on {run.dev.device.type}"
             f"{f' x{dist.world_size}' if dist.enabled else ''}: {len(run.data.splits['train'])} train / "
             f"{len(run.data.labels['val'])} val images, {cfg.epochs} epochs x {parts.steps_per_epoch} steps")
    if parts.deferred:
        switch, eval_at = parts.switch_step, parts.eval_steps
        log.line(f"deferred re-weighting from step {switch} of {parts.total_steps}; "
                 f"{len(eval_at)} evaluations ({sum(s > switch for s in eval_at)} re-weighted); "
                 f"selection over {run.selection}")


def train_one_epoch(run: Run, st: TrainState) -> tuple[float, int]:
    """Train epoch ``st.epoch`` from micro-batch ``st.batch`` on, with the sub-epoch evaluations and
    step checkpoints that fall inside it; return ``(start time in s, images seen on this rank)``.
    Sets ``st.stopped_early`` when a sub-epoch evaluation runs out of patience."""
    cfg, parts, log = run.cfg, run.parts, run.log
    epoch = st.epoch
    parts.loss.set_epoch(epoch)
    parts.sampler.set_epoch(epoch)
    loader = _train_loader(cfg, run.data, parts, st, run.dist, run.dev)
    fault = int(os.environ.get(FAULT_ENV, "0") or 0)
    eval_at = set(parts.eval_steps)
    micro_total = parts.micro_per_epoch
    run.train_model.train()
    log.start(f"epoch {epoch + 1}/{cfg.epochs}", micro_total, st.batch)
    t0, seen = time.time(), 0
    for x, y, _ in loader:
        last_micro = (st.batch + 1) % cfg.grad_accum == 0
        parts.loss.set_step(st.global_step)
        value = run.stepper.micro_step(x, y, last_micro)
        st.loss_sum += value
        st.loss_count += 1
        st.batch += 1
        seen += len(x)
        if last_micro:
            st.global_step += 1
            mid = st.batch < micro_total
            if mid and st.global_step in eval_at:  # a sub-epoch evaluation (re-weighted phase)
                evaluate(run, st, t0, seen, at_epoch_end=False)
                run.write_metrics(st)
                run.ckpt.save_last(parts, st)
                run.train_model.train()
                if st.stopped_early:
                    break
            elif cfg.checkpoint_every_steps and st.global_step % cfg.checkpoint_every_steps == 0 and mid:
                run.ckpt.save_last(parts, st)
            if fault and st.global_step == fault:
                os.kill(os.getpid(), signal.SIGKILL)
        dt = max(time.time() - t0, 1e-9)
        log.update(1, f"loss {st.loss_sum / max(st.loss_count, 1):.4f}  "
                      f"{seen * run.dist.world_size / dt:.0f} img/s  lr {parts.scheduler.get_last_lr()[0]:.2e}")
    return t0, seen


def evaluate(run: Run, st: TrainState, t0: float, seen: int, at_epoch_end: bool) -> None:
    """Validate (val mAP), select (``best.pt``), record (``st.history``) the model after
    ``st.global_step`` optimiser steps of epoch ``st.epoch``; set ``st.stopped_early`` when patience
    runs out. A collective: every rank calls it."""
    cfg, parts, dist = run.cfg, run.parts, run.dist
    emodel = parts.eval_model()
    t_train = time.time() - t0
    _, probs = outputs(parts.loss, run.predict(emodel, run.data.val_ds))
    vmap, vauc = _val_map(run.data.labels["val"], probs)
    tl = all_gather_object((st.loss_sum, st.loss_count))
    train_loss = sum(a for a, _ in tl) / max(1, sum(b for _, b in tl))
    sel = vmap if math.isfinite(vmap) else -math.inf  # no val positives at all: keep the first one
    active = bool(getattr(parts.loss, "reweighting", False))
    ep = st.epoch + 1 if at_epoch_end else round(st.global_step / parts.steps_per_epoch, 4)
    selectable = active or not run.restrict
    improved = selectable and (sel > st.best or st.best_epoch < 0)
    if active:
        st.n_active += 1
    if improved:
        st.best, st.best_epoch, st.best_step, st.best_drw_active, st.bad_epochs = sel, ep, st.global_step, active, 0
        run.ckpt.save_best(emodel, epoch=ep, step=st.global_step, val_map=vmap, drw_active=active,
                           ema=parts.ema is not None)
    elif selectable:
        st.bad_epochs += 1
    rate = seen * dist.world_size / max(t_train, 1e-9)
    st.history.append({
        "epoch": ep, "step": st.global_step, "train_loss": _finite(train_loss),
        "lr": float(parts.scheduler.get_last_lr()[0]), "val_mAP": _finite(vmap), "val_mAUROC": _finite(vauc),
        "best": bool(improved), "drw_active": active, "selectable": bool(selectable),
        "images_per_s": round(rate, 2), "epoch_time_s": round(t_train, 2)})
    run.log.line(f"{'epoch' if at_epoch_end else 'step'} {ep if at_epoch_end else st.global_step}"
                 f"{f'/{cfg.epochs}' if at_epoch_end else f' (epoch {ep})'}: loss {train_loss:.4f}  "
                 f"val mAP {sel:.4f}{' (best)' if improved else ''}{'  [re-weighted]' if active else ''}"
                 f"  {rate:.0f} img/s  {t_train:.0f}s")
    can_stop = not parts.deferred or st.n_active >= cfg.patience
    if cfg.patience and st.bad_epochs >= cfg.patience and can_stop and st.global_step < parts.total_steps:
        st.stopped_early = True
        run.log.line(f"early stopping: no val mAP gain for {cfg.patience} evaluations")


def predict_and_finish(run: Run, st: TrainState, t_start: float) -> None:
    """The selected model (``best.pt``) predicts every eval set; rank 0 writes predictions, logits,
    labels, scores and ``DONE``."""
    barrier()  # best.pt is written by rank 0; every rank reads it (one node, shared disk)
    emodel = run.parts.eval_model()
    run.ckpt.load_best(emodel)
    main = run.dist.is_main
    summary = {}
    for split, ids, y in run.data.eval_sets:
        logits, _ = outputs(run.parts.loss, run.predict(emodel, run.data.eval_dataset(ids)))
        if main:
            sc = write_split(run.run_dir, split, ids, logits, run.data.source.task, y)
            if sc is not None:
                summary[split] = {k: sc["overall"][k] for k in headline_keys()}
                summary[split].update({group_name(g, "mAP"): v["mAP"] for g, v in sc.get("groups", {}).items()})
    if main:
        rd.write_done(run.run_dir, {"best_epoch": st.best_epoch, "best_step": st.best_step,
                                    "best_val_mAP": _finite(st.best), "best_drw_active": bool(st.best_drw_active),
                                    "selection": run.selection, "drw_switch_step": run.parts.switch_step,
                                    "epochs_run": st.epoch, "steps_run": st.global_step,
                                    "stopped_early": st.stopped_early,
                                    "wall_s": round(time.time() - t_start, 1), "device": str(run.dev.device),
                                    "world_size": run.dist.world_size, "scores": summary})
        run.log.line(f"done: {run.run_dir}  " + "  ".join(f"{s} mAP {v['mAP']:.4f}" for s, v in summary.items()
                                                          if v.get("mAP") is not None))


def train(cfg: TrainConfig, run_dir: str | Path, *, state: str = "new", progress: bool = True) -> Path:
    """Train ``cfg`` into ``run_dir`` (made by :func:`lteval.train.rundir.open_run`); return it."""
    run_dir = Path(run_dir)
    dist = init_distributed()
    t_start = time.time()
    dev = settings(cfg, run_device(dist.local_rank if dist.enabled else None), dist.world_size)
    log = _Log(dist.is_main and progress, progress_enabled(progress))
    try:
        run, st = setup(cfg, run_dir, state=state, dist=dist, dev=dev, log=log, progress=progress)
        while st.epoch < cfg.epochs and not st.stopped_early:
            t0, seen = train_one_epoch(run, st)
            if st.stopped_early:
                break
            evaluate(run, st, t0, seen, at_epoch_end=True)
            st.epoch += 1
            st.batch, st.loss_sum, st.loss_count = 0, 0.0, 0
            run.write_metrics(st)
            run.ckpt.save_last(run.parts, st)
        log.close()
        if run.parts.deferred and not st.best_drw_active:
            log.line("note: the selected checkpoint was trained without re-weighting (select_phase=all)")
        predict_and_finish(run, st, t_start)
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
        x = to_device(x, self.device, self.channels_last)
        y = y.to(self.device, non_blocking=True)
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
