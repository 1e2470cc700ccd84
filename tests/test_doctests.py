"""Every ``>>>`` example in the package runs and prints what its docstring says.

Modules are found by walking ``lteval/`` (a module gets here as soon as its
source holds a ``>>>``), so new examples are picked up without editing this
file. A module that needs torch (or timm / torchvision) is skipped when torch
is not installed; any other import failure is a failure.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import lteval

TORCH_PACKAGES = ("torch", "torchvision", "timm")
HAVE_TORCH = importlib.util.find_spec("torch") is not None
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(lteval.__path__, prefix="lteval."):
        spec = importlib.util.find_spec(info.name)
        origin = getattr(spec, "origin", None)
        if origin and origin.endswith(".py") and ">>>" in Path(origin).read_text(encoding="utf-8"):
            names.append(info.name)
    return sorted(names)


MODULES = _modules_with_examples()


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as e:
        if not HAVE_TORCH and (e.name or "").split(".")[0] in TORCH_PACKAGES:
            pytest.skip(f"{name} needs {e.name}, which is not installed")
        raise
    tests = [t for t in doctest.DocTestFinder(exclude_empty=True).find(module, name) if t.examples]
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    out: list[str] = []
    for t in tests:
        runner.run(t, out=out.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(out)
    assert result.attempted > 0, f"{name} mentions '>>>' but no docstring example was found"


#: Public functions whose docstrings must carry a runnable example (shapes and units stated).
WITH_EXAMPLES = {
    "lteval.metrics.ranking": ["average_precision", "roc_auc"],
    "lteval.metrics.classification": ["confusion_counts", "prf_from_counts", "precision_recall_f1"],
    "lteval.metrics.calibration": ["calibration_error", "per_class_calibration_error", "brier_score",
                                   "reliability_table"],
    "lteval.metrics._validation": ["check_scores", "check_labels", "check_targets", "check_per_class"],
    "lteval.calibration.base": ["create_calibrator", "Calibrator.fit", "Calibrator.transform"],
    "lteval.calibration.crossfit": ["make_folds"],
    "lteval.thresholds": ["fit_thresholds"],
    "lteval.thresholds.f1": ["f1_thresholds", "global_threshold"],
    "lteval.thresholds.target": ["target_thresholds"],
    "lteval.thresholds.prevalence": ["prevalence_thresholds"],
    "lteval.thresholds.base": ["parse_strategy", "Thresholds.predict"],
}


@pytest.mark.parametrize("module", sorted(WITH_EXAMPLES))
def test_public_functions_have_examples(module):
    assert module in MODULES
    m = importlib.import_module(module)
    for qual in WITH_EXAMPLES[module]:
        obj = m
        for part in qual.split("."):
            obj = getattr(obj, part)
        assert ">>>" in (obj.__doc__ or ""), f"{module}.{qual} has no example"


def test_the_runner_catches_a_wrong_example():
    def wrong():
        """
        >>> 1 + 1
        3
        """

    t = doctest.DocTestFinder().find(wrong, "wrong", globs={})[0]
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(t, out=lambda s: None)
    assert runner.failures == 1


# ------------------------------------------------------------------ lteval.score shows its signature
def test_top_level_names_are_the_real_functions():
    from lteval import scoring

    assert lteval.score is scoring.score and lteval.compare is scoring.compare
    params = inspect.signature(lteval.score).parameters
    assert list(params)[:2] == ["predictions", "labels"] and "n_boot" in params
    assert list(inspect.signature(lteval.compare).parameters)[:3] == ["predictions_a", "predictions_b",
                                                                      "labels"]
    assert {"score", "compare", "__version__"} <= set(dir(lteval)) and set(lteval.__all__) >= {"score"}
    with pytest.raises(AttributeError, match="no attribute 'scor'"):
        lteval.scor  # noqa: B018


def test_import_lteval_stays_light():
    code = ("import sys, lteval; heavy = [m for m in ('numpy', 'pandas', 'scipy', 'matplotlib', "
            "'torch') if m in sys.modules]; print(heavy)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr
