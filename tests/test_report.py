"""lteval report: numbers equal the metrics core, escaping, inputs, figures, size (no browser)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import lteval
from lteval.cli import app
from lteval.io.tables import write_labels, write_predictions
from lteval.metrics.bootstrap import bootstrap_distribution, percentile_ci
from lteval.report import PredSource, build_report, parse_pred_spec, render_report
from lteval.report.figures import dumbbell, to_svg
from lteval.report.render import csp_for, json_for_html, script_source
from lteval.report.synthetic import make_labels, make_predictions, make_run
from lteval.tasks import read_class_file

runner = CliRunner()
EVIL = '<script>alert("x")</script> & \'q\' "dq"'


class Page(HTMLParser):
    """Collects leaderboard cells, script elements, the data block and all text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cells: dict[str, dict[tuple[str, str], dict]] = {}
        self.row_names: list[str] = []
        self.scripts: list[dict] = []
        self.text: list[str] = []
        self._run = None
        self._cell = None
        self._in_table = False
        self._script = None
        self._tag_stack: list[str] = []
        self.svg_texts: list[str] = []
        self.data = None
        self.tags: set[str] = set()
        self.attr_names: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        self.attr_names.update(a)
        self._tag_stack.append(tag)
        if tag == "table" and a.get("id") == "leaderboard-table":
            self._in_table = True
        if self._in_table and tag == "tr" and "data-run" in a:
            self._run = a["data-run"]
            self.row_names.append(self._run)
            self.cells[self._run] = {}
        if self._in_table and self._run and tag == "td" and "data-metric" in a:
            self._cell = {"v": a.get("data-v"), "text": "", "cls": a.get("class", "")}
            self.cells[self._run][(a["data-metric"], a["data-split"])] = self._cell
        if tag == "script":
            self._script = {"attrs": a, "body": ""}
            self.scripts.append(self._script)

    def handle_endtag(self, tag):
        if self._tag_stack:
            self._tag_stack.pop()
        if tag == "table":
            self._in_table = False
        if tag == "td":
            self._cell = None
        if tag == "script":
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            self._script["body"] += data
            return
        self.text.append(data)
        if self._cell is not None and not self._cell["text"]:
            self._cell["text"] = data.strip()
        if self._tag_stack and self._tag_stack[-1] == "text":
            self.svg_texts.append(data)


def parse(html: str) -> Page:
    p = Page()
    p.feed(html)
    p.close()
    blocks = [s for s in p.scripts if s["attrs"].get("type") == "application/json"]
    p.data = json.loads(blocks[0]["body"]) if blocks else None
    return p


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    a = make_run(root, "resnet18-bce-0001", seed=1, n_dev=250, n_test=220, calib_stage=True)
    b = make_run(root, "resnet18-ldam-0002", seed=2, n_dev=250, n_test=220, loss="ldam")
    return root, a, b


@pytest.fixture(scope="module")
def two_run_html(two_runs):
    _, a, b = two_runs
    return build_report([a, b], bootstrap=60, seed=3)


def test_table_numbers_equal_the_score_json_of_each_run(two_runs, two_run_html):
    _, a, b = two_runs
    page = parse(two_run_html)
    assert page.row_names == ["resnet18-bce-0001", "resnet18-bce-0001+calib", "resnet18-ldam-0002"]
    for run in (a, b):
        for split in ("dev", "test"):
            stored = json.loads((run / "scores" / f"{split}.json").read_text())
            for key in ("mAP", "mAUROC", "mF1", "ece"):
                cell = page.cells[run.name][(key, split)]
                assert float(cell["v"]) == stored["overall"][key]  # exact, %.17g round-trips
                assert cell["text"] == f"{stored['overall'][key]:.3f}"
            gap = page.cells[run.name][("mAP", "gap")]
            dev = json.loads((run / "scores" / "dev.json").read_text())["overall"]["mAP"]
            test = json.loads((run / "scores" / "test.json").read_text())["overall"]["mAP"]
            assert float(gap["v"]) == pytest.approx(test - dev, abs=1e-15)
    # the embedded data block carries the full score dictionaries
    runs = {r["name"]: r for r in page.data["runs"]}
    stored = json.loads((a / "scores" / "dev.json").read_text())
    assert runs[a.name]["dev"]["per_class"] == stored["per_class"]
    assert runs[a.name]["dev"]["groups"] == stored["groups"]


