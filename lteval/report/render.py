"""Render the report: loaded runs → model → one self-contained HTML file.

The page loads nothing from anywhere: CSS and the small sorting script are inline,
figures are inline SVG, and a strict Content-Security-Policy (``default-src 'none'``,
the script allowed only by its SHA-256 hash) is set in a ``<meta>`` tag. Jinja2 renders
with autoescaping on, so every run name, class name, ID, path and config value is
escaped; the JSON data block escapes ``<``, ``>``, ``&`` and U+2028/9.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Sequence

from lteval.errors import UsageError
from lteval.report.sources import Loader, PredSource

DEFAULT_BOOTSTRAP = 200


def _template_text(name: str) -> str:
    return resources.files("lteval.report").joinpath("templates", name).read_text(encoding="utf-8")


def script_source() -> str:
    """The inline script exactly as embedded (its hash goes into the CSP)."""
    return _template_text("report.js")


def csp_for(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return ("default-src 'none'; "
            f"script-src 'sha256-{digest}'; "
            "style-src 'unsafe-inline'; "
            "img-src data:; font-src 'none'; connect-src 'none'; "
            "base-uri 'none'; form-action 'none'")


def _strict(obj: Any) -> Any:
    """NaN / inf (which a hand-written score file may hold) → None, recursively."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    return obj


def json_for_html(obj: Any) -> str:
    """Strict JSON safe inside a ``<script type="application/json">`` element."""
    text = json.dumps(_strict(obj), ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                      default=str)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def render_html(model: dict[str, Any]) -> str:
    """The HTML page for a model built by :func:`lteval.report.model.build_model`."""
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(_template_text("report.html"))
    script = script_source()
    ctx = dict(model)
    # SVG strings come from matplotlib's XML writer (text escaped there); mark them safe.
    ctx["dumbbells"] = [{**d, "svg": Markup(d["svg"])} for d in model["dumbbells"]]
    ctx["reliability"] = [{**r, "svg": Markup(r["svg"])} for r in model["reliability"]]
    ctx["curves"] = [{**c, "svg": Markup(c["svg"])} for c in model["curves"]]
    ctx["ranking"] = {**model["ranking"], "views": [
        {**v, "blob_svg": Markup(v["blob_svg"]), "map_svg": Markup(v["map_svg"])}
        for v in model["ranking"]["views"]]}
    for k in ("ap_prev_svg", "pr_svg"):
        ctx[k] = Markup(model[k]) if model[k] else None
    if model["heatmap"]:
        ctx["heatmap"] = {**model["heatmap"], "svg": Markup(model["heatmap"]["svg"])}
    ctx["data_json"] = Markup(json_for_html(model["data"]))
    ctx["script"] = Markup(script)
    ctx["csp"] = Markup(csp_for(script))  # our constant; contains no '"' or markup
    return template.render(**ctx)


def _progress_bar(total: int, enabled: bool):
    from lteval.io.progress import progress_enabled

    if not progress_enabled(enabled) or total == 0:
        return None, None
    from rich.progress import Progress

    prog = Progress(transient=True)
    task = prog.add_task("scoring runs", total=total)
    return prog, lambda: prog.advance(task)


