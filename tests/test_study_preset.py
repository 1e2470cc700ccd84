"""The ``study`` preset's synthetic set gives every tail class >= 15 training positives and every
class >= 20 positives in dev and in test, counted on the splits a run actually uses."""

from __future__ import annotations

import numpy as np
import pytest

from lteval.data import synth
from lteval.data.run_data import synth_params
from lteval.data.splits import make_splits
from lteval.tasks import CXRLT2026_TASK1_CLASSES as CLASSES
from lteval.train.baselines import resolve
from lteval.train.config import PRESETS

TAIL = [k for k, c in enumerate(CLASSES) if synth.PREVALENCE[k] < 0.01]


def _check(train_y, dev_y, test_y):
    assert len(TAIL) == 7
    tr, dv, te = train_y.sum(0), dev_y.sum(0), test_y.sum(0)
    low = {CLASSES[k]: int(tr[k]) for k in TAIL if tr[k] < 15}
    assert not low, f"tail classes with < 15 training positives: {low}"
    for name, n in (("dev", dv), ("test", te)):
        low = {c: int(v) for c, v in zip(CLASSES, n) if v < 20}
        assert not low, f"classes with < 20 {name} positives: {low}"


def test_study_preset_settings():
    cfg = resolve("convnext_tiny_bce", "study")
    assert cfg.preset == "study" and cfg.backbone == "convnext_atto"
    assert cfg.image_size == cfg.synth_size == 48
    p = PRESETS["study"]
    assert p["synth_n_train"] > PRESETS["cpu"]["synth_n_train"]
    # its own set: no other preset shares these synthetic parameters
    others = [synth_params(resolve("convnext_tiny_bce", q)) for q in PRESETS if q != "study"]
    assert synth_params(cfg) not in others


def test_study_splits_have_the_positives_it_promises():
    """Labels exactly as ``generate`` writes them (``_plan`` draws them; no pictures needed),
    split by ``make_splits`` with the run's fractions, seed and patient groups."""
    cfg = resolve("convnext_tiny_bce", "study")
    p = synth_params(cfg)
    plan = {sp.name: sp for sp in synth._plan({"train": p["n_train"], "dev": p["n_dev"], "test": p["n_test"]},
                                               p["seed"], 0.5, 5)}
    tr = plan["train"]
    splits = make_splits(tr.ids, tr.y, tr.patient_ids, fractions=tuple(cfg.split_fractions), seed=cfg.split_seed)
    keep = np.isin(tr.ids, splits["train"])
    assert 0.75 < keep.mean() < 0.85
    _check(tr.y[keep], plan["dev"].y, plan["test"].y)


@pytest.mark.slow
def test_study_counts_on_the_generated_files(tmp_path):
    """The same counts read back from a generated set (16 px pictures: labels do not depend on size)."""
    from lteval.data.source import open_source

    cfg = resolve("convnext_tiny_bce", "study")
    p = synth_params(cfg) | {"size": 16}
    root = synth.generate(tmp_path / "study", **p, progress=False)
    src = open_source(root)
    splits = make_splits(src.train_ids, src.train_y, src.train_groups, fractions=tuple(cfg.split_fractions),
                         seed=cfg.split_seed)
    keep = np.isin(src.train_ids, splits["train"])
    _check(src.train_y[keep], src.eval_labels("dev"), src.eval_labels("test"))
