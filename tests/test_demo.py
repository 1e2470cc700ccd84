"""`lteval demo`: the fast path (no training) runs end to end; the full job is a slow test."""

import json

import pytest
from typer.testing import CliRunner

from lteval.cli import app

runner = CliRunner()


def test_demo_without_training_writes_report(tmp_path):
    r = runner.invoke(app, ["demo", "--no-train", "-o", str(tmp_path / "d"), "-b", "20"])
    assert r.exit_code == 0, r.output
    html = (tmp_path / "d" / "report.html").read_text()
    assert "model_a" in html and "model_b" in html
    assert "report:" in r.output
    # metadata: intervals resample patients, one strata table by view, both on the page too
    assert "clusters of 'PatientID'" in r.output
    assert "strata by 'view'" in r.output and "largest gap between 'view' strata" in r.output
    from html import unescape
    page = unescape(html)
    assert "resamples clusters of 'PatientID'" in page and 'id="strata"' in page
    assert all(f'data-run="model_{m}" data-split="{s}"' in page for m in "ab" for s in ("dev", "test"))


@pytest.mark.slow
def test_full_demo(tmp_path, monkeypatch):
    monkeypatch.setenv("LTEVAL_HOME", str(tmp_path / "home"))
    r = runner.invoke(app, ["demo", "-o", str(tmp_path / "d"), "-b", "20"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "d" / "report.html").exists()
    assert "What this budget shows" in r.output and "What it cannot show" in r.output
    run = next((tmp_path / "d" / "runs").iterdir())
    test = json.loads((run / "scores" / "test.json").read_text())
    assert test["overall"]["mAP"] > 0.06  # clearly above the constant-score baseline (~0.043)
