"""The CI integrations: the pre-commit hook's entry command and the GitHub Action's script.

pre-commit itself is not installed here (``pre-commit try-repo`` would pip-install lteval and
PyTorch into a fresh environment), so the hook is tested by running its entry command the way
pre-commit does: ``entry + args + matching filenames``.
"""

from __future__ import annotations

import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from lteval.tasks import CXRLT2026_TASK1_CLASSES as C1

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HEADER = "ImageID," + ",".join(C1)


def env():
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    e["LTEVAL_NO_PROGRESS"] = "1"
    return e


def submission(path, n=10, bad=False, seed=0):
    rng = random.Random(seed)
    ids = [f"{rng.getrandbits(100)}_{k}.png" for k in range(n)]
    rows = [i + "," + ",".join(f"{rng.random():.4f}" for _ in C1) for i in ids]
    if bad:
        rows[2] = rows[2].replace(",0.", ",2.", 1)
    path.write_text("\n".join([HEADER] + rows) + "\n")
    return ids


@pytest.fixture(scope="module")
def hooks():
    return {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}


@pytest.fixture(autouse=True)
def _lteval_on_path():
    if shutil.which("lteval", path=env()["PATH"]) is None:
        pytest.skip("the lteval console script is not installed")


def test_hook_definitions(hooks):
    assert set(hooks) == {"lteval-validate", "lteval-validate-isolated"}
    for h in hooks.values():
        assert h["entry"] == "lteval validate" and h["pass_filenames"] is True
        assert h["language"] in ("system", "python")
    assert hooks["lteval-validate"]["language"] == "system"


@pytest.mark.parametrize("path,matches", [
    ("submission.csv", True), ("subs/submission_task1.csv", True), ("submission-dev.zip", True),
    ("Submission.CSV", True), ("predictions.csv", False), ("submission.csv.bak", False),
    ("my_submission.csv", False), ("submission/readme.md", False),
])
def test_hook_file_pattern(hooks, path, matches):
    # pre-commit selects files with re.search on the repository-relative path
    assert bool(re.search(hooks["lteval-validate"]["files"], path)) is matches


def run_hook(hook, files, cwd, args=()):
    cmd = shlex.split(hook["entry"]) + list(hook.get("args", [])) + list(args) + [str(f) for f in files]
    return subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True, timeout=60)


def test_hook_entry_command(hooks, tmp_path):
    hook = hooks["lteval-validate"]
    good = tmp_path / "submission.csv"
    ids = submission(good)
    bad = tmp_path / "submission_bad.csv"
    submission(bad, bad=True)
    r = run_hook(hook, [good], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_hook(hook, [good, bad], tmp_path)
    assert r.returncode == 1 and "submission_bad.csv: INVALID" in r.stdout
    assert "line 4, column 'Normal'" in r.stdout and "Traceback" not in r.stderr
    (tmp_path / "ids.txt").write_text("\n".join(ids[:-1]))
    r = run_hook(hook, [good], tmp_path, args=["--ids", "ids.txt"])
    assert r.returncode == 1 and "unexpected-id" in r.stdout


def _validate_step():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) >= {"files", "task", "ids"}
    (step,) = [s for s in action["runs"]["steps"] if s.get("id") == "validate"]
    assert step["shell"] == "bash" and "lteval validate" in step["run"]
    # inputs reach the script through env, never pasted into it (no script injection)
    assert "${{" not in step["run"]
    return step


def run_action(tmp_path, files, task="cxrlt2026-task1", ids="", strict="false"):
    step = _validate_step()
    out = tmp_path / "github_output"
    out.write_text("")
    e = env()
    e.update(INPUT_FILES=files, INPUT_TASK=task, INPUT_IDS=ids, INPUT_STRICT=strict,
             GITHUB_OUTPUT=str(out))
    r = subprocess.run(["bash", "-c", step["run"]], cwd=tmp_path, env=e, capture_output=True,
                       text=True, timeout=60)
    return r, out.read_text()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_action_script(tmp_path):
    (tmp_path / "subs" / "dev").mkdir(parents=True)
    ids = submission(tmp_path / "subs" / "dev" / "submission.csv")
    submission(tmp_path / "subs" / "submission2.csv", seed=1)
    r, out = run_action(tmp_path, "subs/**/*.csv")
    assert r.returncode == 0 and out.strip() == "valid=true", r.stdout + r.stderr
    assert r.stdout.count(": valid") == 2

    (tmp_path / "ids.txt").write_text("\n".join(ids))
    r, out = run_action(tmp_path, "subs/dev/submission.csv\nsubs/submission2.csv", ids="ids.txt")
    assert r.returncode == 1 and out.strip() == "valid=false"
    assert re.search(r"^::error file=subs/submission2\.csv,line=2,title=lteval unexpected-id::",
                     r.stdout, re.M)

    submission(tmp_path / "bad.csv", bad=True)
    with zipfile.ZipFile(tmp_path / "upload.zip", "w") as z:
        z.write(tmp_path / "bad.csv", "bad.csv")
        z.writestr("code/run.py", "print(1)")
    r, _ = run_action(tmp_path, "upload.zip")
    assert r.returncode == 1
    assert "::error file=upload.zip,title=lteval out-of-range::bad.csv, line 4, column 'Normal'" in r.stdout

    r, out = run_action(tmp_path, "nothing*.csv subs/dev/submission.csv")
    assert r.returncode == 0 and "::warning::lteval: no file matches 'nothing*.csv'" in r.stdout
    r, out = run_action(tmp_path, "nothing*.csv none/*.zip")
    assert r.returncode == 2 and "::error::lteval: no submission file matches" in r.stdout
    assert out.strip() == "valid=false"

    hdr = (tmp_path / "subs" / "submission2.csv").read_text().replace("ImageID", "dicom_id", 1)
    (tmp_path / "alias.csv").write_text(hdr)
    r, _ = run_action(tmp_path, "alias.csv")
    assert r.returncode == 0 and r.stdout.startswith("::warning file=alias.csv")
    r, _ = run_action(tmp_path, "alias.csv", strict="true")
    assert r.returncode == 1
