"""--metadata, --cluster-by and --strata-by: reader checks, clustered intervals, strata == subsets."""

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

import lteval
from lteval.cli import app
from lteval.errors import InputError, UsageError
from lteval.io.metadata import MetadataWarning, cluster_labels, read_metadata
from lteval.io.tables import write_labels, write_predictions
from lteval.metrics import bootstrap_ci, score_arrays
from lteval.metrics.strata import MISSING, stratum_labels
from lteval.tasks import CXRLT2026_TASK1_CLASSES as CLASSES

runner = CliRunner()


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(0)
    n = 240
    prev = np.geomspace(0.3, 0.02, 30)
    y = (rng.random((n, 30)) < prev).astype(int)
    y[:3] = 1
    p = np.clip(0.3 * y + 0.7 * rng.random((n, 30)), 0, 1)
    p2 = np.clip(0.2 * y + 0.8 * rng.random((n, 30)), 0, 1)
    ids = np.array([f"img{i:04d}.png" for i in range(n)])
    write_labels(tmp_path / "labels.csv", ids, y)
    perm = rng.permutation(n)
    write_predictions(tmp_path / "a.csv", ids[perm], p[perm])
    write_predictions(tmp_path / "b.csv", ids, p2)
    views = np.array(["PA", "AP", "LAT"])[rng.integers(0, 3, n)]
    age = rng.integers(18, 95, n)
    patient = rng.integers(0, 90, n)
    rows = [[ids[i], f"P{patient[i]}", views[i], age[i], "" if i % 50 == 7 else "F" if i % 2 else "M"]
            for i in range(n)]
    rows.append(["other_split.png", "P1", "PA", 40, "F"])  # rows for other images are allowed
    write_csv(tmp_path / "meta.csv", ["ImageID", "PatientID", "view", "age", "sex"], rows[::-1])
    return tmp_path, ids, y, p, p2, views, age, patient


# ---------------------------------------------------------------------------- clustered bootstrap
def test_copies_under_one_patient_keep_the_clustered_interval():
    rng = np.random.default_rng(3)
    n, C, k, B = 300, 5, 4, 400
    y = (rng.random((n, C)) < [0.4, 0.3, 0.2, 0.1, 0.05]).astype(int)
    p = np.clip(0.25 * y + rng.random((n, C)), 0, 1)
    yk, pk = np.tile(y, (k, 1)), np.tile(p, (k, 1))
    patient = np.tile(np.arange(n), k)
    orig = bootstrap_ci(y, p, n_boot=B, seed=1)
    image = bootstrap_ci(yk, pk, n_boot=B, seed=1)
    clustered = bootstrap_ci(yk, pk, n_boot=B, seed=1, clusters=patient)
    for fig in ("mAP", "mAUROC"):
        w0 = orig[fig][1] - orig[fig][0]
        wi = image[fig][1] - image[fig][0]
        wc = clustered[fig][1] - clustered[fig][0]
        assert wc == pytest.approx(w0, rel=0.02), fig   # as wide as the original's
        assert 0.38 < wi / w0 < 0.65, (fig, wi / w0)     # image-level: about 1/sqrt(k) = 0.5


def test_cluster_resample_equals_resampling_clusters_by_hand():
    from lteval.metrics.bootstrap import cluster_resample_weights
    rng = np.random.default_rng(0)
    clusters = np.array(["b", "a", "b", "c", "a", "d"])
    W = next(cluster_resample_weights(clusters, 5, seed=2))
    codes = np.array([0, 1, 0, 2, 1, 3])  # first-appearance order
    for b, child in enumerate(np.random.SeedSequence(2).spawn(5)):
        draw = np.random.default_rng(child).integers(0, 4, size=4)
        np.testing.assert_array_equal(W[b], np.bincount(draw, minlength=4)[codes])
    del rng


def test_score_and_compare_record_clusters(files):
    d, ids, y, p, p2, views, age, patient = files
    rep = lteval.score(d / "a.csv", d / "labels.csv", n_boot=50, metadata=d / "meta.csv",
                       cluster_by="PatientID")
    js = rep.to_dict()
    assert js["cluster_by"] == "PatientID" and js["n_clusters"] == len(np.unique(patient))
    ref = score_arrays(y, p, CLASSES, n_boot=50, clusters=np.array([f"P{x}" for x in patient]),
                       groups=lteval.scoring.resolve_groups(lteval.tasks.get_task(None)))
    assert js["ci"]["mAP"] == ref.to_dict()["ci"]["mAP"]
    c = lteval.compare(d / "a.csv", d / "b.csv", d / "labels.csv", n_boot=50,
                       metadata=d / "meta.csv", cluster_by="PatientID")
    assert c["cluster_by"] == "PatientID" and c["n_clusters"] == len(np.unique(patient))
    plain = lteval.compare(d / "a.csv", d / "b.csv", d / "labels.csv", n_boot=50)
    assert c["figures"]["mAP"]["ci"] != plain["figures"]["mAP"]["ci"]
    assert "cluster_by" not in plain


