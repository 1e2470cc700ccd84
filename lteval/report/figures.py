"""Report figures: matplotlib (Agg) → inline SVG strings, over plain arrays and dicts.

Every function takes figures that were already computed by the metrics core and only
draws them. Text is written as SVG ``<text>`` (``svg.fonttype = none``): small, selectable,
and escaped by matplotlib's XML writer; mathtext is switched off so a ``$`` in a run or
class name is shown as-is. Element ids are prefixed per figure, so many figures can be
inlined in one HTML page without id clashes. Colours: the Okabe–Ito palette
(colour-blind safe) and ``cividis`` for the heat map.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from typing import Mapping, Sequence

import numpy as np

#: Okabe & Ito (2008), "Color Universal Design": distinguishable with every common CVD.
OKABE_ITO: tuple[str, ...] = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
)
DEV_COLOUR = "#0072B2"    # blue
TEST_COLOUR = "#E69F00"   # orange
HIGHLIGHT = "#D55E00"     # vermillion: a gap whose interval excludes zero
MUTED = "#999999"
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")

_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "lteval",
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "path.simplify": True,
}

_fig_counter = itertools.count(1)


def series_style(i: int) -> dict:
    """Colour + marker of the ``i``-th series (colours cycle first, then markers change)."""
    return {"color": OKABE_ITO[i % len(OKABE_ITO)],
            "marker": MARKERS[(i // len(OKABE_ITO) + i) % len(MARKERS)]}


def _new_figure(width: float, height: float):
    """A pyplot-free Figure (no figure manager, no global state; Agg canvas for SVG output)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


_ID_RE = re.compile(r'\bid="([^"]+)"')


_GEOM_ATTR = re.compile(r'(\s(?:d|x|y|x1|x2|y1|y2|width|height|transform|points|viewBox)=")([^"]*)"')
_LONG_FLOAT = re.compile(r"(-?\d+\.\d{2})\d+")


def _compact(svg: str) -> str:
    """Round geometry to 0.01 px (attributes only, never text) and drop layout whitespace."""
    svg = _GEOM_ATTR.sub(lambda m: m.group(1) + " ".join(_LONG_FLOAT.sub(r"\1", m.group(2)).split())
                         + '"', svg)
    return re.sub(r">\s+<", "><", svg)


def to_svg(fig, *, prefix: str | None = None, title: str | None = None, tight: bool = True) -> str:
    """Serialise ``fig`` to an inline-ready ``<svg>`` string and close it.

    The XML prolog, DOCTYPE and comments are dropped, every id gets a unique prefix,
    and the fixed width/height become a responsive ``width="100%"``.
    """
    buf = io.StringIO()
    with _rc():  # svg.fonttype etc. are read when saving
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None},
                    **({"bbox_inches": "tight", "pad_inches": 0.05} if tight else {}))
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<!--.*?-->\s*", "", svg, flags=re.S)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    pre = prefix or f"f{next(_fig_counter)}"
    ids = set(_ID_RE.findall(svg))
    if ids:
        svg = _ID_RE.sub(lambda m: f'id="{pre}-{m.group(1)}"', svg)
        svg = re.sub(r"url\(#([^)]+)\)",
                     lambda m: f"url(#{pre}-{m.group(1)})" if m.group(1) in ids else m.group(0), svg)
        svg = re.sub(r'href="#([^"]+)"',
                     lambda m: f'href="#{pre}-{m.group(1)}"' if m.group(1) in ids else m.group(0), svg)
    svg = _compact(svg)
    head_end = svg.index(">")
    head = svg[:head_end]
    natural = re.search(r'\swidth="([0-9.]+)pt"', head)
    head = re.sub(r'\swidth="[^"]*"', ' width="100%"', head, count=1)
    if natural:  # never scale a figure up beyond its drawn size
        head += f' style="max-width: {float(natural.group(1)) * 4 / 3:.0f}px"'
    head = re.sub(r'\sheight="[^"]*"', "", head, count=1)
    role = ' role="img"'
    if title is not None:
        from html import escape

        role += f' aria-label="{escape(title, quote=True)}"'
    return head + role + svg[head_end:].rstrip() + "\n"


