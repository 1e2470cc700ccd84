"""lteval: exact, fast evaluation and reference baselines for long-tailed multi-label CXR (CXR-LT 2026).

``lteval.score(predictions_csv, labels_csv, ...)`` and ``lteval.compare(...)``
are the Python entry points of ``lteval score`` / ``lteval compare``. They are
the functions of :mod:`lteval.scoring` themselves (so ``help(lteval.score)``
and ``inspect.signature`` show their parameters), resolved on first use:
importing lteval imports neither torch, pandas nor scipy.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: Public name -> the module (under lteval) that defines it, imported on first access.
_LAZY = {
    "score": "scoring",
    "compare": "scoring",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lteval' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"lteval.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
