"""How hard is the synthetic CXR-LT set? Train a tiny CNN for a few CPU minutes and report AP.

    python benchmarks/synth_difficulty.py [--root /tmp/lteval-synth] [--epochs 3] [--threads 2]

Generates (or reuses) the default synthetic set (20k/2k/2k at 64 px, seed 0), trains a
5-block CNN (about 0.3 M parameters) with plain BCE and AdamW, then prints per-class AP on
dev and test (scikit-learn ``average_precision_score``), overall mAP against the prevalence
baseline (the AP of a constant score equals the class prevalence), and head / medium / tail
mAP (training prevalence > 10 %, 1-10 %, < 1 %). Self-contained: it does not use lteval.train.
"""

from __future__ import annotations

import argparse
import sys
import time

from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for benchmarks/_common.py
from _common import fit_tiny_cnn, tiny_cnn  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="/tmp/lteval-synth")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--n-train", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch
    from sklearn.metrics import average_precision_score

    from lteval.data.cache import build_cache, open_cache
    from lteval.data.source import open_source
    from lteval.data.synth import ensure_synthetic

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.time()
    ensure_synthetic(args.root, n_train=args.n_train, progress=False)
    t_gen = time.time() - t0
    src = open_source(args.root)
    build_cache(src, 64, workers=2, progress=False)
    cache = open_cache(src, 64)

    def images(ids):
        rows = np.array([cache.index[i] for i in ids])
        return torch.from_numpy((cache.array[rows].astype(np.float32) / 255.0 - 0.5) / 0.25)[:, None]

    Xtr, Ytr = images(src.train_ids), torch.from_numpy(src.train_y.astype(np.float32))
    C = Ytr.shape[1]

    net = tiny_cnn(C)
    n_par = sum(p.numel() for p in net.parameters())
    t_train = fit_tiny_cnn(net, Xtr, Ytr, epochs=args.epochs, batch=args.batch)

    prev = src.train_y.mean(0)
    groups = np.where(prev > 0.10, "head", np.where(prev >= 0.01, "medium", "tail"))
    net.eval()
    print(f"\nsynthetic set: generated/reused in {t_gen:.0f}s; CNN {n_par / 1e6:.2f} M params, "
          f"{args.epochs} epochs in {t_train:.0f}s on {args.threads} CPU threads")
    results = {}
    for split in ("dev", "test"):
        ids, y = src.eval_ids(split), src.eval_labels(split)
        with torch.no_grad():
            p = torch.sigmoid(torch.cat([net(images(ids[i:i + 512])) for i in range(0, len(ids), 512)])).numpy()
        aps = np.array([average_precision_score(y[:, k], p[:, k]) if y[:, k].any() else np.nan for k in range(C)])
        base = y.mean(0)
        results[split] = (aps, base)
        line = (f"{split:5s} mAP {np.nanmean(aps):.3f} (prevalence baseline {base.mean():.3f})  "
                + "  ".join(f"{g} {np.nanmean(aps[groups == g]):.3f} (base {base[groups == g].mean():.3f})"
                            for g in ("head", "medium", "tail")))
        print(line)
    print("\nper-class AP (dev / test), training prevalence:")
    for k, c in enumerate(src.task.classes):
        print(f"  {c:32s} {groups[k]:6s} prev {prev[k]:.4f}  AP {results['dev'][0][k]:.3f} / "
              f"{results['test'][0][k]:.3f}")


if __name__ == "__main__":
    main()
