"""The one input-validation helper for arrays: metrics, calibration and thresholds.

Every check is told the argument's name (``input_name``, as scikit-learn's
``check_array``) and raises :class:`~lteval.errors.InputError` with one
wording per fault, naming the argument, what was expected and what was got
(plain values, the first offending entry and where it is):

======================  ====================================================================
fault                   message
======================  ====================================================================
None                    ``{name} must be an array, got None``
ragged nested lists     ``{name} must be a rectangular array of numbers, got rows of different lengths``
more than 2-D           ``{name} must be 1-D (n_samples,) or 2-D (n_samples, n_classes), got shape {shape}``
text (even '0.5')       ``{name} must hold numbers, got text {value} at row {i}, class {j}``
complex                 ``{name} must hold real numbers, got complex {value} at row {i}, class {j}``
other objects           ``{name} must hold numbers, got {type} {value} at row {i}, class {j}``
other dtypes            ``{name} must hold numbers, got dtype {dtype}``
no rows                 ``{name} must have at least 1 sample, got shape {shape}``
no columns              ``{name} must have at least 1 class, got shape {shape}``
shape mismatch          ``{name} must have the same shape as {other} {shape}, got {shape}``
class count             ``{name} must have {k} classes (as fitted), got {m}``
NaN / infinite          ``{name} must be finite, got {value} at row {i}, class {j}``
probability range       ``{name} must lie in [0, 1], got {value} at row {i}, class {j}``
label value             ``{name} must contain only 0 and 1, got {value} at row {i}, class {j}``
per-class length        ``{name} must have {k} entries (one per class), got shape {shape}``
======================  ====================================================================

(For one value per class, the location is ``at class {j}``.) Scores come back
as float64 ``(n, C)``; labels as ``int8`` ``(n, C)`` (:data:`LABEL_DTYPE`, the
one label dtype of the package); 1-D input is one class ``(n, 1)``.
"""

from __future__ import annotations

import numbers

import numpy as np

from lteval.errors import InputError, UsageError

EMPTY_CLASS_POLICIES = ("zero", "exclude")

#: The dtype of every validated label array (0/1).
LABEL_DTYPE = np.int8

_FLOAT64_EPS = float(np.finfo(np.float64).eps)


