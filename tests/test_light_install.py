"""The plain install: `python -m build` (sdist, then the wheel from it), the wheel installed
NON-editable into a fresh venv without torch, every torch-free command run from a folder outside
the repository (``baseline list/show`` included), every training command refusing with one line
that names ``lteval[train]``.

Needs the package registry (as `pip install` does) and the dev extra's ``build``. About a minute
(install figures: docs/benchmarks.md, "Install").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest

pytest.importorskip("build", reason="the dev extra's 'build' (pip install -e '.[dev]')")

#: ~2-3 min with the install; run by .ci/run on its own line (./quickstart.sh test -m slow FILES)
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
TRAIN_ONLY = ("torch", "torchvision", "timm", "sklearn", "netcal")


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(HF_HUB_OFFLINE="1", COLUMNS="100", NO_COLOR="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


@pytest.fixture(scope="module")
def light(tmp_path_factory):
    """(lteval executable, python executable, work folder outside the repository, install seconds)."""
    root = tmp_path_factory.mktemp("light")
    dist = root / "dist"
    r = subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)],
                       capture_output=True, text=True, env=_env(), timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    wheels, sdists = list(dist.glob("lteval-*.whl")), list(dist.glob("lteval-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in dist.iterdir())
    vdir = root / "venv"
    venv.EnvBuilder(with_pip=True).create(vdir)
    py = vdir / "bin" / "python"
    t0 = time.perf_counter()
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheels[0])],
                       capture_output=True, text=True, env=_env(), timeout=900)
    seconds = time.perf_counter() - t0
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    work = root / "work"
    work.mkdir()
    print(f"\ncore install from the wheel: {seconds:.1f} s", file=sys.stderr)
    return vdir / "bin" / "lteval", py, work, seconds


def _run(light, *args, rc=0):
    exe, _, work, _ = light
    r = subprocess.run([str(exe), *map(str, args)], cwd=work, capture_output=True, text=True,
                       env=_env(), timeout=300)
    assert r.returncode == rc, f"lteval {' '.join(map(str, args))}: rc {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    return r


def test_installed_from_the_wheel_without_torch(light):
    _, py, work, _ = light
    code = ("import importlib.util, json, lteval; print(json.dumps({'file': lteval.__file__, "
            f"'missing': [m for m in {TRAIN_ONLY!r} if importlib.util.find_spec(m) is None]}}))")
    r = subprocess.run([str(py), "-c", code], cwd=work, capture_output=True, text=True, env=_env())
    got = json.loads(r.stdout)
    assert "site-packages" in got["file"] and not got["file"].startswith(str(REPO))
    assert got["missing"] == list(TRAIN_ONLY)  # none of the training or reference libraries came along


def test_every_help_works(light):
    """``--help`` of every command and sub-command, in the venv (one process: typer's test runner)."""
    _, py, work, _ = light
    code = """if 1:
        import json
        from typer.main import get_command
        from typer.testing import CliRunner
        from lteval.cli import app
        def walk(cmd, path):
            yield path
            for name, sub in getattr(cmd, "commands", {}).items():
                yield from walk(sub, path + [name])
        runner, out = CliRunner(), {}
        for p in walk(get_command(app), []):
            r = runner.invoke(app, p + ["--help"])
            out[" ".join(p)] = [r.exit_code, "Usage" in r.output, repr(r.exception)]
        print(json.dumps(out))
    """
    r = subprocess.run([str(py), "-c", code], cwd=work, capture_output=True, text=True, env=_env(),
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout)
    assert {"baseline run", "baseline grid", "demo", "calibrate cv", "data cache"} <= set(got)
    assert len(got) > 20
    bad = {k: v for k, v in got.items() if v[:2] != [0, True]}
    assert not bad, bad


def test_scoring_validation_calibration_report(light):
    _run(light, "demo", "--no-train", "-o", "ex", "-b", "20")  # example labels + two models' predictions
    work = light[2]
    ex = work / "ex"
    assert (ex / "report.html").stat().st_size > 10_000
    _run(light, "score", ex / "model_a_test.csv", "--labels", ex / "labels_test.csv", "-b", "20",
         "--json", "s.json")
    overall = json.loads((work / "s.json").read_text())["overall"]
    assert 0 < overall["mAP"] < 1
    _run(light, "compare", ex / "model_a_test.csv", ex / "model_b_test.csv", "--labels",
         ex / "labels_test.csv", "-b", "20")
    _run(light, "validate", ex / "model_a_test.csv")
    bad = work / "submission_bad.csv"
    bad.write_text((ex / "model_a_test.csv").read_text().replace(",", ",x", 1))
    r = _run(light, "validate", bad, rc=1)
    assert "INVALID" in r.stdout and "line 2" in r.stdout
    _run(light, "calibrate", "fit", ex / "model_a_dev.csv", "--labels", ex / "labels_dev.csv",
         "--input", "probs", "--method", "isotonic", "--thresholds", "f1", "-o", "cal.json")
    _run(light, "calibrate", "apply", "cal.json", ex / "model_a_test.csv", "-o", "cal_test.csv")
    _run(light, "calibrate", "cv", ex / "model_a_dev.csv", "--labels", ex / "labels_dev.csv",
         "--input", "probs", "--method", "all", "--bootstrap", "10")
    _run(light, "report", "--pred", f"a={ex / 'model_a_dev.csv'}:{ex / 'model_a_test.csv'}",
         "--dev-labels", ex / "labels_dev.csv", "--test-labels", ex / "labels_test.csv",
         "--bootstrap", "10", "-o", "r.html")
    html = (work / "r.html").read_text()
    js = (REPO / "lteval" / "report" / "templates" / "report.js").read_text()
    assert "<script" in html and js.splitlines()[2].strip() in html  # the template and its JS were found
    _run(light, "leaderboard", "show")


def test_data_commands(light):
    _run(light, "data", "synth", "syn", "--n-train", "60", "--n-dev", "20", "--n-test", "20",
         "--size", "32", "--workers", "1")
    assert (light[2] / "syn" / "CXRLT_2026_training.csv").is_file()
    _run(light, "data", "info", "syn")
    _run(light, "data", "preview", "preview.png", "--size", "48")
    assert (light[2] / "preview.png").stat().st_size > 1000


def test_baseline_tomls_found(light):
    r = _run(light, "baseline", "list", "--json")
    names = {b["name"] for b in json.loads(r.stdout)}
    assert names == {p.stem for p in (REPO / "baselines").glob("*.toml")}
    assert "convnext_ldam_drw" in _run(light, "baseline", "list").stdout


def test_baseline_show_works_without_torch(light):
    """The installed wheel resolves a baseline (TOML from <prefix>/share, loss and backbone metadata
    from the torch-free specs) and prints the same config and hash as this checkout."""
    from lteval.train.baselines import resolve

    for name, preset in (("convnext_ldam_drw", "seed"), ("resnet50_dbloss", "smoke")):
        r = _run(light, "baseline", "show", name, "--preset", preset)
        shown = json.loads(r.stdout)
        want = resolve(name, preset).to_dict()
        assert {k: shown[k] for k in want} == want
        assert f"{name}-{want['config_hash'][:8]}" in r.stderr
    r = _run(light, "baseline", "show", "convnext_ldam_drw+crt+calib", "--preset", "cpu")
    assert set(json.loads(r.stdout)["post_training"]) == {"crt", "calib"}


@pytest.mark.parametrize("args, name", [
    (["baseline", "run", "convnext_ldam_drw"], "baseline run"),
    (["baseline", "run", "convnext_ldam_drw+crt+calib"], "baseline run"),
    (["baseline", "grid", "--backbones", "resnet50"], "baseline grid"),
    (["demo"], "demo"),
])
def test_training_commands_exit_2_with_one_line(light, args, name):
    r = _run(light, *args, rc=2)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert f"'lteval {name}'" in lines[0] and "pip install 'lteval[train]'" in lines[0]
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert not (light[2] / "runs").exists() and not (light[2] / "lteval-demo").exists()
