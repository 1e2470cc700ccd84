"""``lteval data`` commands: synth, info, preview, cache; errors are messages with exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from lteval.cli import app

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, ["data", *map(str, args)])


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "synth"
    r = _run("synth", out, "--n-train", 60, "--n-dev", 12, "--n-test", 12, "--size", 32, "--seed", 1,
             "--workers", 1)
    assert r.exit_code == 0, r.output
    assert "wrote 84 images" in r.output
    return out


def test_synth_then_info(made):
    r = _run("info", made, "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["n_train"] == 60 and info["n_removed"] == 24 and info["n_dev"] == 12 and info["synthetic"]
    assert sum(info["train_counts"].values()) > 0
    r = _run("info", made)
    assert r.exit_code == 0 and "training images: 60 (24 in Removal.csv dropped)" in r.output
    assert "all images present" in r.output


def test_synth_refuses_non_empty_dir(made):
    r = _run("synth", made, "--n-train", 60)
    assert r.exit_code == 2 and "--force" in r.output and "Traceback" not in r.output


def test_info_errors_are_clean(tmp_path, made):
    r = _run("info", tmp_path / "absent")
    assert r.exit_code == 2 and "not a directory" in r.output
    bad = tmp_path / "bad"
    bad.mkdir()
    lines = (made / "CXRLT_2026_training.csv").read_text().split("\n")
    lines[2] = lines[2].replace(",0,", ",2,", 1)
    (bad / "CXRLT_2026_training.csv").write_text("\n".join(lines))
    r = _run("info", bad, "--no-check")
    assert r.exit_code == 1 and "line 3" in r.output and "expected 0 or 1" in r.output


def test_preview_writes_a_grid(tmp_path):
    out = tmp_path / "grid.png"
    r = _run("preview", out, "--size", 40, "--columns", 10)
    assert r.exit_code == 0, r.output
    with Image.open(out) as im:
        assert im.size == (400, 3 * 52) and im.mode == "L"
        assert np.asarray(im).std() > 10
    assert _run("preview", out).exit_code == 2          # exists: needs --force


def test_cache_command(made):
    r = _run("cache", made, "--size", 16, "--workers", 1)
    assert r.exit_code == 0, r.output
    assert "cache of 84 images at 16px" in r.output
    assert (made / ".lteval_cache" / "16px" / "meta.json").exists()


def test_command_module_does_not_import_torch():
    code = ("import sys, lteval.commands.data, lteval.data.synth, lteval.data.source, lteval.data.splits, "
            "lteval.data.cache, lteval.data.imageio; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
