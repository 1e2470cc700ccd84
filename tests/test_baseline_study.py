"""benchmarks/baseline_study.py --preset study: the plan, and the machinery end to end on a tiny config."""

import importlib.util
import json
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "baseline_study", Path(__file__).resolve().parents[1] / "benchmarks" / "baseline_study.py")
bs = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bs)


def test_study_plan_covers_the_issue_and_orders_whole_seeds():
    plan = bs.study_plan("convnext_tiny", [0, 1, 2], bs.STUDY_LOSSES, bs.STUDY_POST, bs.STUDY_ABLATIONS, 0)
    labels = [(it["seed"], it["label"]) for it in plan]
    # 7 losses x 3 seeds, cRT and tau-norm on bce and ldam_drw x 3 seeds, 3 ablations on seed 0
    assert len(plan) == 21 + 12 + 3
    assert len(set(labels)) == len(labels)
    for seed in (0, 1, 2):
        for loss in ("bce", "focal", "cb_focal", "asl", "ldam", "ldam_drw", "dbloss"):
            assert (seed, loss) in labels
        for post in ("bce+crt", "bce+tau", "ldam_drw+crt", "ldam_drw+tau"):
            assert (seed, post) in labels
    assert all(it["name"].endswith("+calib") for it in plan)  # mF1 is read after the calib stage
    abl = [it for it in plan if it["overrides"]]
    assert {it["seed"] for it in abl} == {0} and len(abl) == 3
    assert {k for it in abl for k in it["overrides"]} == {"loss_kwargs.weight_on", "loss_kwargs.drw_fraction",
                                                         "loss_kwargs.beta"}
    # every seed-0 item comes before any seed-1 item: a stopped study has whole seeds to report
    seeds = [it["seed"] for it in plan]
    assert seeds == sorted(seeds)


def test_study_plan_items_resolve_to_distinct_runs(tmp_path):
    plan = bs.study_plan("convnext_tiny", [0, 1], bs.STUDY_LOSSES, bs.STUDY_POST, bs.STUDY_ABLATIONS, 0)
    dirs = [bs._item_dirs(it, "study", tmp_path, {}) for it in plan]
    calib = [str(d[2]) for d in dirs]
    assert len(set(calib)) == len(calib)
    runs = {str(d[0]) for d in dirs}
    assert len(runs) == 7 * 2 + 3  # one base run per loss and seed, plus one per ablation
    assert all(d[3].backbone == "convnext_atto" and d[3].preset == "study" for d in dirs)


TINY = ["--preset", "smoke", "--plan", "study", "--losses", "bce,ldam_drw", "--seeds", "0,1",
        "--post", "ldam_drw:tau", "--ablations", "weight_on=both", "--n-boot", "20",
        "--set", "synth_n_train=300", "--set", "synth_n_dev=150", "--set", "synth_n_test=150",
        "--set", "synth_size=32", "--set", "image_size=32", "--set", "epochs=3"]


@pytest.mark.slow
def test_study_runs_writes_table_and_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LTEVAL_HOME", str(tmp_path / "home"))
    runs = tmp_path / "runs"
    argv = TINY + ["--runs", str(runs)]
    assert bs.study_main(argv) == 0
    res = runs / "_study"
    log = [json.loads(x) for x in (res / "runs.jsonl").read_text().splitlines()]
    assert len(log) == 7 and all("error" not in r for r in log)
    assert all(len(r["load_start"]) == 3 and r["wall_s"] >= 0 for r in log)
    md = (res / "study.md").read_text()
    assert md.startswith("Study: 7 of 7 items finished (5 base runs)")
    assert "load average" in md
    for split in ("dev", "test"):
        assert f"**{split}** — mean ± sd" in md and f"**{split}** — Δ vs BCE" in md
    out = json.loads((res / "study.json").read_text())
    assert out["complete"] is True
    r = out["results"]["test"]
    assert r["bce"]["overall.mAP"]["per_seed"] and len(r["bce"]["seeds"]) == 2
    d = r["ldam_drw"]["overall.mAP"]
    assert d["diff_seeds"] == [0, 1] and d["diff_ci"][0] <= d["diff_ci"][1]
    # the seed-pooled difference is the mean of the per-seed point differences
    per = [a - b for a, b in zip(d["per_seed"], r["bce"]["overall.mAP"]["per_seed"])]
    assert d["diff"] == pytest.approx(sum(per) / 2)
    assert len(r["ldam_drw [weight_on=both]"]["seeds"]) == 1
    # mF1 is that of the calib stage (its fitted thresholds), mAP that of the run before it
    for f in runs.glob("convnext_tiny_bce-*/post/calib/scores/test.json"):
        calib = json.loads(f.read_text())["overall"]["mF1"]
        assert any(x == pytest.approx(calib) for x in r["bce"]["overall.mF1"]["per_seed"])
    for f in runs.glob("convnext_tiny_bce-*/scores/test.json"):
        base = json.loads(f.read_text())["overall"]["mAP"]
        assert any(x == pytest.approx(base) for x in r["bce"]["overall.mAP"]["per_seed"])

    # resume: the same command trains nothing more and the dry run says every item is done
    capsys.readouterr()
    assert bs.study_main(argv) == 0
    assert len((res / "runs.jsonl").read_text().splitlines()) == 7
    assert bs.study_main(argv + ["--dry-run"]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith(("done", "todo"))]
    assert len(lines) == 7 and all(x.startswith("done") for x in lines)
