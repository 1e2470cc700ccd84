"""lteval: exact, fast evaluation and reference baselines for long-tailed multi-label CXR (CXR-LT 2026).

``lteval.score(predictions_csv, labels_csv, ...)`` and ``lteval.compare(...)``
are the Python entry points of ``lteval score`` / ``lteval compare``. They are
the functions of :mod:`lteval.scoring` themselves (so ``help(lteval.score)``
and ``inspect.signature`` show their parameters), resolved on first use:
importing lteval imports neither torch, pandas nor scipy.
"""

from __future__ import annotations

from lteval._lazy import lazy_names

__version__ = "0.1.0"

#: Public name -> the module (under lteval) that defines it, imported on first access.
_LAZY = {
    "score": "scoring",
    "compare": "scoring",
}

__all__ = ["__version__", *_LAZY]

__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
