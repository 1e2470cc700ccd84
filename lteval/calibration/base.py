"""The :class:`Calibrator` interface and its JSON form.

A calibrator maps (n, C) scores (logits or probabilities, as stated by
``input``) to (n, C) calibrated probabilities, one binary map per class
(multi-label: never a softmax across classes). Its fitted state is a small
dict of plain numbers (``get_params``), so a calibrator is stored as JSON, not
pickle, and validated field by field when loaded (:mod:`lteval.calibration.artifact`).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from lteval.calibration._arrays import check_input_kind, check_kind_scores, informative, to_probs
from lteval.errors import InputError, UsageError
from lteval.metrics._validation import check_labels
from lteval.registry import Registry

#: Registered calibrators: method name -> class (filled by :func:`register`), in listing order.
REGISTRY = Registry("calibration method", error=UsageError,
                    unknown="unknown {kind} {name!r}{hint}; choose one of {choices}")


def register(cls: type["Calibrator"]) -> type["Calibrator"]:
    """Class decorator: make ``cls`` available under ``cls.method`` (summary: its docstring's
    first line; ``monotone`` and ``per_class`` as metadata)."""
    summary = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
    return REGISTRY.register(cls.method, cls, summary=summary, paper="-", monotone=cls.monotone,
                             per_class=cls.per_class)


class Calibrator:
    """Base class. Subclasses set ``method``, ``monotone`` and implement ``_fit``/``_transform``.

    ``monotone`` is ``"strict"`` (order-preserving: per-class AP and AUROC are
    unchanged), ``"weak"`` (non-decreasing: may create ties) or ``"none"``.
    """

    method: ClassVar[str] = ""
    monotone: ClassVar[str] = "none"
    #: True when the method fits one map per class (classes lacking positives or
    #: negatives in the fitting data are passed through unchanged and reported).
    per_class: ClassVar[bool] = True

    def __init__(self, input: str = "probs") -> None:
        self.input = check_input_kind(input)
        self.n_classes_: int | None = None
        self.passthrough_: np.ndarray | None = None
        self.fit_info_: dict = {}

    # ----------------------------------------------------------------- public API
    def fit(self, scores, y) -> "Calibrator":
        """Fit on ``scores`` (n, C) of kind ``self.input`` and labels ``y`` (n, C) in {0, 1}.

        >>> from lteval.calibration import create_calibrator
        >>> cal = create_calibrator("temperature", input="logits").fit([[2.0], [-1.0], [0.5]], [1, 0, 0])
        >>> cal.n_classes_
        1
        """
        s = check_kind_scores(scores, self.input)
        yy = check_labels(y, "y", shape=s.shape, shape_of="scores", order="C")
        self.n_classes_ = s.shape[1]
        ok = informative(yy) if self.per_class else np.ones(s.shape[1], dtype=bool)
        self.passthrough_ = ~ok
        self.fit_info_ = {
            "n_samples": int(s.shape[0]),
            "n_pos": [int(v) for v in yy.sum(axis=0)],
            "warnings": [],
        }
        self._fit(s, yy, ok)
        return self

    def transform(self, scores) -> np.ndarray:
        """Calibrated probabilities (n, C) in [0, 1] for ``scores`` (n, C) of kind ``self.input``.

        >>> from lteval.calibration import create_calibrator
        >>> cal = create_calibrator("platt", input="probs").fit([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0])
        >>> q = cal.transform([0.9, 0.1])
        >>> q.shape, bool(q[0, 0] > q[1, 0])
        ((2, 1), True)
        """
        if self.n_classes_ is None:
            raise UsageError(f"{type(self).__name__} is not fitted: call fit() first")
        s = check_kind_scores(scores, self.input)
        if s.shape[1] != self.n_classes_:
            raise InputError(f"scores must have {self.n_classes_} classes (as fitted), "
                             f"got {s.shape[1]}")
        out = self._transform(s)
        if self.passthrough_ is not None and self.passthrough_.any():
            out[:, self.passthrough_] = to_probs(s[:, self.passthrough_], self.input)
        np.clip(out, 0.0, 1.0, out=out)
        return out

    def fit_transform(self, scores, y) -> np.ndarray:
        return self.fit(scores, y).transform(scores)

    def get_params(self) -> dict:
        """Fitted parameters as a JSON-ready dict (lists of floats)."""
        if self.n_classes_ is None:
            raise UsageError(f"{type(self).__name__} is not fitted: call fit() first")
        params = self._get_params()
        if self.per_class:
            params["passthrough"] = [bool(v) for v in self.passthrough_]
        return params

    def set_params_from_json(self, params: dict, n_classes: int, where: str = "params") -> "Calibrator":
        """Load fitted parameters from ``params`` (as written by get_params); validate everything."""
        if not isinstance(params, dict):
            raise InputError(f"{where} must be an object, got {type(params).__name__}")
        params = dict(params)
        if self.per_class:
            pt = params.pop("passthrough", None)
            self.passthrough_ = np.array(_bool_list(pt, n_classes, f"{where}.passthrough"), dtype=bool)
        else:
            self.passthrough_ = np.zeros(n_classes, dtype=bool)
        self._set_params(params, n_classes, where)
        self.n_classes_ = n_classes
        return self

    def options(self) -> dict:
        """Constructor options other than ``input`` (JSON-ready), kept for the record."""
        return {}

    # ----------------------------------------------------------------- subclass hooks
    def _fit(self, s: np.ndarray, y: np.ndarray, ok: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError

    def _transform(self, s: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _get_params(self) -> dict:  # pragma: no cover
        raise NotImplementedError

    def _set_params(self, params: dict, n_classes: int, where: str) -> None:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options().items())
        return f"{type(self).__name__}(input={self.input!r}{', ' if opts else ''}{opts})"


# --------------------------------------------------------------------- JSON field checks
def _expect_keys(params: dict, required: tuple[str, ...], where: str) -> None:
    missing = [k for k in required if k not in params]
    if missing:
        raise InputError(f"{where} is missing {', '.join(map(repr, missing))}")
    extra = sorted(set(params) - set(required))
    if extra:
        raise InputError(f"{where} has unexpected field(s) {', '.join(map(repr, extra))} "
                         f"(expected {', '.join(map(repr, required))})")


def _float(v, where: str, *, positive: bool = False, nonneg: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InputError(f"{where} must be a number, got {v!r}")
    f = float(v)
    if not np.isfinite(f):
        raise InputError(f"{where} must be finite, got {v!r}")
    if positive and f <= 0:
        raise InputError(f"{where} must be > 0, got {v!r}")
    if nonneg and f < 0:
        raise InputError(f"{where} must be >= 0, got {v!r}")
    return f


def _float_list(v, n: int | None, where: str, **kw) -> np.ndarray:
    if not isinstance(v, list):
        raise InputError(f"{where} must be a list of numbers, got {type(v).__name__}")
    if n is not None and len(v) != n:
        raise InputError(f"{where} has {len(v)} entries, expected {n} (one per class)")
    return np.array([_float(x, f"{where}[{i}]", **kw) for i, x in enumerate(v)], dtype=np.float64)


def _bool_list(v, n: int, where: str) -> list[bool]:
    if not isinstance(v, list) or len(v) != n or not all(isinstance(x, bool) for x in v):
        raise InputError(f"{where} must be a list of {n} true/false values")
    return v


def _nested_float_lists(v, n: int, where: str, *, min_len: int = 1) -> list[np.ndarray]:
    if not isinstance(v, list) or len(v) != n:
        raise InputError(f"{where} must be a list of {n} lists (one per class)")
    out = []
    for i, row in enumerate(v):
        a = _float_list(row, None, f"{where}[{i}]")
        if a.size < min_len:
            raise InputError(f"{where}[{i}] needs at least {min_len} value(s)")
        out.append(a)
    return out


def create_calibrator(method: str, input: str = "probs", **options) -> Calibrator:
    """A new, unfitted calibrator by method name (see :data:`REGISTRY`).

    ``input`` says how the scores it will see are to be read: 'probs'
    (probabilities in [0, 1]) or 'logits'.

    >>> create_calibrator("histogram", input="probs", n_bins=10)
    HistogramBinning(input='probs', n_bins=10, strategy='uniform')
    """
    cls = REGISTRY.lookup(method)
    try:
        return cls(input=input, **options)
    except TypeError as e:
        raise UsageError(f"bad option for method {method!r}: {e}") from None