def _plain(v) -> str:
    """A value as a person reads it: 1.5, 2, nan, 'x', (1+2j) -- never np.float64(1.5)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, np.ndarray):
        v = v.tolist()
    return repr(v)


def _shape(shape) -> str:
    return str(tuple(int(d) for d in shape))


def _where(a2: np.ndarray, mask: np.ndarray) -> tuple[object, str]:
    """First entry of the 2-D array ``a2`` where ``mask`` holds, and its location."""
    i, j = np.argwhere(mask)[0]
    return a2[i, j], f"at row {int(i)}, class {int(j)}"


def _is_text(x) -> bool:
    return isinstance(x, (str, bytes))


def _is_complex(x) -> bool:
    return isinstance(x, numbers.Complex) and not isinstance(x, numbers.Real)


def _is_not_real(x) -> bool:
    return not isinstance(x, numbers.Real)


def _as_float(a: np.ndarray, input_name: str, where=_where) -> np.ndarray:
    """``a`` as float64, or InputError for text, complex or other non-numbers.

    ``where(a, mask)`` gives the first offending value and its location.
    """
    kind = a.dtype.kind
    if kind in "fiub":
        return a.astype(np.float64, copy=False)
    everywhere = np.ones(a.shape, dtype=bool)
    if kind in "US":
        fault, mask = "text", everywhere
    elif kind == "c":
        nonzero = a.imag != 0
        fault, mask = "complex", nonzero if nonzero.any() else everywhere
    elif kind == "O":
        for fault, test in (("text", _is_text), ("complex", _is_complex), ("other", _is_not_real)):
            mask = np.frompyfunc(test, 1, 1)(a).astype(bool)
            if mask.any():
                break
        else:
            return a.astype(np.float64)
    else:
        raise InputError(f"{input_name} must hold numbers, got dtype {a.dtype}")
    v, loc = where(a, mask)
    if fault == "text":
        raise InputError(f"{input_name} must hold numbers, got text {_plain(v)} {loc}")
    if fault == "complex":
        raise InputError(f"{input_name} must hold real numbers, got complex {_plain(v)} {loc}")
    got = _plain(v) if v is None else f"{type(v).__name__} {_plain(v)}"
    raise InputError(f"{input_name} must hold numbers, got {got} {loc}")


def _as_2d(x, input_name: str) -> tuple[np.ndarray, tuple]:
    """``x`` as a 2-D array (1-D is one class) and its shape as given."""
    if x is None:
        raise InputError(f"{input_name} must be an array, got None")
    try:
        a = np.asarray(x)
    except ValueError:
        raise InputError(f"{input_name} must be a rectangular array of numbers, "
                         "got rows of different lengths") from None
    given = a.shape
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise InputError(f"{input_name} must be 1-D (n_samples,) or 2-D (n_samples, n_classes), "
                         f"got shape {_shape(given)}")
    return a, given


def _check_shape(a: np.ndarray, given: tuple, input_name: str, shape, shape_of: str,
                 n_classes: int | None) -> None:
    if shape is not None and a.shape != tuple(shape):
        raise InputError(f"{input_name} must have the same shape as {shape_of} {_shape(shape)}, "
                         f"got {_shape(given)}")
    if a.shape[0] == 0:
        raise InputError(f"{input_name} must have at least 1 sample, got shape {_shape(given)}")
    if a.shape[1] == 0:
        raise InputError(f"{input_name} must have at least 1 class, got shape {_shape(given)}")
    if n_classes is not None and a.shape[1] != n_classes:
        raise InputError(f"{input_name} must have {n_classes} classes (as fitted), got {a.shape[1]}")


def check_scores(x, input_name: str = "y_score", *, probs: bool = False, shape=None,
                 shape_of: str = "y_true", n_classes: int | None = None, order: str | None = None,
                 hint: str = "") -> np.ndarray:
    """Validate scores: float64 array (n, C) (1-D input is one class (n, 1)).

    ``probs=True`` also requires values in [0, 1] (``hint`` is appended to that
    message). ``shape`` (with ``shape_of``, the argument it comes from) or
    ``n_classes`` fix the expected shape. ``order="C"`` returns a C-contiguous
    array; ``None`` keeps the input's memory layout (no copy of a float64 array).

    >>> check_scores([0.1, 0.9]).shape
    (2, 1)
    >>> check_scores([["0.5"]], "y_prob")
    Traceback (most recent call last):
    ...
    lteval.errors.InputError: y_prob must hold numbers, got text '0.5' at row 0, class 0
    """
    a, given = _as_2d(x, input_name)
    _check_shape(a, given, input_name, shape, shape_of, n_classes)
    s = _as_float(a, input_name)
    if not np.isfinite(s).all():
        v, loc = _where(s, ~np.isfinite(s))
        raise InputError(f"{input_name} must be finite, got {_plain(v)} {loc}")
    if probs and (s.min() < 0.0 or s.max() > 1.0):
        v, loc = _where(s, (s < 0) | (s > 1))
        raise InputError(f"{input_name} must lie in [0, 1], got {_plain(v)} {loc}"
                         + (f"; {hint}" if hint else ""))
    return np.ascontiguousarray(s) if order == "C" else s


def check_labels(y, input_name: str = "y_true", *, shape=None, shape_of: str = "y_score",
                 order: str | None = None) -> np.ndarray:
    """Validate 0/1 labels: :data:`LABEL_DTYPE` (int8) array (n, C); 1-D input is one class.

    Booleans, integers and floats equal to 0 or 1 are accepted. ``shape`` (with
    ``shape_of``) fixes the expected shape; ``order="C"`` returns a C-contiguous array.

    >>> check_labels([1, 0, 1]).ravel().tolist()
    [1, 0, 1]
    >>> check_labels([[0, 2]], "y")
    Traceback (most recent call last):
    ...
    lteval.errors.InputError: y must contain only 0 and 1, got 2 at row 0, class 1
    """
    a, given = _as_2d(y, input_name)
    _check_shape(a, given, input_name, shape, shape_of, None)
    kind = a.dtype.kind
    if kind not in "biuf":
        a = _as_float(a, input_name)  # raises the text / complex / object message
        kind = "f"
    if kind in "iu":
        if a.min() < 0 or a.max() > 1:
            v, loc = _where(a, (a != 0) & (a != 1))
            raise InputError(f"{input_name} must contain only 0 and 1, got {_plain(v)} {loc}")
    elif kind == "f":
        bad = (a != 0) & (a != 1)
        if bad.any():
            v, loc = _where(a, bad)
            raise InputError(f"{input_name} must contain only 0 and 1, got {_plain(v)} {loc}")
    out = a.astype(LABEL_DTYPE, copy=False)
    return np.ascontiguousarray(out) if order == "C" else out


def check_targets(y_true, y_score, *, probs: bool = False, names: tuple[str, str] | None = None,
                  order: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels (n, C) in {0, 1} and scores (n, C) of the same shape.

    Returns ``(int8 labels, float64 scores)``; 1-D inputs are one class.
    ``names`` are the two arguments' names (default ``("y_true", "y_prob")`` with
    ``probs=True``, else ``("y_true", "y_score")``); with ``probs=True`` scores
    must lie in [0, 1]; ``order="C"`` returns C-contiguous arrays.

    >>> y, s = check_targets([0, 1], [0.2, 0.7])
    >>> y.dtype.name, s.dtype.name, s.shape
    ('int8', 'float64', (2, 1))
    """
    ny, ns = names or ("y_true", "y_prob" if probs else "y_score")
    y = check_labels(y_true, ny, order=order)
    s = check_scores(y_score, ns, probs=probs, shape=y.shape, shape_of=ny, order=order)
    return y, s