def test_intervals_equal_lteval_score_with_the_same_resamples(two_runs, two_run_html):
    _, a, _ = two_runs
    page = parse(two_run_html)
    runs = {r["name"]: r for r in page.data["runs"]}
    for split, seed in (("dev", 3), ("test", 4)):
        ref = lteval.score(a / "predictions" / f"{split}.csv", a / "labels" / f"{split}.csv",
                           n_boot=60, seed=seed).to_dict()
        got = runs[a.name][split]
        assert got["overall"] == ref["overall"]
        for k in ("mAP", "mAUROC", "mF1", "ece", "tail.mAP", "head.mAP"):
            assert got["ci"][k] == ref["ci"][k], k
        lo, hi = ref["ci"]["mAP"]
        assert page.cells[a.name][("mAP", split)]["text"] == f"{ref['overall']['mAP']:.3f}"
        assert f"[{lo:.3f}, {hi:.3f}]" in two_run_html


def test_gap_interval_is_that_of_independent_dev_and_test_resamples(tmp_path):
    """Same data on both sides: gap 0 and never significant; strong shift: significant."""
    t = "cxrlt2026-task1"
    ids, y = make_labels(lteval.tasks.get_task(t), 300, 5)
    p = make_predictions(y, 6, 2.5)
    ids2, y2 = make_labels(lteval.tasks.get_task(t), 300, 7)
    p2 = make_predictions(y2, 8, 0.3)
    for name, arr in (("dev_l", (ids, y)), ("test_l", (ids2, y2))):
        write_labels(tmp_path / f"{name}.csv", *arr, t)
    write_predictions(tmp_path / "dev_p.csv", ids, p, t)
    write_predictions(tmp_path / "test_p.csv", ids2, p2, t)
    same = PredSource("same", tmp_path / "dev_p.csv", tmp_path / "dev_p.csv")
    html = build_report([same], dev_labels=tmp_path / "dev_l.csv",
                        test_labels=tmp_path / "dev_l.csv", bootstrap=100)
    cells = parse(html).cells["same"]
    assert float(cells[("mAP", "gap")]["v"]) == 0.0 and "sig" not in cells[("mAP", "gap")]["cls"]
    # reference for the interval: difference of the two replicate series (seeds 0 and 1)
    dd = bootstrap_distribution(y, p, n_boot=100, seed=0)["mAP"]
    dt = bootstrap_distribution(y, p, n_boot=100, seed=1)["mAP"]
    lo, hi = percentile_ci(dt - dd, 0.95)
    assert lo < 0 < hi
    assert f"[{lo:.3f}, {hi:.3f}]" in html
    shifted = PredSource("shifted", tmp_path / "dev_p.csv", tmp_path / "test_p.csv")
    html = build_report([shifted], dev_labels=tmp_path / "dev_l.csv",
                        test_labels=tmp_path / "test_l.csv", bootstrap=100)
    assert "sig" in parse(html).cells["shifted"][("mAP", "gap")]["cls"]


def test_escaping_of_run_class_and_config_values(tmp_path):
    classes = ["Normal", '<script>alert("c")</script>', "A & B", "it's \"quoted\"", "<b>bold</b>",
               "$x$ 50% {a}"]
    cls_file = tmp_path / "evil_task.txt"
    cls_file.write_text("\n".join(classes) + "\n")
    task = read_class_file(cls_file)
    name = '<img src=x onerror="alert(1)"> & <script>alert(2)<\\script> \'q\''  # no '/' in a dir name
    pred_name = '</script><script>alert(4)</script> & "p"'
    root = tmp_path / "runs"
    root.mkdir()
    run = make_run(root, name, task=task, n_dev=120, n_test=120)
    cfg = json.loads((run / "config.json").read_text())
    cfg["note"] = "</script><script>alert(3)</script> & </pre>"
    (run / "config.json").write_text(json.dumps(cfg))
    # IDs with markup, too
    for split in ("dev", "test"):
        for kind in ("labels", "predictions"):
            f = run / kind / f"{split}.csv"
            f.write_text(f.read_text().replace("img_", "<script>&'\"img_"))
    ids, y = make_labels(task, 400, 9)
    write_labels(tmp_path / "train.csv", ids, y, task)
    pred = PredSource(pred_name, run / "predictions" / "dev.csv", run / "predictions" / "test.csv")
    html = build_report([run, pred], task=str(cls_file), train_labels=tmp_path / "train.csv",
                        dev_labels=run / "labels" / "dev.csv", test_labels=run / "labels" / "test.csv",
                        bootstrap=20)
    page = parse(html)
    # exactly our two script elements: the JSON data block and the hashed sorting script
    assert len(page.scripts) == 2
    assert html.count("<script") == 2 and "<img" not in html
    assert "img" not in page.tags and not [a for a in page.attr_names if a.startswith("on")]
    assert "alert(" not in "".join(s["body"] for s in page.scripts if "type" not in s["attrs"])
    text = "".join(page.text)
    assert name in text and pred_name in text  # verbatim once decoded, i.e. escaped in the source
    for c in classes:
        assert c in text, c
        assert c in "".join(page.svg_texts) or c == "Normal", c  # in the figures' <text>
    assert cfg["note"] in text
    # the JSON block decodes to the exact names and holds no raw '<'
    block = next(s["body"] for s in page.scripts if s["attrs"].get("type") == "application/json")
    assert "<" not in block and [r["name"] for r in page.data["runs"]] == [name, pred_name]
    assert set(page.data["runs"][0]["dev"]["per_class"]) == set(classes)
    # every SVG is well-formed XML on its own
    for svg in re.findall(r"<svg.*?</svg>", html, re.S):
        ET.fromstring(svg)