def _figure(width: float, height: float):
    with _rc():
        return _new_figure(width, height)


def _rc():
    import matplotlib as mpl

    return mpl.rc_context(_RC)


def _nan(x) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in x], dtype=float)


def dumbbell(labels: Sequence[str], dev: Sequence[float | None], test: Sequence[float | None], *,
             significant: Sequence[bool] | None = None, sections: Sequence[tuple[str, int]] = (),
             xlabel: str = "average precision", title: str | None = None) -> str:
    """Dev-vs-test dumbbell, one row per label (first label on top).

    ``significant[i]`` draws row i's connecting bar in the highlight colour (its gap
    interval excludes zero) and appends ``*`` to its label; ``sections`` lists
    ``(name, first_row)`` pairs drawn as separators (e.g. head / medium / tail).
    """
    import textwrap

    n = len(labels)
    d, t = _nan(dev), _nan(test)
    sig = np.zeros(n, bool) if significant is None else np.asarray(significant, bool)
    # fixed layout (no tight bbox pass: this figure is drawn once per run)
    left = 0.25 + 0.078 * max((len(str(lab)) + 2 for lab in labels), default=4)
    plot_w, right = 4.4, 0.85
    width = left + plot_w + right
    title_lines = textwrap.wrap(title, int(width * 13)) if title else []
    top = 0.15 + 0.2 * len(title_lines)
    bottom = 0.5
    height = top + bottom + 0.2 * n + 0.2
    with _rc():
        fig = _figure(width, height)
        ax = fig.add_subplot()
        fig.subplots_adjust(left=left / width, right=(left + plot_w) / width,
                            bottom=bottom / height, top=1 - top / height)
        y = np.arange(n)[::-1].astype(float)
        both = ~np.isnan(d) & ~np.isnan(t)
        for mask, colour, lw in ((both & ~sig, MUTED, 1.6), (both & sig, HIGHLIGHT, 3.0)):
            if mask.any():
                ax.hlines(y[mask], np.minimum(d, t)[mask], np.maximum(d, t)[mask],
                          colors=colour, linewidth=lw, zorder=1)
        ax.scatter(d, y, s=28, color=DEV_COLOUR, marker="o", label="dev", zorder=2)
        if not np.all(np.isnan(t)):
            ax.scatter(t, y, s=32, color=TEST_COLOUR, marker="D", label="test", zorder=3)
        ax.set_yticks(y)
        ax.set_yticklabels([f"{lab} *" if s else str(lab) for lab, s in zip(labels, sig)])
        for tick, s in zip(ax.get_yticklabels(), sig):
            if s:
                tick.set_color(HIGHLIGHT)
                tick.set_fontweight("bold")
        for name, first in sections:
            if 0 < first < n:
                ax.axhline(n - first - 0.5, color="#555555", linewidth=0.8, linestyle="--")
        for name, first in sections:
            if 0 <= first < n:
                ax.annotate(name, xy=(1.0, n - first - 1 + 0.5), xycoords=("axes fraction", "data"),
                            xytext=(4, -2), textcoords="offset points", va="top", ha="left",
                            fontsize=8, color="#555555", annotation_clip=False)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.7, n - 0.3)
        ax.set_xlabel(xlabel)
        ax.grid(axis="y", visible=False)
        ax.legend(loc="lower right", fontsize=8, frameon=True)
        if title_lines:
            fig.text(0.01, 1 - 0.08 / height, "\n".join(title_lines), ha="left", va="top",
                     fontsize=10)
    return to_svg(fig, title=title or "dev vs test dumbbell", tight=False)


