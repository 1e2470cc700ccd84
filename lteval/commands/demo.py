"""``lteval demo``: the README's main job, end to end on built-in data."""

from __future__ import annotations

from pathlib import Path

import typer

from lteval.commands._common import console, err_console, guarded


def make_example(out: Path, *, n: int = 1620, seed: int = 0) -> dict[str, Path]:
    """Write an example labels CSV (CXR-LT 2026 prevalences) and two models' predictions."""
    import numpy as np

    from lteval.io.tables import write_labels, write_predictions
    from lteval.tasks import BUILTIN_TASKS

    task = BUILTIN_TASKS["cxrlt2026-task1"]
    counts = task.default_counts
    rng = np.random.default_rng(seed)
    prev = np.array(counts.prevalence(task.classes))
    y = (rng.random((n, task.n_classes)) < prev).astype(np.int8)
    ids = np.array([f"demo_{i:05d}.png" for i in range(n)])
    signal = rng.normal(size=y.shape)
    # model A: informative logits, reasonably calibrated; model B: stronger on the tail, over-confident
    strength_a = np.full(task.n_classes, 1.6)
    strength_b = np.where(prev < 0.01, 2.4, 1.7)
    logit_a = np.log(prev / (1 - prev)) + strength_a * (y - prev) * 1.5 + signal
    logit_b = 2.0 * (np.log(prev / (1 - prev)) + strength_b * (y - prev) * 1.5 + signal) + 2.0
    pa, pb = 1 / (1 + np.exp(-logit_a)), 1 / (1 + np.exp(-logit_b))
    out.mkdir(parents=True, exist_ok=True)
    paths = {"labels": out / "labels.csv", "model_a": out / "model_a.csv", "model_b": out / "model_b.csv"}
    write_labels(paths["labels"], ids, y, task, force=True)
    write_predictions(paths["model_a"], ids, pa, task, force=True)
    write_predictions(paths["model_b"], ids, pb, task, force=True)
    return paths


def demo_command(
    out: Path = typer.Option(Path("lteval-demo"), "--out", "-o", help="Folder for the demo's files."),
    bootstrap: int = typer.Option(1000, "--bootstrap", "-b", min=0, help="Bootstrap resamples for the confidence intervals."),
) -> None:
    """Run the main job on built-in data: generate an example evaluation set with the CXR-LT 2026 class balance, score two models with bootstrap CIs, and compare them."""
    import warnings

    from lteval.commands.score import print_report
    from lteval.io.atomic import write_json_atomic
    from lteval.scoring import compare, score

    paths = make_example(out)
    err_console.print(f"example data written to {out}/ (labels.csv, model_a.csv, model_b.csv)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("model_a", "model_b"):
            rep = score(paths[name], paths["labels"], n_boot=bootstrap)
            console.rule(f"[bold]{name}")
            print_report(rep, show_classes=(name == "model_a"))
            write_json_atomic(out / f"{name}.scores.json", rep.to_dict())
        res = compare(paths["model_a"], paths["model_b"], paths["labels"], n_boot=max(bootstrap, 1))
    console.rule("[bold]model_b − model_a (paired bootstrap)")
    for k in ("mAP", "mAUROC", "mF1", "ece", "tail.mAP"):
        v = res["figures"][k]
        lo, hi = v["ci"]
        console.print(f"{k:>9}: {v['diff']:+.4f}  95% CI [{lo:+.4f}, {hi:+.4f}]  p = {v['p_value']:.4f}")
    console.print(f"\nscores: {out}/model_a.scores.json, {out}/model_b.scores.json")


def register(app: typer.Typer) -> None:
    app.command("demo")(guarded(demo_command))