def test_matplotlib_text_is_escaped_and_not_mathtext():
    svg = dumbbell(['<script>alert(1)</script>', "a & b", "$\\alpha$"], [0.1, 0.2, 0.3],
                   [0.2, 0.1, 0.3])
    root = ET.fromstring(svg)
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "<script>alert(1)</script>" in texts and "a & b" in texts and "$\\alpha$" in texts
    assert "<script>" not in svg
    ids = re.findall(r'id="([^"]+)"', svg)
    assert len(ids) == len(set(ids)) and all(i.startswith("f") and "-" in i for i in ids)
    svg2 = dumbbell(["x"], [0.1], [0.2])
    assert not set(re.findall(r'id="([^"]+)"', svg2)) & set(ids)  # unique across figures


def test_csp_hash_matches_the_inline_script(two_run_html):
    import base64
    import hashlib

    body = re.search(r"<script>(.*?)</script>", two_run_html, re.S).group(1)
    assert body == script_source()
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    import html as _html

    csp = _html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', two_run_html).group(1))
    assert csp == csp_for(body) and f"'sha256-{digest}'" in csp and "default-src 'none'" in csp
    # no network resource of any kind
    assert not re.search(r'(src|href)="(https?:)?//', two_run_html)
    assert "@import" not in two_run_html and "url(http" not in two_run_html
    assert json_for_html({"a": "</script><!--\u2028&"}) == '{"a":"\\u003c/script\\u003e\\u003c!--\\u2028\\u0026"}'


def test_sections_present_and_calibrated_stage_gets_before_after(two_run_html):
    for anchor in ("leaderboard", "gaps", "ap-prevalence", "reliability", "pr", "thresholds",
                   "configs"):
        assert f'<section id="{anchor}">' in two_run_html
    svg_text = " ".join(parse(two_run_html).svg_texts)  # panel titles may wrap over lines
    assert "before: resnet18-bce-0001 (ECE" in svg_text
    assert "after: resnet18-bce-0001+calib (ECE" in svg_text
    assert 'id="grid"' not in two_run_html  # one backbone: not a grid
    # the calib stage's per-class thresholds file is named in its threshold table
    assert "thresholds.json" in two_run_html
    assert "Pneumothorax" in two_run_html and "tail group" in two_run_html


def test_stage_thresholds_drive_f1(two_runs):
    _, a, _ = two_runs
    thr = json.loads((a / "post" / "calib" / "thresholds.json").read_text())["thresholds"]
    task = lteval.tasks.get_task("cxrlt2026-task1")
    t = np.array([thr[c] for c in task.classes])
    ref = lteval.score(a / "post" / "calib" / "predictions" / "dev.csv", a / "labels" / "dev.csv",
                       threshold=t).to_dict()
    page = parse(build_report([a], bootstrap=0))
    assert float(page.cells["resnet18-bce-0001+calib"][("mF1", "dev")]["v"]) == ref["overall"]["mF1"]


def test_grid_heatmap_when_runs_form_a_grid(tmp_path):
    runs = [make_run(tmp_path, f"{bb}-{loss}", seed=i, n_dev=80, n_test=80, backbone=bb, loss=loss)
            for i, (bb, loss) in enumerate([("resnet18", "bce"), ("resnet18", "ldam"),
                                            ("convnext", "bce")])]
    html = build_report(runs, bootstrap=0)
    assert '<section id="grid">' in html and "1 empty cell" in html
    assert "no bootstrap intervals" in html


