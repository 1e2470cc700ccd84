"""Packaging contract, fast and offline: every third-party import of lteval is declared in
pyproject.toml (the core for torch-free modules, ``[train]`` for the rest), the reference
libraries are never imported, and a training command without ``lteval[train]`` exits 2 with one
line (torch hidden from the command). The real install: tests/test_light_install.py."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
#: distribution name -> the module name lteval imports
IMPORT_NAME = {"pillow": "PIL", "huggingface_hub": "huggingface_hub"}
TRAIN_IMPORTS = {"torch", "torchvision", "timm", "huggingface_hub", "safetensors"}


def _dist(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].strip().lower().replace("-", "_")


def _declared(reqs) -> set[str]:
    return {IMPORT_NAME.get(_dist(r), _dist(r)) for r in reqs}


def _third_party_imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for n in names:
            top = n.split(".")[0]
            if top != "lteval" and top not in sys.stdlib_module_names:
                out.add(top)
    return out


def test_core_and_train_dependencies_are_what_lteval_imports():
    core = _declared(PYPROJECT["project"]["dependencies"])
    train = _declared(PYPROJECT["project"]["optional-dependencies"]["train"])
    assert train == TRAIN_IMPORTS
    cluster = _declared(PYPROJECT["project"]["optional-dependencies"]["cluster"])
    assert cluster == {"submitit"}
    train = train | cluster  # lteval.grid imports submitit (only behind require_cluster)
    assert not core & {"torch", "torchvision", "timm", "sklearn", "scikit_learn", "netcal"}
    used: dict[str, set[str]] = {}
    for p in sorted((REPO / "lteval").rglob("*.py")):
        for mod in _third_party_imports(p):
            used.setdefault(mod, set()).add(str(p.relative_to(REPO)))
    undeclared = {m: f for m, f in used.items() if m not in core | train}
    assert not undeclared, f"imported but not in pyproject.toml dependencies: {undeclared}"
    unused = core - set(used)
    assert not unused, f"core dependencies lteval never imports: {unused}"
    # a module importing a training library must not be one the torch-free commands load
    assert {"sklearn", "netcal"}.isdisjoint(used)


def test_every_core_dependency_is_justified_by_a_comment():
    text = (REPO / "pyproject.toml").read_text()
    block = text[text.index("dependencies = ["):]
    block = block[:block.index("]")]
    for req in PYPROJECT["project"]["dependencies"]:
        line = next(ln for ln in block.splitlines() if f'"{req}"' in ln)
        assert "#" in line and len(line.split("#", 1)[1].strip()) > 10, line


def test_quickstart_installs_train_and_dev():
    qs = (REPO / "quickstart.sh").read_text()
    assert "-e '.[train,dev]'" in qs
    lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert "./quickstart.sh test" in lines  # exactly the README's test command
    slow = [ln for ln in lines if ln.startswith("./quickstart.sh test -m slow ")]
    assert len(slow) == 1
    for f in slow[0].split()[4:]:  # the install tests, each marked slow
        assert "pytestmark = pytest.mark.slow" in (REPO / f).read_text(), f


def test_readme_has_the_light_install():
    readme = (REPO / "README.md").read_text()
    assert "pip install lteval " in readme and "pip install 'lteval[train]'" in readme
    assert "./quickstart.sh demo\n./quickstart.sh test\n" in readme


@pytest.fixture
def no_torch(monkeypatch):
    """Make torch, torchvision and timm look uninstalled to the commands (find_spec and import)."""
    import builtins
    import importlib.util

    from lteval.commands import _common

    real_find, real_import = importlib.util.find_spec, builtins.__import__
    hidden = set(_common.TRAIN_MODULES)

    def find_spec(name, *a, **k):
        return None if name.split(".")[0] in hidden else real_find(name, *a, **k)

    def imp(name, *a, **k):
        if name.split(".")[0] in hidden:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *a, **k)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(builtins, "__import__", imp)
    for m in [m for m in sys.modules if m.split(".")[0] in hidden or m.startswith(("lteval.train.models",
                                                                                   "lteval.train.losses"))]:
        monkeypatch.delitem(sys.modules, m)


@pytest.mark.parametrize("args, name", [
    (["baseline", "run", "convnext_ldam_drw"], "baseline run"),
    (["baseline", "run", "convnext_ldam_drw+crt"], "baseline run"),
    (["baseline", "grid", "--losses", "bce"], "baseline grid"),
    (["demo"], "demo"),
])
def test_training_command_without_torch_exits_2_with_one_line(no_torch, tmp_path, monkeypatch, args, name):
    from lteval.cli import app

    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2, (r.output, r.exception)
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert lines == [f"error: 'lteval {name}' needs the training extra (torch, torchvision, timm not installed): "
                     "pip install 'lteval[train]'"], r.output
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_help_and_baseline_list_show_without_torch(no_torch):
    from lteval.cli import app

    for args in (["--help"], ["baseline", "run", "--help"], ["demo", "--help"], ["baseline", "list"],
                 ["baseline", "show", "convnext_ldam_drw", "--preset", "seed"],
                 ["baseline", "show", "resnet50_dbloss+crt+calib", "--preset", "cpu", "--set", "lr=3e-4"]):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0, (args, r.output, r.exception)
    assert "torch" not in sys.modules


#: run in a fresh interpreter: torch, torchvision and timm refuse to import (as on the core install);
#: ``baseline show`` resolves configs under every preset (seed reads the losses' parameters), with
#: post-training stages, and prints what the torch install prints
_SHOW_WITHOUT_TORCH = """if 1:
    import json, sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "torchvision", "timm"):
                raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
    sys.meta_path.insert(0, Block())
    from typer.testing import CliRunner
    from lteval.cli import app
    out = {}
    for args in json.loads(sys.argv[1]):
        r = CliRunner().invoke(app, args)
        out[" ".join(args)] = [r.exit_code, r.stdout, repr(r.exception)]
    out["imported"] = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision", "timm"))
    print(json.dumps(out))
"""


def test_baseline_show_needs_no_torch_in_a_fresh_interpreter():
    import json
    import subprocess

    from lteval.train.config import PRESETS
    from lteval.train.baselines import resolve

    cases = [["baseline", "show", "convnext_ldam_drw", "--preset", p] for p in PRESETS]
    cases += [["baseline", "show", "resnet50_dbloss+crt+calib", "--preset", "cpu", "--set", "lr=3e-4"],
              ["baseline", "show", "efficientformerv2_s0_la_bce", "-p", "seed"]]
    r = subprocess.run([sys.executable, "-c", _SHOW_WITHOUT_TORCH, json.dumps(cases)], capture_output=True,
                       text=True, timeout=120, cwd=REPO)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout)
    assert got.pop("imported") == []
    for args in cases:
        code, stdout, exc = got[" ".join(args)]
        assert code == 0, (args, stdout, exc)
        shown = json.loads(stdout)
        name, preset = args[2].split("+")[0], args[4]
        want = resolve(name, preset, {"lr": "3e-4"} if "--set" in args else None).to_dict()
        assert {k: shown[k] for k in want} == want, args
        assert ("post_training" in shown) == ("+" in args[2])