def test_cluster_by_from_the_labels_file_itself(tmp_path, files):
    d, ids, y, p, *_ = files
    rows = [[ids[i], f"{i // 3}", *y[i].tolist()] for i in range(len(ids))]
    write_csv(tmp_path / "lab_pid.csv", ["ImageID", "PatientID", *CLASSES], rows)
    rep = lteval.score(d / "a.csv", tmp_path / "lab_pid.csv", n_boot=20, cluster_by="PatientID")
    assert rep.to_dict()["n_clusters"] == len(ids) // 3


def test_rounded_patient_ids_warn(tmp_path):
    write_csv(tmp_path / "m.csv", ["ImageID", "PatientID"], [["a", "1.90E+38"], ["b", "1.90E+38"]])
    meta = read_metadata(tmp_path / "m.csv")
    with pytest.warns(MetadataWarning, match="scientific notation"):
        cluster_labels(meta, "PatientID")


# ---------------------------------------------------------------------------- metadata reader
@pytest.mark.parametrize("header,rows,match", [
    (["ID", "view"], [["a", "PA"]], "no ID column"),
    (["ImageID", "view"], [["a", "PA"], ["b", "AP"], ["a", "LAT"]], "duplicate ID 'a' on lines 2, 4"),
    (["ImageID", "view"], [["a", "PA"], ["b"]], "line 3: row has 1 fields, expected 2"),
    (["ImageID", "view"], [["", "PA"]], "empty ID"),
    (["ImageID", "view", "view"], [["a", "PA", "AP"]], "'view' appears more than once"),
])
def test_metadata_reader_errors(tmp_path, header, rows, match):
    write_csv(tmp_path / "m.csv", header, rows)
    with pytest.raises(InputError, match=match):
        read_metadata(tmp_path / "m.csv")