def test_dev_only_report_from_prediction_files(tmp_path):
    t = "cxrlt2026-task1"
    ids, y = make_labels(lteval.tasks.get_task(t), 200, 1)
    write_labels(tmp_path / "dev_labels.csv", ids, y, t)
    for k in range(2):
        write_predictions(tmp_path / f"m{k}.csv", ids, make_predictions(y, k, 1.0 + k), t)
        write_predictions(tmp_path / f"m{k}_test.csv", ids, make_predictions(y, k, 1.0), t)
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["report", "--pred", f"m0={tmp_path / 'm0.csv'}", "--pred",
                              f"m1={tmp_path / 'm1.csv'}:{tmp_path / 'm1_test.csv'}",
                              "--dev-labels", str(tmp_path / "dev_labels.csv"), "--bootstrap", "30",
                              "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert str(out) in res.output
    html = out.read_text()
    page = parse(html)
    assert "shows the dev split only" in html
    assert set(page.cells["m0"]) == {(k, "dev") for k in ("mAP", "mAUROC", "mF1", "ece")}
    ref = lteval.score(tmp_path / "m1.csv", tmp_path / "dev_labels.csv").to_dict()
    assert float(page.cells["m1"][("mAP", "dev")]["v"]) == ref["overall"]["mAP"]
    assert "test predictions given but no --test-labels" in html
    # refuses to overwrite without --force
    res = runner.invoke(app, ["report", "--pred", f"m0={tmp_path / 'm0.csv'}", "--dev-labels",
                              str(tmp_path / "dev_labels.csv"), "-o", str(out)])
    assert res.exit_code == 2 and "--force" in res.output


def test_bad_inputs_give_clear_errors(tmp_path, two_runs):
    _, a, _ = two_runs
    res = runner.invoke(app, ["report", "-o", str(tmp_path / "x.html")])
    assert res.exit_code == 2 and "nothing to report" in res.output
    res = runner.invoke(app, ["report", str(tmp_path / "nope"), "-o", str(tmp_path / "x.html")])
    assert res.exit_code == 2 and "does not exist" in res.output
    res = runner.invoke(app, ["report", "--pred", "x=missing.csv", "-o", str(tmp_path / "x.html")])
    assert res.exit_code == 2 and "missing.csv" in res.output
    res = runner.invoke(app, ["report", "--pred", f"x={a / 'predictions' / 'dev.csv'}",
                              "-o", str(tmp_path / "x.html")])
    assert res.exit_code == 2 and "--dev-labels" in res.output
    res = runner.invoke(app, ["report", "--pred", "nameonly", "-o", str(tmp_path / "x.html")])
    assert res.exit_code == 2 and "NAME=DEV.csv" in res.output
    res = runner.invoke(app, ["report", str(a), "--pr-class", "Pneumothorx", "-o",
                              str(tmp_path / "x.html")])
    assert res.exit_code == 2 and "Pneumothorax" in res.output
    res = runner.invoke(app, ["report", str(a), "--force", "-o", str(tmp_path)])
    assert res.exit_code == 2 and "is a directory" in res.output
    assert not (tmp_path / "x.html").exists()
    assert parse_pred_spec(f"n={a / 'predictions' / 'dev.csv'}:{a / 'predictions' / 'test.csv'}").test


def test_five_run_report_is_small(tmp_path):
    runs = [make_run(tmp_path, f"run{i}", seed=i, n_dev=300, n_test=300, calib_stage=(i == 0))
            for i in range(5)]
    out = render_report(runs, tmp_path / "r.html", bootstrap=50)
    size = out.stat().st_size
    # 20 runs must stay under 5 MB: a quarter of that for 5 (+1 stage)
    assert size < 5_000_000 * 6 / 20, size


def test_svg_is_responsive_and_titled():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1], [0, 1])
    svg = to_svg(fig, title='a "t" <x>')
    head = svg[:svg.index(">")]
    assert 'width="100%"' in head and "height=" not in head and "&lt;x&gt;" in head
    assert not svg.startswith("<?xml")


def test_stored_scores_used_when_labels_are_missing_and_stale_scores_flagged(tmp_path):
    run = make_run(tmp_path, "nolabels", seed=3, n_dev=150, n_test=150)
    stored_test = json.loads((run / "scores" / "test.json").read_text())
    (run / "labels" / "test.csv").unlink()
    dev = json.loads((run / "scores" / "dev.json").read_text())
    dev["overall"]["mAP"] = 0.999  # a stale score file
    (run / "scores" / "dev.json").write_text(json.dumps(dev))
    html = build_report([run], bootstrap=20)
    cells = parse(html).cells["nolabels"]
    assert float(cells[("mAP", "test")]["v"]) == stored_test["overall"]["mAP"]
    assert "copied from scores/test.json" in html
    assert "says mAP 0.9990 but the predictions and labels give" in html
    assert float(cells[("mAP", "dev")]["v"]) != 0.999


@pytest.mark.slow
def test_twenty_run_report_within_time_and_size_budget(tmp_path):
    """Issue 8: 20 runs (dev 2000 + test 2000, 30 classes) in < 30 s on 2 cores and < 5 MB."""
    import importlib.util
    import time

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_report.py"
    spec = importlib.util.spec_from_file_location("bench_report", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)  # the benchmark's own run generator

    runs = bench.make_runs(tmp_path, 20, 2000, stages=0)
    t0 = time.perf_counter()
    out = render_report(runs, tmp_path / "r.html")
    elapsed = time.perf_counter() - t0
    assert elapsed < 30, elapsed
    assert out.stat().st_size < 5_000_000
    assert len(parse(out.read_text()).row_names) == 20


