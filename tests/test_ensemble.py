"""Ensembles over run directories: one run == itself; merges against direct formulas; CLI."""

import json

import numpy as np
import pytest
from scipy.special import expit
from scipy.stats import rankdata
from typer.testing import CliRunner

from lteval.errors import InputError, OutputExistsError, UsageError
from lteval.io.tables import read_predictions
from lteval.metrics import average_precision
from lteval.posttrain.ensemble import ensemble, merge_scores
from test_posttrain_fixtures import TASK, make_run_dir


def _read(d, split, kind="probs"):
    folder = "predictions" if kind == "probs" else "logits"
    return read_predictions(d / folder / f"{split}.csv", TASK, kind=kind)


def test_ensemble_of_one_run_equals_that_run(tmp_path):
    run, _ = make_run_dir(tmp_path)
    for merge in ("logits", "probs"):
        out = ensemble([run], tmp_path / f"ens-{merge}", merge=merge)
        for s in ("val", "calib", "dev", "test"):
            a, b = _read(run, s), _read(out, s)
            assert list(a.ids) == list(b.ids)
            assert np.array_equal(a.p, b.p), (merge, s)
            sc = json.loads((out / "scores" / f"{s}.json").read_text())
            from lteval import score
            ref = score(run / "predictions" / f"{s}.csv", run / "labels" / f"{s}.csv", task=TASK).to_dict()
            assert sc["overall"] == ref["overall"] and sc["per_class"] == ref["per_class"]
        assert np.array_equal(_read(run, "dev", "logits").p, _read(out, "dev", "logits").p) or merge == "probs"
    # rank merge of one run keeps every per-class ranking (AP identical)
    out = ensemble([run], tmp_path / "ens-rank", merge="rank")
    from lteval.io.tables import read_labels
    y = read_labels(run / "labels" / "dev.csv", TASK).y
    np.testing.assert_array_equal(average_precision(y, _read(run, "dev").p), average_precision(y, _read(out, "dev").p))


def test_merges_match_formulas_and_rows_are_joined_by_id(tmp_path):
    a, arr_a = make_run_dir(tmp_path, "a-00000001", seed=1)
    b, arr_b = make_run_dir(tmp_path, "b-00000002", seed=2)
    # shuffle b's dev rows: the ensemble must join by ImageID, not by position
    from lteval.io.tables import write_predictions
    perm = np.random.default_rng(0).permutation(len(arr_b["dev"][0]))
    ids_b, _, z_b = arr_b["dev"]
    write_predictions(b / "logits" / "dev.csv", ids_b[perm], z_b[perm], TASK, force=True)
    write_predictions(b / "predictions" / "dev.csv", ids_b[perm], expit(z_b[perm]), TASK, force=True)
    za, zb = arr_a["dev"][2], z_b
    out = ensemble([a, b], tmp_path / "e1", weights=[3, 1], merge="logits")
    np.testing.assert_allclose(_read(out, "dev", "logits").p, 0.75 * za + 0.25 * zb, rtol=1e-12)
    out = ensemble([a, b], tmp_path / "e2", weights=[1, 1], merge="probs")
    from lteval.io.tables import round_probabilities
    pa = round_probabilities(expit(za))  # a's predictions as the run wrote them (8 decimals)
    np.testing.assert_allclose(_read(out, "dev").p, (pa + expit(zb)) / 2, rtol=0, atol=5e-9)
    out = ensemble([a, b], tmp_path / "e3", merge="rank")
    n = len(za)
    want = ((rankdata(pa, axis=0) - 0.5) / n + (rankdata(expit(zb), axis=0) - 0.5) / n) / 2
    np.testing.assert_allclose(_read(out, "dev").p, want, rtol=0, atol=5e-9)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["ensemble"]["merge"] == "rank" and len(cfg["ensemble"]["members"]) == 2


def test_errors(tmp_path):
    a, _ = make_run_dir(tmp_path, "a-00000001")
    c, _ = make_run_dir(tmp_path, "c-00000003", id_seed=5, n={"val": 10, "calib": 10, "dev": 40, "test": 40})
    with pytest.raises(InputError):
        ensemble([a, c], tmp_path / "bad")
    with pytest.raises(UsageError):
        ensemble([a], tmp_path / "w", weights=[1, 2])
    with pytest.raises(UsageError):
        ensemble([a], tmp_path / "w", merge="median")
    with pytest.raises(UsageError):
        merge_scores([np.zeros((2, 2))], weights=[-1])
    ensemble([a], tmp_path / "x")
    with pytest.raises(OutputExistsError):
        ensemble([a], tmp_path / "x")
    ensemble([a], tmp_path / "x", force=True)  # an earlier ensemble is replaced with --force
    (tmp_path / "notours").mkdir()
    (tmp_path / "notours" / "f.txt").write_text("keep me")
    with pytest.raises(OutputExistsError):
        ensemble([a], tmp_path / "notours", force=True)
    assert (tmp_path / "notours" / "f.txt").read_text() == "keep me"


def test_cli(tmp_path):
    from lteval.cli import app

    a, _ = make_run_dir(tmp_path, "a-00000001", seed=1)
    b, _ = make_run_dir(tmp_path, "b-00000002", seed=2)
    r = CliRunner().invoke(app, ["ensemble", str(a), str(b), "--weights", "2,1", "--merge", "probs",
                                 "-o", str(tmp_path / "e")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "e" / "scores" / "test.json").is_file() and (tmp_path / "e" / "DONE").is_file()
    r = CliRunner().invoke(app, ["ensemble", str(a), "--weights", "x", "-o", str(tmp_path / "f")])
    assert r.exit_code == 2 and "weights" in r.output
    r = CliRunner().invoke(app, ["ensemble", "--help"])
    assert r.exit_code == 0 and "rank" in r.output
