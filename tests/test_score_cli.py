"""`lteval score` / `lteval compare` end to end, the Python API, and bad input."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import lteval
from lteval.cli import app
from lteval.io.tables import read_labels, read_predictions, write_labels, write_predictions
from lteval.metrics import mean_average_precision
from lteval.tasks import CXRLT2026_TASK1_CLASSES as CLASSES

runner = CliRunner()


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(0)
    n = 200
    prev = np.geomspace(0.3, 0.01, 30)
    y = (rng.random((n, 30)) < prev).astype(int)
    y[0] = 1  # every class has a positive
    p = np.clip(0.3 * y + 0.7 * rng.random((n, 30)), 0, 1)
    ids = np.array([f"{i}_x-{i % 7}.png" for i in range(n)])
    write_labels(tmp_path / "labels.csv", ids, y)
    perm = rng.permutation(n)
    write_predictions(tmp_path / "preds.csv", ids[perm], p[perm])
    return tmp_path, ids, y, p


def test_score_json_schema_and_values(files):
    d, ids, y, p = files
    r = runner.invoke(app, ["score", str(d / "preds.csv"), "--labels", str(d / "labels.csv"),
                            "--json", str(d / "s.json"), "--bootstrap", "50"])
    assert r.exit_code == 0, r.output
    s = json.loads((d / "s.json").read_text())
    assert set(s) == {"lteval_version", "task", "n_samples", "classes", "threshold",
                      "empty_class_policy", "empty_classes", "overall", "per_class", "groups", "ci"}
    assert set(s["overall"]) == {"mAP", "mAUROC", "mF1", "ece", "mce", "brier"}
    assert s["classes"] == list(CLASSES) and s["n_samples"] == 200
    assert abs(s["overall"]["mAP"] - mean_average_precision(y, p)) < 1e-12
    assert set(s["per_class"]["Normal"]) == {"ap", "auroc", "f1", "precision", "recall", "ece", "n_pos"}
    assert s["groups"]["head"]["classes"] == ["Normal", "pleural effusion"]
    assert len(s["groups"]["tail"]["classes"]) == 7
    assert s["ci"]["n_boot"] == 50 and len(s["ci"]["mAP"]) == 2
    # the Python API gives the same dict
    api = lteval.score(d / "preds.csv", d / "labels.csv", n_boot=50).to_dict()
    assert api == s


def test_row_order_irrelevant_and_alias_id(files):
    d, ids, y, p = files
    text = (d / "preds.csv").read_text().replace("ImageID", "dicom_id", 1)
    (d / "alias.csv").write_text(text)
    a = lteval.score(d / "alias.csv", d / "labels.csv").to_dict()
    b = lteval.score(d / "preds.csv", d / "labels.csv").to_dict()
    assert a == b


def test_empty_class_policy(files):
    d, ids, y, p = files
    y2 = y.copy()
    y2[:, CLASSES.index("Mass")] = 0
    write_labels(d / "l2.csv", ids, y2)
    z = lteval.score(d / "preds.csv", d / "l2.csv", empty_class="zero").to_dict()
    e = lteval.score(d / "preds.csv", d / "l2.csv", empty_class="exclude").to_dict()
    assert z["empty_classes"] == ["Mass"] == e["empty_classes"]
    assert z["per_class"]["Mass"]["ap"] == 0.0 and e["per_class"]["Mass"]["ap"] is None
    assert z["per_class"]["Mass"]["auroc"] is None
    assert e["overall"]["mAP"] > z["overall"]["mAP"]
    r = runner.invoke(app, ["score", str(d / "preds.csv"), "-l", str(d / "l2.csv"), "--no-classes"])
    assert r.exit_code == 0 and "Mass" in r.output


def test_compare_cli(files):
    d, *_ = files
    r = runner.invoke(app, ["compare", str(d / "preds.csv"), str(d / "preds.csv"), "-l",
                            str(d / "labels.csv"), "-b", "30", "--json", "-"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["figures"]["mAP"]["diff"] == 0.0


def test_counts_file_and_train_labels(files, tmp_path):
    d, ids, y, p = files
    counts = "class,count\n" + "".join(f"{c},{i * 10}\n" for i, c in enumerate(CLASSES)) + "__total__,1000\n"
    (d / "counts.csv").write_text(counts)
    s = lteval.score(d / "preds.csv", d / "labels.csv", counts=d / "counts.csv").to_dict()
    assert "calcified densities" in s["groups"]["head"]["classes"]  # 290 / 1000 > 10 %
    assert "Normal" in s["groups"]["tail"]["classes"]  # 0 / 1000 < 1 %
    s2 = lteval.score(d / "preds.csv", d / "labels.csv", train_labels=d / "labels.csv").to_dict()
    assert set(s2["groups"]) == {"head", "medium", "tail"}


BAD = {
    "missing_column": lambda t: t.replace(",Mass", ",Mas", 1),
    "extra_column": None,
    "duplicate_id": None,
    "nan": None,
    "text": None,
    "out_of_range": None,
    "semicolon": lambda t: t.replace(",", ";"),
    "empty": lambda t: "",
    "html": lambda t: "<!DOCTYPE html><html><body>502</body></html>",
    "bom": lambda t: "\ufeff" + t,
    "too_many_fields": None,
}


def _mutate(kind, text):
    lines = text.splitlines()
    if kind == "duplicate_id":
        lines.append(lines[3])
    elif kind == "nan":
        f = lines[4].split(","); f[5] = "nan"; lines[4] = ",".join(f)
    elif kind == "text":
        f = lines[4].split(","); f[5] = "abc"; lines[4] = ",".join(f)
    elif kind == "out_of_range":
        f = lines[6].split(","); f[2] = "1.5"; lines[6] = ",".join(f)
    elif kind == "too_many_fields":
        lines[8] += ",0.1"
    elif kind == "extra_column":
        lines = [lines[0] + ",pneumoperitoneum"] + [ln + ",0.5" for ln in lines[1:]]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_predictions_give_one_clear_error(files, kind):
    d, *_ = files
    text = (d / "preds.csv").read_text()
    bad = BAD[kind](text) if BAD[kind] else _mutate(kind, text)
    (d / "bad.csv").write_text(bad, encoding="utf-8")
    r = runner.invoke(app, ["score", str(d / "bad.csv"), "-l", str(d / "labels.csv")])
    if kind == "bom":
        assert r.exit_code == 0, r.output
        return
    assert r.exit_code != 0
    assert "Traceback" not in r.output
    msg = r.output
    assert "bad.csv" in msg
    expect = {"missing_column": "'Mas'", "extra_column": "pneumoperitoneo",
              "duplicate_id": "duplicate ID", "nan": "NaN", "text": "'abc'", "out_of_range": "outside [0, 1]",
              "semicolon": "delimiter", "empty": "empty", "html": "HTML", "too_many_fields": "line 9"}[kind]
    assert expect in msg


def test_bad_labels_and_missing_ids(files):
    d, ids, y, p = files
    t = (d / "labels.csv").read_text().splitlines()
    f = t[3].split(","); f[4] = "2"; t[3] = ",".join(f)
    (d / "badl.csv").write_text("\n".join(t) + "\n")
    r = runner.invoke(app, ["score", str(d / "preds.csv"), "-l", str(d / "badl.csv")])
    assert r.exit_code == 1 and "not 0 or 1" in r.output and "line 4" in r.output
    write_labels(d / "fewer.csv", ids[:150], y[:150])
    r = runner.invoke(app, ["score", str(d / "preds.csv"), "-l", str(d / "fewer.csv")])
    assert r.exit_code == 1 and "50 predicted ID(s) are not in the labels" in r.output
    r = runner.invoke(app, ["score", str(d / "nope.csv"), "-l", str(d / "labels.csv")])
    assert r.exit_code == 2 and "does not exist" in r.output


def test_json_never_clobbers(files):
    d, *_ = files
    (d / "s.json").write_text("precious")
    r = runner.invoke(app, ["score", str(d / "preds.csv"), "-l", str(d / "labels.csv"), "--json", str(d / "s.json")])
    assert r.exit_code == 2 and (d / "s.json").read_text() == "precious"


def test_task2_and_class_file(tmp_path):
    from lteval.tasks import CXRLT2026_TASK2_CLASSES as T2

    rng = np.random.default_rng(1)
    ids = [f"i{k}" for k in range(40)]
    y = (rng.random((40, 6)) < 0.3).astype(int)
    y[0] = 1
    write_labels(tmp_path / "l.csv", ids, y, "cxrlt2026-task2")
    write_predictions(tmp_path / "p.csv", ids, rng.random((40, 6)), "cxrlt2026-task2")
    s = lteval.score(tmp_path / "p.csv", tmp_path / "l.csv", task="cxrlt2026-task2").to_dict()
    assert s["classes"] == list(T2) and s["groups"] == {}
    (tmp_path / "cls.txt").write_text("\t\n".join(T2) + "\t")  # official quirks: trailing TAB, no final newline
    s2 = lteval.score(tmp_path / "p.csv", tmp_path / "l.csv", task=str(tmp_path / "cls.txt")).to_dict()
    assert s2["overall"] == s["overall"]


def test_read_roundtrip(files):
    d, ids, y, p = files
    lab = read_labels(d / "labels.csv")
    np.testing.assert_array_equal(lab.y, y)
    pr = read_predictions(d / "preds.csv")
    order = np.argsort(pr.ids)
    np.testing.assert_array_equal(pr.p[order], p[np.argsort(ids)])


def test_scoring_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, lteval.cli, lteval.scoring, lteval.metrics; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_version_and_help():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and lteval.__version__ in r.output
    for cmd in (["--help"], ["score", "--help"], ["compare", "--help"]):
        r = runner.invoke(app, cmd)
        assert r.exit_code == 0 and "Usage" in r.output
