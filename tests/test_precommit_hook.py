"""The real pre-commit (dev extra) runs this repository's `lteval-validate-isolated` hook
(`language: python`) with `pre-commit try-repo`: it pip-installs lteval's core into its own
environment (no torch) and passes a valid submission, fails an invalid one.

Needs the package registry (pre-commit installs the hook's dependencies). About 50 s, most of it
the hook environment (try-repo builds a fresh one each run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pre_commit", reason="the dev extra's 'pre-commit' (pip install -e '.[dev]')")

#: ~2-3 min with the install; run by .ci/run on its own line (./quickstart.sh test -m slow FILES)
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
HOOK = "lteval-validate-isolated"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A git repository holding a valid and an invalid submission; PRE_COMMIT_HOME shared by the tests."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    from lteval.commands.demo import make_example

    root = tmp_path_factory.mktemp("precommit")
    proj = root / "proj"
    files = make_example(root / "ex", n=200)
    proj.mkdir()
    good = files["model_a_test"].read_text()
    (proj / "submission_good.csv").write_text(good)
    lines = good.splitlines()
    lines[3] = lines[3].split(",", 1)[0] + ",not-a-number," + lines[3].split(",", 2)[2]
    (proj / "submission_bad.csv").write_text("\n".join(lines) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PRE_COMMIT_HOME=str(root / "pre-commit-home"), HF_HUB_OFFLINE="1", NO_COLOR="1",
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.org", PIP_DISABLE_PIP_VERSION_CHECK="1")
    for cmd in (["git", "init", "-q"], ["git", "add", "."]):
        subprocess.run(cmd, cwd=proj, check=True, env=env)
    return proj, env


def test_try_repo_passes_the_valid_and_fails_the_invalid_submission(project):
    """One `try-repo` run (each builds its own hook environment, ~40 s) over both files."""
    proj, env = project
    r = subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(REPO), HOOK, "--verbose",
                        "--files", "submission_good.csv", "submission_bad.csv", "--color", "never"],
                       cwd=proj, capture_output=True, text=True, env=env, timeout=900)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out[-4000:]  # the hook failed ...
    assert "Failed" in r.stdout and f"- hook id: {HOOK}" in r.stdout
    assert "submission_good.csv: valid" in r.stdout  # ... on the invalid file only
    assert "submission_bad.csv: INVALID" in r.stdout and "line 4" in r.stdout
