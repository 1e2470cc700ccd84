"""lteval report --metadata / --cluster-by / --strata-by: the same numbers as lteval score / rank."""

from __future__ import annotations

import json
from html import unescape
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import lteval
from lteval.cli import app
from lteval.metrics.bootstrap import bootstrap_distribution, percentile_ci
from lteval.report import PredSource, build_report
from lteval.report.synthetic import make_run
from lteval.scoring import rank

runner = CliRunner()
SEED = 5
N_BOOT = 40


def _data(html: str) -> dict:
    start = html.index('<script type="application/json"')
    body = html[html.index(">", start) + 1: html.index("</script>", start)]
    return json.loads(body)


def _write_meta(path: Path, ids: list[str], *, per_patient: int = 3) -> Path:
    rng = np.random.default_rng(0)
    lines = ["ImageID,PatientID,view,age"]
    for i, x in enumerate(ids):
        view = ("PA", "AP", "LAT")[int(rng.integers(0, 3))]
        lines.append(f"{x},P{i // per_patient:05d},{view},{int(rng.integers(20, 90))}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("metaruns")
    a = make_run(root, "alpha", seed=1, n_dev=180, n_test=150)
    b = make_run(root, "beta", seed=2, n_dev=180, n_test=150, strength=2.4)
    ids = []
    for split in ("dev", "test"):
        ids += [ln.split(",", 1)[0] for ln in
                (a / "labels" / f"{split}.csv").read_text().splitlines()[1:]]
    meta = _write_meta(root / "metadata.csv", ids)
    return root, a, b, meta


@pytest.fixture(scope="module")
def clustered(runs):
    _, a, b, meta = runs
    html = build_report([a, b], bootstrap=N_BOOT, seed=SEED, metadata=meta, cluster_by="PatientID",
                        strata_by=["view", "age"], bins="40,60")
    return html, _data(html)


def _against_score(runs, data, **score_kw):
    """For each run and split of the report's data: (run, split, seed, the report's entry for the
    run, ``lteval.score`` of the same files with the report's seed for that split and ``score_kw``)."""
    _, a, b, meta = runs
    got = {r["name"]: r for r in data["runs"]}
    for run in (a, b):
        for split, seed in (("dev", SEED), ("test", SEED + 1)):
            ref = lteval.score(run / "predictions" / f"{split}.csv", run / "labels" / f"{split}.csv",
                               n_boot=N_BOOT, seed=seed, metadata=meta, **score_kw).to_dict()
            yield run, split, seed, got[run.name], ref


def test_clustered_intervals_equal_lteval_score_cluster_by(runs, clustered):
    html, data = clustered
    for run, split, seed, entry, ref in _against_score(runs, data, cluster_by="PatientID"):
        g = entry[split]
        assert g["n_clusters"] == ref["n_clusters"] == (60 if split == "dev" else 50)
        assert g["cluster_by"] == "PatientID"
        for k in ("mAP", "mAUROC", "mF1", "ece", "tail.mAP", "head.mAP"):
            assert g["ci"][k] == ref["ci"][k], (run.name, split, k)
        # and they differ from the image-level intervals (clustering did something)
        plain = lteval.score(run / "predictions" / f"{split}.csv",
                             run / "labels" / f"{split}.csv", n_boot=N_BOOT, seed=seed).to_dict()
        assert g["ci"]["mAP"] != plain["ci"]["mAP"]
    assert "resamples clusters of 'PatientID'" in unescape(html)
    assert "n_clusters: dev 60, test 50" in html


def test_clustered_gap_interval_uses_cluster_resamples(runs, clustered):
    _, a, _, meta = runs
    html, _ = clustered
    from lteval.io.metadata import read_metadata
    from lteval.io.tables import align, read_labels, read_predictions

    md = read_metadata(meta, "cxrlt2026-task1")
    dists = []
    for split, seed in (("dev", SEED), ("test", SEED + 1)):
        ids, y, p = align(read_labels(a / "labels" / f"{split}.csv", "cxrlt2026-task1"),
                          read_predictions(a / "predictions" / f"{split}.csv", "cxrlt2026-task1"))
        cl = md.align(ids).column("PatientID")
        dists.append(bootstrap_distribution(y, p, n_boot=N_BOOT, seed=seed, clusters=cl)["mAP"])
    lo, hi = percentile_ci(dists[1] - dists[0], 0.95)
    assert f"[{lo:.3f}, {hi:.3f}]" in html


def test_clustered_rank_equals_lteval_rank_cluster_by(runs, clustered):
    _, a, b, meta = runs
    html, data = clustered
    (view,) = data["rankings"]
    ref = rank({"alpha": a / "predictions" / "test.csv", "beta": b / "predictions" / "test.csv"},
               a / "labels" / "test.csv", n_boot=N_BOOT, seed=SEED + 1, metadata=meta,
               cluster_by="PatientID").to_dict()
    assert view["n_clusters"] == ref["n_clusters"] == 50 and view["cluster_by"] == "PatientID"
    for k in ("ranking", "rank_probabilities", "pairwise", "pairwise_p_holm", "kendall_tau"):
        assert view[k] == ref[k], k
    assert "(50 clusters of PatientID)" in html


def test_strata_equal_lteval_score_strata_by(runs, clustered):
    a = runs[1]
    html, data = clustered
    got = {r["name"]: r for r in data["runs"]}
    for run, split, seed, entry, ref in _against_score(runs, data, cluster_by="PatientID",
                                                       strata_by=["view", "age"], bins="40,60"):
        mine = entry["strata"][split]
        assert mine["strata"] == ref["strata"]
        assert mine["strata_gap"] == ref["strata_gap"]
        assert set(ref["strata"]) >= {"view=AP", "view=PA", "view=LAT", "age=< 40",
                                      "age=[40, 60)", "age=>= 60"}
    # the page's strata section shows them, computed here
    e = got[a.name]["strata"]["test"]["strata"]["view=PA"]
    assert f"{e['overall']['mAP']:.3f}" in html
    assert "scored as 'lteval score --strata-by' does" in unescape(html)


def test_strata_without_clusters_equal_score(runs):
    _, a, _, meta = runs
    data = _data(build_report([a], bootstrap=0, metadata=meta, strata_by=["view"]))
    ref = lteval.score(a / "predictions" / "dev.csv", a / "labels" / "dev.csv", metadata=meta,
                       strata_by=["view"]).to_dict()
    assert data["runs"][0]["strata"]["dev"]["strata"] == ref["strata"]
    assert "n_clusters" not in data["runs"][0]["dev"]


def test_nothing_changes_without_the_flags(runs):
    _, a, b, _ = runs
    plain = _data(build_report([a, b], bootstrap=20, seed=1))
    assert all("strata" not in r and "n_clusters" not in (r["dev"] or {}) for r in plain["runs"])
    assert "cluster_by" not in plain


def _synth_home(tmp_path: Path, a: Path, meta: Path, monkeypatch) -> Path:
    home = tmp_path / "home"
    d = home / "synth" / "n40-d180-t150-64px-seed0"
    d.mkdir(parents=True)
    (d / "metadata.csv").write_text(meta.read_text())
    monkeypatch.setenv("LTEVAL_HOME", str(home))
    return d / "metadata.csv"


def _synth_run(root: Path, name: str, seed: int) -> Path:
    r = make_run(root, name, seed=seed, n_dev=180, n_test=150)
    cfg = json.loads((r / "config.json").read_text())
    cfg.update(data="synth", synth_n_train=40, synth_n_dev=180, synth_n_test=150, synth_size=64,
               synth_seed=0)
    (r / "config.json").write_text(json.dumps(cfg))
    return r


def test_synthetic_runs_default_to_the_sets_metadata(runs, tmp_path, monkeypatch):
    _, _, _, meta = runs
    a = _synth_run(tmp_path, "s1", 1)
    b = _synth_run(tmp_path, "s2", 2)
    path = _synth_home(tmp_path, a, meta, monkeypatch)
    html = build_report([a, b], bootstrap=10, cluster_by="PatientID")
    assert f"metadata from {path}: the synthetic set every run here was trained on" in unescape(html)
    ref = lteval.score(a / "predictions" / "dev.csv", a / "labels" / "dev.csv", n_boot=10, seed=0,
                       metadata=meta, cluster_by="PatientID").to_dict()
    assert _data(html)["runs"][0]["dev"]["ci"]["mAP"] == ref["ci"]["mAP"]
    # no flags: the metadata is not used at all
    assert "n_clusters" not in _data(build_report([a], bootstrap=10))["runs"][0]["dev"]
    # a set that does not hold the runs' images (regenerated since): a clear error
    c = make_run(tmp_path, "s3", seed=3, n_dev=30, n_test=30, labels_seed=99)
    cfg = json.loads((a / "config.json").read_text())
    (c / "config.json").write_text(json.dumps({**cfg, "name": "s3"}))
    r = runner.invoke(app, ["report", str(c), "--cluster-by", "PatientID", "-o",
                            str(tmp_path / "c.html"), "--bootstrap", "5"])
    assert r.exit_code != 0 and "was the set regenerated" in r.output
    assert "Traceback" not in r.output
    # ambiguous (a prediction-file source is not on the set): --metadata is asked for
    r = runner.invoke(app, ["report", str(a), "--pred", f"x={a / 'predictions' / 'dev.csv'}",
                            "--dev-labels", str(a / "labels" / "dev.csv"), "--cluster-by",
                            "PatientID", "-o", str(tmp_path / "r.html"), "--bootstrap", "5"])
    assert r.exit_code != 0 and "need --metadata" in r.output and "Traceback" not in r.output


def test_cli_options_and_errors(runs, tmp_path):
    _, a, b, meta = runs
    out = tmp_path / "r.html"
    r = runner.invoke(app, ["report", str(a), str(b), "--metadata", str(meta), "--cluster-by",
                            "PatientID", "--strata-by", "view", "--bootstrap", "10", "-o", str(out)])
    assert r.exit_code == 0, r.output
    html = out.read_text()
    assert "resamples clusters of 'PatientID'" in unescape(html) and 'id="strata"' in html
    r = runner.invoke(app, ["report", str(a), "--metadata", str(meta), "--strata-by", "veiw",
                            "-o", str(tmp_path / "x.html")])
    assert r.exit_code != 0 and "'veiw' is not a metadata column" in r.output
    assert "'view'" in r.output and "Traceback" not in r.output
    short = tmp_path / "short.csv"
    short.write_text("\n".join(meta.read_text().splitlines()[:50]) + "\n")
    r = runner.invoke(app, ["report", str(a), "--metadata", str(short), "--cluster-by",
                            "PatientID", "-o", str(tmp_path / "y.html")])
    assert r.exit_code != 0 and "have no metadata row" in r.output and "Traceback" not in r.output