def test_metadata_reader_file_problems(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        read_metadata(tmp_path / "nope.csv")
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(InputError, match="empty"):
        read_metadata(tmp_path / "e.csv")
    (tmp_path / "s.csv").write_text("ImageID;view\na;PA\n")
    with pytest.raises(InputError, match="semicolon"):
        read_metadata(tmp_path / "s.csv")


def test_metadata_join_checks(files):
    d, ids, *_ = files
    meta = read_metadata(d / "meta.csv")
    al = meta.align(ids)
    np.testing.assert_array_equal(al.ids, ids)
    with pytest.raises(InputError, match="1 ID\\(s\\) of the labels have no metadata row.*'zzz'"):
        meta.align(np.array([*ids[:3], "zzz"]))
    with pytest.raises(UsageError, match="did you mean 'view'"):
        meta.column("vieww")


def test_organisers_evaluation_list_works_as_metadata(tmp_path):
    empties = "," * 30
    text = "ImageID,StudyDate_DICOM,PatientID" + empties + "\n"
    text += "\n".join(f"x{i}.png,20200101,{1000 + i // 2}{empties}" for i in range(6))
    (tmp_path / "CXRLT_2026_TEST_ALL_TASK1.csv").write_text(text)  # no final newline, 33 fields
    meta = read_metadata(tmp_path / "CXRLT_2026_TEST_ALL_TASK1.csv", drop_classes=True)
    assert list(meta.columns) == ["StudyDate_DICOM", "PatientID"]
    assert len(set(cluster_labels(meta, "PatientID"))) == 3


def test_empty_cluster_value_is_an_error(tmp_path):
    write_csv(tmp_path / "m.csv", ["ImageID", "PatientID"], [["a", "1"], ["b", ""]])
    with pytest.raises(InputError, match="1 evaluated image\\(s\\) have no 'PatientID' value.*'b'"):
        cluster_labels(read_metadata(tmp_path / "m.csv"), "PatientID")


# ---------------------------------------------------------------------------- strata
def test_stratum_labels_binning():
    age = np.array([str(a) for a in range(20, 80)] + [""])
    lab, order = stratum_labels(age, 3)
    assert order == ["< 40", "[40, 60)", ">= 60", MISSING]
    assert (lab == "< 40").sum() == 20 and (lab == MISSING).sum() == 1
    lab, order = stratum_labels(age, "30,50")
    assert order == ["< 30", "[30, 50)", ">= 50", MISSING]
    assert lab[age == "30"][0] == "[30, 50)"
    lab, order = stratum_labels(np.array(["2", "10", "1", "2"]), 4)   # few values: categorical
    assert order == ["1", "2", "10"]
    lab, order = stratum_labels(np.array(["PA", "AP", "PA"]))
    assert order == ["AP", "PA"]
    with pytest.raises(UsageError, match="--bins"):
        stratum_labels(age, "a,b")
    with pytest.raises(UsageError, match="increasing"):
        stratum_labels(age, "50,30")


def test_each_stratum_equals_scoring_that_subset_alone(files, tmp_path):
    d, ids, y, p, p2, views, age, patient = files
    rep = lteval.score(d / "a.csv", d / "labels.csv", n_boot=40, seed=3, metadata=d / "meta.csv",
                       strata_by=["view"], cluster_by="PatientID").to_dict()
    assert rep["strata_by"] == ["view"]
    assert list(rep["strata"]) == ["AP", "LAT", "PA"]
    for v in ("AP", "LAT", "PA"):
        m = views == v
        write_labels(tmp_path / f"lab_{v}.csv", ids[m], y[m])
        write_predictions(tmp_path / f"pred_{v}.csv", ids[m], p[m])
        alone = lteval.score(tmp_path / f"pred_{v}.csv", tmp_path / f"lab_{v}.csv", n_boot=40,
                             seed=3, metadata=d / "meta.csv", cluster_by="PatientID").to_dict()
        s = rep["strata"][v]
        assert s["n_samples"] == int(m.sum())
        assert s["overall"] == alone["overall"]
        assert s["ci"] == alone["ci"]
        assert s["n_clusters"] == alone["n_clusters"]
        for g, fig in alone["groups"].items():
            assert s["groups"][g] == {k: fig[k] for k in ("mAP", "mAUROC", "mF1")}
    gap = rep["strata_gap"]["view"]["mAP"]
    vals = {v: rep["strata"][v]["overall"]["mAP"] for v in ("AP", "LAT", "PA")}
    assert gap["gap"] == pytest.approx(max(vals.values()) - min(vals.values()))
    assert vals[gap["high"]] == max(vals.values()) and vals[gap["low"]] == min(vals.values())


def test_tiny_and_empty_strata_are_null_not_nan(files):
    d, *_ = files
    rep = lteval.score(d / "a.csv", d / "labels.csv", n_boot=10, metadata=d / "meta.csv",
                       strata_by=["sex", "age"], bins="30,200").to_dict()
    text = json.dumps(rep, allow_nan=False)  # raises on NaN
    assert "NaN" not in text
    assert rep["strata"]["age=>= 200"]["n_samples"] == 0
    assert rep["strata"]["age=>= 200"]["overall"]["mAP"] is None
    missing = rep["strata"][f"sex={MISSING}"]
    assert missing["n_samples"] == 5
    assert missing["overall"]["mAUROC"] is None or isinstance(missing["overall"]["mAUROC"], float)
    assert rep["strata"]["sex=F"]["column"] == "sex" and rep["strata"]["sex=F"]["value"] == "F"
    assert missing["n_empty_classes"] > 0 and "have no positives here" in missing["note"]


def test_strata_cli_table_and_errors(files):
    d, *_ = files
    r = runner.invoke(app, ["score", str(d / "a.csv"), "--labels", str(d / "labels.csv"),
                            "--metadata", str(d / "meta.csv"), "--strata-by", "view",
                            "--strata-by", "age", "--bins", "3", "-b", "20", "--no-classes"])
    assert r.exit_code == 0, r.output
    assert "strata by 'view'" in r.output and "largest gap" in r.output
    assert all(len(line) <= 80 for line in r.output.splitlines())
    r = runner.invoke(app, ["score", str(d / "a.csv"), "--labels", str(d / "labels.csv"),
                            "--metadata", str(d / "meta.csv"), "--strata-by", "vieww"])
    assert r.exit_code == 2 and "did you mean 'view'" in r.output
    r = runner.invoke(app, ["score", str(d / "a.csv"), "--labels", str(d / "labels.csv"),
                            "--metadata", str(d / "meta.csv"), "--cluster-by", "sex", "-b", "5"])
    assert r.exit_code == 1 and "have no 'sex' value" in r.output
    r = runner.invoke(app, ["compare", str(d / "a.csv"), str(d / "b.csv"), "--labels",
                            str(d / "labels.csv"), "--metadata", str(d / "meta.csv"),
                            "--cluster-by", "PatientID", "-b", "20", "--json", "-"])
    assert r.exit_code == 0 and json.loads(r.output)["cluster_by"] == "PatientID"


def test_compare_strata_equal_comparing_each_subset_alone(files, tmp_path):
    d, ids, y, p, p2, views, age, patient = files
    res = lteval.compare(d / "a.csv", d / "b.csv", d / "labels.csv", n_boot=30, seed=1,
                         metadata=d / "meta.csv", strata_by="view", cluster_by="PatientID")
    assert list(res["strata"]) == ["AP", "LAT", "PA"]
    for v in ("AP", "PA"):
        m = views == v
        write_labels(tmp_path / f"l{v}.csv", ids[m], y[m])
        write_predictions(tmp_path / f"a{v}.csv", ids[m], p[m])
        write_predictions(tmp_path / f"b{v}.csv", ids[m], p2[m])
        alone = lteval.compare(tmp_path / f"a{v}.csv", tmp_path / f"b{v}.csv",
                               tmp_path / f"l{v}.csv", n_boot=30, seed=1,
                               metadata=d / "meta.csv", cluster_by="PatientID")
        assert res["strata"][v]["figures"] == alone["figures"]
        assert res["strata"][v]["n_samples"] == int(m.sum())
    r = runner.invoke(app, ["compare", str(d / "a.csv"), str(d / "b.csv"), "--labels",
                            str(d / "labels.csv"), "--metadata", str(d / "meta.csv"),
                            "--strata-by", "sex", "-b", "20"])
    assert r.exit_code == 0, r.output
    assert "B − A by 'sex'" in r.output and "(missing)" in r.output