def ap_vs_prevalence(prevalence: Sequence[float], series: Mapping[str, Sequence[float | None]], *,
                     labels: Sequence[str] | None = None, xlabel: str = "training prevalence (log)",
                     ylabel: str = "average precision", title: str | None = None) -> str:
    """Per-class AP (y) against training prevalence (x, log scale), one series per run."""
    x = np.asarray(prevalence, float)
    with _rc():
        fig = _figure(6.4, 3.6)
        ax = fig.add_subplot()
        for i, (name, ys) in enumerate(series.items()):
            yv = _nan(ys)
            st = series_style(i)
            ax.scatter(x, yv, s=18, label=str(name), **st, zorder=3)
        ax.set_xscale("log")
        from matplotlib.ticker import FuncFormatter, NullFormatter

        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{100 * v:g} %"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if len(series) <= 12:
            ax.legend(fontsize=7, loc="upper left", frameon=True)
        else:
            ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        if title:
            ax.set_title(title, loc="left")
    return to_svg(fig, title=title or "AP against training prevalence")


def reliability(panels: Sequence[tuple[str, Mapping[str, np.ndarray]]], *,
                title: str | None = None) -> str:
    """Reliability diagrams side by side.

    Each panel is ``(label, bins)`` with ``bins`` holding equal-length arrays ``"confidence"``
    (mean predicted probability per bin), ``"accuracy"`` (observed positive rate per bin),
    ``"count"`` (entries per bin) and ``"edges"`` (bin edges, len + 1); empty bins are NaN.
    """
    import textwrap

    k = max(1, len(panels))
    ncols = k if k <= 3 else 4
    nrows = math.ceil(k / ncols)
    with _rc():
        fig = _figure(min(3.1 * ncols, 9.6) if k <= 3 else 9.6,
                      3.3 if nrows == 1 else 2.45 * nrows + 0.3)
        axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True).ravel()
        for ax in axes[k:]:
            ax.set_visible(False)
        for i, (ax, (label, b)) in enumerate(zip(axes, panels)):
            conf = np.asarray(b["confidence"], float)
            acc = np.asarray(b["accuracy"], float)
            edges = np.asarray(b["edges"], float)
            width = np.diff(edges)
            ok = ~np.isnan(acc)
            ax.plot([0, 1], [0, 1], color="#555555", linestyle="--", linewidth=0.8)
            ax.bar(edges[:-1][ok], acc[ok], width=width[ok], align="edge", color=DEV_COLOUR,
                   alpha=0.35, edgecolor=DEV_COLOUR, linewidth=0.5, label="fraction positive per bin")
            ax.plot(conf[ok], acc[ok], marker="o", markersize=3, color=HIGHLIGHT, linewidth=1,
                    label="observed at mean probability")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            if k <= 3:
                ax.set_xticks([0, 0.25, 0.5, 0.75, 1])
            else:
                ax.set_xticks([0, 0.5, 1], ["0", "0.5", "1"])
            if k <= 3:
                ax.set_aspect("equal")
            wrap = 34 if k <= 3 else 26
            ax.set_title("\n".join(textwrap.wrap(str(label), wrap)[:3]),
                         fontsize=9 if k <= 3 else 7.5, loc="left")
            if i // ncols == nrows - 1 or i + ncols >= k:
                ax.set_xlabel("predicted probability")
                ax.xaxis.set_tick_params(labelbottom=True)
            if i % ncols == 0:
                ax.set_ylabel("fraction positive")
        axes[0].legend(fontsize=7, loc="upper left")
        if k > 3:
            fig.subplots_adjust(hspace=0.5, wspace=0.2, top=1 - 0.45 / (2.45 * nrows + 0.3))
        if title:
            fig.suptitle(title, x=0.02, y=1.0, ha="left", va="bottom", fontsize=10)
    return to_svg(fig, title=title or "reliability diagrams")


