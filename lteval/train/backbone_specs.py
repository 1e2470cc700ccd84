"""The backbone registry without torch: names, families, timm names, smallest members, sizes.

:data:`BACKBONES` is a :class:`lteval.registry.Registry` of :class:`BackboneInfo` entries;
``list_backbones(family=None)`` names the registered backbones (registry order);
``backbone_info(name)`` is one :class:`BackboneInfo` (ConfigError with a suggestion when unknown).
:func:`lteval.train.models.create_model` builds them with timm; config resolution (the smallest
member of a family for the CPU presets) reads this table on an install without torch. Only a
``"timm:<name>"`` backbone (any other timm model) needs timm to be described.
"""

from __future__ import annotations

from dataclasses import dataclass

from lteval.errors import ConfigError, did_you_mean
from lteval.registry import Entry, Registry

__all__ = ["BACKBONES", "BackboneInfo", "HEADS", "backbone_info", "list_backbones", "register_family"]

#: classifier heads ``create_model`` builds (``cosine``: LDAM's normalised classifier)
HEADS = ("linear", "cosine")


@dataclass(frozen=True)
class BackboneInfo(Entry):
    """A registered backbone (``name``; ``obj`` is unused: timm builds it from ``timm_name``)."""

    family: str = ""
    timm_name: str = ""
    smallest: str = ""         # registry name of the smallest member of the family (CPU presets)
    default_img_size: int = 224  # timm's pretraining input size, pixels
    needs_img_size: bool = False  # the architecture is built for one input size (pass img_size)

    @property
    def is_smallest(self) -> bool:
        """True for the smallest member of its family (what the CPU presets use)."""
        return self.name == self.smallest


#: Every registered backbone, in registry order (``lteval baseline list``).
BACKBONES = Registry("backbone", entry_type=BackboneInfo,
                     unknown="unknown {kind} {name!r}{hint}; registered: {choices} "
                             "(or 'timm:<any timm model name>')")


def register_family(family: str, smallest: str, members: list[tuple[str, str, int]],
                    needs_img_size: bool = False) -> None:
    """Register a family's backbones: ``members`` are ``(name, timm name, default image size px)``;
    ``smallest`` is the member the CPU presets use."""
    for name, timm_name, size in members:
        BACKBONES.register(name, None, family=family, timm_name=timm_name, smallest=smallest,
                           default_img_size=size, needs_img_size=needs_img_size)


register_family("resnet", "resnet10t", [("resnet10t", "resnet10t", 176), ("resnet18", "resnet18", 224),
                                        ("resnet50", "resnet50", 224), ("resnet101", "resnet101", 224)])
register_family("densenet", "densenet121", [("densenet121", "densenet121", 224),
                                            ("densenet169", "densenet169", 224)])
register_family("efficientnet", "efficientnet_b0", [("efficientnet_b0", "efficientnet_b0", 224),
                                                    ("efficientnet_b4", "efficientnet_b4", 320)])
register_family("efficientnet_v2", "efficientnet_v2_b0",
                [("efficientnet_v2_b0", "tf_efficientnetv2_b0", 192),
                 ("efficientnet_v2_s", "tf_efficientnetv2_s", 300)])
register_family("convnext", "convnext_atto", [("convnext_atto", "convnext_atto", 224),
                                              ("convnext_femto", "convnext_femto", 224),
                                              ("convnext_tiny", "convnext_tiny", 224),
                                              ("convnext_small", "convnext_small", 224),
                                              ("convnext_base", "convnext_base", 224),
                                              ("convnext_large", "convnext_large", 224)])
register_family("efficientformerv2", "efficientformerv2_s0",
                [("efficientformerv2_s0", "efficientformerv2_s0", 224),
                 ("efficientformerv2_s1", "efficientformerv2_s1", 224),
                 ("efficientformerv2_s2", "efficientformerv2_s2", 224)], needs_img_size=True)


def list_backbones(family: str | None = None) -> list[str]:
    """Registered backbone names (optionally of one family), in registry order."""
    return [b.name for b in BACKBONES.entries() if family is None or b.family == family]


def backbone_info(name: str) -> BackboneInfo:
    """Registry entry for ``name``; ``"timm:<name>"`` describes an unregistered timm model."""
    if name in BACKBONES:
        return BACKBONES.entry(name)
    if name.startswith("timm:"):
        import timm

        timm_name = name[5:]
        if not timm.is_model(timm_name):
            raise ConfigError(f"timm has no model {timm_name!r}"
                              f"{did_you_mean(timm_name, timm.list_models(timm_name.split('_')[0] + '*'))}")
        needs = timm_name.startswith(("efficientformerv2", "vit", "deit", "levit", "swin"))
        return BackboneInfo(name, family="timm", timm_name=timm_name, smallest=name, default_img_size=224,
                            needs_img_size=needs)
    raise BACKBONES.error(name)
