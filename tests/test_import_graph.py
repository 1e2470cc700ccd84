"""The shape of the package: imports point down the layers of docs/architecture.md, no import
cycle, and no over-long function or module.

Every ``import`` / ``from ... import`` statement in ``lteval/`` is read with ``ast`` — also those
inside functions, which the lazy-import style hides from a plain import-time check. Edges go from
module to module (``from lteval.x import y`` goes to ``lteval.x.y`` when that is a module, else to
``lteval.x``); ``from lteval import __version__`` is a constant, not the package's facade.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "lteval"

#: The layers of docs/architecture.md, lowest first. A module may import from its own layer and any
#: layer below it, never from one above. The key is the first name under ``lteval.`` (a package or a
#: top-level module); ``lteval`` itself is the package's ``__init__`` (the ``lteval.score`` /
#: ``lteval.compare`` facade) and ``__version__`` the constant every layer may read.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "__version__", "registry", "_lazy"),  # error family; registry idiom; lazy names
    ("tasks",),                    # classes + ID column
    ("io",),                       # CSV readers/writers, metadata joins, atomic writes
    ("metrics", "thresholds"),     # pure numpy over (n, C) arrays; threshold rules
    ("calibration",),              # fit/apply on arrays (uses metrics, thresholds)
    ("submission",),               # streaming validator, eval lists, fix-up, make-submission
    ("scoring",),                  # files -> aligned arrays -> ScoreReport
    ("data",),                     # synthetic set, CXR-LT reader, cache, splits, run data, Dataset
    ("train",),                    # losses, models, samplers, engine, run dirs, baselines (torch)
    ("posttrain",),                # cRT, tau/LWS, TTA, gating, ensembles, calibration stages
    ("leaderboard",),              # SQLite store, published rows, tables
    ("report",),                   # HTML report: reads scores + predictions, renders
    ("grid",),                     # grids of runs on a cluster
    ("commands",),                 # thin typer commands
    ("cli", "__main__", "lteval"),  # the CLI app and the package facade
]
LAYER_OF = {name: i for i, names in enumerate(LAYERS) for name in names}

#: Import cycles known today, outside the train/ refactor (issue 14): each is one frozenset of
#: module names. Empty this list as they are fixed; a listed cycle that no longer exists fails too.
KNOWN_CYCLES: list[frozenset[str]] = []

MAX_FUNCTION_LINES = 120
MAX_MODULE_LINES = 750
#: Today's over-long functions and modules (issue 14 names them; their owners shorten them). A
#: listed item that is no longer too long fails, so that the list only shrinks.
LONG_ALLOWED: set[str] = set()


def _modules() -> dict[str, Path]:
    out = {}
    for p in sorted(ROOT.rglob("*.py")):
        parts = list(p.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = p
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module ``name`` refers to: itself or its longest prefix that is a module."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


UNKNOWN: list[str] = []   # imports naming an lteval module that does not exist (filled by _imports)
MISSING_NAMES: list[tuple[str, int, str, str]] = []   # (module, line, from-module, name), checked below


def _top_level_names(path: Path) -> set[str] | None:
    """Names a module defines at its top level (None when it has a module ``__getattr__``)."""
    names: set[str] = set()
    todo = list(ast.parse(path.read_text(encoding="utf-8")).body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name == "__getattr__":
                return None
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.If, ast.Try)):
            todo += node.body + node.orelse + getattr(node, "finalbody", [])
            todo += [s for h in getattr(node, "handlers", []) for s in h.body]
    return names


def _imports(module: str, path: Path) -> list[tuple[int, str]]:
    """``(line, imported lteval module)`` for every import statement of ``module``, at any depth."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.split(".")[0] == "lteval"]
            UNKNOWN.extend(f"{module}:{node.lineno}: {n}" for n in names if n not in MODULES)
            targets = [_resolve(n) for n in names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                src = ".".join(base + ([node.module] if node.module else []))
            else:
                src = node.module or ""
            if src.split(".")[0] != "lteval":
                continue
            if src not in MODULES:
                UNKNOWN.append(f"{module}:{node.lineno}: {src}")
            targets = []
            for a in node.names:
                if src == "lteval" and a.name == "__version__":
                    targets.append("lteval.__version__")
                elif f"{src}.{a.name}" in MODULES:
                    targets.append(f"{src}.{a.name}")
                else:
                    targets.append(_resolve(src))
                    MISSING_NAMES.append((module, node.lineno, src, a.name))
        else:
            continue
        found += [(node.lineno, t) for t in targets if t and t != module]
    return found


GRAPH: dict[str, list[tuple[int, str]]] = {m: _imports(m, p) for m, p in MODULES.items()}


def _layer_key(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "lteval"


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = set()
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.add(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(frozenset(comp))
    return out


def test_the_graph_is_read():
    """The walk sees imports at module level and inside functions (the test is not vacuous)."""
    assert len(MODULES) > 100
    engine = {t for _, t in GRAPH["lteval.train.engine"]}
    assert {"lteval.train.distributed", "lteval.train.parts", "lteval.data.run_data"} <= engine
    assert "lteval.train.engine" in {t for _, t in GRAPH["lteval.train.baselines"]}  # a lazy import
    assert "lteval.__version__" in {t for _, t in GRAPH["lteval.scoring"]}
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset("abc")]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_every_imported_module_exists():
    """Lazy imports are not run by every test: a moved or renamed module must not linger in one."""
    assert not UNKNOWN, f"imports of lteval modules that do not exist: {UNKNOWN}"


def test_every_imported_name_exists():
    """``from lteval.x import name``: ``name`` is defined in ``lteval.x`` (a function that moved
    leaves no stale lazy import behind)."""
    defined = {}
    bad = []
    for module, line, src, name in MISSING_NAMES:
        if src not in MODULES:
            continue  # reported by test_every_imported_module_exists
        if src not in defined:
            defined[src] = _top_level_names(MODULES[src])
        if defined[src] is not None and name != "*" and name not in defined[src]:
            bad.append(f"{module}:{line}: {name} from {src}")
    assert not bad, f"imported names not defined there: {bad}"


def test_every_package_has_a_layer():
    missing = sorted({_layer_key(m) for m in MODULES} - set(LAYER_OF))
    assert not missing, f"add {missing} to LAYERS (and to docs/architecture.md)"


def test_imports_point_down_the_layers():
    bad = []
    for m, edges in GRAPH.items():
        lm = LAYER_OF.get(_layer_key(m))
        for line, t in edges:
            lt = LAYER_OF.get(_layer_key(t))
            if lm is not None and lt is not None and lt > lm:
                bad.append(f"{MODULES[m].relative_to(ROOT.parent)}:{line}: {m} imports {t} "
                           f"({LAYERS[lt][0]} is above {LAYERS[lm][0]})")
    assert not bad, "imports that point up a layer:\n" + "\n".join(bad)


def test_no_import_cycle():
    graph = {m: {t for _, t in edges} for m, edges in GRAPH.items()}
    found = _cycles(graph)
    new = [sorted(c) for c in found if c not in KNOWN_CYCLES]
    assert not new, f"import cycles: {new}"
    fixed = [sorted(c) for c in KNOWN_CYCLES if c not in found]
    assert not fixed, f"no longer a cycle, remove from KNOWN_CYCLES: {fixed}"


def _long_items() -> dict[str, int]:
    out = {}
    for p in MODULES.values():
        rel = p.relative_to(ROOT.parent).as_posix()
        src = p.read_text(encoding="utf-8")
        n = len(src.splitlines())
        if n > MAX_MODULE_LINES:
            out[rel] = n

        def walk(node, prefix=""):
            for c in ast.iter_child_nodes(node):
                if isinstance(c, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    q = prefix + c.name
                    if not isinstance(c, ast.ClassDef) and c.end_lineno - c.lineno + 1 > MAX_FUNCTION_LINES:
                        out[f"{rel}::{q}"] = c.end_lineno - c.lineno + 1
                    walk(c, q + ".")
                else:
                    walk(c, prefix)
        walk(ast.parse(src))
    return out


@pytest.mark.parametrize("kind", ["too long", "allowlisted but short now"])
def test_no_long_functions_or_modules(kind):
    """No function over MAX_FUNCTION_LINES lines, no module over MAX_MODULE_LINES, but LONG_ALLOWED."""
    long = _long_items()
    if kind == "too long":
        bad = {k: v for k, v in long.items() if k not in LONG_ALLOWED}
        assert not bad, f"over {MAX_FUNCTION_LINES} lines (function) / {MAX_MODULE_LINES} (module): {bad}"
    else:
        stale = sorted(LONG_ALLOWED - set(long))
        assert not stale, f"short enough now, remove from LONG_ALLOWED: {stale}"


def test_architecture_doc_lists_the_same_layers():
    """docs/architecture.md's layer table names exactly LAYERS, in the same order."""
    import re

    doc = (Path(__file__).resolve().parents[1] / "docs" / "architecture.md").read_text()
    section = doc.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = [ln for ln in section.splitlines() if re.match(r"\|\s*\d+\s*\|", ln)]
    documented = [tuple(sorted(re.findall(r"`([^`]+)`", ln.split("|")[2]))) for ln in rows]
    assert documented == [tuple(sorted(layer)) for layer in LAYERS]
