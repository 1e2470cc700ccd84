"""Training-step throughput: lteval's engine step vs a plain hand-written timm loop, same run.

    python benchmarks/train_throughput.py [--model convnext_atto] [--size 64] [--batch 32]
                                          [--steps 20] [--rounds 3] [--loss bce] [--compile]

Both loops train the same timm model (one input channel, 30 outputs, same initial weights) on
the same in-memory batches at the same resolution and batch size. The plain loop is the
textbook one: forward, ``BCEWithLogitsLoss``, ``zero_grad``, ``backward``, ``AdamW.step``
(bf16 autocast + channels_last on CUDA, like lteval's defaults there). lteval's side is
``lteval.train.engine.Stepper`` — the exact micro-step the engine runs (loss module, grad
scaler, per-step cosine schedule, EMA when ``--ema``). Steps alternate plain / lteval one by one
(the order flips every round) so a shared, noisy CPU affects both alike; the median images/s per side and their ratio are printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="convnext_atto")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per round")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps before each round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--loss", default="bce")
    ap.add_argument("--ema", action="store_true")
    ap.add_argument("--compile", action="store_true", help="torch.compile both models")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    args = ap.parse_args()

    import numpy as np
    import timm
    import torch

    from lteval.train.ema import ModelEma
    from lteval.train.engine import Stepper
    from lteval.train.losses import create_loss
    from lteval.train.models import backbone_info, create_model
    from lteval.train.schedule import build_optimizer, build_scheduler

    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    amp = torch.bfloat16 if cuda else None
    C = 30
    g = torch.Generator().manual_seed(0)
    n_batches = args.steps + args.warmup
    xs = [torch.randn(args.batch, 1, args.size, args.size, generator=g) for _ in range(n_batches)]
    ys = [(torch.rand(args.batch, C, generator=g) < 0.1).float() for _ in range(n_batches)]
    counts = np.maximum(1, torch.stack(ys).sum((0, 1)).numpy())
    info = backbone_info(args.model)
    kw = {"img_size": args.size} if info.needs_img_size else {}

    # ---- plain timm loop
    torch.manual_seed(0)
    plain = timm.create_model(info.timm_name, pretrained=False, num_classes=C, in_chans=1, **kw).to(device)
    if cuda:
        plain = plain.to(memory_format=torch.channels_last)
    plain_opt = torch.optim.AdamW(plain.parameters(), lr=1e-3, weight_decay=0.05)
    crit = torch.nn.BCEWithLogitsLoss()
    plain_fwd = torch.compile(plain) if args.compile else plain

    def plain_step(x, y):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if cuda:
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
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    loss_fn = create_loss(args.loss, counts, n_samples=args.batch * n_batches).to(device)
    opt = build_optimizer(model, 1e-3, 0.05)
    total = 10 * n_batches * args.rounds
    sched = build_scheduler(opt, total, 0)
    scaler = torch.amp.GradScaler(device.type, enabled=False)
    ema = ModelEma(model, 0.999) if args.ema else None
    fwd = torch.compile(model) if args.compile else model
    stepper = Stepper(fwd, model, loss_fn, opt, sched, scaler, ema, device=device, amp_dtype=amp,
                      channels_last=cuda)

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
    dev = torch.cuda.get_device_name() if cuda else f"CPU, {torch.get_num_threads()} threads"
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"device: {dev}; model {args.model} ({info.timm_name}), {args.size}px, batch {args.batch}, "
          f"{'bf16 autocast + channels_last' if cuda else 'fp32'}, compile {'on' if args.compile else 'off'}, "
          f"loss {args.loss}{', EMA' if args.ema else ''}; {args.rounds} rounds x {args.steps} interleaved steps")
    for k in ("plain", "lteval"):
        print(f"  {k:7s} images/s: median {med[k]:9.1f}   rounds: {', '.join(f'{v:.1f}' for v in res[k])}")
    print(f"  ratio lteval / plain: {med['lteval'] / med['plain']:.3f}")


if __name__ == "__main__":
    main()
