"""Leaderboard: SQLite store, published rows, transactional add, Markdown rendering, CLI."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lteval.cli import app
from lteval.leaderboard import (
    LeaderboardStore, all_entries, entry_from_path, published_entries, render_markdown, rows,
)
from lteval.leaderboard.mdtext import md_escape

runner = CliRunner()
CLASSES = ["A & B", "<script>alert(1)</script>", 'quote"d', "tail"]


def _score(rng: np.random.Generator, task: str = "cxrlt2026-task1", n_boot: int = 100) -> dict:
    """A dictionary in the ``lteval score --json`` schema with random figures."""
    f = lambda: float(rng.uniform(0.05, 0.95))  # noqa: E731
    overall = {"mAP": f(), "mAUROC": f(), "mF1": f(), "ece": f() / 10, "mce": f() / 5, "brier": f() / 4}
    ci = {"level": 0.95, "n_boot": n_boot}
    for k, v in overall.items():
        ci[k] = [v - 0.01, v + 0.02]
    groups = {}
    for g in ("head", "medium", "tail"):
        groups[g] = {"classes": ["x"], "mAP": f(), "mAUROC": f(), "mF1": f()}
        ci[f"{g}.mAP"] = [groups[g]["mAP"] - 0.03, groups[g]["mAP"] + 0.03]
    return {"lteval_version": "0.1.0", "task": task, "n_samples": 321, "classes": CLASSES,
            "threshold": 0.5, "empty_class_policy": "zero", "empty_classes": [],
            "overall": overall,
            "per_class": {c: {"ap": f(), "auroc": None, "f1": f(), "precision": f(), "recall": f(),
                              "ece": f(), "n_pos": 3} for c in CLASSES},
            "groups": groups, "ci": ci}


def _run_dir(root: Path, name: str, seed: int, splits=("dev", "test")) -> tuple[Path, dict]:
    rng = np.random.default_rng(seed)
    d = root / name
    (d / "scores").mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"name": name, "backbone": "resnet18", "loss": "bce"}))
    scores = {}
    for s in splits:
        scores[s] = _score(rng)
        (d / "scores" / f"{s}.json").write_text(json.dumps(scores[s]))
    return d, scores


def _snapshot(db: Path) -> list:
    con = sqlite3.connect(db)
    try:
        return [con.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                for t in ("entries", "results", "figures")]
    finally:
        con.close()


def test_published_rows_are_the_quoted_numbers():
    pub = {(e.name, r.split): r.metrics for e in published_entries() for r in e.results}
    assert pub[("CXR-LT 2026 Task 1 winner", "test")] == {"mAP": 0.5854}
    assert pub[("CXR-LT 2026 Task 2 winner", "test")] == {"mAP": 0.4315}
    assert pub[("ConvNeXt-Large + LDAM-DRW (seed paper)", "dev")] == {"mAP": 0.5220, "mF1": 0.3765}
    assert pub[("ConvNeXt-Large + LDAM-DRW (seed paper)", "test")] == {"mAP": 0.3950}
    assert pub[("ResNet-50, pos-weighted BCE, 224 px", "dev")] == {
        "mAP": 0.2544, "mAUROC": 0.8147, "mF1": 0.2891}
    for e in published_entries():
        assert e.kind == "published" and e.source and all(not r.ci for r in e.results)
    assert {e.task for e in published_entries("cxrlt2026-task2")} == {"cxrlt2026-task2"}


def test_add_copies_figures_and_cis_exactly(tmp_path):
    run, scores = _run_dir(tmp_path, "r1-deadbeef", 0)
    db = tmp_path / "lb.sqlite"
    with LeaderboardStore(db) as store:
        e = store.add(entry_from_path(run))
    assert e.name == "r1-deadbeef" and e.task == "cxrlt2026-task1"
    assert [r.split for r in e.results] == ["dev", "test"]
    for r in e.results:
        s = scores[r.split]
        for k in ("mAP", "mAUROC", "mF1", "ece", "mce", "brier"):
            assert r.metrics[k] == s["overall"][k]
            assert r.ci[k] == tuple(s["ci"][k])
        for g in ("head", "medium", "tail"):
            assert r.metrics[f"{g}_mAP"] == s["groups"][g]["mAP"]
            assert r.ci[f"{g}_mAP"] == tuple(s["ci"][f"{g}.mAP"])
        assert r.n_samples == 321 and r.n_boot == 100 and r.ci_level == 0.95
        assert r.score == s
    # show --json through the CLI gives the same numbers, published rows included
    res = runner.invoke(app, ["leaderboard", "show", "--json", "--db", str(db)])
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    mine = [r for r in got if r["name"] == "r1-deadbeef"]
    assert {r["split"] for r in mine} == {"dev", "test"}
    for r in mine:
        assert r["metrics"]["mAP"] == scores[r["split"]]["overall"]["mAP"]
        assert r["kind"] == "lteval"
    assert any(r["kind"] == "published" for r in got)
    res = runner.invoke(app, ["leaderboard", "show", "--json", "--split", "test", "--no-published",
                              "--db", str(db)])
    assert [r["split"] for r in json.loads(res.output)] == ["test"]


def test_rows_sorted_best_first_within_task_and_split(tmp_path):
    db = tmp_path / "lb.sqlite"
    with LeaderboardStore(db) as store:
        for i in range(5):
            run, _ = _run_dir(tmp_path, f"run{i}", i)
            store.add(entry_from_path(run))
    test_rows = rows(all_entries(db, task="cxrlt2026-task1"), split="test")
    maps = [r.result.metrics["mAP"] for r in test_rows]
    assert maps == sorted(maps, reverse=True) and len(maps) == 5 + 2
    ece_rows = rows(all_entries(db, include_published=False), split="dev", sort_by="ece")
    eces = [r.result.metrics["ece"] for r in ece_rows]
    assert eces == sorted(eces)


def test_single_score_file_and_post_stage_names(tmp_path):
    run, scores = _run_dir(tmp_path, "base-12345678", 1)
    stage = run / "post" / "crt+calib"
    (stage / "scores").mkdir(parents=True)
    (stage / "scores" / "test.json").write_text(json.dumps(scores["test"]))
    e = entry_from_path(stage)
    assert e.name == "base-12345678+crt+calib"
    e = entry_from_path(run / "scores" / "dev.json")
    assert e.name == "base-12345678" and [r.split for r in e.results] == ["dev"]
    odd = tmp_path / "mine.json"
    odd.write_text(json.dumps(scores["test"]))
    res = runner.invoke(app, ["leaderboard", "add", str(odd), "--db", str(tmp_path / "x.sqlite")])
    assert res.exit_code == 2 and "--split" in res.output
    res = runner.invoke(app, ["leaderboard", "add", str(odd), "--split", "test",
                              "--db", str(tmp_path / "x.sqlite")])
    assert res.exit_code == 0, res.output
    assert all_entries(tmp_path / "x.sqlite", include_published=False)[0].name == "mine"


def test_duplicate_needs_replace_and_published_names_are_reserved(tmp_path):
    run, _ = _run_dir(tmp_path, "dup", 2)
    db = tmp_path / "lb.sqlite"
    args = ["leaderboard", "add", str(run), "--db", str(db)]
    assert runner.invoke(app, args).exit_code == 0
    before = _snapshot(db)
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "--replace" in res.output
    assert _snapshot(db) == before
    assert runner.invoke(app, args + ["--replace"]).exit_code == 0
    assert len(all_entries(db, include_published=False)) == 1
    res = runner.invoke(app, args + ["--name", "CXR-LT 2026 Task 1 winner"])
    assert res.exit_code == 2 and "published" in res.output
    assert runner.invoke(app, ["leaderboard", "remove", "dup", "--db", str(db)]).exit_code == 0
    assert all_entries(db, include_published=False) == []


def test_failure_inside_transaction_leaves_store_unchanged(tmp_path, monkeypatch):
    db = tmp_path / "lb.sqlite"
    run_a, _ = _run_dir(tmp_path, "a", 3)
    run_b, _ = _run_dir(tmp_path, "b", 4)
    with LeaderboardStore(db) as store:
        store.add(entry_from_path(run_a))
    before = _snapshot(db)
    calls = {"n": 0}
    orig = LeaderboardStore._insert_result

    def failing(self, tx, entry_id, r):
        orig(self, tx, entry_id, r)  # the first split is written inside the transaction ...
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("injected failure")  # ... then the second fails

    monkeypatch.setattr(LeaderboardStore, "_insert_result", failing)
    with LeaderboardStore(db) as store:
        with pytest.raises(RuntimeError):
            store.add(entry_from_path(run_b))
        calls["n"] = 0
        with pytest.raises(RuntimeError):  # a failed replace keeps the old row
            store.add(entry_from_path(run_a), replace=True)
    assert calls["n"] == 2
    assert _snapshot(db) == before


def test_killed_add_leaves_store_as_it_was(tmp_path):
    db = tmp_path / "lb.sqlite"
    run_a, _ = _run_dir(tmp_path, "a", 5)
    run_b, _ = _run_dir(tmp_path, "b", 6)
    with LeaderboardStore(db) as store:
        store.add(entry_from_path(run_a))
    before = _snapshot(db)
    marker = tmp_path / "inside"
    script = textwrap.dedent(f"""
        import time, pathlib
        from lteval.leaderboard import LeaderboardStore, entry_from_path
        orig = LeaderboardStore._insert_result
        def slow(self, tx, entry_id, r):
            orig(self, tx, entry_id, r)
            tx.conn.execute("SELECT 1")
            pathlib.Path({str(marker)!r}).write_text("x")
            time.sleep(60)
        LeaderboardStore._insert_result = slow
        with LeaderboardStore({str(db)!r}) as s:
            s.add(entry_from_path({str(run_b)!r}), replace=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, "the add process ended before reaching the transaction"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # the uncommitted rows are in the file's journal right now; kill -9 mid-transaction
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    assert _snapshot(db) == before
    with LeaderboardStore(db) as store:  # and the store is usable afterwards
        store.add(entry_from_path(run_b))
        assert [e.name for e in store.entries()] == ["a", "b"]


def test_render_markdown_escapes_and_refuses_foreign_files(tmp_path):
    evil = '<script>alert("x")</script> | a & b *c*'
    run, _ = _run_dir(tmp_path, "r", 7)
    db = tmp_path / "lb.sqlite"
    assert runner.invoke(app, ["leaderboard", "add", str(run), "--name", evil,
                               "--db", str(db)]).exit_code == 0
    md = render_markdown(all_entries(db))
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert md_escape(evil) in md
    # every table row keeps its column count despite the '|' in the name
    for line in md.splitlines():
        if line.startswith("| ") and "---" not in line:
            assert line.replace("\\|", "").count("|") == 10, line
    out = tmp_path / "README.md"
    out.write_text("my own notes\n")
    res = runner.invoke(app, ["leaderboard", "render", "-o", str(out), "--db", str(db)])
    assert res.exit_code == 2 and out.read_text() == "my own notes\n"
    assert runner.invoke(app, ["leaderboard", "render", "-o", str(out), "--db", str(db),
                               "--force"]).exit_code == 0
    assert "0.5854" in out.read_text()
    # re-rendering a file it wrote itself needs no --force
    assert runner.invoke(app, ["leaderboard", "render", "-o", str(out), "--db", str(db)]).exit_code == 0


def test_reads_never_create_the_store_and_bad_inputs_are_clear(tmp_path):
    db = tmp_path / "nothing.sqlite"
    res = runner.invoke(app, ["leaderboard", "show", "--db", str(db)])
    assert res.exit_code == 0 and "0.5854" in res.output and not db.exists()
    res = runner.invoke(app, ["leaderboard", "show", "--db", str(db)],
                        env={"LTEVAL_LEADERBOARD": str(tmp_path / "env.sqlite")})
    assert not (tmp_path / "env.sqlite").exists()
    not_db = tmp_path / "junk.sqlite"
    not_db.write_text("hello, not sqlite " * 100)
    res = runner.invoke(app, ["leaderboard", "show", "--db", str(not_db)])
    assert res.exit_code == 1 and "leaderboard store" in res.output
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    res = runner.invoke(app, ["leaderboard", "show", "--db", str(other)])
    assert res.exit_code == 1 and "not an lteval leaderboard store" in res.output
    bad = tmp_path / "scores" / "dev.json"
    bad.parent.mkdir()
    bad.write_text("{not json")
    res = runner.invoke(app, ["leaderboard", "add", str(bad), "--db", str(db)])
    assert res.exit_code == 1 and "not valid JSON" in res.output and "line 1" in res.output
    bad.write_text("[1, 2]")
    res = runner.invoke(app, ["leaderboard", "add", str(bad), "--db", str(db)])
    assert res.exit_code == 1 and "overall" in res.output
    empty_run = tmp_path / "emptyrun"
    empty_run.mkdir()
    res = runner.invoke(app, ["leaderboard", "add", str(empty_run), "--db", str(db)])
    assert res.exit_code == 1 and "scores" in res.output
    res = runner.invoke(app, ["leaderboard", "add", str(tmp_path / "missing"), "--db", str(db)])
    assert res.exit_code == 2


def test_env_var_selects_the_store(tmp_path, monkeypatch):
    run, _ = _run_dir(tmp_path, "envrun", 8)
    target = tmp_path / "sub" / "env.sqlite"
    monkeypatch.setenv("LTEVAL_LEADERBOARD", str(target))
    res = runner.invoke(app, ["leaderboard", "add", str(run)])
    assert res.exit_code == 0, res.output
    assert target.exists()
    assert [e.name for e in all_entries(include_published=False)] == ["envrun"]


def test_real_score_files_from_the_metrics_core(tmp_path):
    import lteval
    from lteval.report.synthetic import make_run

    run = make_run(tmp_path, "real-run", seed=4, n_dev=150, n_test=150)
    rep = lteval.score(run / "predictions" / "test.csv", run / "labels" / "test.csv", n_boot=50,
                       seed=2).to_dict()
    (run / "scores" / "test.json").write_text(json.dumps(rep))
    db = tmp_path / "lb.sqlite"
    res = runner.invoke(app, ["leaderboard", "add", str(run), "--db", str(db)])
    assert res.exit_code == 0, res.output
    e = all_entries(db, include_published=False)[0]
    t = e.result("test")
    assert t.metrics["mAP"] == rep["overall"]["mAP"]
    assert t.metrics["tail_mAP"] == rep["groups"]["tail"]["mAP"]
    assert t.ci["mAP"] == tuple(rep["ci"]["mAP"]) and t.ci["tail_mAP"] == tuple(rep["ci"]["tail.mAP"])
    assert t.n_boot == 50 and t.n_samples == 150
    assert e.config["loss"] == "bce" and e.result("dev").ci == {}
    md = render_markdown(all_entries(db))
    lo, hi = rep["ci"]["mAP"]
    assert f"{rep['overall']['mAP']:.4f} [{lo:.3f}, {hi:.3f}]" in md


def test_run_dir_adds_dev_and_test_only_unless_split_given(tmp_path):
    run, scores = _run_dir(tmp_path, "four", 9, splits=("dev", "test", "val", "calib"))
    e = entry_from_path(run)
    assert [r.split for r in e.results] == ["dev", "test"]
    e = entry_from_path(run, split="val")
    assert [r.split for r in e.results] == ["val"] and e.results[0].metrics["mAP"] == scores["val"]["overall"]["mAP"]
    only_val, _ = _run_dir(tmp_path, "valonly", 10, splits=("val",))
    assert [r.split for r in entry_from_path(only_val).results] == ["val"]


# ---------------------------------------------------------------- rank robustness (issue 15)

def _rank_json(tmp_path: Path) -> tuple[Path, dict]:
    """A real ``lteval rank --json`` result of three systems (plus one name with markup)."""
    from lteval.metrics.rank import rank_systems

    rng = np.random.default_rng(0)
    y = (rng.random((300, 5)) < 0.2).astype(np.int8)
    systems = {"strong": y * 2.0 + rng.normal(0, 1, y.shape), "weak": rng.normal(0, 1, y.shape),
               "mid <b>|*x*": y * 0.8 + rng.normal(0, 1, y.shape)}
    d = rank_systems(y, systems, n_boot=200, seed=1).to_dict()
    p = tmp_path / "rank.json"
    p.write_text(json.dumps(d))
    return p, d


def test_show_and_render_the_rank_view_of_an_lteval_rank_file(tmp_path):
    from lteval.leaderboard.ranks import blob_text

    path, d = _rank_json(tmp_path)
    db = tmp_path / "lb.sqlite"
    assert d["ranking"][0] == "strong" and d["ranking"][-1] == "weak"
    res = runner.invoke(app, ["leaderboard", "show", "--db", str(db), "--no-published",
                              "--ranks", str(path)])
    assert res.exit_code == 0, res.output
    out = res.output
    assert "P(row better than column)" in out and "mid <b>|*x*" in out
    for s in d["systems"]:
        assert blob_text(d, s) in out
    # shades follow the probabilities: the clear winner is dark at rank 1, blank at rank 3
    assert blob_text(d, "strong")[0] in "▓█" and blob_text(d, "strong")[2] == " "
    p_sw = d["pairwise"]["strong"]["weak"]
    assert d["pairwise_p_holm"]["strong"]["weak"] < 0.05 and f"{p_sw:.2f}*" in out
    res = runner.invoke(app, ["leaderboard", "render", "--db", str(db), "--ranks", str(path),
                              "-o", str(tmp_path / "README.md")])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "README.md").read_text()
    assert "## Rank robustness: mAP (3 systems, 300 images, 200 paired resamples)" in md
    assert "mid &lt;b&gt;\\|\\*x\\*" in md and "<b>" not in md
    rows_ = [ln for ln in md.splitlines() if ln.startswith("| ") and "`" in ln]
    assert [r.split(" | ")[1] for r in rows_] == [md_escape(s) for s in d["ranking"]]
    assert f"| {md_escape(f'{p_sw:.2f}*')} |" in md or f"{p_sw:.2f}\\*" in md
    # every table line has the same number of unescaped column separators as its header
    import re

    for block in md.split("\n\n"):
        lines = [ln for ln in block.splitlines() if ln.startswith("|")]
        if lines:
            n = {len(re.findall(r"(?<!\\)\|", ln)) for ln in lines}
            assert len(n) == 1, lines
    res = runner.invoke(app, ["leaderboard", "show", "--db", str(db), "--json", "--ranks", str(path)])
    assert res.exit_code == 0 and json.loads(res.output)["ranks"][0]["ranking"] == d["ranking"]


def test_bad_rank_files_are_clear_errors(tmp_path):
    path, d = _rank_json(tmp_path)
    cases = {"missing.json": None, "notjson.json": "{", "list.json": "[]",
             "nokeys.json": json.dumps({"systems": ["a", "b"]}),
             "badprob.json": json.dumps({**d, "rank_probabilities": {**d["rank_probabilities"],
                                                                      "weak": [0.5, 2.0, 0.0]}})}
    for name, text in cases.items():
        f = tmp_path / name
        if text is not None:
            f.write_text(text)
        res = runner.invoke(app, ["leaderboard", "show", "--db", str(tmp_path / "x.sqlite"),
                                  "--ranks", str(f)])
        assert res.exit_code == (2 if name == "missing.json" else 1), (name, res.output)
        assert name in res.output and "Traceback" not in res.output, res.output
    assert "does not exist" in runner.invoke(app, ["leaderboard", "render", "--ranks",
                                                   str(tmp_path / "missing.json"), "-o",
                                                   str(tmp_path / "o.md")]).output
    assert not (tmp_path / "o.md").exists()
