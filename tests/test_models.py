"""Backbone registry: every backbone builds for one channel; pretrained none / imagenet / PATH."""

from __future__ import annotations

import time

import pytest
import torch

from lteval.errors import ConfigError, InputError, LtevalError, UsageError
from lteval.train.models import backbone_info, create_model, list_backbones, load_pretrained_file

PAPER = ["resnet50", "resnet101", "densenet121", "densenet169", "efficientnet_b4", "efficientnet_v2_s",
         "convnext_tiny", "convnext_small", "convnext_base", "convnext_large", "efficientformerv2_s0",
         "efficientformerv2_s1", "efficientformerv2_s2"]


def test_registry_contents():
    names = list_backbones()
    assert set(PAPER) <= set(names)
    families = {backbone_info(n).family for n in names}
    assert families == {"resnet", "densenet", "efficientnet", "efficientnet_v2", "convnext", "efficientformerv2"}
    for n in names:
        info = backbone_info(n)
        smallest = backbone_info(info.smallest)
        assert smallest.family == info.family and smallest.is_smallest
    assert backbone_info("convnext_large").smallest == "convnext_atto"
    assert backbone_info("resnet50").smallest == "resnet10t"
    assert backbone_info("efficientnet_v2_s").timm_name == "tf_efficientnetv2_s"
    assert backbone_info("efficientformerv2_s1").needs_img_size
    assert not backbone_info("convnext_tiny").needs_img_size
    assert list_backbones("densenet") == ["densenet121", "densenet169"]


@pytest.mark.parametrize("name", list_backbones())
def test_every_backbone_builds_one_channel(name):
    """Structure check for every backbone, on the meta device (no memory, no init: fast)."""
    with torch.device("meta"):
        model = create_model(name, 5, img_size=64, drop_rate=0.1).eval()
        out = model(torch.empty(2, 1, 64, 64))
    assert out.shape == (2, 5)
    first = next(p for n, p in model.named_parameters() if p.dim() == 4)
    assert first.shape[1] == 1  # one input channel


SMALLEST = sorted({backbone_info(n).smallest for n in list_backbones()})


def _real_forward(name):
    torch.manual_seed(0)
    model = create_model(name, 5, img_size=64, drop_rate=0.1).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, 64, 64))
    assert out.shape == (2, 5) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", SMALLEST)
def test_smallest_of_each_family_runs(name):
    _real_forward(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in list_backbones() if n not in SMALLEST])
def test_every_backbone_runs(name):
    _real_forward(name)


def test_fixed_size_architecture_uses_img_size():
    model = create_model("efficientformerv2_s0", 3, img_size=96).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 1, 96, 96)).shape == (1, 3)
    # convolutional backbones ignore img_size and take any input size
    model = create_model("resnet10t", 3, img_size=96).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 1, 80, 80)).shape == (1, 3)


def test_timm_passthrough_and_unknown_names():
    model = create_model("timm:resnet14t", 2).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 1, 64, 64)).shape == (1, 2)
    with pytest.raises(ConfigError, match="did you mean 'convnext_tiny'"):
        create_model("convnext_tiyn", 2)
    with pytest.raises(ConfigError, match="timm has no model"):
        create_model("timm:not_a_model_xyz", 2)
    with pytest.raises(ConfigError, match="num_classes"):
        create_model("resnet10t", 0)


def _save(tmp_path, sd, name):
    path = tmp_path / name
    if name.endswith(".safetensors"):
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    else:
        torch.save(sd, path)
    return path


@pytest.mark.parametrize("fname", ["w.safetensors", "w.pt"])
def test_pretrained_path_adapts_first_conv_and_skips_head(tmp_path, fname):
    import timm

    torch.manual_seed(1)
    src = timm.create_model("resnet10t", pretrained=False, num_classes=1000, in_chans=3)
    path = _save(tmp_path, src.state_dict(), fname)
    model = create_model("resnet10t", 4, pretrained=str(path))
    sd = model.state_dict()
    w3 = src.state_dict()["conv1.0.weight"]
    torch.testing.assert_close(sd["conv1.0.weight"], w3.sum(dim=1, keepdim=True))
    torch.testing.assert_close(sd["layer1.0.conv1.weight"], src.state_dict()["layer1.0.conv1.weight"])
    assert sd["fc.weight"].shape == (4, 512)  # head kept at the new size (random init)
    # the 3-channel model on a grey image replicated to 3 channels == the 1-channel model
    model.eval(), src.eval()
    x = torch.rand(2, 1, 48, 48)
    with torch.no_grad():
        f1 = model.forward_features(x)
        f3 = src.forward_features(x.expand(-1, 3, -1, -1))
    torch.testing.assert_close(f1, f3, rtol=1e-4, atol=1e-4)


def test_pretrained_path_lteval_checkpoint_and_prefixes(tmp_path):
    torch.manual_seed(2)
    src = create_model("convnext_atto", 3)
    wrapped = {"model": {"module." + k: v for k, v in src.state_dict().items()}, "epoch": 3}
    path = _save(tmp_path, wrapped, "ckpt.pt")
    model = create_model("convnext_atto", 3, pretrained=path)
    for k, v in src.state_dict().items():
        torch.testing.assert_close(model.state_dict()[k], v)


