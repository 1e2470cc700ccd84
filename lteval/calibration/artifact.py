"""CALIB.json: a fitted calibrator (and optional thresholds) as plain, validated JSON.

Layout (``schema_version`` 1)::

    {"format": "lteval-calibration", "schema_version": 1, "lteval_version": "...",
     "task": "cxrlt2026-task1", "classes": [...], "method": "isotonic",
     "input": "probs" | "logits", "options": {...}, "params": {...},
     "thresholds": null | {...},           # lteval.thresholds.Thresholds.to_dict()
     "fit": {"n_samples": int, "n_pos": [...], "passthrough_classes": [...], "warnings": [...]}}

Loading checks every field (types, lengths, finiteness, ranges) and raises
:class:`~lteval.errors.InputError` naming the file and the field; nothing is
executed or unpickled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lteval.calibration.base import REGISTRY, Calibrator, create_calibrator
from lteval.errors import InputError, UsageError, did_you_mean
from lteval.io.jsonfile import read_json
from lteval.thresholds import Thresholds

FORMAT = "lteval-calibration"
SCHEMA_VERSION = 1
_KEYS = ("format", "schema_version", "lteval_version", "task", "classes", "method", "input",
         "options", "params", "thresholds", "fit")


@dataclass
class CalibrationArtifact:
    """What CALIB.json holds: task name, class names, the fitted calibrator, optional thresholds."""

    task: str
    classes: tuple[str, ...]
    calibrator: Calibrator
    thresholds: Thresholds | None = None
    fit: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        from lteval import __version__

        cal = self.calibrator
        if cal.n_classes_ != len(self.classes):
            raise UsageError(f"calibrator has {cal.n_classes_} classes, {len(self.classes)} names given")
        fit = dict(self.fit)
        if cal.passthrough_ is not None and cal.per_class:
            fit.setdefault("passthrough_classes",
                           [self.classes[i] for i in np.flatnonzero(cal.passthrough_)])
        return {
            "format": FORMAT,
            "schema_version": SCHEMA_VERSION,
            "lteval_version": __version__,
            "task": self.task,
            "classes": list(self.classes),
            "method": cal.method,
            "input": cal.input,
            "options": cal.options(),
            "params": cal.get_params(),
            "thresholds": None if self.thresholds is None else self.thresholds.to_dict(),
            "fit": _json_safe(fit),
        }

    def save(self, path: str | Path, *, force: bool = False) -> Path:
        from lteval.io.atomic import check_writable, write_json_atomic

        check_writable(path, force)
        return write_json_atomic(path, self.to_dict(), force=True)

    @classmethod
    def from_dict(cls, d, source: str = "<dict>") -> "CalibrationArtifact":
        def bad(msg):
            return InputError(msg, file=source)

        if not isinstance(d, dict):
            raise bad(f"expected a JSON object, got {type(d).__name__}")
        if d.get("format") != FORMAT:
            raise bad(f"not an lteval calibration file (field 'format' must be {FORMAT!r}, "
                      f"got {d.get('format')!r})")
        ver = d.get("schema_version")
        if isinstance(ver, bool) or not isinstance(ver, int):
            raise bad(f"field 'schema_version' must be an integer, got {ver!r}")
        if ver > SCHEMA_VERSION:
            raise bad(f"schema_version {ver} was written by a newer lteval; this one reads "
                      f"version {SCHEMA_VERSION}: upgrade lteval")
        if ver != SCHEMA_VERSION:
            raise bad(f"unsupported schema_version {ver} (expected {SCHEMA_VERSION})")
        missing = [k for k in _KEYS if k not in d]
        if missing:
            raise bad(f"missing field(s) {', '.join(map(repr, missing))}")
        extra = sorted(set(d) - set(_KEYS))
        if extra:
            raise bad(f"unexpected field(s) {', '.join(map(repr, extra))}"
                      f"{did_you_mean(extra[0], _KEYS)}")
        if not isinstance(d["task"], str) or not d["task"]:
            raise bad("field 'task' must be a non-empty string")
        classes = d["classes"]
        if (not isinstance(classes, list) or not classes
                or not all(isinstance(c, str) and c for c in classes)):
            raise bad("field 'classes' must be a non-empty list of class names")
        if len(set(classes)) != len(classes):
            dup = next(c for c in classes if classes.count(c) > 1)
            raise bad(f"field 'classes' lists {dup!r} twice")
        method = d["method"]
        if not isinstance(method, str) or method not in REGISTRY:
            raise bad(f"field 'method': unknown calibration method {method!r}"
                      f"{did_you_mean(str(method), REGISTRY)}; known: {', '.join(REGISTRY)}")
        if d["input"] not in ("logits", "probs"):
            raise bad(f"field 'input' must be 'logits' or 'probs', got {d['input']!r}")
        opts = d["options"]
        if not isinstance(opts, dict):
            raise bad("field 'options' must be an object")
        try:
            cal = create_calibrator(method, input=d["input"], **opts)
        except UsageError as e:
            raise bad(f"field 'options': {e.message}") from None
        try:
            cal.set_params_from_json(d["params"], len(classes), "params")
        except InputError as e:
            raise bad(e.message) from None
        thr = None
        if d["thresholds"] is not None:
            try:
                thr = Thresholds.from_dict(d["thresholds"], len(classes), "thresholds")
            except InputError as e:
                raise bad(e.message) from None
        if not isinstance(d["fit"], dict):
            raise bad("field 'fit' must be an object")
        return cls(d["task"], tuple(classes), cal, thr, dict(d["fit"]))


def load_calibration(path: str | Path) -> CalibrationArtifact:
    """Read and validate CALIB.json (InputError/UsageError naming the file on any problem)."""
    p = Path(path)
    d = read_json(p, "calibration file", allow_nan=False)
    return CalibrationArtifact.from_dict(d, source=str(p))


def _json_safe(x):
    """Replace NaN/inf (and numpy scalars) by JSON-safe values, recursively."""
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, (np.floating, float)):
        f = float(x)
        return f if np.isfinite(f) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, np.ndarray):
        return _json_safe(x.tolist())
    return x
