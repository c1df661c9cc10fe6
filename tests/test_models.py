"""The zoo against the lecture notes' parameter counts and shapes; ImageNet weights from a hub cache."""

from __future__ import annotations

import urllib.error

import pytest
import torch
from torch import nn

import cnnviz
from cnnviz import models

NOTES_COUNTS = {  # as printed in the lecture notes (10 classes)
    "mnist_cnn": 405_898,
    "keras_cifar10": 582_026,
    "simple_convnet": 433_890,
    "tf_mnist": 3_274_634,
    "lenet5": 61_706,
    "lenet5_28": 61_706,
}


@pytest.mark.parametrize("name, count", NOTES_COUNTS.items())
def test_notes_networks_have_the_notes_parameter_counts(name, count):
    model = cnnviz.build_model(name)
    assert sum(p.numel() for p in model.parameters()) == count
    x = torch.zeros(2, *cnnviz.ZOO[name].input_shape)
    assert model(x).shape == (2, 10)
    summary = cnnviz.summarize(name)
    assert summary.total == summary.trainable == count and summary.non_trainable == 0
    assert sum(r.params for r in summary.rows) == count


def test_the_accurate_presets_net_counts_its_layers_parameters():
    """bn_convnet (ours, not the notes'): 3×3 convs without bias, batch norm's scale and shift, two fc layers."""
    convs = 1 * 32 * 9 + 32 * 32 * 9 + 32 * 64 * 9 + 64 * 64 * 9
    norms = 2 * (32 + 32 + 64 + 64)
    fcs = 64 * 7 * 7 * 128 + 128 + 128 * 10 + 10
    model = cnnviz.build_model("bn_convnet")
    assert sum(p.numel() for p in model.parameters()) == convs + norms + fcs == 468_010
    assert model.eval()(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert [type(m).__name__ for m in model.features][:3] == ["Conv2d", "BatchNorm2d", "ReLU"]
    assert cnnviz.summarize("bn_convnet").total == 468_010


def test_keras_cifar10_summary_shows_the_notes_shapes():
    summary = cnnviz.summarize("keras_cifar10")
    shapes = [r.keras_shape for r in summary.rows if r.kind != "ReLU"]
    assert shapes == ["32×32×32", "16×16×32", "16×16×64", "8×8×64", "8×8×64", "4096", "128", "10"]
    text = summary.to_text()
    assert "Total params: 582,026" in text and "Non-trainable params: 0" in text


def test_summary_shapes_agree_with_pytorch():
    model = cnnviz.build_model("simple_convnet").eval()
    summary = cnnviz.summarize(model, (1, 28, 28))
    seen = {}
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, tuple(o.shape[1:])))
             for n, m in model.named_modules() if n and not list(m.children())]
    model(torch.zeros(1, 1, 28, 28))
    for h in hooks:
        h.remove()
    assert {r.name: r.output_shape for r in summary.rows} == seen


def test_summary_counts_frozen_parameters():
    model = cnnviz.build_model("mnist_cnn")
    for p in model.features.parameters():
        p.requires_grad_(False)
    s = cnnviz.summarize(model, (1, 28, 28))
    assert s.total == 405_898 and s.trainable == 147_584 + 1_290 and s.non_trainable == 256_960 + 64


def test_bad_names_and_shapes_raise_with_a_hint():
    with pytest.raises(ValueError, match="the zoo has"):
        cnnviz.build_model("vgg99")
    with pytest.raises(ValueError, match="cannot take a 1×32×32 input"):
        cnnviz.summarize(cnnviz.build_model("mnist_cnn"), (1, 32, 32))
    with pytest.raises(ValueError, match="RGB"):
        cnnviz.build_model("resnet18", in_channels=1)


