"""Reading a JSON file a user gave us: one reader, one wording per fault.

:func:`read_json` turns every way reading can fail into a specific
:class:`~lteval.errors.LtevalError` naming the file: it does not exist or cannot be read
(:class:`~lteval.errors.UsageError`, exit 2), it is not UTF-8 or not JSON (with the line and
column), or its top level is not the expected type (:class:`~lteval.errors.InputError`,
exit 1). What the object must contain is the caller's business.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lteval.errors import InputError, UsageError

#: How a top-level JSON type is named in messages.
_TYPE_NAMES = {dict: "an object", list: "an array", str: "a string", int: "a number",
               float: "a number", bool: "true/false", type(None): "null"}


def _type_name(t) -> str:
    return _TYPE_NAMES.get(t, t.__name__)


def read_json(path: str | Path, what: str = "JSON file", *, expect: type | tuple[type, ...] | None = None,
              allow_nan: bool = True) -> Any:
    """The parsed contents of the JSON file ``path`` (UTF-8, a byte-order mark is skipped).

    ``what`` names the file in messages ("calibration file", "rank file"). ``expect``: the
    type(s) the top level must have (``dict`` for an object, ``list`` for an array; None:
    any). ``allow_nan``: accept the non-standard constants ``NaN``, ``Infinity`` and
    ``-Infinity`` (Python's ``json`` does by default; strict JSON does not).

    Raises :class:`~lteval.errors.UsageError` when the file does not exist, is a directory or
    cannot be read; :class:`~lteval.errors.InputError` when it is not UTF-8 text, not valid
    JSON (``line`` set, the column in the message) or of the wrong top-level type. Every
    error has ``file`` set to ``path``.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.json")
    >>> _ = open(p, "w").write('{"a": [1, 2]}')
    >>> read_json(p, expect=dict)
    {'a': [1, 2]}
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"{what} does not exist", file=str(p)) from None
    except IsADirectoryError:
        raise UsageError(f"{what} is a directory, not a file", file=str(p)) from None
    except UnicodeDecodeError as e:
        raise InputError(f"{what} is not UTF-8 text (byte {e.start + 1} cannot be decoded)",
                         file=str(p)) from None
    except OSError as e:
        if p.is_dir():  # Windows says PermissionError for a directory
            raise UsageError(f"{what} is a directory, not a file", file=str(p)) from None
        raise UsageError(f"cannot read {what}: {e.strerror or e}", file=str(p)) from None
    obj = parse_json(text, what, file=str(p), allow_nan=allow_nan)
    if expect is not None and not isinstance(obj, expect):
        want = expect if isinstance(expect, tuple) else (expect,)
        names = " or ".join(dict.fromkeys(_type_name(t) for t in want))
        raise InputError(f"{what}: expected {names} at the top level, got "
                         f"{_type_name(type(obj))}", file=str(p))
    return obj


def parse_json(text: str, what: str = "JSON text", *, file: str | None = None,
               allow_nan: bool = True) -> Any:
    """``json.loads(text)`` with the errors of :func:`read_json` (``file`` names the source).

    >>> parse_json("[1, 2]")
    [1, 2]
    """
    def _no_constants(name):
        raise ValueError(f"{name} is not a JSON value")

    try:
        return json.loads(text, parse_constant=None if allow_nan else _no_constants)
    except json.JSONDecodeError as e:
        raise InputError(f"{what} is not valid JSON: {e.msg} (column {e.colno})", file=file,
                         line=e.lineno) from None
    except ValueError as e:  # a constant refused, or a number too long to convert
        raise InputError(f"{what} is not valid JSON: {e}", file=file) from None
    except RecursionError:
        raise InputError(f"{what} is not usable JSON: nested too deeply", file=file) from None
