"""lteval: exact, fast evaluation and reference baselines for long-tailed multi-label CXR (CXR-LT 2026).

``lteval.score(predictions_csv, labels_csv, ...)`` and ``lteval.compare(...)``
are the Python entry points of ``lteval score`` / ``lteval compare``. Importing
lteval imports neither torch nor pandas.
"""

__version__ = "0.1.0"


def score(*args, **kwargs):
    """Score a predictions CSV against a labels CSV; see :func:`lteval.scoring.score`."""
    from lteval.scoring import score as _score

    return _score(*args, **kwargs)


def compare(*args, **kwargs):
    """Paired bootstrap comparison of two prediction files; see :func:`lteval.scoring.compare`."""
    from lteval.scoring import compare as _compare

    return _compare(*args, **kwargs)


__all__ = ["__version__", "score", "compare"]
