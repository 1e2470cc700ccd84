"""The backbone registry without torch: names, families, timm names, smallest members, sizes.

``list_backbones(family=None)`` names the registered backbones (registry order);
``backbone_info(name)`` is one :class:`BackboneInfo` (ConfigError with a suggestion when unknown).
:func:`lteval.train.models.create_model` builds them with timm; config resolution (the smallest
member of a family for the CPU presets) reads this table on an install without torch. Only a
``"timm:<name>"`` backbone (any other timm model) needs timm to be described.
"""

from __future__ import annotations

from dataclasses import dataclass

from lteval.errors import ConfigError, did_you_mean

__all__ = ["BackboneInfo", "HEADS", "backbone_info", "list_backbones"]

#: classifier heads ``create_model`` builds (``cosine``: LDAM's normalised classifier)
HEADS = ("linear", "cosine")


@dataclass(frozen=True)
class BackboneInfo:
    """A registered backbone."""

    name: str
    family: str
    timm_name: str
    smallest: str          # registry name of the smallest member of the family (CPU presets)
    default_img_size: int  # timm's pretraining input size
    needs_img_size: bool = False  # the architecture is built for one input size (pass img_size)

    @property
    def is_smallest(self) -> bool:
        return self.name == self.smallest


def _family(family: str, smallest: str, members: list[tuple[str, str, int]], needs_img_size=False):
    return [BackboneInfo(n, family, t, smallest, s, needs_img_size) for n, t, s in members]


_BACKBONES: dict[str, BackboneInfo] = {b.name: b for b in (
    _family("resnet", "resnet10t", [("resnet10t", "resnet10t", 176), ("resnet18", "resnet18", 224),
                                    ("resnet50", "resnet50", 224), ("resnet101", "resnet101", 224)])
    + _family("densenet", "densenet121", [("densenet121", "densenet121", 224),
                                          ("densenet169", "densenet169", 224)])
    + _family("efficientnet", "efficientnet_b0", [("efficientnet_b0", "efficientnet_b0", 224),
                                                  ("efficientnet_b4", "efficientnet_b4", 320)])
    + _family("efficientnet_v2", "efficientnet_v2_b0",
              [("efficientnet_v2_b0", "tf_efficientnetv2_b0", 192),
               ("efficientnet_v2_s", "tf_efficientnetv2_s", 300)])
    + _family("convnext", "convnext_atto", [("convnext_atto", "convnext_atto", 224),
                                            ("convnext_femto", "convnext_femto", 224),
                                            ("convnext_tiny", "convnext_tiny", 224),
                                            ("convnext_small", "convnext_small", 224),
                                            ("convnext_base", "convnext_base", 224),
                                            ("convnext_large", "convnext_large", 224)])
    + _family("efficientformerv2", "efficientformerv2_s0",
              [("efficientformerv2_s0", "efficientformerv2_s0", 224),
               ("efficientformerv2_s1", "efficientformerv2_s1", 224),
               ("efficientformerv2_s2", "efficientformerv2_s2", 224)], needs_img_size=True)
)}


def list_backbones(family: str | None = None) -> list[str]:
    """Registered backbone names (optionally of one family), in registry order."""
    return [n for n, b in _BACKBONES.items() if family is None or b.family == family]


def backbone_info(name: str) -> BackboneInfo:
    """Registry entry for ``name``; ``"timm:<name>"`` describes an unregistered timm model."""
    if name in _BACKBONES:
        return _BACKBONES[name]
    if name.startswith("timm:"):
        import timm

        timm_name = name[5:]
        if not timm.is_model(timm_name):
            raise ConfigError(f"timm has no model {timm_name!r}"
                              f"{did_you_mean(timm_name, timm.list_models(timm_name.split('_')[0] + '*'))}")
        needs = timm_name.startswith(("efficientformerv2", "vit", "deit", "levit", "swin"))
        return BackboneInfo(name, "timm", timm_name, name, 224, needs)
    raise ConfigError(f"unknown backbone {name!r}{did_you_mean(name, list(_BACKBONES))}; registered: "
                      f"{', '.join(_BACKBONES)} (or 'timm:<any timm model name>')")