def test_seed_makes_initial_weights_reproducible_without_touching_global_rng():
    state = torch.random.get_rng_state()
    a, b = cnnviz.build_model("lenet5", seed=3), cnnviz.build_model("lenet5", seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


def test_every_zoo_entry_builds_and_names_its_layers():
    for name in ("alexnet", "vgg16", "mobilenet_v2", "resnet18", "resnet50"):
        with torch.device("meta"):
            model = cnnviz.build_model(name)
        assert isinstance(model, nn.Module) and cnnviz.layer_names(model, kinds=(nn.Conv2d,))
    assert cnnviz.layer_names(cnnviz.build_model("mnist_cnn"), kinds=(nn.Conv2d,)) == [
        "features.0", "features.3", "features.6"]


# ---------------------------------------------------------------------------- ImageNet weights


@pytest.fixture
def hub_dir(tmp_path):
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    yield tmp_path
    torch.hub.set_dir(old)


def test_imagenet_weights_load_from_the_torch_hub_cache(hub_dir, no_network):
    import torchvision

    reference = torchvision.models.resnet18(weights=None)
    cached, path = cnnviz.imagenet_weights_status("resnet18")
    assert not cached and path.parent == hub_dir / "checkpoints"
    path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), path)
    assert cnnviz.imagenet_weights_status("resnet18")[0]
    model = cnnviz.load_imagenet_model("resnet18", download=False)
    assert not model.training
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), reference.state_dict().values()))
    assert len(cnnviz.imagenet_categories()) == 1000


def test_missing_imagenet_weights_say_how_to_get_them(hub_dir, no_network):
    with pytest.raises(cnnviz.WeightsUnavailable, match="mobilenet_v2-.*pth.*checkpoints"):
        cnnviz.load_imagenet_model("mobilenet_v2", download=False)
    with pytest.raises(cnnviz.WeightsUnavailable, match="download failed"):
        cnnviz.load_imagenet_model("resnet18", download=True, progress=False)
    with pytest.raises(ValueError, match="no ImageNet weights"):
        cnnviz.imagenet_weights_status("mnist_cnn")


def test_wrong_file_in_the_cache_is_reported(hub_dir):
    _, path = cnnviz.imagenet_weights_status("resnet18")
    path.parent.mkdir(parents=True)
    torch.save(cnnviz.build_model("mnist_cnn").state_dict(), path)
    with pytest.raises(cnnviz.WeightsUnavailable, match="does not hold resnet18"):
        models.load_imagenet_model("resnet18", download=False)


@pytest.mark.parametrize("name", ["keras_cifar10", "resnet18", "mobilenet_v2", "efficientnet_lite0"])
def test_summary_rows_add_up_to_the_total(name):
    """Containers were listed beside their own layers, so ResNet's and MobileNetV2's Param # added up to more."""
    summary = cnnviz.summarize(name)
    assert sum(r.params for r in summary.rows) == summary.total
    text = summary.to_text()
    assert f"Total params: {summary.total:,}" in text
    lines = text.splitlines()
    width = lines[2].index("Output shape")
    for line in lines[4:-5]:  # the layer lines: the name never runs into the shape column
        assert line[width - 1] == " " and line[width] != " ", line


def test_torchvision_totals_match_their_published_figures():
    """Independent figures (torchvision's documentation, 1000 ImageNet classes), not our own function's output."""
    published = {"resnet18": 11_689_512, "resnet50": 25_557_032, "mobilenet_v2": 3_504_872, "vgg16": 138_357_544,
                 "alexnet": 61_100_840}
    for name, total in published.items():
        with torch.device("meta"):
            model = cnnviz.build_model(name, num_classes=1000)
        assert sum(p.numel() for p in model.parameters()) == total, name


def test_the_notes_keras_transfer_tables_to_the_parameter():
    """MobileNetV2 + 128-64-10: 2,430,858; ResNet50V2 + 128-64-10: 23,835,978 (the lecture notes' Keras tables)."""
    from cnnviz import models

    mobile = models.notes_keras_table("mobilenet_v2")
    assert (mobile.keras_base, mobile.total) == (2_257_984, 2_430_858)
    assert mobile.bn_moving == 34_112 and mobile.conv_biases == 0
    resnet = models.notes_keras_table("resnet50v2")
    assert (resnet.keras_base, resnet.total) == (23_564_800, 23_835_978)
    assert resnet.conv_biases == 19_008 and resnet.features == 2048
    trainable, non_trainable, total = models.keras_param_counts(torch.nn.BatchNorm2d(8))
    assert (trainable, non_trainable, total) == (16, 16, 32)
