"""lteval's own outputs pass `lteval validate --strict` (issue 13): a run's predictions,
a post-training stage's, an ensemble's, `calibrate apply` and `make-submission`."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from lteval.cli import app
from lteval.io.tables import (PROB_DECIMALS, format_probability, read_predictions,
                              round_probabilities, write_labels, write_predictions)
from lteval.submission import validate_submission
from lteval.submission.values import MAX_DECIMALS, check_value, decimals
from lteval.tasks import CXRLT2026_TASK1_CLASSES as CLASSES

runner = CliRunner()
TASK = "cxrlt2026-task1"


def strict_ok(path, ids):
    r = validate_submission(path, TASK, [str(i) for i in ids], strict=True)
    assert r.valid and not r.warnings, [p.message for p in r.errors + r.warnings][:3]
    out = runner.invoke(app, ["validate", str(path), "--strict"])
    assert out.exit_code == 0, out.output


def hard_values(rng, n):
    """Probabilities that need every digit: tiny, near 1, repr with 17 digits, exact 0 and 1."""
    p = rng.random((n, 30))
    p[0, :5] = [0.0, 1.0, 1e-12, 1 - 1e-12, 0.5]
    p[1, :4] = [3e-9, 7e-9, 0.999999995, 0.1]
    return p


def test_format_probability_is_strict_and_exact_where_it_can_be():
    assert PROB_DECIMALS == MAX_DECIMALS
    rng = np.random.default_rng(0)
    for x in [0.0, -0.0, 1.0, 0.5, 0.1, 1e-12, 5e-9, 0.123456785, 1 - 1e-12, *rng.random(500)]:
        s = format_probability(x)
        assert check_value(s) == [] and decimals(s) <= 8, s
        assert abs(float(s) - x) <= 5e-9
        assert float(s) == round_probabilities(np.array([x]))[0]
    for s in ["0.5", "0.1", "0.12345678", "1", "0", "0.00000001"]:
        assert format_probability(float(s)) == s  # at most 8 decimals: written exactly


def test_run_predictions_are_strict(tmp_path):
    pytest.importorskip("torch")
    from lteval.train.predict import write_split

    rng = np.random.default_rng(1)
    ids = np.array([f"img{i:04d}.png" for i in range(60)])
    logits = rng.normal(scale=15, size=(60, 30))
    y = (rng.random((60, 30)) < 0.2).astype(int)
    write_split(tmp_path, "dev", ids, logits, TASK, y)
    strict_ok(tmp_path / "predictions" / "dev.csv", ids)
    # logits keep every digit (they feed post-training, they are not submissions)
    z = read_predictions(tmp_path / "logits" / "dev.csv", TASK, kind="logits").p
    assert np.array_equal(z, logits)


def test_stage_and_ensemble_outputs_are_strict(tmp_path):
    from lteval.posttrain.calib_stage import write_stage_split
    from lteval.posttrain.ensemble import ensemble
    from test_posttrain_fixtures import make_run_dir

    rng = np.random.default_rng(2)
    ids = np.array([f"s{i}.png" for i in range(40)])
    p = hard_values(rng, 40)
    write_stage_split(tmp_path / "stage", "dev", ids, p, np.log(p + 1e-300), TASK, label_src=None)
    strict_ok(tmp_path / "stage" / "predictions" / "dev.csv", ids)
    a, arr = make_run_dir(tmp_path, "a-00000001", seed=1)
    b, _ = make_run_dir(tmp_path, "b-00000002", seed=2)
    for merge in ("logits", "probs", "rank"):
        out = ensemble([a, b], tmp_path / f"e-{merge}", merge=merge)
        strict_ok(out / "predictions" / "dev.csv", arr["dev"][0])


def test_calibrate_apply_output_is_strict(tmp_path):
    rng = np.random.default_rng(3)
    ids = np.array([f"c{i:03d}.png" for i in range(300)])
    y = (rng.random((300, 30)) < 0.2).astype(int)
    y[:2] = 1
    y[2] = 0
    p = np.clip(0.5 * y + 0.5 * rng.random((300, 30)), 0, 1)
    write_labels(tmp_path / "l.csv", ids, y)
    write_predictions(tmp_path / "p.csv", ids, p)  # 17-digit reprs in
    for method in ("isotonic", "platt", "temperature"):
        cal = tmp_path / f"{method}.json"
        r = runner.invoke(app, ["calibrate", "fit", str(tmp_path / "p.csv"), "-l", str(tmp_path / "l.csv"),
                                "--input", "probs", "-m", method, "-o", str(cal)])
        assert r.exit_code == 0, r.output
        out = tmp_path / f"{method}.csv"
        r = runner.invoke(app, ["calibrate", "apply", str(cal), str(tmp_path / "p.csv"), "-o", str(out)])
        assert r.exit_code == 0, r.output
        strict_ok(out, ids)


def test_make_submission_output_is_strict(tmp_path):
    rng = np.random.default_rng(4)
    ids = [f"m{i:03d}.png" for i in range(50)]
    p = hard_values(rng, 50)
    write_predictions(tmp_path / "p.csv", np.array(ids), p)  # lteval's exact writer: 17 digits
    (tmp_path / "ids.csv").write_text("ImageID\n" + "\n".join(ids) + "\n")
    r = runner.invoke(app, ["make-submission", str(tmp_path / "p.csv"), "--ids", str(tmp_path / "ids.csv"),
                            "-o", str(tmp_path / "sub.csv")])
    assert r.exit_code == 0, r.output
    assert "rounded" in r.output and "more than 8 decimals" in r.output
    strict_ok(tmp_path / "sub.csv", ids)
    got = read_predictions(tmp_path / "sub.csv", TASK).p
    assert np.abs(got - p).max() <= 5e-9
    r = runner.invoke(app, ["make-submission", str(tmp_path / "p.csv"), "--ids", str(tmp_path / "ids.csv"),
                            "-o", str(tmp_path / "s2.csv"), "--decimals", "12"])
    assert r.exit_code == 2  # more than 8 decimals would fail --strict