def pr_curves(curves: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]], *,
              prevalence: Mapping[str, float] | None = None, ncols: int = 3,
              title: str | None = None) -> str:
    """Precision–recall curves: one panel per class, one step line per run.

    ``curves[cls][run] = (recall, precision)`` in order of decreasing threshold.
    ``prevalence[cls]`` (positives / n in the evaluated split) draws the chance line.
    """
    classes = list(curves)
    n = max(1, len(classes))
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    runs: list[str] = []
    for c in classes:
        for r in curves[c]:
            if r not in runs:
                runs.append(r)
    with _rc():
        fig = _figure(3.1 * ncols, 2.7 * nrows + 0.4)
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax, cls in zip(axes, classes):
            for run, (rec, prec) in curves[cls].items():
                i = runs.index(run)
                ax.step(rec, prec, where="pre", color=series_style(i)["color"], linewidth=1.1,
                        label=str(run))
            if prevalence and cls in prevalence and prevalence[cls] is not None:
                ax.axhline(prevalence[cls], color="#777777", linestyle=":", linewidth=0.8)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.02)
            ax.set_title(str(cls), fontsize=9, loc="left")
            ax.set_xlabel("recall")
            ax.set_ylabel("precision")
        for ax in axes[n:]:
            ax.set_visible(False)
        if runs:
            handles, lbls = axes[0].get_legend_handles_labels()
            fig.legend(handles, lbls, loc="lower center", ncol=min(4, len(runs)), fontsize=7,
                       frameon=False, bbox_to_anchor=(0.5, 1.0))
        fig.tight_layout()
        if title:
            fig.suptitle(title, x=0.02, ha="left", fontsize=10, y=1.06)
    return to_svg(fig, title=title or "precision-recall curves")


def heatmap(values: np.ndarray, rows: Sequence[str], cols: Sequence[str], *,
            annotations: Sequence[Sequence[str]] | None = None, xlabel: str = "backbone",
            ylabel: str = "loss", cbar_label: str = "mAP", title: str | None = None) -> str:
    """A rows × cols heat map (NaN cells left blank), each cell annotated with its value."""
    v = np.asarray(values, float)
    with _rc():
        fig = _figure(1.4 + 1.1 * len(cols), 1.0 + 0.45 * len(rows))
        ax = fig.add_subplot()
        masked = np.ma.masked_invalid(v)
        finite = v[np.isfinite(v)]
        vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if vmax - vmin < 1e-9:
            vmin, vmax = vmin - 0.01, vmax + 0.01
        im = ax.imshow(masked, cmap="cividis", vmin=vmin, vmax=vmax, aspect="auto")
        ax.set_xticks(range(len(cols)))
        ax.set_xticklabels([str(c) for c in cols], rotation=30, ha="right")
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([str(r) for r in rows])
        ax.grid(False)
        for i in range(v.shape[0]):
            for j in range(v.shape[1]):
                if np.isfinite(v[i, j]):
                    txt = annotations[i][j] if annotations is not None else f"{v[i, j]:.3f}"
                    light = (v[i, j] - vmin) / (vmax - vmin) > 0.6
                    ax.text(j, i, txt, ha="center", va="center", fontsize=8,
                            color="black" if light else "white")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        cb = fig.colorbar(im, ax=ax, fraction=0.05)
        cb.set_label(cbar_label)
        if title:
            ax.set_title(title, loc="left")
    return to_svg(fig, title=title or "heat map")