def test_threshold_files_in_the_calibration_module_format(tmp_path):
    from lteval.report.sources import parse_thresholds
    from lteval.tasks import get_task
    from lteval.thresholds import fit_thresholds, parse_strategy

    task = get_task("cxrlt2026-task1")
    ids, y = make_labels(task, 300, 3)
    p = make_predictions(y, 4, 2.0)
    th = fit_thresholds(y, p, parse_strategy("f1"))
    d = th.to_dict()
    got = parse_thresholds(d, task, tmp_path / "thresholds.json")
    assert np.array_equal(got, np.asarray(th.values, float))
    got = parse_thresholds({"method": "temperature", "thresholds": d}, task, tmp_path / "c.json")
    assert np.array_equal(got, np.asarray(th.values, float))
    named = {c: float(v) for c, v in zip(task.classes, th.values)}
    assert np.array_equal(parse_thresholds({"thresholds": named}, task, tmp_path / "t.json"), got)
    with pytest.raises(lteval.errors.InputError, match="Normal"):
        parse_thresholds({"thresholds": {c: 0.5 for c in task.classes[1:]}}, task, tmp_path / "t.json")


def test_stage_dirs_alone_or_excluded(two_runs):
    _, a, _ = two_runs
    res = runner.invoke(app, ["report", str(a / "post" / "calib"), str(a), "--no-stages",
                              "--bootstrap", "0", "-o", str(a.parent / "stages.html")])
    assert res.exit_code == 0, res.output
    page = parse((a.parent / "stages.html").read_text())
    assert page.row_names == ["resnet18-bce-0001+calib", "resnet18-bce-0001"]
    assert "post-training: calib" in (a.parent / "stages.html").read_text()


# ---------------------------------------------------------------- training curves (issue 15)

def _write_log(run: Path, evals: list[dict], done: dict | None = None) -> None:
    (run / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evals))
    if done is not None:
        (run / "DONE").write_text(json.dumps(done))


def _ev(step, epoch, vmap, best, drw=None, **kw):
    e = {"epoch": epoch, "step": step, "train_loss": 1.0 / step, "lr": 1e-3 / step,
         "val_mAP": vmap, "val_mAUROC": 0.7, "best": best, **kw}
    if drw is not None:
        e["drw_active"] = drw
    return e


def test_curves_selected_checkpoint_sources():
    from lteval.report.curves import _selected

    evals = [_ev(10, 1, 0.2, True), _ev(20, 1, 0.3, True), _ev(30, 2, 0.25, False),
             _ev(40, 2, 0.35, True), _ev(50, 3, 0.3, False)]
    steps = [e["step"] for e in evals]
    vmap = [e["val_mAP"] for e in evals]
    # the last evaluation marked best is the last rewrite of best.pt (sub-epoch evaluations too)
    assert _selected(evals, steps, vmap, {}) == {"step": 40, "val_mAP": 0.35,
                                                  "source": "last evaluation marked best"}
    # a recorded step wins over the flags
    assert _selected(evals, steps, vmap, {"best_step": 20})["step"] == 20
    assert _selected(evals, steps, vmap, {"best_step": 20})["source"] == "DONE best_step"
    # no flags: DONE's best_epoch names the last evaluation of that epoch
    plain = [{k: v for k, v in e.items() if k != "best"} for e in evals]
    got = _selected(plain, steps, vmap, {"best_epoch": 2})
    assert got == {"step": 40, "val_mAP": 0.35, "source": "DONE best_epoch"}
    assert _selected(plain, steps, vmap, {}) is None


def test_curves_drw_switch_recorded_inferred_or_absent():
    from lteval.report.curves import _drw

    steps = [10, 20, 30, 40]
    off_on = [_ev(s, i + 1, 0.3, False, drw=i >= 2) for i, s in enumerate(steps)]
    assert _drw(off_on, steps, {}) == {"after": 20, "by": 30, "source": "drw_active (inferred)"}
    assert _drw(off_on, steps, {"drw_step": 25}) == {"step": 25, "source": "DONE drw_step"}
    rec = [dict(e, drw_switch_step=22) for e in off_on]
    assert _drw(rec, steps, {}) == {"step": 22, "source": "metrics.jsonl drw_switch_step"}
    never = [_ev(s, 1, 0.3, False, drw=False) for s in steps]
    assert _drw(never, steps, {}) is None
    assert _drw([_ev(s, 1, 0.3, False) for s in steps], steps, {}) is None  # key absent
    from_start = [_ev(s, 1, 0.3, False, drw=True) for s in steps]
    assert _drw(from_start, steps, {})["after"] == 0.0


