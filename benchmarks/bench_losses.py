"""Benchmark lteval's losses (forward + backward) against reference implementations, one run.

    .venv/bin/python benchmarks/bench_losses.py [--batch 256] [--classes 30] [--repeats 200] [--device cpu] [--threads 1]

Prints, per loss, the median time of forward + backward on (batch, classes) logits and the ratio
to plain BCE; for ASL and focal also the reference (timm ``AsymmetricLossMultiLabel``,
``torchvision.ops.sigmoid_focal_loss``) timed on the same tensors, the ratio, and the maximum
difference of the values (ours × B × C vs timm's sum; ours vs torchvision's mean).
The losses are a negligible part of a training step (a backbone forward is milliseconds); this
checks that none of them is pathologically slow. Note: LDAM's scale s=30 pushes many logits far
out, where CPU float arithmetic hits denormals (exp(-300)); ``torch.set_flush_denormal(True)`` makes
``ldam``/``ldam_drw`` about 4x faster on CPU (``--flush-denormal``).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch


def timeit(fn, z, y, repeats, device):
    for _ in range(5):  # warm-up
        z.grad = None
        fn(z, y).backward()
    times = []
    for _ in range(repeats):
        z.grad = None
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn(z, y).backward()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--classes", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (small tensors: 1 is steadiest)")
    ap.add_argument("--flush-denormal", action="store_true", help="torch.set_flush_denormal(True) first")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.flush_denormal:
        torch.set_flush_denormal(True)

    from timm.loss import AsymmetricLossMultiLabel
    from torchvision.ops import sigmoid_focal_loss

    from lteval.tasks import CXRLT2026_TASK1_CLASSES, CXRLT2026_TASK1_TRAIN_COUNTS
    from lteval.train.losses import create_loss, list_losses

    torch.manual_seed(0)
    B, C, dev = args.batch, args.classes, args.device
    counts = np.array([CXRLT2026_TASK1_TRAIN_COUNTS[c] for c in CXRLT2026_TASK1_CLASSES], dtype=float)
    counts = np.resize(counts, C)
    n = 128_815
    prev = torch.as_tensor(counts / n, dtype=torch.float32)
    z = (torch.randn(B, C) * 3).to(dev).requires_grad_(True)
    y = (torch.rand(B, C) < prev).float().to(dev)
    print(f"device={dev} torch={torch.__version__} threads={torch.get_num_threads()} batch={B} classes={C} "
          f"repeats={args.repeats}  (median forward+backward)")
    base = None
    rows = []
    for name in list_losses():
        loss = create_loss(name, counts, n_samples=n).to(dev)
        loss.schedule(10)
        loss.set_step(9)  # deferred losses: re-weighting on (the costlier branch)
        t = timeit(loss, z, y, args.repeats, dev)
        base = base or t
        rows.append((name, t))
        print(f"  {name:15s} {t * 1e6:9.1f} us   x{t / base:5.2f} vs bce")

    ours = create_loss("asl", counts).to(dev)
    ref = AsymmetricLossMultiLabel(gamma_neg=4, gamma_pos=0, clip=0.05, reduction="sum")
    t_ours, t_ref = dict(rows)["asl"], timeit(ref, z, y, args.repeats, dev)
    diff = (ours(z, y) * B * C - ref(z, y)).abs().item()
    print(f"ASL   lteval {t_ours * 1e6:8.1f} us | timm {t_ref * 1e6:8.1f} us | ratio lteval/timm "
          f"{t_ours / t_ref:5.2f} | |ours*B*C - timm| = {diff:.2e}")

    ours = create_loss("focal", counts, alpha=0.25).to(dev)
    t_ours = timeit(ours, z, y, args.repeats, dev)

    def tv(a, b):
        return sigmoid_focal_loss(a, b, alpha=0.25, gamma=2.0, reduction="mean")

    t_ref = timeit(tv, z, y, args.repeats, dev)
    diff = (ours(z, y) - tv(z, y)).abs().item()
    print(f"focal lteval {t_ours * 1e6:8.1f} us | torchvision {t_ref * 1e6:8.1f} us | ratio lteval/torchvision "
          f"{t_ours / t_ref:5.2f} | |diff| = {diff:.2e}")


if __name__ == "__main__":
    main()
