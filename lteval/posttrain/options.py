"""The options of each post-training stage, torch-free: one dataclass per stage, defaults defined once.

``CRTOptions().to_dict()`` is the stage's defaults; ``CRTOptions.resolve({"epochs": "5"})`` the
resolved options (``--set crt.epochs=5``): unknown keys refused with a suggestion, values coerced to
the default's type, then ``validate()`` checks and normalises them (ConfigError naming
``STAGE.KEY``). The stages themselves (summary, run) are registered in
:mod:`lteval.posttrain.stages`; :class:`lteval.posttrain.crt.CRTConfig` and ``LWSConfig`` extend
the cRT and LWS options for the library API.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

from lteval.errors import ConfigError, did_you_mean
from lteval.posttrain.calib_stage import DEFAULT_METHOD, DEFAULT_THRESHOLDS
from lteval.posttrain.gate import DEFAULT_NORMAL
from lteval.posttrain.tta import DEFAULT_TTA, MERGE_REGISTRY, MERGES, parse_tta

__all__ = ["StageOptions", "CRTOptions", "TauOptions", "LWSOptions", "TTAOptions", "GateOptions",
           "CalibOptions"]


def _coerce(stage: str, key: str, value, default):
    """``value`` (often a ``--set`` string) as the type of ``default`` (bool, int, float or str)."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        s = str(value).strip().lower()
        if s in ("1", "true", "yes", "on"):
            return True
        if s in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{stage}.{key} expects true or false, got {value!r}")
    try:
        if isinstance(default, int):
            f = float(value)
            if not f.is_integer():
                raise ValueError
            return int(f)
        if isinstance(default, float):
            return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{stage}.{key} expects {type(default).__name__}, got {value!r}") from None
    return str(value)


class StageOptions:
    """Base of the stage option dataclasses; ``stage`` is the stage's name (for messages)."""

    stage: ClassVar[str] = ""

    def validate(self) -> None:
        """Check (and normalise in place) the coerced values; ConfigError when one is invalid."""

    def to_dict(self) -> dict:
        """``{option: value}`` in declaration order (what ``config.json`` stores and is hashed)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def resolve(cls, given: dict | None = None) -> dict:
        """The defaults updated by ``given`` (unknown keys refused, values coerced), validated."""
        d = cls().to_dict()
        out = dict(d)
        for k, v in (given or {}).items():
            if k not in d:
                raise ConfigError(f"unknown option {cls.stage}.{k}{did_you_mean(k, list(d))}; "
                                  f"{cls.stage} options: {', '.join(d)}")
            out[k] = _coerce(cls.stage, k, v, d[k])
        opts = cls(**out)
        opts.validate()
        return opts.to_dict()


class _TrainedOptions(StageOptions):
    """Options of a stage that trains (has ``epochs``, ``batch_size``, ``lr``)."""

    def validate(self) -> None:
        """epochs, batch_size >= 1 and lr > 0."""
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ConfigError(f"{self.stage}: epochs and batch_size must be >= 1 and lr > 0")


@dataclass
class CRTOptions(_TrainedOptions):
    """cRT: a new linear classifier on the frozen backbone (units: epochs, images, learning rate)."""

    stage: ClassVar[str] = "crt"
    epochs: int = 30
    lr: float = 1e-2
    weight_decay: float = 1e-4
    batch_size: int = 256
    images_per_epoch: int = 0        # 0 = the size of the training split
    sampler: str = "class_aware"
    loss: str = "bce"
    warmup_epochs: float = 0.0
    min_lr_ratio: float = 0.0
    augment: bool = False            # False: features computed once; True: per batch from augmented images
    seed: int = 0


@dataclass
class TauOptions(StageOptions):
    """tau-normalisation: ``tau`` a number >= 0 or ``"auto"`` (chosen on val); ``bias`` drop|scale."""

    stage: ClassVar[str] = "tau"
    tau: str = "auto"
    bias: str = "drop"

    def validate(self) -> None:
        """``tau`` becomes a float unless ``"auto"``; ``bias`` is drop or scale."""
        if self.tau != "auto":
            try:
                t = float(self.tau)
            except ValueError:
                raise ConfigError(f"tau.tau must be 'auto' or a number >= 0, got {self.tau!r}") from None
            if not t >= 0:
                raise ConfigError(f"tau.tau must be 'auto' or a number >= 0, got {self.tau!r}")
            self.tau = t
        if self.bias not in ("drop", "scale"):
            raise ConfigError(f"tau.bias must be 'drop' or 'scale', got {self.bias!r}")


@dataclass
class LWSOptions(_TrainedOptions):
    """LWS: per-class scales of the classifier trained on the train split (only they train)."""

    stage: ClassVar[str] = "lws"
    epochs: int = 5
    lr: float = 1e-2
    batch_size: int = 256
    images_per_epoch: int = 0
    sampler: str = "class_aware"
    seed: int = 0


@dataclass
class TTAOptions(StageOptions):
    """TTA: ``transforms`` a TTA spec (:func:`lteval.posttrain.tta.parse_tta`), ``merge`` a merge name."""

    stage: ClassVar[str] = "tta"
    transforms: str = DEFAULT_TTA
    merge: str = "logits"

    def validate(self) -> None:
        """The transforms parse; ``merge`` (or an alias) becomes the registered merge name."""
        parse_tta(self.transforms)
        m = MERGE_REGISTRY.aliases.get(self.merge, self.merge)
        if m not in MERGE_REGISTRY:
            raise ConfigError(f"tta.merge must be one of {', '.join(MERGES)}, got {self.merge!r}")
        self.merge = m


@dataclass
class GateOptions(StageOptions):
    """Normal gating: ``alpha`` in [0, 1] or ``"auto"`` (fitted on calib); ``normal`` the class name."""

    stage: ClassVar[str] = "gate"
    alpha: str = "auto"
    normal: str = DEFAULT_NORMAL

    def validate(self) -> None:
        """``alpha`` becomes a float in [0, 1] unless ``"auto"``."""
        if str(self.alpha).strip().lower() != "auto":
            try:
                a = float(self.alpha)
            except ValueError:
                a = float("nan")
            if not 0.0 <= a <= 1.0:
                raise ConfigError(f"gate.alpha must be 'auto' or a number in [0, 1], got {self.alpha!r}")
            self.alpha = a


@dataclass
class CalibOptions(StageOptions):
    """Calibration + thresholds on calib: ``method`` a calibration method, ``thresholds`` a strategy
    or ``"none"``."""

    stage: ClassVar[str] = "calib"
    method: str = DEFAULT_METHOD
    thresholds: str = DEFAULT_THRESHOLDS

    def validate(self) -> None:
        """``method`` is registered; ``thresholds`` parses ("" becomes "none"; no prevalence)."""
        from lteval.calibration import METHODS
        from lteval.thresholds import parse_strategy

        if self.method not in METHODS:
            raise ConfigError(f"calib.method {self.method!r} is not a calibration method"
                              f"{did_you_mean(self.method, METHODS)}; choose one of: {', '.join(METHODS)}")
        if self.thresholds in ("", "none"):
            self.thresholds = "none"
        else:
            parse_strategy(self.thresholds)
            if self.thresholds == "prevalence":
                raise ConfigError("calib.thresholds=prevalence is not available in the pipeline (use f1, global, "
                                  "precision@X, recall@X or fixed@X)")