def test_pretrained_attention_biases_resized(tmp_path):
    src = create_model("efficientformerv2_s0", 3, img_size=224, in_chans=3)
    path = _save(tmp_path, src.state_dict(), "eff.safetensors")
    model = create_model("efficientformerv2_s0", 3, img_size=64, pretrained=path)
    with torch.no_grad():
        assert model.eval()(torch.zeros(1, 1, 64, 64)).shape == (1, 3)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pretrained_path_errors(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        create_model("resnet10t", 2, pretrained=str(tmp_path / "nope.safetensors"))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(InputError, match="safetensors") as ei:
        create_model("resnet10t", 2, pretrained=bad)
    assert ei.value.file == str(bad)
    bad_pt = tmp_path / "bad.pt"
    bad_pt.write_bytes(b"not a torch file")
    with pytest.raises(InputError, match="weights_only=True"):
        create_model("resnet10t", 2, pretrained=bad_pt)
    # a pickled object that is not a tensor is refused by weights_only=True
    import pickle

    obj = tmp_path / "obj.pt"
    obj.write_bytes(pickle.dumps({"x": object()}))
    with pytest.raises(InputError):
        create_model("resnet10t", 2, pretrained=obj)
    # weights of another backbone
    other = _save(tmp_path, create_model("resnet18", 2).state_dict(), "r18.safetensors")
    with pytest.raises(InputError, match="wrong backbone"):
        create_model("resnet10t", 2, pretrained=other)
    empty = _save(tmp_path, {"meta": {"epoch": 1}}, "meta.pt")
    with pytest.raises(InputError, match="no state dict"):
        load_pretrained_file(create_model("resnet10t", 2), empty)


def test_imagenet_offline_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    t0 = time.perf_counter()
    with pytest.raises(LtevalError, match="--pretrained PATH") as ei:
        create_model("convnext_large", 2, pretrained="imagenet")
    assert time.perf_counter() - t0 < 5
    assert "HF_HUB_OFFLINE" in str(ei.value)


def test_imagenet_unreachable_hub_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: connection refused
    t0 = time.perf_counter()
    with pytest.raises(LtevalError, match="cannot reach"):
        create_model("resnet10t", 2, pretrained="imagenet")
    assert time.perf_counter() - t0 < 5


def test_imagenet_uses_local_cache_without_network(tmp_path, monkeypatch):
    """A Hugging Face cache holding the weights is used offline (fake cache, random weights)."""
    import timm

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    hub_id = timm.models.get_pretrained_cfg("resnet10t").hf_hub_id
    repo = tmp_path / "hub" / ("models--" + hub_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    snap = repo / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    torch.manual_seed(3)
    src = timm.create_model("resnet10t", pretrained=False, in_chans=3)
    _save(snap, src.state_dict(), "model.safetensors")
    model = create_model("resnet10t", 6, pretrained="imagenet")
    torch.testing.assert_close(model.state_dict()["conv1.0.weight"],
                               src.state_dict()["conv1.0.weight"].sum(1, keepdim=True))


@pytest.mark.parametrize("name", SMALLEST)
def test_cosine_head_every_family(name):
    from lteval.train.models import NormedLinear

    with torch.device("meta"):
        model = create_model(name, 4, head="cosine", img_size=64).eval()
        assert model(torch.empty(3, 1, 64, 64)).shape == (3, 4)
    heads = [m for m in model.modules() if isinstance(m, NormedLinear)]
    assert heads and not any(isinstance(m, torch.nn.Linear) and m.out_features == 4 for m in model.modules())
    with pytest.raises(ConfigError, match="did you mean 'cosine'"):
        create_model(name, 4, head="cosin")


def test_cosine_head_values():
    from lteval.train.models import NormedLinear

    torch.manual_seed(0)
    model = create_model("resnet10t", 4, head="cosine").eval()
    with torch.no_grad():
        out = model(torch.randn(3, 1, 64, 64))
    assert out.shape == (3, 4) and out.abs().max() <= 1 + 1e-5
    # cosine similarity: invariant to the scale of the input and of the weight rows
    lin = NormedLinear(6, 2)
    x = torch.randn(5, 6)
    torch.testing.assert_close(lin(3 * x), lin(x))
    torch.testing.assert_close(lin(x)[:, 0], torch.nn.functional.cosine_similarity(x, lin.weight[0:1], dim=1))


def test_linear_checkpoint_into_cosine_head(tmp_path):
    src = create_model("resnet10t", 4)
    path = _save(tmp_path, src.state_dict(), "lin.safetensors")
    model = create_model("resnet10t", 4, head="cosine", pretrained=path)
    torch.testing.assert_close(model.fc.weight, src.fc.weight)  # direction kept, bias dropped


def test_torch_free_backbone_table_is_the_models_registry():
    """lteval.train.backbone_specs (config resolution without torch) is what create_model builds:
    every timm name exists, every family's smallest member is registered in that family."""
    import timm

    from lteval.train import backbone_specs, models

    assert models.backbone_info is backbone_specs.backbone_info and models.HEADS == backbone_specs.HEADS
    assert list_backbones() == backbone_specs.list_backbones()
    for n in list_backbones():
        info = backbone_info(n)
        assert timm.is_model(info.timm_name), n
        assert backbone_info(info.smallest).family == info.family