def check_per_class(values, n_classes: int, input_name: str, *, broadcast: bool = False,
                    bounds: tuple[float, float] | None = None) -> np.ndarray:
    """One finite number per class -> (C,) float64; ``broadcast=True`` also takes one number.

    ``bounds=(lo, hi)`` requires ``lo <= v <= hi``.

    >>> check_per_class(0.5, 3, "threshold", broadcast=True).tolist()
    [0.5, 0.5, 0.5]
    >>> check_per_class([0.1, 0.2], 3, "prevalence")
    Traceback (most recent call last):
    ...
    lteval.errors.InputError: prevalence must have 3 entries (one per class), got shape (2,)
    """
    try:
        a = np.asarray(values)
    except ValueError:
        raise InputError(f"{input_name} must be a rectangular array of numbers, "
                         "got rows of different lengths") from None

    def at_class(arr, mask):
        j = int(np.flatnonzero(mask.ravel())[0])
        return arr.ravel()[j], f"at class {j}"

    t = _as_float(a, input_name, at_class)
    if t.ndim == 0 and broadcast:
        t = np.full(n_classes, float(t))
    if t.shape != (n_classes,):
        one = "one number or " if broadcast else ""
        raise InputError(f"{input_name} must have {one}{n_classes} entries (one per class), "
                         f"got shape {_shape(t.shape)}")
    if not np.isfinite(t).all():
        v, loc = at_class(t, ~np.isfinite(t))
        raise InputError(f"{input_name} must be finite, got {_plain(v)} {loc}")
    if bounds is not None:
        lo, hi = bounds
        bad = (t < lo) | (t > hi)
        if bad.any():
            v, loc = at_class(t, bad)
            raise InputError(f"{input_name} must lie in [{lo:g}, {hi:g}], got {_plain(v)} {loc}")
    return t


def check_thresholds(threshold, n_classes: int, input_name: str = "threshold") -> np.ndarray:
    """One global threshold or one per class -> (C,) float64."""
    return check_per_class(threshold, n_classes, input_name, broadcast=True)


def float_eps(x) -> float:
    """Machine epsilon of ``x``'s float dtype (float16/32/64); float64's for anything else.

    ECE clips probabilities to [eps, 1 - eps] with this eps, as netcal does.

    >>> float_eps(np.zeros(2, np.float32)) == float(np.finfo(np.float32).eps)
    True
    """
    dt = getattr(x, "dtype", None)
    try:
        dt = np.dtype(dt) if dt is not None else None
    except TypeError:
        return _FLOAT64_EPS
    if dt is not None and dt.kind == "f":
        return float(np.finfo(dt).eps)
    return _FLOAT64_EPS


def check_policy(empty_class: str) -> str:
    """``empty_class`` if it is 'zero' or 'exclude', else UsageError."""
    if empty_class not in EMPTY_CLASS_POLICIES:
        raise UsageError(f"empty_class must be one of {EMPTY_CLASS_POLICIES}, got {empty_class!r}")
    return empty_class
