"""``lteval data``: make the synthetic set, inspect a data root, preview findings, build the decode cache."""

from __future__ import annotations

import contextlib
import json
import time
import warnings
from pathlib import Path
from typing import Iterator

import typer

from lteval.commands._common import TASK_HELP, console, err_console, guarded

data_app = typer.Typer(
    help=("Data sets: generate the built-in synthetic CXR-LT set (no download, no GPU), check a real "
          "CXR-LT 2026 data root, preview how each finding is drawn, and decode images once into a cache."),
    no_args_is_help=True,
)


@contextlib.contextmanager
def _warnings_shown() -> Iterator[None]:
    """Record every warning raised inside the block and print each one when it ends."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        err_console.print(f"[yellow]warning:[/] {w.message}", highlight=False, soft_wrap=True)


@data_app.command("synth")
@guarded
def synth_cmd(
    out_dir: Path = typer.Argument(..., help="Folder to write the data set into (created; must be empty)."),
    n_train: int = typer.Option(20000, "--n-train", help="Training images (the training CSV also lists dev/test)."),
    n_dev: int = typer.Option(2000, "--n-dev", help="Dev evaluation images."),
    n_test: int = typer.Option(2000, "--n-test", help="Test evaluation images."),
    size: int = typer.Option(64, "--size", help="Image side in pixels."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same files."),
    test_shift: float = typer.Option(0.5, "--test-shift", min=0.0, max=1.0,
                                     help="Render the test split as a second centre (0 = same look as train, "
                                          "1 = strong change of exposure, contrast, noise and blur)."),
    workers: int = typer.Option(None, "--workers", help="Processes drawing images (default: up to 2)."),
    force: bool = typer.Option(False, "--force", help="Overwrite a non-empty OUT_DIR."),
) -> None:
    """Write a synthetic CXR-LT data set in the official CXR-LT 2026 layout.

    Same 30 classes and long-tailed prevalences as the real training file, several images per
    patient, a procedurally drawn thorax with a distinct appearance for every finding. Point any
    lteval command that takes a data root at OUT_DIR.
    """
    from lteval.data.synth import generate

    t = time.time()
    out = generate(out_dir, n_train=n_train, n_dev=n_dev, n_test=n_test, size=size, seed=seed,
                   test_shift=test_shift, workers=workers, progress=True, force=force)
    console.print(f"wrote {n_train + n_dev + n_test} images and label files to {out} in {time.time() - t:.1f}s")


@data_app.command("info")
@guarded
def info_cmd(
    root: Path = typer.Argument(..., help="Data root (real CXR-LT 2026 files or a synthetic set)."),
    image_dir: str = typer.Option(None, "--image-dir", help="Image folder (default: ROOT/images, else ROOT)."),
    task: str = typer.Option("cxrlt2026-task1", "--task", help=TASK_HELP),
    check: bool = typer.Option(True, "--check/--no-check", help="Check that every named image exists."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Validate a data root and summarise it: images, dropped Removal.csv rows, evaluation lists, classes."""
    from lteval.data.source import open_source

    with _warnings_shown():
        src = open_source(root, image_dir=image_dir, task=task)
        if check:
            src.check_images(src.all_ids())
        summ = src.summary()
    prev = src.train_y.mean(0) if len(src.train_y) else src.train_y.sum(0)
    summ["train_counts"] = {c: int(v) for c, v in zip(src.task.classes, src.train_y.sum(0))}
    if as_json:
        console.print_json(json.dumps(summ))
        return
    from rich.table import Table

    console.print(f"[bold]{src.root}[/] ({'synthetic' if summ['synthetic'] else 'CXR-LT layout'}), "
                  f"task {src.task.name}, images in {src.image_dir}")
    console.print(f"training images: {summ['n_train']} ({summ['n_removed']} in Removal.csv dropped"
                  + (f", {summ['n_eval_overlap']} on an evaluation list dropped" if summ["n_eval_overlap"] else "")
                  + ")")
    console.print("patient grouping: " + ("yes, " if summ["patient_grouping"] else "no: ") + summ["patient_note"])
    for s in ("dev", "test"):
        console.print(f"{s} list: {summ[f'n_{s}']} images" + (", labels known" if summ[f"{s}_labels"] else ""))
    if check:
        console.print("all images present")
    tab = Table(title="training labels", show_lines=False)
    tab.add_column("class")
    tab.add_column("n", justify="right")
    tab.add_column("prevalence", justify="right")
    for c, n, p in zip(src.task.classes, src.train_y.sum(0), prev):
        tab.add_row(c, str(int(n)), f"{p:.4f}")
    console.print(tab)


@data_app.command("preview")
@guarded
def preview_cmd(
    out: Path = typer.Argument(Path("docs/img/synth_findings.png"), help="PNG file to write."),
    size: int = typer.Option(96, "--size", help="Tile side in pixels."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    severity: float = typer.Option(0.8, "--severity", min=0.05, max=1.0,
                                   help="Severity of the finding drawn in each tile (0-1)."),
    columns: int = typer.Option(6, "--columns", help="Tiles per row."),
    test_shift: float = typer.Option(0.0, "--test-shift", min=0.0, max=1.0,
                                     help="Draw the films in the test split's second-centre look (see synth)."),
    force: bool = typer.Option(False, "--force", help="Overwrite OUT."),
) -> None:
    """Draw one tile per finding (same patient, same film) as a labelled picture grid."""
    from lteval.data.preview import finding_grid
    from lteval.io.atomic import check_writable

    check_writable(out, force)
    finding_grid(out, size=size, seed=seed, severity=severity, columns=columns, test_shift=test_shift)
    console.print(f"wrote {out}")


@data_app.command("cache")
@guarded
def cache_cmd(
    root: Path = typer.Argument(..., help="Data root (real CXR-LT 2026 files or a synthetic set)."),
    size: int = typer.Option(512, "--size", help="Side of the cached square images in pixels."),
    workers: int = typer.Option(None, "--workers", help="Decoding processes (default: all cores)."),
    image_dir: str = typer.Option(None, "--image-dir", help="Image folder (default: ROOT/images, else ROOT)."),
    cache_dir: Path = typer.Option(None, "--cache-dir",
                                   help="Where to put the cache (default: ROOT/.lteval_cache/<size>px; "
                                        "env LTEVAL_CACHE_DIR moves all caches)."),
    task: str = typer.Option("cxrlt2026-task1", "--task", help=TASK_HELP),
) -> None:
    """Decode and resize every image once into a memory-mapped array (resumable if interrupted).

    Training reads from the cache when it exists for the run's image size; pixels are identical
    to decoding on the fly (16-bit PNGs windowed by their own percentiles, padded to a square).
    """
    from lteval.data.cache import build_cache
    from lteval.data.source import open_source

    with _warnings_shown():
        src = open_source(root, image_dir=image_dir, task=task)
    t = time.time()
    d = build_cache(src, size, workers=workers, progress=True, cache_dir=cache_dir)
    n = len(src.all_ids())
    console.print(f"cache of {n} images at {size}px ready in {d} ({time.time() - t:.1f}s; "
                  f"{n * size * size / 2**30:.2f} GiB)")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