def training_curves(step: Sequence[float], series: Mapping[str, Sequence[float | None]],
                    labels: Mapping[str, str], *, selected: Mapping | None = None,
                    drw: Mapping | None = None, shared_ylim: Mapping[str, tuple[float, float]] | None = None,
                    title: str | None = None) -> str:
    """One run's training curves: a column of small panels (one per series) over ``step``.

    ``series[key]`` (E,) values per evaluation (None where absent; a series with no value
    is left out); ``labels[key]`` the panel's y label. ``selected`` ``{"step", "val_mAP"}``
    draws the selected checkpoint (a dotted line on every panel, a star on the val mAP
    curve); ``drw`` ``{"step"}`` a dashed line, or ``{"after", "by"}`` a hatched band
    where the switch happened between two evaluations; the re-weighted part is shaded.
    ``shared_ylim[key]`` fixes a panel's y range (the same across small multiples).
    """
    from matplotlib.ticker import MaxNLocator

    x = np.asarray(step, float)
    keys = [k for k, v in series.items() if any(u is not None for u in v)]
    n = max(1, len(keys))
    height = 0.35 + 1.0 * n
    with _rc():
        fig = _figure(3.5, height)
        axes = fig.subplots(n, 1, squeeze=False, sharex=True).ravel()
        fig.subplots_adjust(left=0.2, right=0.97, bottom=0.42 / height, top=1 - 0.08 / height,
                            hspace=0.18)
        x_end = float(x.max()) if x.size else 1.0
        for ax, key in zip(axes, keys):
            y = _nan(series[key])
            ok = ~np.isnan(y)
            label = labels.get(key, key)
            top = float(np.nanmax(np.abs(y))) if ok.any() else 0.0
            if key == "lr" and 0 < top < 0.01:  # plain tick labels: scale into the label
                e = int(math.floor(math.log10(top)))
                y = y / 10.0 ** e
                label = f"{label} (×1e{e})"
            ax.plot(x[ok], y[ok], color=DEV_COLOUR, linewidth=1.2,
                    marker="o" if ok.sum() <= 40 else None, markersize=2.5)
            ax.set_ylabel(label, fontsize=7.5)
            ax.tick_params(labelsize=7)
            ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
            if shared_ylim and key in shared_ylim:
                ax.set_ylim(*shared_ylim[key])
            if drw:
                if drw.get("step") is not None:
                    s0 = float(drw["step"])
                    ax.axvline(s0, color=HIGHLIGHT, linestyle="--", linewidth=1.0)
                else:
                    s0 = float(drw["by"])
                    if drw.get("after") is not None:
                        ax.axvspan(float(drw["after"]), s0, facecolor="none", edgecolor=HIGHLIGHT,
                                   hatch="///", linewidth=0, alpha=0.6)
                        s0 = float(drw["after"])
                ax.axvspan(s0, max(x_end, s0), color=HIGHLIGHT, alpha=0.06, linewidth=0)
            if selected and selected.get("step") is not None:
                ax.axvline(float(selected["step"]), color="#009E73", linestyle=":", linewidth=1.2)
                if key == "val_mAP" and selected.get("val_mAP") is not None:
                    ax.plot([float(selected["step"])], [float(selected["val_mAP"])], marker="*",
                            markersize=10, color="#009E73", markeredgecolor="black",
                            markeredgewidth=0.4, linestyle="none", zorder=5, clip_on=False)
        axes[-1].set_xlabel("step", fontsize=8)
    return to_svg(fig, title=title or "training curves", tight=False)


def mpl_colormap(name: str):
    import matplotlib as mpl

    return mpl.colormaps[name]


def _rank_order(rank: Mapping) -> list[str]:
    return [str(s) for s in rank["ranking"]]


def rank_blobs(rank: Mapping, *, title: str | None = None) -> str:
    """Rank-probability ("blob") plot of an ``lteval rank`` result dict.

    x: systems in full-data ranking order; y: rank position (1 on top). A disc's area is
    the share of bootstrap resamples that put the system at that position; the black
    cross is the full-data rank and the vertical bar the system's ``rank_ci`` (when given).
    """
    names = _rank_order(rank)
    k = len(names)
    probs = np.array([[float(v) for v in rank["rank_probabilities"][s]] for s in names])
    width = min(11.0, 1.6 + 0.42 * k + 0.06 * max((len(s) for s in names), default=0))
    longest = max((len(s) for s in names), default=0)
    height = 1.6 + 0.3 * k + (0.045 * min(longest, 40) if (k > 3 or longest > 12) else 0.0)
    with _rc():
        fig = _figure(max(width, 3.6), height)
        ax = fig.add_subplot()
        xs, ys = np.meshgrid(np.arange(k), np.arange(1, k + 1), indexing="ij")
        p = probs.ravel()
        keep = p > 0
        ax.scatter(xs.ravel()[keep], ys.ravel()[keep], s=p[keep] * (320 if k <= 10 else 160),
                   color=DEV_COLOUR, alpha=0.75, linewidths=0, zorder=2)
        ci = rank.get("rank_ci") or {}
        for i, s in enumerate(names):
            if s in ci and ci[s] and None not in ci[s]:
                ax.vlines(i, ci[s][0], ci[s][1], color="#555555", linewidth=1.0, zorder=1)
        full = rank.get("ranks") or {s: i + 1 for i, s in enumerate(names)}
        ax.scatter(range(k), [full[s] for s in names], marker="x", s=28, color="black",
                   linewidths=1.2, zorder=3, label="full-data rank")
        ax.set_xticks(range(k))
        tilt = k > 3 or longest > 12
        ax.set_xticklabels(names, rotation=35 if tilt else 0, ha="right" if tilt else "center",
                           fontsize=8, rotation_mode="anchor" if tilt else "default")
        ax.set_yticks(range(1, k + 1))
        ax.set_ylim(k + 0.6, 0.4)
        ax.set_xlim(-0.6, k - 0.4)
        ax.set_ylabel("rank")
        ax.grid(axis="x", visible=False)
        ax.legend(loc="lower left", fontsize=7, frameon=True, bbox_to_anchor=(0.0, 1.0),
                  borderaxespad=0.2)
        if title:
            ax.set_title(title, loc="right", fontsize=9)
        fig.tight_layout()
    return to_svg(fig, title=title or "rank probabilities")