def test_report_curves_equal_the_training_log_and_mark_both_events(tmp_path):
    a = make_run(tmp_path, "plain-bce", seed=1, n_dev=100, n_test=100, calib_stage=True)
    b = make_run(tmp_path, "ldam_drw-run", seed=2, n_dev=100, n_test=100, loss="ldam_drw")
    # sub-epoch evaluations, written out of order, with a recorded switch and best step
    evals = [_ev(s, 1 + (s - 1) // 100, 0.1 + s / 1000, s in (50, 150, 200), drw=s > 100)
             for s in (50, 100, 150, 200, 250, 300)]
    _write_log(b, [evals[1], evals[0], *evals[2:]], {"best_step": 150, "drw_step": 100})
    t = tmp_path / "dev_l.csv"
    write_labels(t, *make_labels(lteval.tasks.get_task("cxrlt2026-task1"), 80, 3), "cxrlt2026-task1")
    ids, y = make_labels(lteval.tasks.get_task("cxrlt2026-task1"), 80, 3)
    write_predictions(tmp_path / "p.csv", ids, make_predictions(y, 1, 1.0), "cxrlt2026-task1")
    html = build_report([a, b, PredSource("files", tmp_path / "p.csv")], dev_labels=t, bootstrap=0)
    page = parse(html)
    runs = {r["name"]: r for r in page.data["runs"]}
    # one figure per trained run: not for the stage (same training), not for prediction files
    figs = re.findall(r'<figure class="curves" data-run="([^"]*)"', html)
    assert figs == ["plain-bce", "ldam_drw-run"]
    assert "curves" not in runs["plain-bce+calib"] and "curves" not in runs["files"]
    log_a = [json.loads(x) for x in (a / "metrics.jsonl").read_text().splitlines()]
    ca = runs["plain-bce"]["curves"]
    for key in ("step", "train_loss", "val_mAP", "lr"):
        assert ca[key] == [e[key] for e in log_a], key
    best_a = [e for e in log_a if e["best"]][-1]
    assert ca["selected"]["step"] == best_a["step"] and ca["selected"]["val_mAP"] == best_a["val_mAP"]
    assert ca["drw"] is None
    cb = runs["ldam_drw-run"]["curves"]
    assert cb["step"] == [50, 100, 150, 200, 250, 300]  # sorted, and said so
    assert "not in step order" in html
    assert cb["selected"] == {"step": 150, "val_mAP": 0.25, "source": "DONE best_step"}
    assert cb["drw"] == {"step": 100, "source": "DONE drw_step"}
    assert "selected checkpoint at step 150, val mAP 0.2500 (DONE best_step)" in html
    assert "DRW on from step 100 (DONE drw_step)" in html
    sec = html[html.index('<section id="curves">'):html.index('<section id="configs">')]
    svgs = re.findall(r"<svg.*?</svg>", sec, re.S)
    assert len(svgs) == 2
    for svg in svgs:
        ET.fromstring(svg)
    assert "<pattern" not in svgs[0] and "<pattern" not in svgs[1]  # recorded switch: a line


def test_report_curves_share_the_val_map_range(tmp_path, monkeypatch):
    from lteval.report import figures

    seen = []
    real = figures.training_curves
    monkeypatch.setattr(figures, "training_curves",
                        lambda *a, **kw: seen.append(kw["shared_ylim"]) or real(*a, **kw))
    runs = [make_run(tmp_path, f"r{i}", seed=i, n_dev=60, n_test=60) for i in range(2)]
    build_report(runs, bootstrap=0)
    vals = [e["val_mAP"] for r in runs for e in map(json.loads, (r / "metrics.jsonl").read_text().splitlines())]
    assert len(seen) == 2 and seen[0] == seen[1]
    lo, hi = seen[0]["val_mAP"]
    assert lo < min(vals) and hi > max(vals) and hi - lo < 0.5
    # an inferred switch (drw_active false -> true) is a hatched band between two evaluations
    d = make_run(tmp_path, "drw", seed=5, n_dev=60, n_test=60, loss="ldam_drw")
    html = build_report([runs[0], d], bootstrap=0)
    sec = html[html.index('<section id="curves">'):html.index('<section id="configs">')]
    svgs = re.findall(r"<svg.*?</svg>", sec, re.S)
    assert "<pattern" not in svgs[0] and "<pattern" in svgs[1]
    assert "DRW switched on after step 250, by step 300 (drw_active (inferred); hatched)" in html


def test_report_curves_damaged_log_is_a_note_not_a_failure(tmp_path):
    a = make_run(tmp_path, "broken", seed=1, n_dev=80, n_test=80)
    (a / "metrics.jsonl").write_text('{"step": 1, "val_mAP": 0.1}\n{"step": 2, "val_mAP": \n')
    b = make_run(tmp_path, "nostep", seed=2, n_dev=80, n_test=80)
    (b / "metrics.jsonl").write_text('{"epoch": 1, "val_mAP": 0.1}\n')
    c = make_run(tmp_path, "nolog", seed=3, n_dev=80, n_test=80, curves=False)
    html = build_report([a, b, c], bootstrap=0)
    assert "metrics.jsonl line 2: not valid JSON" in html
    assert "metrics.jsonl line 1: no numeric &#39;step&#39;" in html
    assert '<figure class="curves"' not in html
    assert "No run has a training log" in html


# ---------------------------------------------------------------- rank robustness (issue 15)

def _rank_dict(names=("a", "b", "c"), sig=(("a", "c"),)):
    """A hand-built ``lteval rank --json`` dict (no computation behind it)."""
    k = len(names)
    probs = {n: [1.0 if r == i else 0.0 for r in range(k)] for i, n in enumerate(names)}
    probs[names[0]], probs[names[1]] = [0.6, 0.4] + [0.0] * (k - 2), [0.4, 0.6] + [0.0] * (k - 2)
    pw = {a: {b: (0.9 if i < j else 0.1) for j, b in enumerate(names) if b != a}
          for i, a in enumerate(names)}
    ph = {a: {b: (0.01 if (a, b) in sig or (b, a) in sig else 0.5) for b in names if b != a}
          for a in names}
    return {"systems": list(names), "metric": "mAP", "higher_is_better": True, "n_samples": 100,
            "n_boot": 200, "ranking": list(names), "ranks": {n: i + 1 for i, n in enumerate(names)},
            "values": {n: 0.5 - 0.1 * i for i, n in enumerate(names)},
            "mean_rank": {n: float(i + 1) for i, n in enumerate(names)},
            "rank_ci": {n: [1, min(k, i + 2)] for i, n in enumerate(names)},
            "rank_probabilities": probs, "pairwise": pw, "pairwise_p": ph, "pairwise_p_holm": ph,
            "kendall_tau": {"mean": 0.8, "ci": [0.33, 1.0]}}


def test_rank_view_of_a_rank_dict_marks_significant_pairs_and_escapes():
    from lteval.report.ranking import rank_view

    evil = '<b>x</b> & "$y$"'
    v = rank_view(_rank_dict(names=("a", evil, "c")))
    assert [r["name"] for r in v["rows"]] == ["a", evil, "c"]
    assert v["rows"][0]["p_first"] == "0.600" and v["rows"][0]["rank_ci"] == "1–2"
    assert [(p["a"], p["b"], p["significant"]) for p in v["pairs"]] == [
        ("a", evil, False), ("a", "c", True), (evil, "c", False)]
    assert v["n_significant"] == 1 and "mean 0.800" in v["tau"]
    for svg in (v["blob_svg"], v["map_svg"]):
        root = ET.fromstring(svg)
        texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
        assert evil in texts and "<b>" not in svg
    # the map: one starred cell per direction of the significant pair, 6 values annotated
    texts = ["".join(t.itertext()) for t in ET.fromstring(v["map_svg"]).iter(
        "{http://www.w3.org/2000/svg}text")]
    assert sorted(t for t in texts if t.endswith("*")) == ["0.10*", "0.90*"]
    assert sum(t in ("0.10", "0.90", "0.10*", "0.90*") for t in texts) == 6


def test_report_ranking_equals_lteval_rank_on_the_same_files(tmp_path):
    from lteval.metrics.rank import rank_systems
    from lteval.scoring import resolve_groups

    runs = [make_run(tmp_path, f"m{i}", seed=i, n_dev=150, n_test=150, strength=1.0 + 0.4 * i)
            for i in range(3)]
    html = build_report(runs, bootstrap=80, seed=2, rank_metric="tail_mAP")
    page = parse(html)
    [got] = page.data["rankings"]
    task = lteval.tasks.get_task("cxrlt2026-task1")
    from lteval.io.tables import align, read_labels, read_predictions

    ys, ps = [], {}
    for r in runs:
        ids, y, p = align(read_labels(r / "labels" / "test.csv", task),
                          read_predictions(r / "predictions" / "test.csv", task))
        o = np.argsort(ids)
        ys.append(y[o])
        ps[r.name] = p[o]
    groups = resolve_groups(task)
    gidx = {g: i for g, i in dict(groups.indices(task.classes)).items() if len(i)}
    ref = rank_systems(ys[0], ps, metric="tail_mAP", n_boot=80, seed=3, groups=gidx,
                       classes=list(task.classes)).to_dict()  # test split: seed + 1
    for key in ("ranking", "values", "rank_probabilities", "pairwise", "pairwise_p_holm",
                "kendall_tau", "n_boot", "metric", "values_ci"):
        assert got[key] == ref[key], key
    lo, hi = ref["values_ci"][ref["ranking"][0]]
    assert f'{ref["values"][ref["ranking"][0]]:.4f}<span class="ci">[{lo:.3f}, {hi:.3f}]' in html
    assert got["task"] == task.name
    assert "Rank robustness (tail_mAP on test)" in html
    assert re.findall(r'<tr data-run="([^"]*)"><td data-v="\d+">', html) == ref["ranking"]
    sec = html[html.index('<section id="ranking">'):html.index('<section id="gaps">')]
    assert len(re.findall(r"<svg", sec)) == 2


def test_report_ranking_rows_shared_and_label_mismatch(tmp_path):
    t = "cxrlt2026-task1"
    task = lteval.tasks.get_task(t)
    ids, y = make_labels(task, 200, 1)
    write_labels(tmp_path / "l.csv", ids, y, t)
    write_predictions(tmp_path / "a.csv", ids, make_predictions(y, 1, 1.5), t)
    # b predicts only 150 of the 200 images: ranked on the 150 shared ones
    from lteval.report.ranking import shared_label_sets

    items = [("a", ids, y, make_predictions(y, 1, 1.5)), ("b", ids[:150], y[:150],
                                                           make_predictions(y[:150], 2, 1.0))]
    [g], notes = shared_label_sets(items)
    assert g["names"] == ["a", "b"] and len(g["ids"]) == 150 and "a (200)" in notes[0]
    # the rows are the shared ones, aligned by ID for both
    order = sorted(ids[:150].tolist())
    pos = {v: i for i, v in enumerate(ids.tolist())}
    np.testing.assert_array_equal(g["p"]["a"], items[0][3][[pos[v] for v in order]])
    # other labels on the shared images: not ranked together, said so
    y2 = y.copy()
    y2[:, 0] = 1 - y2[:, 0]
    groups, notes = shared_label_sets([items[0], ("c", ids, y2, items[0][3])])
    assert groups == [] and "not ranked: a, c" in notes[0]
    # bootstrap 0: no ranking, a note
    html = build_report([PredSource("a", tmp_path / "a.csv"), PredSource("b2", tmp_path / "a.csv")],
                        dev_labels=tmp_path / "l.csv", bootstrap=0)
    assert "rank probabilities and the significance map need resamples" in html


def test_report_rank_metric_is_checked_before_any_work(tmp_path, two_runs):
    _, a, _ = two_runs
    res = runner.invoke(app, ["report", str(a), "--rank-metric", "tial_mAP", "-o",
                              str(tmp_path / "x.html")])
    assert res.exit_code == 2 and "tail_mAP" in res.output
    assert not (tmp_path / "x.html").exists()


def test_report_strata_section_copies_the_score_files_strata(tmp_path):
    run = make_run(tmp_path, "strat", seed=1, n_dev=120, n_test=200)
    ids = [ln.split(",")[0] for ln in (run / "labels" / "test.csv").read_text().splitlines()[1:]]
    views = ["PA" if i % 2 else "AP" for i in range(len(ids))]
    views[0] = 'odd <view> & "x"'  # a one-image stratum: too small for a figure
    (tmp_path / "meta.csv").write_text("ImageID,view\n" + "".join(
        f'{i},"{v.replace(chr(34), chr(34) * 2)}"\n' for i, v in zip(ids, views)))
    ref = lteval.score(run / "predictions" / "test.csv", run / "labels" / "test.csv",
                       metadata=tmp_path / "meta.csv", strata_by=["view"], n_boot=30).to_dict()
    (run / "scores" / "test.json").write_text(json.dumps(ref))
    html = build_report([run], bootstrap=0)
    assert '<section id="strata">' in html
    sec = html[html.index('<section id="strata">'):html.index('<section id="curves">')]
    text = "".join(parse(sec).text)
    for e in ref["strata"].values():
        assert e["value"] in text
        if e["overall"]["mAP"] is None:
            continue
        lo, hi = e["ci"]["mAP"]
        assert f"{e['overall']['mAP']:.3f}[{lo:.3f}, {hi:.3f}]" in text
    assert "too small" in text and "<view>" not in sec
    g = ref["strata_gap"]["view"]["mAP"]
    assert f"largest mAP gap {g['gap']:.3f}: {g['high']} (highest) vs {g['low']} (lowest)" in text
    assert '<section id="strata">' not in build_report([make_run(tmp_path, "plain", n_dev=60,
                                                                 n_test=60)], bootstrap=0)
