"""The one registry idiom (lteval/registry.py) and the kinds registered through it (torch-free)."""

from __future__ import annotations

import doctest
from dataclasses import dataclass, fields

import pytest

import lteval.registry
from lteval.errors import ConfigError, UsageError
from lteval.registry import Entry, Registry


def test_doctest_runs():
    assert doctest.testmod(lteval.registry).failed == 0


def test_register_lookup_names_and_metadata():
    reg = Registry("widget", aliases={"w1": "one"})

    @reg.register("one", summary="the first", paper="Doe 2020", size=3)
    def one():
        return 1

    reg.register("two", lambda: 2, summary="the second")
    assert reg.names() == ["one", "two"] and list(reg) == ["one", "two"] and len(reg) == 2
    assert reg["one"] is one and reg.lookup("w1") is one and reg.resolve("w1") == "one"
    e = reg.entry("one")
    assert (e.name, e.summary, e.paper, e.size, e.meta) == ("one", "the first", "Doe 2020", 3, {"size": 3})
    assert "w1" not in reg and "one" in reg  # aliases resolve but are not listed
    with pytest.raises(AttributeError, match="no 'colour'"):
        e.colour
    with pytest.raises(ConfigError, match=r"^unknown widget 'onee' \(did you mean 'one'\?\); choose one of: one, two$"):
        reg.lookup("onee")
    with pytest.raises(KeyError):
        reg["w1"]


def test_error_class_template_and_extra_fields():
    reg = Registry("stage", error=UsageError, unknown="unknown {kind} {name!r} in {where!r}{hint}; stages: {choices}")
    reg.register("crt", None)
    with pytest.raises(UsageError, match=r"^unknown stage 'crtt' in 'x\+crtt' \(did you mean 'crt'\?\); stages: crt$"):
        reg.entry("crtt", where="x+crtt")
    assert isinstance(reg.error("zzz", where="q"), UsageError) and "(did you mean" not in str(reg.error("zzz", where="q"))


def test_typed_entries_and_attach_check():
    @dataclass(frozen=True)
    class Sized(Entry):
        size: int = 0

    def check(entry, obj):
        if obj() != entry.size:
            raise TypeError("drifted")

    reg = Registry("sized", entry_type=Sized, check=check)
    reg.register("a", None, size=2, colour="red")
    e = reg.entry("a")
    assert isinstance(e, Sized) and e.size == 2 and e.meta == {"colour": "red"} and e.obj is None
    with pytest.raises(TypeError, match="drifted"):
        reg.attach("a", lambda: 3)
    assert reg.entry("a").obj is None
    new = reg.attach("a", lambda: 2)
    assert reg.entry("a") is new and new.obj() == 2 and new.size == 2


def test_every_kind_uses_the_one_registry():
    from lteval.calibration import METHODS, REGISTRY
    from lteval.data.findings import CLASSES, FINDING_DOCS, FINDINGS
    from lteval.posttrain.ensemble import MERGE_REGISTRY as ENSEMBLE_MERGES, MERGES as E_MERGES
    from lteval.posttrain.pipeline import STAGES
    from lteval.posttrain.stages import STAGE_REGISTRY
    from lteval.posttrain.tta import MERGE_REGISTRY as TTA_MERGES, MERGES as T_MERGES
    from lteval.thresholds import STRATEGIES
    from lteval.train.backbone_specs import BACKBONES, list_backbones
    from lteval.train.loss_specs import LOSSES, list_losses

    for reg in (REGISTRY, FINDINGS, ENSEMBLE_MERGES, STAGE_REGISTRY, TTA_MERGES, STRATEGIES, BACKBONES, LOSSES):
        assert isinstance(reg, Registry) and reg.names()
    assert METHODS == tuple(REGISTRY.names()) and STAGES == tuple(STAGE_REGISTRY.names())
    assert T_MERGES == ("logits", "mean", "max", "gmean") and E_MERGES == ("logits", "probs", "rank")
    assert list(FINDING_DOCS) == FINDINGS.names() and set(FINDINGS.names()) == set(CLASSES)
    assert list_losses() == LOSSES.names() and list_backbones() == BACKBONES.names()
    assert STRATEGIES.names() == ["f1", "global", "precision", "recall", "prevalence", "fixed"]
    assert TTA_MERGES.resolve("geomean") == "gmean"


def test_each_stage_is_one_entry_with_its_options():
    from lteval.posttrain.pipeline import list_stages, stage_options
    from lteval.posttrain.stages import STAGE_REGISTRY

    for e, listed in zip(STAGE_REGISTRY.entries(), list_stages()):
        assert listed == {"name": e.name, "summary": e.summary, "options": e.options().to_dict()}
        assert stage_options(e.name) == e.options().to_dict() and e.summary and callable(e.run)
    assert [e.name for e in STAGE_REGISTRY.entries() if e.classifier] == ["crt", "tau", "lws"]


def test_crt_and_lws_configs_take_their_defaults_from_the_stage_options():
    pytest.importorskip("torch")
    from lteval.posttrain.crt import CRTConfig, LWSConfig
    from lteval.posttrain.options import CRTOptions, LWSOptions

    crt = CRTConfig().to_dict()
    assert {k: crt[k] for k in CRTOptions().to_dict()} == CRTOptions().to_dict() and crt["loss_kwargs"] == {}
    assert LWSConfig().to_dict() == LWSOptions().to_dict()
    assert [f.name for f in fields(CRTConfig)] == [*CRTOptions().to_dict(), "loss_kwargs"]


def test_a_stage_registered_at_run_time_joins_the_pipeline(monkeypatch):
    from lteval.posttrain import pipeline
    from lteval.posttrain.options import StageOptions
    from lteval.posttrain.stages import STAGE_REGISTRY, register_stage

    monkeypatch.setattr(STAGE_REGISTRY, "_entries", dict(STAGE_REGISTRY._entries))

    @dataclass
    class SharpenOptions(StageOptions):
        stage = "sharpen"
        power: float = 2.0

    @register_stage("sharpen", summary="p ** power", options=SharpenOptions)
    def _run(ctx, opts, out, prev, head):  # pragma: no cover - not run here
        return {}, head

    assert pipeline.parse_name("b+crt+calib+sharpen") == ("b", ("crt", "calib", "sharpen"))
    with pytest.raises(UsageError, match="stages must come in the order"):
        pipeline.parse_name("b+sharpen+calib")
    assert pipeline.stage_options("sharpen", {"power": "3"}) == {"power": 3.0}
    assert pipeline.split_overrides({"sharpen.power": 1, "lr": 2}) == ({"lr": 2}, {"sharpen": {"power": 1}})
    assert len(pipeline.all_combos()) == 96 and pipeline.list_stages()[-1]["name"] == "sharpen"
