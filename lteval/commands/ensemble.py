"""``lteval ensemble RUN_DIR... -o DIR``: merge finished runs into one run-like directory."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from lteval.commands._common import console, guarded


def ensemble_command(
    run_dirs: List[Path] = typer.Argument(..., help="Run directories (or post/<stage> directories) to merge; "
                                                    "each needs predictions/ (and logits/ for --merge logits)."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory to write: config.json, predictions/, logits/, "
                                                      "labels/, scores/<split>.json, DONE."),
    weights: Optional[str] = typer.Option(None, "--weights", "-w",
                                          help="Comma-separated weights, one per run (normalised to sum to 1; "
                                               "default: equal)."),
    merge: str = typer.Option("logits", "--merge", "-m",
                              help="logits: weighted mean of the logits (default); probs: weighted mean of the "
                                   "probabilities; rank: weighted mean of per-class normalised ranks (a ranking "
                                   "score, not a calibrated probability)."),
    splits: Optional[str] = typer.Option(None, "--splits", help="Comma-separated splits (default: val, calib, dev, "
                                                                "test — those every run has)."),
    name: Optional[str] = typer.Option(None, "--name", help="Name recorded in config.json."),
    force: bool = typer.Option(False, "--force", help="Replace an earlier ensemble directory at --out."),
) -> None:
    """Ensemble finished runs: rows joined by ImageID, merged per class, scored with the metrics core.

    Example: lteval ensemble runs/a-1234abcd runs/b-5678ef01 --merge logits -o runs/ens-ab
    """
    from rich.table import Table

    from lteval.errors import UsageError
    from lteval.io.jsonfile import read_json
    from lteval.metrics.figures import figure, headline_keys
    from lteval.posttrain.ensemble import ensemble

    w = None
    if weights:
        try:
            w = [float(x) for x in weights.split(",") if x.strip()]
        except ValueError:
            raise UsageError(f"--weights must be comma-separated numbers, got {weights!r}") from None
    sp = [s.strip() for s in splits.split(",") if s.strip()] if splits else None
    d = ensemble(run_dirs, out, weights=w, merge=merge, splits=sp, force=force, name=name)
    t = Table(title=f"ensemble of {len(run_dirs)} run(s), merge={merge}: {d}", title_justify="left")
    for c in ("split", "n", *(figure(k).label for k in headline_keys())):
        t.add_column(c)

    def f(x):
        return "—" if x is None else f"{x:.4f}"
    for s in ("val", "calib", "dev", "test"):
        p = d / "scores" / f"{s}.json"
        if p.is_file():
            o = read_json(p, "score file", expect=dict)
            t.add_row(s, str(o["n_samples"]), *(f(o["overall"][k]) for k in headline_keys()))
    console.print(t)


def register(app: typer.Typer) -> None:
    app.command("ensemble")(guarded(ensemble_command))