def significance_map(rank: Mapping, *, alpha: float = 0.05, title: str | None = None) -> str:
    """Pairwise map of an ``lteval rank`` result: cell (row A, column B) is P(A better than B).

    Systems in full-data ranking order on both axes. Cells whose Holm-adjusted paired
    p-value is below ``alpha`` are outlined and carry ``*`` (significance is not shown by
    colour alone); the diagonal is blank.
    """
    from matplotlib.patches import Rectangle

    names = _rank_order(rank)
    k = len(names)
    pw, ph = rank["pairwise"], rank.get("pairwise_p_holm") or {}
    v = np.full((k, k), np.nan)
    sig = np.zeros((k, k), bool)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i != j:
                x = (pw.get(a) or {}).get(b)
                v[i, j] = np.nan if x is None else float(x)
                q = (ph.get(a) or {}).get(b)
                sig[i, j] = q is not None and float(q) < alpha
    longest = max((len(s) for s in names), default=4)
    cell = 0.42 if k <= 12 else 0.3
    with _rc():
        fig = _figure(1.6 + 0.07 * longest + cell * k, 1.2 + 0.07 * longest + cell * k)
        ax = fig.add_subplot()
        # vector cells and a 10-step colour bar (a continuous one would be a raster image)
        from matplotlib.colors import BoundaryNorm

        cmap = mpl_colormap("cividis")
        im = ax.pcolormesh(np.arange(k + 1) - 0.5, np.arange(k + 1) - 0.5, np.ma.masked_invalid(v),
                           cmap=cmap, norm=BoundaryNorm(np.linspace(0, 1, 11), cmap.N),
                           edgecolors="white", linewidth=0.5)
        ax.set_xlim(-0.5, k - 0.5)
        ax.set_ylim(k - 0.5, -0.5)
        ax.set_aspect("equal")
        ax.set_xticks(range(k))
        ax.set_xticklabels(names, rotation=45, ha="right", fontsize=7.5)
        ax.set_yticks(range(k))
        ax.set_yticklabels(names, fontsize=7.5)
        ax.grid(False)
        annotate = k <= 16
        for i in range(k):
            for j in range(k):
                if i == j or np.isnan(v[i, j]):
                    continue
                if sig[i, j]:
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black",
                                           linewidth=1.4))
                if annotate or sig[i, j]:
                    txt = (f"{v[i, j]:.2f}" if annotate else "") + ("*" if sig[i, j] else "")
                    ax.text(j, i, txt, ha="center", va="center", fontsize=6.5 if k > 8 else 7.5,
                            color="black" if v[i, j] > 0.6 else "white")
        ax.set_xlabel("B")
        ax.set_ylabel("A")
        cb = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, ticks=[0, 0.25, 0.5, 0.75, 1])
        cb.set_label("P(A better than B)", fontsize=8)
        if title:
            ax.set_title(title, loc="left", fontsize=9)
    return to_svg(fig, title=title or "pairwise significance map")
