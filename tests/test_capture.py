"""cnnviz.capture, cnnviz.cards and cnnviz.plots.maps: hooks, feature maps, filters, predictions, preprocessing,
mosaics."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

import cnnviz
from cnnviz import capture, cards
from cnnviz.plots import maps


def hooks_left(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


def hand_net() -> nn.Sequential:
    """conv(1→2, 3×3) with hand-set weights, an in-place ReLU, max-pool 2."""
    conv = nn.Conv2d(1, 2, 3, bias=True)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0] = 1.0  # box sum
        conv.weight[1, 0, 1] = torch.tensor([-1.0, 0.0, 1.0])  # horizontal gradient: right − left
        conv.bias.copy_(torch.tensor([-100.0, 0.5]))
    return nn.Sequential(conv, nn.ReLU(inplace=True), nn.MaxPool2d(2))


def test_exact_values_on_hand_set_weights_and_inplace_relu_does_not_overwrite():
    x = torch.arange(36, dtype=torch.float32).view(1, 6, 6)  # x[r, c] = 6r + c
    net = hand_net()
    conv, relu, pool = capture.feature_maps_many(net, x, ["0", "1", "2"])
    box = np.array([[9 * (6 * r + c) + 9 * 7 for c in range(4)] for r in range(4)], dtype=np.float32) - 100
    assert np.array_equal(conv.maps[0].numpy(), box)  # 3×3 sum of 6r+c around (r+1, c+1) = 9·(6(r+1)+(c+1))
    assert np.array_equal(conv.maps[1].numpy(), np.full((4, 4), 2.5, np.float32))  # (c+2) − c + 0.5
    assert (conv.maps[0] < 0).any(), "the conv output must keep its negatives despite the in-place ReLU"
    assert torch.equal(relu.maps, conv.maps.clamp(min=0))
    assert torch.equal(pool.maps, F.max_pool2d(relu.maps[None], 2)[0])
    assert (conv.kind, relu.kind, pool.kind) == ("Conv2d", "ReLU", "MaxPool2d")
    assert conv.size == (4, 4) and pool.size == (2, 2) and conv.input_size == (6, 6)


def test_feature_maps_match_f_conv2d_on_a_zoo_model():
    torch.manual_seed(0)
    model = cnnviz.build_model("mnist_cnn", seed=1)
    x = torch.randn(1, 28, 28)
    fm = capture.feature_maps(model, x, "features.0")
    conv = model.features[0]
    expected = F.conv2d(x[None], conv.weight, conv.bias, padding=2)[0]
    assert fm.maps.shape == (32, 28, 28)
    torch.testing.assert_close(fm.maps, expected.detach())


def test_no_hook_left_after_1000_calls_and_after_exceptions():
    model = hand_net()
    x = torch.randn(1, 8, 8)
    for _ in range(1000):
        capture.feature_maps(model, x, "1")
    assert hooks_left(model) == 0
    with pytest.raises(RuntimeError, match="boom"):
        with capture.capture(model, ["0", "2"]):
            raise RuntimeError("boom")
    assert hooks_left(model) == 0
    with pytest.raises(ValueError, match="cannot take"):
        capture.feature_maps(model, torch.randn(3, 8, 8), "0")  # 3 channels into a 1-channel conv
    assert hooks_left(model) == 0
    with pytest.raises(ValueError, match="unknown layers"):
        capture.feature_maps(model, x, "nope")
    assert hooks_left(model) == 0


def test_modes_restored_tensors_detached_on_cpu_and_input_untouched():
    model = cnnviz.build_model("mnist_cnn", seed=0)
    model.train()
    model.classifier.eval()  # a mixed state must come back exactly
    before = [(n, m.training) for n, m in model.named_modules()]
    x = torch.randn(1, 28, 28, requires_grad=True)
    x_copy = x.detach().clone()
    with capture.capture(model, ["features.0", "features.2"]) as store:
        model.eval()
        model(x[None])
    assert [(n, m.training) for n, m in model.named_modules()] == before
    fm = capture.feature_maps(model, x.detach(), "features.2")
    assert [(n, m.training) for n, m in model.named_modules()] == before
    for t in (*store.values(), fm.maps):
        assert t.device.type == "cpu" and not t.requires_grad and t.grad_fn is None
    assert torch.equal(x.detach(), x_copy)


def test_stop_early_runs_the_conv_part_on_a_larger_photo():
    model = cnnviz.build_model("mnist_cnn", seed=0).eval()
    big = torch.randn(1, 90, 120)
    fms = capture.feature_maps_many(model, big, ["features.0", "features.6"])
    assert fms[0].size == (90, 120) and fms[1].size == (22, 30)
    with pytest.raises(ValueError, match="cannot take"):
        capture.predict(model, big)
    with pytest.raises(ValueError, match="not feature maps"):
        capture.feature_maps(model, torch.randn(1, 28, 28), "classifier.1")  # a Linear layer
    with pytest.raises(ValueError, match="one image"):
        capture.feature_maps(model, torch.randn(2, 1, 28, 28), "features.0")
    with pytest.raises(TypeError):
        capture.feature_maps(model, np.zeros((1, 28, 28)), "features.0")
    assert hooks_left(model) == 0


def test_concurrent_sessions_on_one_shared_model_get_their_own_maps():
    model = cnnviz.build_model("mnist_cnn", seed=0).eval()
    conv = model.features[0]
    errors: list[str] = []

    def session(seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        for _ in range(30):
            x = torch.randn(1, 28, 28, generator=g)
            got = capture.feature_maps(model, x, "features.0").maps
            if not torch.allclose(got, F.conv2d(x[None], conv.weight, conv.bias, padding=2)[0].detach(), atol=1e-5):
                errors.append(f"session {seed} saw another session's maps")

    threads = [threading.Thread(target=session, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and hooks_left(model) == 0


def test_top_k_and_layer_lists():
    maps_ = torch.stack([torch.full((3, 3), v) for v in (0.1, 5.0, -2.0, 3.0)])
    fm = capture.FeatureMaps("x", "ReLU", maps_, (3, 3))
    assert fm.top_k(2) == [1, 3] and fm.top_k(99) == [1, 3, 0, 2]
    mnist = cnnviz.build_model("mnist_cnn")
    assert capture.overview_layers(mnist) == ["features.0", "features.3", "features.6"]
    assert "classifier.2" not in capture.viewable_layers(mnist)  # a ReLU on vectors, not maps
    assert capture.viewable_layers(mnist)[:3] == ["features.0", "features.1", "features.2"]
    resnet = cnnviz.build_model("resnet18")
    assert capture.overview_layers(resnet) == ["conv1", "layer1", "layer2", "layer3", "layer4"]
    assert {"layer1", "layer1.0.conv1", "layer1.0.relu"} <= set(capture.viewable_layers(resnet))
    assert "fc" not in capture.viewable_layers(resnet)
    blocks = capture.overview_layers(cnnviz.build_model("mobilenet_v2"), max_stages=5)
    assert blocks == ["features.0", "features.4", "features.9", "features.14", "features.18"]  # evenly thinned


def test_predict_is_the_softmax_of_the_logits():
    model = cnnviz.build_model("lenet5_28", seed=0)
    x = torch.randn(1, 28, 28)
    pred = capture.predict(model, x, classes=[f"c{i}" for i in range(10)])
    expected = torch.softmax(model.eval()(x[None])[0], 0)
    np.testing.assert_allclose(pred.probs, expected.detach().numpy(), rtol=1e-5)
    assert pred.classes[pred.best] == pred.top(1)[0][0] and abs(sum(pred.probs) - 1) < 1e-5
    assert capture.predict(model, x).classes[0] == "class 0"  # no names given


def test_filter_grid_and_delta(tmp_path):
    a, b = cnnviz.build_model("keras_cifar10", seed=0), cnnviz.build_model("keras_cifar10", seed=1)
    ga, gb = capture.filter_grid(a), capture.filter_grid(b.state_dict())
    assert ga.layer == "features.0" and ga.colour and ga.count == 32
    np.testing.assert_array_equal(ga.weights, a.features[0].weight.detach().numpy())
    d = capture.filter_delta(ga, gb)
    np.testing.assert_allclose(d.weights, np.abs(gb.weights - ga.weights))
    assert not d.signed
    deep = capture.filter_grid(a, "features.3", in_channel=5)
    assert not deep.colour and deep.slices().shape == (64, 3, 3)
    np.testing.assert_array_equal(deep.slices(), a.features[3].weight[:, 5].detach().numpy())
    with pytest.raises(ValueError, match="not a conv"):
        capture.filter_grid(a, "features.1")
    with pytest.raises(ValueError, match="in_channel"):
        capture.filter_grid(a, "features.3", in_channel=32)
    with pytest.raises(ValueError, match="different shapes"):
        capture.filter_delta(ga, deep)


def test_prepare_image_and_cards(tmp_path):
    model = cnnviz.build_model("mnist_cnn", seed=0)
    path = cnnviz.save_checkpoint(tmp_path / "epoch_03.pt", model, model_name="mnist_cnn", input_shape=(1, 28, 28),
                                  classes=[str(i) for i in range(10)],
                                  meta={"epoch": 3, "mean": [0.25], "std": [0.5], "dataset": "fashion_mnist"})
    card = cards.card_for_checkpoint(cnnviz.load_checkpoint(path))
    assert card.epoch == 3 and card.trained and card.mean == (0.25,) and "Fashion-MNIST" in card.title
    gray = Image.new("RGB", (300, 150), (102, 102, 102))  # 0.4 after /255
    p = cards.prepare_image(gray, card)
    assert p.tensor.shape == (1, 28, 28) and p.display.shape == (28, 28)
    torch.testing.assert_close(p.tensor, torch.full((1, 28, 28), (0.4 - 0.25) / 0.5))
    inv = cards.prepare_image(gray, card, invert=True)
    torch.testing.assert_close(inv.tensor, torch.full((1, 28, 28), (0.6 - 0.25) / 0.5))
    native = cards.prepare_image(gray, card, native=True, max_side=200)
    assert native.tensor.shape == (1, 100, 200) and "own resolution" in native.note
    rgb = cards.prepare_image(gray, cards.card_for_zoo("resnet18"))
    assert rgb.tensor.shape == (3, 224, 224) and rgb.display.shape == (224, 224, 3)
    assert not cards.card_for_zoo("resnet18").trained
    x = cards.normalise(torch.full((1, 2, 2), 51, dtype=torch.uint8), card)
    torch.testing.assert_close(x, torch.full((1, 2, 2), (0.2 - 0.25) / 0.5))


# ---------------------------------------------------------------------------- plots/maps.py


def test_mosaic_layout_and_normalisations():
    m = np.stack([np.arange(4, dtype=np.float32).reshape(2, 2) * (i + 1) for i in range(3)])  # 3 maps 2×2
    mo = maps.mosaic(m, norm="map", cols=2)
    assert (mo.rows, mo.cols) == (2, 2) and mo.image.shape == (5, 5)
    np.testing.assert_allclose(mo.image[0:2, 0:2], [[0, 1 / 3], [2 / 3, 1]])
    np.testing.assert_allclose(mo.image[0:2, 3:5], [[0, 1 / 3], [2 / 3, 1]])  # each map its own scale
    assert np.isnan(mo.image[2]).all() and np.isnan(mo.image[3:5, 3:5]).all()  # gaps and the empty tile
    assert mo.channel[3, 0] == 2 and mo.raw[4, 1] == 9
    layer = maps.mosaic(m, norm="layer", cols=2)
    np.testing.assert_allclose(layer.image[0:2, 0:2], [[0, 1 / 9], [2 / 9, 3 / 9]])  # one scale: max is 9
    glob = maps.mosaic(m, norm="global", cols=2, value_range=(0.0, 18.0))
    assert glob.image[4, 1] == pytest.approx(0.5)
    assert (maps.mosaic(np.zeros((2, 3, 3)), norm="map").image[:3, :3] == 0).all()  # constant map → 0
    with pytest.raises(ValueError, match="value_range"):
        maps.mosaic(m, norm="global")
    with pytest.raises(ValueError, match="norm"):
        maps.mosaic(m, norm="weird")


def test_mosaic_figure_is_one_trace_with_hover_values_or_a_png():
    """All maps in ONE image trace, plus one marker per tile: its channel number written on it, its numbers on
    hover, a click to enlarge it (so even a mosaic drawn as a picture tells what each tile is)."""
    small = capture.FeatureMaps("l", "Conv2d", torch.randn(32, 28, 28), (28, 28))
    fig = maps.mosaic_figure(small)
    assert [t.type for t in fig.data] == ["heatmap", "scatter"]
    custom = np.asarray(fig.data[0].customdata)
    assert custom[0, 0, 0] == 0 and custom[0, 0, 3] == pytest.approx(float(small.maps[0, 0, 0]))
    tiles = fig.data[1]
    assert list(tiles.text) == [str(i) for i in range(32)] and "text" in tiles.mode
    cols = maps.mosaic(small.maps.numpy()).cols
    assert tiles.x[cols + 1] == pytest.approx(1 * 29 + 14 - 0.5) and tiles.y[cols + 1] == pytest.approx(29 + 13.5)
    assert np.asarray(tiles.customdata)[5, 1] == pytest.approx(float(small.maps[5].mean()), rel=1e-5)
    big = capture.FeatureMaps("l", "ReLU", torch.rand(512, 28, 28), (56, 56))
    fig = maps.mosaic_figure(big)
    assert [t.type for t in fig.data] == ["image", "scatter"]
    assert len(fig.data[1].x) == 512 and fig.data[1].mode == "markers"  # too many tiles to write on
    top = maps.mosaic_figure(small, channels=small.top_k(4))
    assert np.nanmax(np.asarray(top.data[0].customdata)[..., 0]) in small.top_k(4)
    assert [int(t) for t in top.data[1].text] == list(small.top_k(4))  # tiles carry their channel numbers
    ov = maps.overview_figure([small, capture.FeatureMaps("m", "ReLU", torch.rand(8, 7, 7), (28, 28))])
    assert len(ov.data) == 2


def test_filter_prediction_and_gradcam_figures():
    model = cnnviz.build_model("keras_cifar10", seed=0)
    rgb = maps.filters_figure(capture.filter_grid(model))
    assert rgb.data[0].type == "image" and np.asarray(rgb.data[0].z).shape[2] == 3
    grey = maps.filters_figure(capture.filter_grid(model, "features.3", in_channel=1))
    assert grey.data[0].type == "heatmap" and grey.data[0].zmid == 0
    pred = capture.Prediction((0.1, 0.7, 0.2), ("a", "b", "c"))
    bars = maps.prediction_figure(pred, top=2)
    assert list(bars.data[0].y) == ["c", "b"]  # best on top
    overlay = maps.gradcam_figure(np.zeros((4, 4), np.uint8), np.ones((4, 4)))
    assert [t.type for t in overlay.data] == ["image", "heatmap"]
    with pytest.raises(ValueError, match="differ"):
        maps.gradcam_figure(np.zeros((4, 4), np.uint8), np.ones((3, 3)))


@pytest.mark.parametrize("model, x, words", [
    (nn.Conv2d(3, 8, 3), torch.zeros(1, 28, 28), "takes 3 input channels, but it got 1"),
    (nn.Sequential(nn.Flatten(), nn.Linear(1250, 10)), torch.zeros(1, 20, 40), "have 800 numbers, but it takes 1250"),
    (nn.Conv2d(1, 8, 5), torch.zeros(1, 3, 3), "shrink to 3×3 before a 5×5 kernel"),
    (nn.Sequential(nn.Conv2d(1, 2, 1), nn.MaxPool2d(4)), torch.zeros(1, 2, 2), "shrink to nothing"),
])
def test_a_model_that_does_not_fit_the_image_says_why_in_plain_words(model, x, words):
    """PyTorch's own sentence (cut at 200 characters before) never reaches the page: the reason does."""
    with pytest.raises(ValueError) as info:
        cnnviz.capture.predict(model, x)
    message = str(info.value)
    assert words in message and "mat1" not in message and "Given groups" not in message
