"""Names whole, on one line, at 80 columns and when piped (issue 13).

Every command runs as a real process with stdout a pipe: once with COLUMNS=80 and
once with COLUMNS unset (rich then assumes 80). Every class, method and baseline
name must appear whole on one line of stdout, and no table line may pass 80 columns.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from rich.console import Console

from lteval.commands._tables import Col, print_table
from lteval.io.tables import write_labels, write_predictions
from lteval.tasks import CXRLT2026_TASK1_CLASSES as CLASSES

TABLE_CHARS = set("│┃┏┗┡└┌┐┘━─")


def run(args, columns="80"):
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["HF_HUB_OFFLINE"] = "1"
    if columns is not None:
        env["COLUMNS"] = columns
    r = subprocess.run([sys.executable, "-m", "lteval", *args], capture_output=True, text=True,
                       env=env, stdin=subprocess.DEVNULL, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def assert_whole(out: str, names, width: int = 80):
    lines = out.splitlines()
    for name in names:
        pat = re.compile(r"(^|[│┃ ])" + re.escape(name) + r"( |│|┃|$)")
        assert any(pat.search(line) for line in lines), f"{name!r} not whole on one line:\n{out}"
    for line in lines:
        if TABLE_CHARS & set(line):
            assert len(line) <= width, line


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("width")
    rng = np.random.default_rng(0)
    n = 400
    y = (rng.random((n, 30)) < np.geomspace(0.3, 0.02, 30)).astype(int)
    y[:3] = 1
    ids = np.array([f"img{i:04d}.png" for i in range(n)])
    write_labels(d / "labels.csv", ids, y)
    for name, s in (("a", 0.6), ("b", 0.9)):
        p = np.clip(s * y * rng.random((n, 30)) + 0.5 * rng.random((n, 30)), 0, 1)
        write_predictions(d / f"{name}.csv", ids, p)
    return d


@pytest.mark.parametrize("columns", ["80", None])
def test_score_keeps_class_names_whole(files, columns):
    out = run(["score", str(files / "a.csv"), "-l", str(files / "labels.csv"), "-b", "20"], columns)
    assert_whole(out, CLASSES)
    assert "left out at 80 columns" in out  # precision/recall/ECE dropped, not the names


def test_score_stacks_rows_when_names_alone_do_not_fit(files):
    out = run(["score", str(files / "a.csv"), "-l", str(files / "labels.csv")], "24")
    lines = out.splitlines()
    for c in CLASSES:
        assert c in lines, c  # the name alone on its line
    assert "    recall: " in out


def test_score_wide_terminal_shows_every_column(files):
    out = run(["score", str(files / "a.csv"), "-l", str(files / "labels.csv")], "160")
    assert "precision" in out and "left out" not in out
    assert_whole(out, CLASSES, width=160)


@pytest.mark.parametrize("columns", ["80", None])
def test_compare_keeps_figure_names_whole(files, columns):
    out = run(["compare", str(files / "a.csv"), str(files / "b.csv"), "-l", str(files / "labels.csv"),
               "-b", "50"], columns)
    js = json.loads(run(["compare", str(files / "a.csv"), str(files / "b.csv"), "-l",
                         str(files / "labels.csv"), "-b", "50", "--json", "-"]))
    assert_whole(out, list(js["figures"]))


@pytest.mark.parametrize("columns", ["80", None])
def test_calibrate_fit_and_cv_keep_names_whole(files, tmp_path, columns):
    out = run(["calibrate", "fit", str(files / "a.csv"), "-l", str(files / "labels.csv"),
               "--input", "probs", "--method", "isotonic", "--thresholds", "f1",
               "-o", str(tmp_path / "c.json"), "--force"], columns)
    assert_whole(out, CLASSES)
    js = tmp_path / "cv.json"
    out = run(["calibrate", "cv", str(files / "a.csv"), "-l", str(files / "labels.csv"),
               "--input", "probs", "--method", "all", "--folds", "3", "--bootstrap", "20",
               "--json", str(js), "--force"], columns)
    assert_whole(out, json.loads(js.read_text())["ranking"])


@pytest.mark.parametrize("columns", ["80", None])
def test_baseline_list_keeps_names_whole(columns):
    out = run(["baseline", "list"], columns)
    names = [r["name"] for r in json.loads(run(["baseline", "list", "--json"], columns))]
    assert len(names) > 10
    assert_whole(out, names)


def test_demo_keeps_names_whole(tmp_path, monkeypatch):
    out = run(["demo", "--no-train", "-o", str(tmp_path / "d"), "-b", "10"], "80")
    assert_whole(out, ["model_a — dev", "head", "medium", "tail", str(tmp_path / "d" / "report.html")])
    # the per-class table the full demo prints for the test split (training is a slow test)
    import lteval.commands.demo as demo
    import lteval.commands.score as score_cmd

    p = demo.make_example(tmp_path / "e")
    buf = io.StringIO()
    monkeypatch.setattr(score_cmd, "console", Console(file=buf, width=80))
    monkeypatch.setattr(demo, "console", score_cmd.console)
    demo._print_split(p["model_a_test"], p["labels_test"], "convnext_ldam_drw — test", 10, True)
    assert_whole(buf.getvalue(), [*CLASSES, "convnext_ldam_drw — test"])


def test_print_table_never_cuts_a_name():
    long = "a class name that is much longer than usual"
    rows = [[long, "0.5000", "0.2500", "[dim]x[/]"], ["[bold]b[/]", "1.0000", "—", ""]]
    cols = [Col("class", "left", name=True), Col("AP"), Col("ECE", drop=1), Col("note", drop=2)]
    for width, dropped in ((120, []), (70, ["note"]), (40, ["AP", "ECE", "note"])):
        buf = io.StringIO()
        got = print_table(Console(file=buf, width=width), "title", cols, rows)
        text = buf.getvalue()
        assert got == dropped, (width, text)
        assert any(long in line for line in text.splitlines()), text
        assert all(len(line) <= width for line in text.splitlines() if TABLE_CHARS & set(line))


SITES = ["Hospital Universitario San Juan de Alicante - radiology",
         "National Institutes of Health Clinical Center", "PA"]
SYSTEMS = ["a model with a rather long descriptive name",
           "another model, with an even longer descriptive name", "short"]


@pytest.fixture(scope="module")
def meta(files):
    rng = np.random.default_rng(1)
    ids = [f"img{i:04d}.png" for i in range(400)]
    lines = ["ImageID,PatientID,site"] + [
        f"{x},P{i // 3},{SITES[int(rng.integers(0, 3))]}" for i, x in enumerate(ids)]
    (files / "meta.csv").write_text("\n".join(lines) + "\n")
    return files / "meta.csv"


@pytest.mark.parametrize("columns", ["80", None])
def test_rank_keeps_system_names_whole(files, meta, columns):
    args = ["rank", f"{SYSTEMS[0]}={files / 'a.csv'}", f"{SYSTEMS[1]}={files / 'b.csv'}",
            f"{SYSTEMS[2]}={files / 'a.csv'}", "-l", str(files / "labels.csv"), "-b", "30",
            "--metadata", str(meta), "--cluster-by", "PatientID"]
    out = run(args, columns)
    assert_whole(out, SYSTEMS)
    prose = " ".join(out.split())  # titles and notes wrap as prose
    assert "left out at 80 columns" in prose and "by their # in the ranking" in prose
    wide = run(args, "200")
    assert_whole(wide, SYSTEMS, width=200)
    assert "P(rank 1)" in wide and "left out" not in wide
    # two short names: pairs by name
    short = run(["rank", f"x={files / 'a.csv'}", f"y={files / 'b.csv'}", "-l",
                 str(files / "labels.csv"), "-b", "30"], columns)
    assert "by their #" not in " ".join(short.split()) and re.search(r"│ y +│ x +│", short)


@pytest.mark.parametrize("columns", ["80", None])
def test_score_and_compare_strata_keep_stratum_names_whole(files, meta, columns):
    out = run(["score", str(files / "a.csv"), "-l", str(files / "labels.csv"), "-b", "20",
               "--metadata", str(meta), "--cluster-by", "PatientID", "--strata-by", "site",
               "--no-classes"], columns)
    assert "strata by 'site'" in out
    assert_whole(out, SITES)
    out = run(["compare", str(files / "a.csv"), str(files / "b.csv"), "-l",
               str(files / "labels.csv"), "-b", "20", "--metadata", str(meta),
               "--strata-by", "site"], columns)
    assert "B − A by 'site'" in out
    assert_whole(out, SITES)
