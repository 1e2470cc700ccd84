"""One registry idiom for every named, pluggable thing in lteval (stdlib only, no numpy, no torch).

A :class:`Registry` maps names to registered objects in registration order, and keeps one
:class:`Entry` per name: the object plus its ``summary``, ``paper`` and any other metadata. It is
what ``lteval baseline list``, the ``--help`` choice lists and the docs read, and every lookup of an
unknown name raises the project's error with a "did you mean" hint, the value and the choices.

>>> from lteval.registry import Registry
>>> COLOURS = Registry("colour")
>>> @COLOURS.register("red", summary="the colour of blood", paper="-", rgb=(255, 0, 0))
... def red():
...     return "#ff0000"
>>> COLOURS.names(), COLOURS.entry("red").rgb, COLOURS["red"]()
(['red'], (255, 0, 0), '#ff0000')
>>> COLOURS.lookup("rde")
Traceback (most recent call last):
...
lteval.errors.ConfigError: unknown colour 'rde' (did you mean 'red'?); choose one of: red

Where each registry lives (name -> what is registered):

- losses: :data:`lteval.train.loss_specs.LOSSES` (torch-free entry; the torch factory attaches
  to it in :mod:`lteval.train.losses`, checked against the entry's parameters)
- backbones: :data:`lteval.train.backbone_specs.BACKBONES`
- samplers: :data:`lteval.train.samplers.SAMPLERS`
- calibrators: :data:`lteval.calibration.base.REGISTRY`
- threshold strategies: :data:`lteval.thresholds.base.STRATEGIES`
- post-training stages: :data:`lteval.posttrain.stages.STAGE_REGISTRY`
- TTA merges: :data:`lteval.posttrain.tta.MERGE_REGISTRY`; ensemble merges:
  :data:`lteval.posttrain.ensemble.MERGE_REGISTRY`
- synthetic findings: :data:`lteval.data.findings.FINDINGS`
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

from lteval.errors import ConfigError, LtevalError, did_you_mean

__all__ = ["Entry", "Registry"]

_NOTHING = object()


@dataclass(frozen=True)
class Entry:
    """One registered name: the object, a one-line ``summary``, the ``paper`` it follows ("-" if
    none) and free-form metadata ``meta`` (also readable as attributes: ``entry.rgb``).

    Kinds with fixed metadata subclass it with typed fields (e.g.
    :class:`lteval.train.backbone_specs.BackboneInfo`); :meth:`Registry.register` fills those
    fields from its keyword arguments and puts the rest in ``meta``.
    """

    name: str
    obj: Any = None
    summary: str = ""
    paper: str = ""
    meta: Mapping = field(default_factory=dict)

    def __getattr__(self, key: str):
        meta = object.__getattribute__(self, "meta")
        if key in meta:
            return meta[key]
        raise AttributeError(f"{type(self).__name__} {object.__getattribute__(self, 'name')!r} has no {key!r}")


class Registry(Mapping):
    """Names -> registered objects, in registration order, with one :class:`Entry` each.

    ``kind`` names the thing in messages ("loss", "calibration method"). ``error`` is the
    :class:`~lteval.errors.LtevalError` raised for an unknown name, worded by ``unknown``: a
    ``str.format`` template with ``{kind}``, ``{name}`` (the value given), ``{hint}`` (the
    " (did you mean 'x'?)" suffix or ""), ``{choices}`` (the names, comma-separated) and any
    keyword passed to :meth:`lookup`/:meth:`entry`/:meth:`error`. ``aliases`` maps other
    spellings to registered names (resolved by :meth:`resolve`, not listed in :meth:`names`).
    ``check(entry, obj)`` runs on every :meth:`attach` and raises when ``obj`` does not fit the
    entry (e.g. a torch factory whose signature drifted from its torch-free entry).

    As a ``Mapping``, ``reg[name]`` is the registered object (``KeyError`` when unknown) and
    ``name in reg`` / ``list(reg)`` see the registered names only, never the aliases.
    """

    def __init__(self, kind: str, *, error: type[LtevalError] = ConfigError,
                 unknown: str = "unknown {kind} {name!r}{hint}; choose one of: {choices}",
                 aliases: Mapping[str, str] | None = None, entry_type: type[Entry] = Entry,
                 check: Callable[[Entry, Any], None] | None = None) -> None:
        self.kind = kind
        self._error = error
        self._unknown = unknown
        self.aliases = dict(aliases or {})
        self.entry_type = entry_type
        self._check = check
        self._typed = {f.name for f in dataclasses.fields(entry_type)} - {"name", "obj", "summary", "paper", "meta"}
        self._entries: dict[str, Entry] = {}

    # ----------------------------------------------------------------- registering
    def register(self, name: str, obj: Any = _NOTHING, *, summary: str = "", paper: str = "", **meta):
        """Register ``obj`` under ``name`` (replacing an entry of that name) and return it; without
        ``obj``, a decorator that registers what it decorates. ``meta`` is the entry's metadata."""
        def add(o):
            typed = {k: meta[k] for k in meta if k in self._typed}
            rest = {k: v for k, v in meta.items() if k not in self._typed}
            self._entries[name] = self.entry_type(name=name, obj=o, summary=summary, paper=paper,
                                                  meta=rest, **typed)
            return o
        if obj is _NOTHING:
            return add
        return add(obj)

    def attach(self, name: str, obj: Any) -> Entry:
        """Set the object of the already registered ``name`` (a torch implementation of a
        torch-free entry), after the registry's ``check``; returns the new entry."""
        entry = self.entry(name)
        if self._check is not None:
            self._check(entry, obj)
        self._entries[name] = dataclasses.replace(entry, obj=obj)
        return self._entries[name]

    # ----------------------------------------------------------------- looking up
    def names(self) -> list[str]:
        """Registered names, in registration order (no aliases)."""
        return list(self._entries)

    def entries(self) -> list[Entry]:
        """Every :class:`Entry`, in registration order."""
        return list(self._entries.values())

    def resolve(self, name: str, **fmt) -> str:
        """The registered name for ``name`` or one of its aliases; the registry's error otherwise."""
        key = self.aliases.get(name, name)
        if key not in self._entries:
            raise self.error(name, **fmt)
        return key

    def entry(self, name: str, **fmt) -> Entry:
        """The :class:`Entry` of ``name`` (or an alias); the registry's error when unknown."""
        return self._entries[self.resolve(name, **fmt)]

    def lookup(self, name: str, **fmt) -> Any:
        """The object registered as ``name`` (or an alias); the registry's error when unknown."""
        return self.entry(name, **fmt).obj

    def error(self, name: str, **fmt) -> LtevalError:
        """The error for the unknown ``name`` (not raised): value, did-you-mean hint and choices."""
        names = self.names()
        text = self._unknown.format(kind=self.kind, name=name, hint=did_you_mean(str(name), names),
                                    choices=", ".join(names), **fmt)
        return self._error(text)

    # ----------------------------------------------------------------- Mapping
    def __getitem__(self, name: str) -> Any:
        return self._entries[name].obj

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name) -> bool:
        return name in self._entries

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"