def build_report(sources: Iterable[str | Path | PredSource], *, dev_labels=None, test_labels=None,
                 train_labels=None, counts=None, task=None, bootstrap: int = DEFAULT_BOOTSTRAP,
                 seed: int = 0, pr_classes: Sequence[str] | None = None, with_stages: bool = True,
                 title: str | None = None, workers: int | None = None,
                 progress: bool = False, rank_metric: str = "mAP", metadata=None,
                 cluster_by: str | None = None, strata_by: Sequence[str] = (), bins=4) -> str:
    """The report as an HTML string (see :func:`render_report`)."""
    from lteval.report.model import ReportOptions, build_model
    from lteval.scoring import resolve_groups

    if not isinstance(bootstrap, int) or bootstrap < 0:
        raise UsageError(f"--bootstrap must be a non-negative integer, got {bootstrap!r}")
    loader = Loader(task, dev_labels=dev_labels, test_labels=test_labels)
    runs = loader.load(list(sources), with_stages=with_stages)
    t = loader.task
    groups = resolve_groups(t, train_labels=train_labels, counts=counts)
    from lteval.metrics.rank import resolve_metric

    gidx = {g: i for g, i in dict(groups.indices(t.classes)).items() if len(i)} \
        if groups is not None else {}
    rank_metric = resolve_metric(rank_metric, groups=gidx, classes=list(t.classes)).name
    from lteval.metrics.strata import parse_bins
    from lteval.report.sources import resolve_metadata

    strata_by = [strata_by] if isinstance(strata_by, str) else list(strata_by or ())
    if len(set(strata_by)) != len(strata_by):
        raise UsageError(f"--strata-by names a column twice: {strata_by}")
    bins = parse_bins(bins)
    meta, meta_note = resolve_metadata(runs, metadata, t, needed=bool(cluster_by or strata_by))
    if meta is not None:
        for col in ([cluster_by] if cluster_by else []) + strata_by:
            meta.column(col, what="--cluster-by column" if col == cluster_by else "--strata-by column")
    opts = ReportOptions(bootstrap=bootstrap, seed=seed, pr_classes=pr_classes, title=title,
                         workers=workers, rank_metric=rank_metric, metadata=meta,
                         metadata_note=meta_note, cluster_by=cluster_by, strata_by=strata_by,
                         bins=bins)
    n_jobs = sum(1 for r in runs for s in r.splits.values() if s.y is not None)
    prog, tick = _progress_bar(n_jobs, progress)
    if prog is not None:
        with prog:
            model = build_model(runs, t, groups, opts, progress=tick)
    else:
        model = build_model(runs, t, groups, opts)
    return render_html(model)


def render_report(sources: Iterable[str | Path | PredSource], out_path: str | Path, *,
                  dev_labels=None, test_labels=None, train_labels=None, counts=None, task=None,
                  bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0,
                  pr_classes: Sequence[str] | None = None, with_stages: bool = True,
                  title: str | None = None, force: bool = False, workers: int | None = None,
                  progress: bool = False, rank_metric: str = "mAP", metadata=None,
                  cluster_by: str | None = None, strata_by: Sequence[str] = (), bins=4) -> Path:
    """Write the HTML report comparing ``sources`` to ``out_path``; returns the path.

    ``sources``: run directories (each with its ``post/<stage>`` sub-directories as runs
    ``<run>+<stage>`` unless ``with_stages=False``) and/or :class:`PredSource` prediction
    files (these need ``dev_labels``; ``test_labels`` optional — without test labels the
    report shows dev only). ``bootstrap``: resamples for the intervals (0: none).
    ``train_labels`` / ``counts``: training label counts for the head / medium / tail
    groups (default: the task's built-in counts). ``rank_metric``: the figure runs sharing
    labels are ranked by (paired bootstrap, as ``lteval rank --metric``; any figure of the
    score JSON, e.g. ``tail_mAP``, ``ece``). ``metadata`` (CSV of ImageID + columns, joined
    by ID; for run directories on one synthetic set it defaults to that set's ``metadata.csv``
    when ``cluster_by`` / ``strata_by`` need it), ``cluster_by`` (every interval and paired
    test resamples that column's clusters), ``strata_by`` / ``bins``: as ``lteval score``.
    The output is written atomically and an
    existing file is only replaced with ``force=True``.
    """
    from lteval.io.atomic import check_writable, write_text_atomic

    if Path(out_path).is_dir():
        raise UsageError(f"{out_path} is a directory; give the HTML file to write, e.g. "
                         f"{Path(out_path) / 'report.html'}")
    out = check_writable(out_path, force)
    html = build_report(sources, dev_labels=dev_labels, test_labels=test_labels,
                        train_labels=train_labels, counts=counts, task=task, bootstrap=bootstrap,
                        seed=seed, pr_classes=pr_classes, with_stages=with_stages, title=title,
                        workers=workers, progress=progress, rank_metric=rank_metric,
                        metadata=metadata, cluster_by=cluster_by, strata_by=strata_by, bins=bins)
    write_text_atomic(out, html, force=True)
    import os

    mask = os.umask(0)  # the atomic writer creates 0600 files; a report is meant to be shared
    os.umask(mask)
    os.chmod(out, 0o666 & ~mask)
    return out
