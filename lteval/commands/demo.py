"""``lteval demo``: the README's main job, end to end on the built-in synthetic data.

Generates the synthetic CXR-LT set (once), trains the headline baseline
``convnext_ldam_drw`` with the ``smoke`` preset (or reuses a finished run),
adds a calibration + threshold stage fitted on the run's ``calib`` split,
scores dev and test, prints the tables and writes the HTML report.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer

from lteval.commands._common import console, err_console, guarded, require_train

DEMO_BASELINE = "convnext_ldam_drw"

#: Printed after a trained demo on the smoke preset: what its budget can and cannot show.
SMOKE_NOTE = (
    "What this budget shows: the whole job end to end (synthetic data, training, calibration and "
    "thresholds fitted on the calib split, dev and test scores with bootstrap CIs, the HTML report) "
    "in a few minutes of CPU. The model is the smallest ConvNeXt trained from scratch at 64 px on "
    "3,200 images, so it learns the common findings (head group) and little of the rare ones: each "
    "tail class has fewer than 32 training positives and its AP stays low. With re-weighting "
    "(LDAM-DRW) the raw scores are not probabilities: read mF1 from the +calib tables, not at 0.5. "
    "What it cannot show: whether one loss or post-training method beats another; at this scale "
    "such differences are small and change from seed to seed. For that, see docs/baselines.md:\n"
    "  python benchmarks/baseline_study.py --preset study\n"
    "  lteval baseline run NAME --preset paper --data DIR   (real data, GPU)"
)


def make_example(out: Path, *, n: int = 1620, seed: int = 0) -> dict[str, Path]:
    """Write an example labels CSV (CXR-LT 2026 prevalences) and two models' predictions.

    Used by ``lteval demo --no-train``: scoring, comparison and report without training.
    """
    import numpy as np

    from lteval.io.tables import write_labels, write_predictions
    from lteval.tasks import BUILTIN_TASKS

    task = BUILTIN_TASKS["cxrlt2026-task1"]
    counts = task.default_counts
    rng = np.random.default_rng(seed)
    prev = np.array(counts.prevalence(task.classes))
    y = (rng.random((n, task.n_classes)) < prev).astype(np.int8)
    ids = np.array([f"demo_{i:05d}.png" for i in range(n)])
    paths: dict[str, Path] = {}
    out.mkdir(parents=True, exist_ok=True)
    half = n // 2
    # metadata as the synthetic set writes it (own random stream: labels and predictions unchanged):
    # patients with 1-4 images, view, centre
    mrng = np.random.default_rng([seed, 4000])
    patient = np.repeat(np.arange(n), mrng.integers(1, 5, n))[:n]
    view = np.where(mrng.random(n) < 0.3, "AP", np.where(mrng.random(n) < 0.2, "LAT", "PA"))
    meta = ["ImageID,PatientID,view,centre"] + [
        f"{ids[i]},{patient[i] + (n if i >= half else 0)},{view[i]},{'A' if i < half else 'B'}"
        for i in range(n)]
    from lteval.io.atomic import write_text_atomic

    write_text_atomic(out / "metadata.csv", "\n".join(meta) + "\n")
    paths["metadata"] = out / "metadata.csv"
    for split, rows in (("dev", slice(0, half)), ("test", slice(half, n))):
        noise = rng.normal(size=y[rows].shape) * (1.0 if split == "dev" else 1.4)  # test: a shift
        base = np.log(prev / (1 - prev))
        logit_a = base + 2.4 * (y[rows] - prev) + noise
        logit_b = 2.0 * (base + np.where(prev < 0.01, 3.6, 2.5) * (y[rows] - prev) + noise) + 2.0
        paths[f"labels_{split}"] = write_labels(out / f"labels_{split}.csv", ids[rows], y[rows], task, force=True)
        for name, logit in (("model_a", logit_a), ("model_b", logit_b)):
            paths[f"{name}_{split}"] = write_predictions(out / f"{name}_{split}.csv", ids[rows],
                                                         1 / (1 + np.exp(-logit)), task, force=True)
    return paths


def _stage_thresholds(stage: Path):
    """Per-class thresholds (C,) a calibration stage fitted on its calib split, or 0.5 if none."""
    from lteval.io.jsonfile import read_json
    from lteval.report.sources import parse_thresholds
    from lteval.tasks import get_task

    f = stage / "thresholds.json"
    if not f.exists():
        return 0.5
    obj = read_json(f, "thresholds file", expect=dict)
    return parse_thresholds(obj, get_task(obj.get("task")), f)


#: The demo's metadata view: intervals resample patients, one strata table by view.
CLUSTER_BY, STRATA_BY = "PatientID", "view"


def _print_split(pred: Path, labels: Path, title: str, bootstrap: int, show_classes: bool,
                 threshold=0.5, metadata: Path | None = None, strata: bool = False) -> None:
    import warnings

    from lteval.commands._strata import print_cluster_note, print_strata
    from lteval.commands.score import print_report
    from lteval.scoring import score

    meta = dict(metadata=metadata, cluster_by=CLUSTER_BY if bootstrap else None,
                strata_by=[STRATA_BY] if strata else ()) if metadata is not None else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = score(pred, labels, n_boot=bootstrap, threshold=threshold, **meta)
    from rich.markup import escape

    console.print(f"\n[bold]── {escape(title)} ──[/]", soft_wrap=True, highlight=False)
    print_report(rep, show_classes=show_classes)
    print_cluster_note(rep.to_dict())
    print_strata(rep.to_dict())


def _demo_without_training(out: Path, bootstrap: int) -> Path:
    from lteval.report import PredSource, render_report

    p = make_example(out)
    err_console.print(f"example predictions and labels written to {out}/")
    for name in ("model_a", "model_b"):
        _print_split(p[f"{name}_dev"], p["labels_dev"], f"{name} — dev", bootstrap, False,
                     metadata=p["metadata"], strata=name == "model_b")
    return render_report(
        [PredSource("model_a", p["model_a_dev"], p["model_a_test"]),
         PredSource("model_b", p["model_b_dev"], p["model_b_test"])],
        out / "report.html", dev_labels=p["labels_dev"], test_labels=p["labels_test"],
        bootstrap=bootstrap, force=True, progress=True, metadata=p["metadata"],
        cluster_by=CLUSTER_BY if bootstrap else None, strata_by=[STRATA_BY])


def demo_command(
    out: Path = typer.Option(Path("lteval-demo"), "--out", "-o", help="Folder for the demo's runs and report."),
    baseline: str = typer.Option(DEMO_BASELINE, "--baseline", help="Baseline to train (see 'lteval baseline list')."),
    preset: str = typer.Option("smoke", "--preset", help="Training preset: smoke (minutes on a CPU), cpu (≤ 20 min), paper (GPU)."),
    bootstrap: int = typer.Option(200, "--bootstrap", "-b", min=0, help="Bootstrap resamples for the confidence intervals."),
    no_train: bool = typer.Option(False, "--no-train", help="Skip training: score, compare and report two generated prediction files instead."),
    force: bool = typer.Option(False, "--force", help="Retrain even if a finished run of the same config exists."),
) -> None:
    """Run the main job on the built-in synthetic data: generate the synthetic CXR-LT set (once), train the headline baseline (convnext_ldam_drw, smoke preset), calibrate on its calib split, score dev and test, and write the HTML report."""
    t0 = time.perf_counter()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if no_train:
        path = _demo_without_training(out, bootstrap)
        console.print(f"\n[bold]report:[/] {path}", soft_wrap=True, highlight=False)
        return
    require_train("demo")

    from lteval.posttrain.pipeline import run_pipeline
    from lteval.report import render_report

    name = f"{baseline}+calib"
    err_console.print(f"[bold]lteval demo[/]: {name}, preset '{preset}', outputs in {out}/ "
                      "(a finished run is reused)", highlight=False)
    stage_dir = run_pipeline(name, data="synth", preset=preset, out=out / "runs",
                             force=force, progress=True)
    run_dir = stage_dir.parent.parent if stage_dir.parent.name == "post" else stage_dir
    from lteval.report.sources import synthetic_metadata_path
    from lteval.train.rundir import read_config

    metadata = synthetic_metadata_path(read_config(run_dir))  # the synthetic set's metadata.csv
    for split in ("dev", "test"):
        for d, label in ((run_dir, baseline),
                         (stage_dir, f"{baseline}+calib (thresholds fitted on calib)")):
            pred, labels = d / "predictions" / f"{split}.csv", run_dir / "labels" / f"{split}.csv"
            if pred.exists() and labels.exists():
                _print_split(pred, labels, f"{label} — {split}", bootstrap,
                             show_classes=(split == "test" and d == run_dir),
                             threshold=_stage_thresholds(d) if d != run_dir else 0.5,
                             metadata=metadata, strata=(split == "test" and d == run_dir))
    meta_kw = dict(metadata=metadata, cluster_by=CLUSTER_BY if bootstrap else None,
                   strata_by=[STRATA_BY]) if metadata is not None else {}
    report = render_report([run_dir], out / "report.html", bootstrap=bootstrap, force=True,
                           progress=True, **meta_kw)
    if preset == "smoke":
        console.print(f"\n{SMOKE_NOTE}", highlight=False)
    console.print(f"\n[bold]run:[/] {run_dir}\n[bold]report:[/] {report}\n"
                  f"finished in {time.perf_counter() - t0:.0f} s", soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("demo")(guarded(demo_command))
