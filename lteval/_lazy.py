"""Lazy public names for a package: resolved from their modules on first access (PEP 562).

A package keeps ``import`` light and still exposes the real objects (so
``inspect.signature`` and ``help()`` show them)::

    _LAZY = {"score": "scoring"}
    __getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
"""

from __future__ import annotations

import importlib


def lazy_names(package: str, names: dict[str, str], namespace: dict):
    """``(__getattr__, __dir__)`` for ``package``: ``names`` maps a public name to its submodule.

    The first access imports ``package.<submodule>`` and caches the object in
    ``namespace`` (the package's ``globals()``).
    """

    def __getattr__(name: str):
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(list(namespace) + list(names))

    return __getattr__, __dir__
