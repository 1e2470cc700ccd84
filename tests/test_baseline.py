"""Named baselines (baselines/*.toml), presets, config overrides and hashing, and the CLI group."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lteval.errors import ConfigError, InputError
from lteval.train.baselines import get_baseline, grid_members, list_baselines, resolve
from lteval.train.config import PRESETS, TrainConfig, config_hash, parse_set, resolve_config

SEED_BACKBONES = ["resnet50", "resnet101", "densenet121", "densenet169", "efficientnet_b4", "efficientnet_v2_s",
                  "convnext_tiny", "convnext_small", "convnext_base", "convnext_large",
                  "efficientformerv2_s0", "efficientformerv2_s1", "efficientformerv2_s2"]
SEED_LOSSES = ["bce", "bce_pos_weight", "focal", "cb_focal", "asl", "ldam", "ldam_drw"]


def test_every_loss_backbone_combination_is_registered():
    names = set(list_baselines())
    for b in SEED_BACKBONES:
        for loss in SEED_LOSSES + ["dbloss", "la_bce"]:
            assert f"{b}_{loss}" in names
            d = get_baseline(f"{b}_{loss}")
            assert d["backbone"] == b and d["loss"] == loss
    for required in ("resnet50_bce", "resnet50_asl", "resnet50_ldam_drw", "convnext_large_ldam_drw",
                     "efficientformerv2_s_ldam_drw", "convnext_ldam_drw"):
        assert required in names
    assert get_baseline("convnext_ldam_drw")["head"] == "cosine"


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_baseline_resolves_under_every_preset(preset):
    from lteval.train.models import backbone_info
    for name in list_baselines():
        cfg = resolve(name, preset)
        want = get_baseline(name)["backbone"]
        if preset in ("paper", "seed"):
            assert cfg.backbone == want and cfg.image_size == 512 and cfg.pretrained == "imagenet"
            assert cfg.epochs == 15 and cfg.lr == 1e-4 and cfg.batch_size == 12
            if preset == "seed":
                assert cfg.weight_decay == 1e-5 and cfg.select_phase == "all"
                drw = "drw" in cfg.loss
                assert (cfg.loss_kwargs.get("drw_epoch") == 5) == drw, (name, cfg.loss_kwargs)
                assert drw or "drw_allow_early" not in cfg.loss_kwargs
        elif PRESETS[preset].get("backbone_rule") == "smallest":
            assert cfg.backbone == backbone_info(want).smallest
            assert cfg.image_size == (48 if preset == "study" else 64)
            assert cfg.pretrained == "none"
        if cfg.loss.startswith("ldam"):
            assert cfg.head == "cosine"


def test_seed_preset_recipe_and_its_deferral():
    """The seed recipe: DRW from epoch 5 of 15 (0-based index 5), positives-only weights; a --set
    value wins over the preset's loss default; the switch lands on the step the seed's code uses."""
    cfg = resolve("convnext_ldam_drw", "seed")
    assert cfg.loss_kwargs == {"drw_epoch": 5, "drw_allow_early": True, "weight_on": "positives"}
    assert resolve("convnext_ldam_drw", "seed", {"loss_kwargs.drw_epoch": "7"}).loss_kwargs["drw_epoch"] == 7
    from lteval.train.losses import create_loss
    loss = create_loss(cfg.loss, [100, 10, 1], **cfg.loss_kwargs)
    loss.schedule(15 * 100, 100)
    assert loss.switch_step == 500


def test_unknown_names_and_keys_give_suggestions():
    with pytest.raises(ConfigError, match="did you mean 'resnet50_asl'"):
        get_baseline("resnet50_asll")
    with pytest.raises(ConfigError, match="post-training"):
        get_baseline("resnet50_asl+crt")
    with pytest.raises(ConfigError, match="did you mean 'lr'"):
        resolve("resnet50_asl", overrides={"lrr": "1"})
    with pytest.raises(ConfigError, match="expects int"):
        resolve("resnet50_asl", overrides={"epochs": "two"})
    with pytest.raises(ConfigError, match="expects int"):
        resolve("resnet50_asl", overrides={"epochs": "2.5"})
    with pytest.raises(ConfigError, match="'lr' must be > 0"):
        resolve("resnet50_asl", overrides={"lr": "-1"})
    with pytest.raises(ConfigError, match="sampler"):
        resolve("resnet50_asl", overrides={"sampler": "classaware"})
    with pytest.raises(ConfigError, match="preset"):
        resolve("resnet50_asl", "gpu")
    with pytest.raises(ConfigError, match="key=value"):
        parse_set(["lr"])


def test_overrides_are_typed():
    cfg = resolve("resnet50_ldam_drw", "smoke", parse_set(
        ["lr=3e-4", "epochs=3", "ema=true", "loss_kwargs.drw_epoch=2", "sampler=class-aware",
         "backbone=resnet18", "split_fractions=0.7,0.2,0.1"]))
    assert cfg.lr == 3e-4 and cfg.epochs == 3 and cfg.ema is True
    assert cfg.loss_kwargs == {"drw_epoch": 2} and cfg.sampler == "class_aware"
    assert cfg.backbone == "resnet18" and cfg.split_fractions == [0.7, 0.2, 0.1]


def test_config_hash_covers_results_not_bookkeeping():
    a = resolve("resnet50_bce")
    assert config_hash(a) == config_hash(resolve("resnet50_bce"))
    assert len(config_hash(a)) == 64
    # bookkeeping does not change the hash (nor the name: the same config under another name)
    for k, v in (("num_workers", 4), ("checkpoint_every_steps", 5), ("eval_batch_size", 7)):
        assert config_hash(resolve("resnet50_bce", overrides={k: v})) == config_hash(a)
    b = resolve_config({"backbone": "resnet50", "loss": "bce", "name": "other", "description": "x"})
    assert config_hash(b) == config_hash(a)
    # anything that changes training does
    for k, v in (("lr", 1e-2), ("seed", 1), ("image_size", 48), ("loss_kwargs.x", 1), ("sampler", "sqrt")):
        assert config_hash(resolve("resnet50_bce", overrides={k: v})) != config_hash(a), k
    assert config_hash(resolve("resnet50_bce", "cpu")) != config_hash(a)
    d = a.to_dict()
    assert d["config_hash"] == config_hash(a) and "lteval_version" in d
    assert TrainConfig.from_dict(json.loads(json.dumps(d))) == a


def test_bad_toml_is_reported_with_the_file(tmp_path, monkeypatch):
    from lteval.train import baselines
    (tmp_path / "x_bce.toml").write_text('backbone = "resnet50"\nloss = "bce"\nlearning_rate = 1\n')
    monkeypatch.setenv("LTEVAL_BASELINES", str(tmp_path))
    baselines._load_all.cache_clear()
    try:
        with pytest.raises(InputError, match="learning_rate") as e:
            list_baselines()
        assert e.value.file.endswith("x_bce.toml")
    finally:
        baselines._load_all.cache_clear()


def test_grid_members():
    assert grid_members(["resnet50"], ["bce", "asl"]) == ["resnet50_asl", "resnet50_bce"]
    assert len(grid_members(None, ["ldam_drw"])) == len(SEED_BACKBONES)


def _cli():
    from lteval.cli import app
    return app


def test_cli_list_show_and_dry_run(tmp_path):
    runner = CliRunner()
    r = runner.invoke(_cli(), ["baseline", "list", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert {row["name"] for row in rows} == set(list_baselines())
    r = runner.invoke(_cli(), ["baseline", "show", "convnext_ldam_drw", "--preset", "cpu", "--set", "seed=3"])
    assert r.exit_code == 0, r.output
    shown = json.loads(r.stdout)
    assert shown["seed"] == 3 and shown["backbone"] == "convnext_atto" and shown["preset"] == "cpu"
    assert shown["config_hash"] == config_hash(resolve("convnext_ldam_drw", "cpu", {"seed": 3}))
    r = runner.invoke(_cli(), ["baseline", "show", "nope"])
    assert r.exit_code == 2 and "unknown baseline" in r.output
    r = runner.invoke(_cli(), ["baseline", "grid", "--backbones", "resnet50", "--losses", "bce,asl", "--dry-run",
                               "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "resnet50_asl" in r.output and "todo" in r.output
    r = runner.invoke(_cli(), ["baseline", "run", "--help"])
    assert r.exit_code == 0 and "--resume" in r.output and "--nproc" in r.output


def test_cli_import_does_not_import_torch():
    import subprocess
    import sys
    code = "import sys, lteval.commands.baseline; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


#: config_hash of a few baselines, computed with main at 6f9f512 (before loss/backbone metadata moved
#: to the torch-free lteval.train.loss_specs / backbone_specs) by
#: ``resolve(name, preset).to_dict()["config_hash"]``; all 476 baseline x preset dicts matched then.
#: A change here renames every existing run directory: it must be deliberate.
PINNED_HASHES = {
    ("convnext_ldam_drw", "seed"): "4e5a04c4c7e87e4907584e3a2ae60afc7af86ca61ee6d32a1fc13d10694cb3db",
    # the smoke preset then had 4 epochs; issue 12 deliberately made it 8 (see the test below)
    ("densenet121_dbloss", "smoke"): "3763f6e58708585a7baff7df6dedc845bbb067e29781e59370dd94d3c99c9470",
    ("efficientformerv2_s0_asl", "paper"): "cf046d60d9858e188dbcff1d01eb992051bf898880e6b52aaf3095899b26bdf4",
    ("resnet50_ldam_drw", "cpu"): "735ca42cf71dda5e90df9c6b616c358e863571238e06ca34e3cd0eb35d1384d1",
    ("convnext_tiny_la_bce", "seed"): "9ddf4e941d27f2511105640ee8ea7180a80f5ba3f9373c08cbbf8bf54514d7df",
}


@pytest.mark.parametrize("name, preset", sorted(PINNED_HASHES))
def test_config_hashes_of_existing_baselines_are_unchanged(name, preset):
    assert config_hash(resolve(name, preset)) == PINNED_HASHES[name, preset]


def test_smoke_preset_changed_only_its_epochs():
    """With the old 4 epochs, the smoke preset resolves to the hash pinned at 6f9f512."""
    cfg = resolve("densenet121_dbloss", "smoke", {"epochs": 4})
    assert config_hash(cfg) == "4aa757c94dc418f0ceeb611e842dc51ca807e968d30303bf66d63c6ecb5ba1b0"


def test_baseline_tomls_found_in_every_install_layout(tmp_path, monkeypatch):
    """Checkout, package data, <prefix>/share (venv wheel), <user base>/share (pip install --user)."""
    import site
    import sys

    from lteval.train import baselines

    dirs = baselines.baseline_dirs()
    assert dirs[2] == baselines.Path(sys.prefix) / "share" / "lteval" / "baselines"
    assert dirs[3] == baselines.Path(site.getuserbase()) / "share" / "lteval" / "baselines"
    monkeypatch.delenv("LTEVAL_BASELINES", raising=False)
    user = tmp_path / "user" / "share" / "lteval" / "baselines"
    user.mkdir(parents=True)
    (user / "mine_bce.toml").write_text('backbone = "resnet50"\nloss = "bce"\n')
    missing = [tmp_path / f"missing{i}" for i in range(3)]
    monkeypatch.setattr(baselines, "baseline_dirs", lambda: [*missing, user])
    assert baselines.baselines_dir() == user
    assert baselines.list_baselines() == ["mine_bce"]
    monkeypatch.setattr(baselines, "baseline_dirs", lambda: [*missing, tmp_path / "missing3"])
    assert baselines.baselines_dir() == missing[2]  # none installed: the venv location, for the message
