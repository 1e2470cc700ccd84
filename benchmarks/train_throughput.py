"""Training-step throughput: lteval's engine step vs a plain hand-written timm loop, same run.

    python benchmarks/train_throughput.py [--model convnext_atto] [--size 64] [--batch 32]
                                          [--steps 20] [--rounds 3] [--loss bce]
                                          [--amp auto|bf16|none] [--channels-last auto|on|off]
                                          [--compile [off|on|both]] [--backend auto|nccl|gloo]

Both loops train the same timm model (one input channel, 30 outputs, same initial weights) on
the same in-memory batches at the same resolution and batch size. The plain loop is the
textbook one: forward, ``BCEWithLogitsLoss``, ``zero_grad``, ``backward``, ``AdamW.step``
(with the same autocast dtype and memory format as lteval's side). lteval's side is
``lteval.train.engine.Stepper`` — the exact micro-step the engine runs (loss module, grad
scaler, per-step cosine schedule, EMA when ``--ema``). Steps alternate plain / lteval one by one
(the order flips every round) so a shared, noisy CPU affects both alike; the median images/s per
side and their ratio are printed. ``--compile both`` measures without and then with
``torch.compile``.

Switches follow the training config's ``amp`` / ``channels_last`` (auto = bf16 autocast and
channels-last on CUDA, fp32 and contiguous on CPU). bf16 is CUDA-only here: asked for on a CPU
it is skipped with a line saying so, as are ``--backend nccl`` and ``--compile`` under DDP on a CPU
(torch 2.14.1's inductor fails in the compiled backward there; one process compiles fine).

Several GPUs (DDP over NCCL, both sides wrapped in DistributedDataParallel like the engine; the
figures are images/s summed over the processes)::

    torchrun --standalone --nproc_per_node 8 benchmarks/train_throughput.py --model convnext_small \
        --size 512 --batch 16 --compile both

On a CPU the same command runs with gloo.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _skip(msg: str) -> None:
    print(f"skipped on this machine: {msg}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="convnext_atto")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32, help="images per step and process")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per round")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps before each round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--loss", default="bce")
    ap.add_argument("--ema", action="store_true")
    ap.add_argument("--amp", choices=("auto", "bf16", "none"), default="auto",
                    help="autocast dtype: auto = bf16 on CUDA, fp32 on CPU; bf16 is CUDA-only here")
    ap.add_argument("--channels-last", choices=("auto", "on", "off"), default="auto",
                    help="channels-last memory format: auto = on with CUDA")
    ap.add_argument("--compile", nargs="?", const="on", default="off", choices=("off", "on", "both"),
                    help="torch.compile both models: off, on (also plain --compile) or both (two measurements)")
    ap.add_argument("--backend", choices=("auto", "nccl", "gloo"), default="auto",
                    help="process group under torchrun: auto = NCCL on CUDA, gloo on CPU; nccl is CUDA-only")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    args = ap.parse_args()

    import torch

    from lteval.train.device import amp_dtype, run_device, use_channels_last

    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    main_rank = rank == 0
    say = _skip if main_rank else (lambda msg: None)
    if cuda:
        torch.cuda.set_device(local_rank)
    device = run_device(local_rank if cuda else None)
    if args.amp == "bf16" and not cuda:
        say("--amp bf16 (CUDA only in this benchmark): fp32 on the CPU")
    amp = amp_dtype(args.amp, device) if cuda else None
    channels_last = use_channels_last(args.channels_last, device)
    backend = None
    if world > 1:
        backend = args.backend if args.backend != "auto" else ("nccl" if cuda else "gloo")
        if backend == "nccl" and not cuda:
            say("--backend nccl (needs CUDA): gloo on the CPU")
            backend = "gloo"
        import torch.distributed as dist
        dist.init_process_group(backend=backend)
    elif args.backend == "nccl":
        say("--backend nccl: one process, no process group (start it with torchrun --nproc_per_node N)")
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.compile]
    if world > 1 and not cuda and True in modes:
        # measured with torch 2.14.1: inductor's compiled backward fails under DDP on a CPU (KeyError 'bufN')
        say("--compile under DDP on a CPU (torch's inductor fails there): compile off")
        modes = [False]
    for compiled in modes:
        res = _measure(args, device, amp, channels_last, compiled, world)
        if world > 1:
            import torch.distributed as dist
            every = [None] * world
            dist.all_gather_object(every, res)
            res = {k: [sum(r[k][i] for r in every) for i in range(args.rounds)] for k in res}
        if main_rank:
            _print(args, device, amp, channels_last, compiled, world, backend, res)
    if world > 1:
        import torch.distributed as dist
        dist.destroy_process_group()


def _measure(args, device, amp, channels_last, compiled, world) -> dict:
    """Images/s of each side per round on this process: ``{"plain": [...], "lteval": [...]}``."""
    import numpy as np
    import timm
    import torch

    from lteval.train.ema import ModelEma
    from lteval.train.engine import Stepper
    from lteval.train.losses import create_loss
    from lteval.train.models import backbone_info, create_model
    from lteval.train.schedule import build_optimizer, build_scheduler

    cuda = device.type == "cuda"
    C = 30
    g = torch.Generator().manual_seed(0)
    n_batches = args.steps + args.warmup
    xs = [torch.randn(args.batch, 1, args.size, args.size, generator=g) for _ in range(n_batches)]
    ys = [(torch.rand(args.batch, C, generator=g) < 0.1).float() for _ in range(n_batches)]
    counts = np.maximum(1, torch.stack(ys).sum((0, 1)).numpy())
    info = backbone_info(args.model)
    kw = {"img_size": args.size} if info.needs_img_size else {}

    def wrap(m):
        m = torch.compile(m) if compiled else m
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP
            m = DDP(m, device_ids=[device.index] if cuda else None)
        return m

    # ---- plain timm loop
    torch.manual_seed(0)
    plain = timm.create_model(info.timm_name, pretrained=False, num_classes=C, in_chans=1, **kw).to(device)
    if channels_last:
        plain = plain.to(memory_format=torch.channels_last)
    plain_opt = torch.optim.AdamW(plain.parameters(), lr=1e-3, weight_decay=0.05)
    crit = torch.nn.BCEWithLogitsLoss()
    plain_fwd = wrap(plain)

    def plain_step(x, y):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            out = plain_fwd(x)
        loss = crit(out.float(), y)
        plain_opt.zero_grad(set_to_none=True)
        loss.backward()
        plain_opt.step()
        return loss.item()

    # ---- lteval's step
    torch.manual_seed(0)
    model = create_model(args.model, C, img_size=args.size).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    loss_fn = create_loss(args.loss, counts, n_samples=args.batch * n_batches).to(device)
    opt = build_optimizer(model, 1e-3, 0.05)
    total = 10 * n_batches * args.rounds
    sched = build_scheduler(opt, total, 0)
    scaler = torch.amp.GradScaler(device.type, enabled=False)
    ema = ModelEma(model, 0.999) if args.ema else None
    fwd = wrap(model)
    stepper = Stepper(fwd, model, loss_fn, opt, sched, scaler, ema, device=device, amp_dtype=amp,
                      channels_last=channels_last)

    def lteval_step(x, y):
        return stepper.micro_step(x, y, True)

    def sync():
        if cuda:
            torch.cuda.synchronize()

    # Steps alternate plain / lteval one by one (the order flips every round), so load drift on a
    # shared machine hits both sides alike; each side's images/s per round is its batches over the
    # summed time of its own steps.
    res = {"plain": [], "lteval": []}
    steps = {"plain": plain_step, "lteval": lteval_step}
    for i in range(args.warmup):
        plain_step(xs[i], ys[i])
        lteval_step(xs[i], ys[i])
    for r in range(args.rounds):
        order = ("plain", "lteval") if r % 2 == 0 else ("lteval", "plain")
        spent = {"plain": 0.0, "lteval": 0.0}
        for i in range(args.warmup, n_batches):
            for name in order:
                sync()
                t = time.perf_counter()
                steps[name](xs[i], ys[i])
                sync()
                spent[name] += time.perf_counter() - t
        for name in spent:
            res[name].append(args.steps * args.batch / spent[name])
    return res


def _print(args, device, amp, channels_last, compiled, world, backend, res) -> None:
    import torch

    from lteval.train.models import backbone_info

    cuda = device.type == "cuda"
    dev = torch.cuda.get_device_name(device) if cuda else f"CPU, {torch.get_num_threads()} threads"
    procs = f"; {world} processes, DDP over {backend}, images/s summed" if world > 1 else ""
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"device: {dev}{procs}; model {args.model} ({backbone_info(args.model).timm_name}), {args.size}px, batch {args.batch}, "
          f"{'bf16 autocast' if amp is not None else 'fp32'}, channels_last {'on' if channels_last else 'off'}, "
          f"compile {'on' if compiled else 'off'}, loss {args.loss}{', EMA' if args.ema else ''}; "
          f"{args.rounds} rounds x {args.steps} interleaved steps", flush=True)
    for k in ("plain", "lteval"):
        print(f"  {k:7s} images/s: median {med[k]:9.1f}   rounds: {', '.join(f'{v:.1f}' for v in res[k])}")
    print(f"  ratio lteval / plain: {med['lteval'] / med['plain']:.3f}", flush=True)

if __name__ == "__main__":
    main()
