"""`lteval rank` end to end: JSON, table at 80 columns, names, errors and exit codes."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import lteval.scoring
from lteval.cli import app
from lteval.io.tables import write_labels, write_predictions
from lteval.metrics.rank import rank_systems

runner = CliRunner()
LONG = "densenet121_ldam_drw_plus_calibrated_temperature_scaling"


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(0)
    n = 200
    y = (rng.random((n, 30)) < np.geomspace(0.3, 0.02, 30)).astype(int)
    y[0] = 1
    ids = np.array([f"{i}_x.png" for i in range(n)])
    write_labels(tmp_path / "labels.csv", ids, y)
    ps = []
    for k in range(3):
        p = np.clip(0.12 * k * y + rng.random((n, 30)), 0, 1)
        perm = rng.permutation(n)
        write_predictions(tmp_path / f"m{k}.csv", ids[perm], p[perm])
        ps.append(p)
    return tmp_path, ids, y, ps


def test_rank_json_equals_library(files):
    d, ids, y, ps = files
    out = d / "r.json"
    r = runner.invoke(app, ["rank", f"base={d / 'm0.csv'}", str(d / "m1.csv"), str(d / "m2.csv"),
                            "--labels", str(d / "labels.csv"), "-b", "100", "--seed", "2",
                            "--json", str(out)])
    assert r.exit_code == 0, r.output
    js = json.loads(out.read_text())
    assert js["systems"] == ["base", "m1", "m2"]
    assert js["metric"] == "mAP" and js["n_boot"] == 100 and js["task"] == "cxrlt2026-task1"
    assert js["ranking"][0] == "m2"
    lib = rank_systems(y, {"base": ps[0], "m1": ps[1], "m2": ps[2]}, n_boot=100, seed=2,
                       groups=lteval.scoring.resolve_groups(lteval.tasks.get_task(None))
                       .indices(lteval.tasks.get_task(None).classes)).to_dict()
    for key in ("ranking", "rank_probabilities", "pairwise", "pairwise_p_holm", "kendall_tau",
                "values"):
        assert js[key] == lib[key], key
    # refuses to clobber without --force
    r = runner.invoke(app, ["rank", str(d / "m0.csv"), str(d / "m1.csv"), "--labels",
                            str(d / "labels.csv"), "-b", "10", "--json", str(out)])
    assert r.exit_code == 2 and "--force" in r.output


def test_rank_lower_is_better_metric_and_group(files):
    d, *_ = files
    r = runner.invoke(app, ["rank", str(d / "m0.csv"), str(d / "m2.csv"), "--labels",
                            str(d / "labels.csv"), "-b", "20", "--metric", "brier", "--json", "-"])
    assert r.exit_code == 0, r.output
    js = json.loads(r.output)
    assert js["higher_is_better"] is False
    assert js["values"][js["ranking"][0]] <= js["values"][js["ranking"][1]]
    r = runner.invoke(app, ["rank", str(d / "m0.csv"), str(d / "m2.csv"), "--labels",
                            str(d / "labels.csv"), "-b", "20", "--metric", "tail_mAP", "--json", "-"])
    assert r.exit_code == 0 and json.loads(r.output)["metric"] == "tail_mAP"


def test_rank_table_keeps_long_names_whole_at_80_columns(files):
    d, *_ = files
    r = runner.invoke(app, ["rank", f"{LONG}={d / 'm0.csv'}", f"{LONG}_v2={d / 'm1.csv'}",
                            str(d / "m2.csv"), "--labels", str(d / "labels.csv"), "-b", "30"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert all(len(line) <= 80 for line in lines), max(map(len, lines))
    assert any(LONG in line and f"{LONG}_v2" not in line for line in lines)
    assert any(f"{LONG}_v2" in line for line in lines)
    assert "Kendall's tau-b" in r.output
    # short names sit in the tables themselves
    r = runner.invoke(app, ["rank", str(d / "m0.csv"), str(d / "m1.csv"), "--labels",
                            str(d / "labels.csv"), "-b", "30"])
    assert any("m0" in line and "│" in line for line in r.output.splitlines())


@pytest.mark.parametrize("args,code,msg", [
    (["m0.csv"], 2, "at least two"),
    (["m0.csv", "missing.csv"], 2, "does not exist"),
    (["m0.csv", "m1.csv", "--metric", "mAPP"], 2, "did you mean 'mAP'"),
    (["a=m0.csv", "a=m1.csv"], 2, "more than once"),
    (["m0.csv", "m1.csv", "--cluster-by", "PatientID"], 2, "not a metadata column"),
])
def test_rank_errors(files, args, code, msg, monkeypatch):
    d, *_ = files
    monkeypatch.chdir(d)
    r = runner.invoke(app, ["rank", *args, "--labels", "labels.csv", "-b", "5"])
    assert r.exit_code == code, r.output
    assert msg in r.output
    assert "Traceback" not in r.output


def test_rank_mismatched_ids_is_input_error(files):
    d, ids, y, ps = files
    write_predictions(d / "short.csv", ids[:-1], ps[0][:-1])
    r = runner.invoke(app, ["rank", str(d / "m0.csv"), str(d / "short.csv"), "--labels",
                            str(d / "labels.csv"), "-b", "5"])
    assert r.exit_code == 1 and "have no prediction" in r.output


def test_rank_help():
    r = runner.invoke(app, ["rank", "--help"])
    assert r.exit_code == 0
    for opt in ("--labels", "--metric", "--bootstrap", "--seed", "--json", "--cluster-by"):
        assert opt in r.output


def test_system_names_default_to_unique_stems(tmp_path):
    names = lteval.scoring.system_names(["runs/a/test_predictions.csv",
                                         "runs/b/test_predictions.csv", "x=y.csv"])
    assert list(names) == ["test_predictions", "b/test_predictions", "x"]
