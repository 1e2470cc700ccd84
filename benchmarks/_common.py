"""Helpers shared by the benchmark scripts (not part of the package).

* :func:`load_split` — one run's (or stage's) predictions on a split, aligned with the run's labels.
* :func:`tiny_cnn` and :func:`fit_tiny_cnn` — the self-contained 5-block CNN (about 0.3 M
  parameters, plain BCE, AdamW, one-cycle schedule) that the synthetic-data probes train.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np


def load_split(d: Path, run: Path, split: str, task):
    """``(ids, y (n, C) int, p (n, C) float64, threshold)`` of stage folder ``d`` on ``split``.

    Labels come from the base run folder ``run``; the threshold (scalar or (C,)) is the one in
    ``d/scores/SPLIT.json``, 0.5 when there is none."""
    from lteval.io.tables import align, read_labels, read_predictions

    labs = read_labels(run / "labels" / f"{split}.csv", task)
    _, y, p = align(labs, read_predictions(d / "predictions" / f"{split}.csv", task))
    thr = 0.5
    sp = d / "scores" / f"{split}.json"
    if sp.is_file():
        thr = json.loads(sp.read_text()).get("threshold", 0.5)
    return list(labs.ids), y, p, np.asarray(thr, dtype=np.float64)


def tiny_cnn(n_classes: int):
    """The probes' CNN: 5 conv-BN-ReLU blocks (16…192 channels), global pooling, one linear layer.
    Input (B, 1, H, W) normalised films; output (B, n_classes) logits."""
    import torch

    def block(i, o):
        return [torch.nn.Conv2d(i, o, 3, padding=1, bias=False), torch.nn.BatchNorm2d(o), torch.nn.ReLU(inplace=True)]

    return torch.nn.Sequential(*block(1, 16), torch.nn.MaxPool2d(2), *block(16, 32), torch.nn.MaxPool2d(2),
                               *block(32, 64), torch.nn.MaxPool2d(2), *block(64, 128), torch.nn.MaxPool2d(2),
                               *block(128, 192), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                               torch.nn.Linear(192, n_classes))


def fit_tiny_cnn(net, X, Y, *, epochs: int, batch: int, lr: float = 3e-3, shift: int = 0) -> float:
    """Train ``net`` on X (n, 1, H, W) float32 and Y (n, C) float32 {0, 1} with BCE, AdamW
    (weight decay 1e-4) and a one-cycle schedule (15 % warm-up). ``shift`` > 0 adds a random
    translation of up to ``shift`` pixels per batch (no flips: findings are lateralised).
    Prints the mean loss of every epoch; returns the training time in seconds."""
    import torch

    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    per_epoch = len(X) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * per_epoch, pct_start=0.15)
    lossf = torch.nn.BCEWithLogitsLoss()
    t1 = time.time()
    for ep in range(epochs):
        net.train()
        perm = torch.randperm(len(X))
        tot = 0.0
        for b in range(per_epoch):
            idx = perm[b * batch:(b + 1) * batch]
            xb = X[idx]
            if shift:
                dx, dy = (int(v) for v in torch.randint(-shift, shift + 1, (2,)))
                xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))
            loss = lossf(net(xb), Y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item()
        print(f"epoch {ep + 1:2d}/{epochs}: loss {tot / per_epoch:.4f}  ({time.time() - t1:.0f}s)", flush=True)
    return time.time() - t1
