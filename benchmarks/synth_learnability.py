"""Is every synthetic finding learnable when it is not rare? Per-finding held-out AUROC, balanced sample.

    nice -n 10 python benchmarks/synth_learnability.py [--size 48] [--json OUT] [--n-pos 300]

Draws a *class-balanced* sample straight from the renderer (``lteval.data.render.render``,
new patients for every image, severities from the renderer's own Beta(1.6, 1.8), no
acquisition shift): ``n_pos`` Normal films, and abnormal films in which each of the 29
findings is present on exactly ``n_pos`` of them (about two findings per abnormal film,
placed at random, so findings co-occur and every negative of a finding carries others).
The same for a held-out sample with ``n_pos_test`` positives per class. One small multi-label
CNN (5 conv blocks, about 0.3 M parameters, plain BCE, AdamW, one-cycle schedule) is trained
on the training sample; the script reports per-finding held-out AUROC (scikit-learn
``roc_auc_score``) and how many of the 30 reach ``--target`` (0.85).

Every finding has the same number of training positives, so a low AUROC means the finding is
hard to *see* at this image size, not rare. ``--json OUT`` writes
``{"per_finding": {"<class>": {"auroc": f, "n_train": int, "n_test": int}}, "settings": {...},
"summary": {...}}``. Self-contained apart from the renderer; it does not use lteval.train.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for benchmarks/_common.py
from _common import fit_tiny_cnn, tiny_cnn  # noqa: E402


def balanced_labels(n_pos: int, rng: np.random.Generator, findings_per_image: float = 2.0) -> np.ndarray:
    """(n, 30) int8: ``n_pos`` Normal rows, and abnormal rows where every finding has exactly ``n_pos``."""
    from lteval.data.render import CLASSES

    C = len(CLASSES)
    n_abn = int(round(n_pos * (C - 1) / findings_per_image))
    y = np.zeros((n_pos + n_abn, C), np.int8)
    y[:n_pos, 0] = 1
    for k in range(1, C):
        y[n_pos + rng.choice(n_abn, n_pos, replace=False), k] = 1
    return y[rng.permutation(len(y))]


def _render_rows(args) -> np.ndarray:
    from lteval.data.anatomy import sample_patient
    from lteval.data.render import render

    y, size, seed, lo = args
    out = np.empty((len(y), size, size), np.uint8)
    for j, lab in enumerate(y):
        rng = np.random.default_rng([seed, lo + j])
        out[j] = render(lab.astype(bool), sample_patient(rng), rng, size, unlisted=not lab.any())
    return out


def render_sample(y: np.ndarray, size: int, seed: int, workers: int) -> np.ndarray:
    """(n, size, size) uint8 films for label rows ``y`` (deterministic for ``seed``)."""
    chunk = 250
    jobs = [(y[lo:lo + chunk], size, seed, lo) for lo in range(0, len(y), chunk)]
    if workers <= 1:
        parts = [_render_rows(j) for j in jobs]
    else:
        import multiprocessing as mp
        with mp.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_render_rows, jobs)
    return np.concatenate(parts)


def main() -> None:
    ap = argparse.ArgumentParser(
        description="Train one small CNN on a class-balanced synthetic sample (every finding has the same "
                    "number of positives) and print each finding's held-out AUROC.")
    ap.add_argument("--size", type=int, default=48, help="image size in pixels (default 48, the study preset's)")
    ap.add_argument("--n-pos", type=int, default=300, help="training positives per class (default 300)")
    ap.add_argument("--n-pos-test", type=int, default=150, help="held-out positives per class (default 150)")
    ap.add_argument("--epochs", type=int, default=14, help="training epochs (default 14)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads and render processes (default 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--target", type=float, default=0.85, help="AUROC every finding should reach (default 0.85)")
    ap.add_argument("--json", metavar="OUT", help="also write the results as JSON to OUT")
    args = ap.parse_args()

    import torch
    from sklearn.metrics import roc_auc_score

    from lteval.data.render import CLASSES
    from lteval.data.synth import GENERATOR_VERSION

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng([args.seed, 17])
    t0 = time.time()
    y_tr = balanced_labels(args.n_pos, rng)
    y_te = balanced_labels(args.n_pos_test, rng)
    x_tr = render_sample(y_tr, args.size, args.seed * 2 + 1, args.threads)
    x_te = render_sample(y_te, args.size, args.seed * 2 + 2, args.threads)
    t_render = time.time() - t0
    print(f"rendered {len(x_tr)} training + {len(x_te)} held-out films at {args.size} px in {t_render:.0f}s", flush=True)

    def tensor(x):
        return torch.from_numpy((x.astype(np.float32) / 255.0 - 0.5) / 0.25)[:, None]

    Xtr, Ytr, Xte = tensor(x_tr), torch.from_numpy(y_tr.astype(np.float32)), tensor(x_te)
    C = len(CLASSES)
    net = tiny_cnn(C)
    n_par = sum(p.numel() for p in net.parameters())
    t_train = fit_tiny_cnn(net, Xtr, Ytr, epochs=args.epochs, batch=args.batch, lr=args.lr, shift=2)
    net.eval()
    with torch.no_grad():
        p = torch.sigmoid(torch.cat([net(Xte[i:i + 512]) for i in range(0, len(Xte), 512)])).numpy()
    auc = {c: float(roc_auc_score(y_te[:, k], p[:, k])) for k, c in enumerate(CLASSES)}
    n_ok = sum(v >= args.target for v in auc.values())
    print(f"\nCNN {n_par / 1e6:.2f} M params, {args.epochs} epochs in {t_train:.0f}s on {args.threads} threads; "
          f"{args.size} px; {args.n_pos} training / {args.n_pos_test} held-out positives per class")
    print(f"{'finding':32s} {'AUROC':>6s}")
    for c in sorted(CLASSES, key=auc.get):
        print(f"{c:32s} {auc[c]:6.3f}{'' if auc[c] >= args.target else '  < target'}")
    vals = np.array(list(auc.values()))
    print(f"\n{n_ok}/{C} findings reach AUROC {args.target}; mean {vals.mean():.3f}, min {vals.min():.3f} "
          f"({min(auc, key=auc.get)})")
    if args.json:
        out = {"per_finding": {c: {"auroc": round(auc[c], 4), "n_train": int(y_tr[:, k].sum()),
                                   "n_test": int(y_te[:, k].sum())} for k, c in enumerate(CLASSES)},
               "settings": {"size": args.size, "n_pos": args.n_pos, "n_pos_test": args.n_pos_test,
                            "epochs": args.epochs, "batch": args.batch, "lr": args.lr, "threads": args.threads,
                            "seed": args.seed, "n_train_images": int(len(y_tr)), "n_test_images": int(len(y_te)),
                            "model_params": int(n_par), "generator_version": GENERATOR_VERSION},
               "summary": {"target": args.target, "n_reaching_target": int(n_ok), "mean_auroc": round(float(vals.mean()), 4),
                           "min_auroc": round(float(vals.min()), 4), "render_s": round(t_render, 1),
                           "train_s": round(t_train, 1), "load_average": list(os.getloadavg())}}
        from lteval.io.atomic import write_json_atomic
        write_json_atomic(args.json, out)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
