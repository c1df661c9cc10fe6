"""cnnviz.lookfor, cnnviz.drawing and cnnviz.plots.lookfor: receptive fields against autograd, top-activating crops
against the layer's own maps, activation maximization against the dataset's best example, MNIST's preprocessing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cnnviz
from cnnviz import capture, cards, drawing, lookfor
from cnnviz.plots import lookfor as lookfor_plots


def hooks_left(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


def gradient_box(model: nn.Module, layer: str, shape, i: int, j: int) -> tuple[int, int, int, int]:
    """The oracle: input pixels whose gradient on one output cell is non-zero (PyTorch's autograd), as a box."""
    x = torch.randn((1, *shape), requires_grad=True)
    store = {}
    handle = dict(model.named_modules())[layer].register_forward_hook(lambda m, a, out: store.setdefault("y", out))
    try:
        model(x)
    finally:
        handle.remove()
    store["y"][0, 0, i, j].backward()
    rows, cols = np.nonzero(x.grad[0].abs().sum(0).numpy() > 0)
    return int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1


def clipped(box, h, w):
    return max(box[0], 0), max(box[1], 0), min(box[2], h), min(box[3], w)


class Skip(nn.Module):
    """A residual block: x + conv(conv(x)), the skip adds nothing to the receptive field."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.a = nn.Conv2d(c, c, 3, padding=1)
        self.b = nn.Conv2d(c, c, 3, padding=1, dilation=1)

    def forward(self, x):
        return x + self.b(self.a(x))


class Padded(nn.Module):
    """TensorFlow-style uneven 'same' padding through F.pad, then a stride-2 conv."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, stride=2)

    def forward(self, x):
        return self.conv(F.pad(x, [0, 1, 0, 1]))


def linear_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.AvgPool2d(2), Padded(), Skip(3),
                         nn.Conv2d(3, 2, 3, padding=2, dilation=2), nn.Conv2d(2, 2, (3, 5), stride=(1, 2))).eval()


@pytest.mark.parametrize("layer", ["0", "1", "2", "3", "4", "5"])
def test_receptive_field_matches_autograd_on_a_linear_net(layer):
    """Without non-linearities every pixel in the window has a non-zero gradient: the box must match exactly."""
    net = linear_net()
    shape = (1, 40, 44)
    rf = lookfor.receptive_field(net, layer, shape)
    out = lookfor.layers.run_to(net, layer, torch.zeros((1, *shape)))
    h, w = out.shape[2:]
    for i, j in [(0, 0), (h // 2, w // 2), (h - 1, w - 1)]:
        assert clipped(rf.box(i, j), 40, 44) == gradient_box(net, layer, shape, i, j), (layer, i, j)


def test_receptive_field_of_known_networks():
    # mnist_cnn: 5×5 conv, pool 2, 5×5 conv …; ResNet-18's last stage sees 435 pixels (the published figure)
    m = cnnviz.build_model("mnist_cnn", seed=0)
    assert lookfor.receptive_field(m, "features.0", (1, 28, 28)).size == (5, 5)
    assert lookfor.receptive_field(m, "features.3", (1, 28, 28)) == lookfor.ReceptiveField((14, 14), (2, 2), (-6, -6))
    r = cnnviz.build_model("resnet18", seed=0)
    rf = lookfor.receptive_field(r, "layer4", (3, 64, 64))
    assert rf.size == (435, 435) and rf.jump == (32, 32)
    # a global pooling lets a cell see everything
    assert lookfor.receptive_field(r, "avgpool", (3, 64, 64)).whole


def test_receptive_field_of_relu_net_contains_every_gradient():
    m = cnnviz.build_model("mnist_cnn", seed=1).eval()
    rf = lookfor.receptive_field(m, "features.6", (1, 28, 28))
    for i, j in [(0, 0), (3, 3), (6, 6)]:
        g = gradient_box(m, "features.6", (1, 28, 28), i, j)
        box = clipped(rf.box(i, j), 28, 28)
        assert box[0] <= g[0] and box[1] <= g[1] and g[2] <= box[2] and g[3] <= box[3]


def test_layers_without_maps_and_missing_channels_get_one_sentence():
    m = cnnviz.build_model("mnist_cnn", seed=0)
    with pytest.raises(ValueError, match="has no feature maps"):
        lookfor.receptive_field(m, "classifier.1", (1, 28, 28))
    with pytest.raises(ValueError, match="has no feature maps"):
        lookfor.visualize_channel(m, "classifier.1", 0, input_shape=(1, 28, 28), mean=(0.5,), std=(0.5,), steps=2)
    with pytest.raises(ValueError, match="channel 32 does not exist: layer features.0 has 32 channels, numbered 0 to 31"):
        lookfor.visualize_channel(m, "features.0", 32, input_shape=(1, 28, 28), mean=(0.5,), std=(0.5,), steps=2)
    with pytest.raises(ValueError, match="unknown layer"):
        lookfor.channel_count(m, "nope", (1, 28, 28))
    with pytest.raises(ValueError, match="does not exist"):
        lookfor.check_channel(-1, 4, "conv")


def small_set(n: int = 12, size: int = 28) -> lookfor.ImageSet:
    g = torch.Generator().manual_seed(0)
    imgs = torch.randint(0, 256, (n, 1, size, size), generator=g, dtype=torch.uint8)
    return lookfor.image_set("random", imgs, whole_images=True)


@pytest.mark.parametrize("layer", ["features.0", "features.3", "features.6"])
def test_top_crops_have_the_receptive_field_size_and_contain_the_argmax(layer):
    m = cnnviz.build_model("mnist_cnn", seed=0).eval()
    images = small_set()
    index = lookfor.index_layer(m, layer, images, mean=(0.5,), std=(0.5,))
    rf = lookfor.receptive_field(m, layer, (1, 28, 28))
    # the oracle: the layer's maps computed by PyTorch through capture's hooks
    x = (images.images[0].float() / 255 - 0.5) / 0.5
    maps0 = capture.feature_maps(m, x, layer).maps  # image 0 through capture's hooks: the index's first row
    for channel in (0, 7):
        assert float(index.values[0, channel, 0]) == pytest.approx(float(maps0[channel].max()), rel=1e-5)
        r, c = int(index.rows[0, channel, 0]), int(index.cols[0, channel, 0])
        assert float(maps0[channel][r, c]) == float(maps0[channel].max())  # where it is, too
    for channel in (0, 7):
        examples = lookfor.top_examples(index, channel, k=5)
        values = []
        for e in examples:
            maps = capture.feature_maps(m, (images.images[e.image].float() / 255 - 0.5) / 0.5, layer).maps[channel]
            values.append(float(maps.max()))
            assert e.crop.shape == rf.size  # exactly the receptive field
            assert e.value == pytest.approx(float(maps.max()), rel=1e-5)
            assert float(maps[e.row, e.col]) == pytest.approx(float(maps.max()), rel=1e-5)  # the argmax
            top, left, bottom, right = e.box
            cy, cx = e.centre
            assert top <= cy < bottom and left <= cx < right  # the strongest position is inside the crop
            assert (top, left) == (rf.start[0] + e.row * rf.jump[0], rf.start[1] + e.col * rf.jump[1])
            img = images.images[e.image][0].numpy()
            inside = clipped(e.box, 28, 28)
            assert np.array_equal(e.crop[inside[0] - top:inside[2] - top, inside[1] - left:inside[3] - left],
                                  img[inside[0]:inside[2], inside[1]:inside[3]])
        assert values == sorted(values, reverse=True)  # strongest first, one example per image
        assert len({e.image for e in examples}) == len(examples)
        assert examples[0].value == pytest.approx(index.best(channel))


def test_photo_patches_do_not_overlap_much_and_progress_is_reported():
    m = cnnviz.build_model("keras_cifar10", seed=0).eval()
    photos = lookfor.photo_set(list(cnnviz.sample_images().values())[:2], channels=3, sides=(64,))
    assert [max(t.shape[1:]) for t in photos.images] == [64, 64]
    calls = []
    index = lookfor.index_layer(m, "features.3", photos, mean=cards.IMAGENET_MEAN, std=cards.IMAGENET_STD,
                                progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (2, 2)
    examples = lookfor.top_examples(index, 3, k=9)
    assert 2 < len(examples) <= 9
    for a in examples:
        for b in examples:
            if a is not b and a.image == b.image:
                assert lookfor.examples._overlap(a.box, b.box) <= 0.5
    fig = lookfor_plots.examples_figure(examples, title="t")
    assert sum(t.type == "image" for t in fig.data) == len(examples)


def test_folder_outside_the_allowed_roots_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNVIZ_DATA_ROOTS", str(tmp_path / "allowed"))
    (tmp_path / "allowed").mkdir()
    with pytest.raises(ValueError, match="only folders inside"):
        lookfor.folder_set(tmp_path, channels=3)
    with pytest.raises(ValueError, match="no image found"):
        lookfor.folder_set(tmp_path / "allowed", channels=3)


@pytest.fixture(scope="module")
def fashion_cnn():
    from cnnviz.training import pretrained_checkpoints

    ckpt = cnnviz.load_checkpoint(pretrained_checkpoints()[-1])
    return cnnviz.model_from_checkpoint(ckpt).eval(), cards.card_for_checkpoint(ckpt)


def test_optimized_input_beats_the_best_test_image(fashion_cnn):
    """Fixed seed, the small trained Fashion-MNIST CNN: the optimized input excites the channel more than any of
    1,000 test images, measured the same way (the channel's strongest cell, on the 8-bit image as shown)."""
    model, card = fashion_cnn
    before = {k: v.clone() for k, v in model.state_dict().items()}
    test = cnnviz.load_fashion_mnist(train=False)
    images = lookfor.image_set("fashion", test.images[:1000], whole_images=True)
    layer, channel = "features.3", 5
    best = lookfor.index_layer(model, layer, images, mean=card.mean, std=card.std).best(channel)
    shots = []
    vis = lookfor.visualize_channel(model, layer, channel, mean=card.mean, std=card.std, seed=0,
                                    on_snapshot=lambda s, img: shots.append(s),
                                    **lookfor.default_settings(card.input_shape))
    print(f"optimized input {vis.activation:.3f} vs best test image {best:.3f}")
    assert vis.activation > best
    # the reported value is what PyTorch computes on the returned image
    x = cards.normalise(torch.from_numpy(vis.image)[None], card)
    assert vis.activation == pytest.approx(float(capture.feature_maps(model, x, layer).maps[channel].max()), rel=1e-4)
    assert vis.image.shape == (28, 28) and vis.image.dtype == np.uint8
    assert [s for s, _img in vis.snapshots][:len(shots)] == shots and vis.snapshots[-1][0] == vis.steps
    assert len(vis.history) == vis.steps and vis.history[-1] > vis.history[0]
    # the shared model is untouched: no hooks, same weights, still trainable
    assert hooks_left(model) == 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.requires_grad for p in model.parameters())
    assert len(lookfor_plots.snapshots_figure(vis).data) == len(vis.snapshots)
    assert lookfor_plots.history_figure(vis, best=best).layout.shapes  # the line to beat


def test_same_seed_same_image_and_a_batch_of_channels(fashion_cnn):
    model, card = fashion_cnn
    opts = dict(lookfor.default_settings(card.input_shape, quick=True), steps=8, mean=card.mean, std=card.std)
    a = lookfor.visualize_channel(model, "features.0", 3, seed=4, **opts)
    b = lookfor.visualize_channel(model, "features.0", 3, seed=4, **opts)
    assert np.array_equal(a.image, b.image)
    row = lookfor.visualize_channels(model, "features.0", [1, 2, 3], seed=4, **opts)
    assert [v.channel for v in row] == [1, 2, 3]
    rows = lookfor.stage_row(model, ["features.0", "features.6"], count=4, input_shape=card.input_shape)
    assert rows == {"features.0": [0, 10, 21, 31], "features.6": [0, 42, 85, 127]}
    assert len(lookfor_plots.row_figure({"features.0": row}).data) == 3
    with pytest.raises(ValueError, match="objective"):
        lookfor.visualize_channel(model, "features.0", 3, **dict(opts, objective="max"))


def test_colour_parameterisation_keeps_pixels_in_range():
    model = cnnviz.build_model("keras_cifar10", seed=0)
    vis = lookfor.visualize_channel(model, "features.3", 0, input_shape=(3, 32, 32), mean=cards.IMAGENET_MEAN,
                                    std=cards.IMAGENET_STD, steps=6, snapshots=3)
    assert vis.image.shape == (32, 32, 3) and len(vis.snapshots) == 4
    assert vis.settings["decorrelate"] is True


# ---------------------------------------------------------------------------- drawing


def test_mnist_preprocessing_steps():
    ink = np.zeros((280, 280), np.float32)
    ink[40:200, 150:190] = 1.0  # a tall bar off to the right
    d = drawing.prepare_drawing(ink, box=20)
    names = [n for n, _img in d.steps]
    assert names == ["your drawing", "inverted", "cropped to the ink", "scaled into the box", "centred by mass"]
    assert d.steps[2][1].shape == (160, 40)
    assert d.steps[3][1].shape == (20, 20)
    rows, cols = np.nonzero(d.image > 25)
    assert rows.max() - rows.min() + 1 == 20  # the longer side fills the box
    yy, xx = np.indices(d.image.shape)
    mass = d.image.astype(float)
    com = ((yy * mass).sum() / mass.sum(), (xx * mass).sum() / mass.sum())
    assert abs(com[0] - 13.5) <= 0.5 and abs(com[1] - 13.5) <= 0.5  # centred by mass
    assert d.steps[0][1][100, 160] == 0 and d.steps[1][1][100, 160] == 255  # dark on paper, then inverted


def test_empty_drawing_and_canvas_pixels():
    with pytest.raises(ValueError, match="the drawing is empty"):
        drawing.prepare_drawing(np.zeros((280, 280)))
    rgba = np.zeros((10, 10, 4), np.uint8)  # transparent: paper
    assert drawing.ink_from_canvas(rgba).max() == 0
    rgba[2, 3] = (0, 0, 0, 255)
    white = np.full((10, 10, 3), 255, np.uint8)
    assert drawing.ink_from_canvas(rgba)[2, 3] == 1 and drawing.ink_from_canvas(white).max() == 0
    with pytest.raises(ValueError, match="grey, RGB or RGBA"):
        drawing.ink_from_canvas(np.zeros((2, 2, 2)))


@pytest.mark.parametrize("name,expected", [("trouser", "Trouser"), ("tshirt", "T-shirt/top"), ("sneaker", "Sneaker")])
def test_example_silhouettes_are_recognised_by_the_fashion_cnn(fashion_cnn, name, expected):
    model, card = fashion_cnn
    canvas = drawing.render_objects(drawing.example_drawing(name)["objects"], width=280, height=280)
    d = drawing.prepare_drawing(drawing.ink_from_canvas(canvas), box=28)
    pred = capture.predict(model, cards.normalise(torch.from_numpy(d.image)[None], card), classes=card.classes)
    assert pred.top(1)[0][0] == expected
    fig = lookfor_plots.drawing_steps_figure(d.steps)
    assert len(fig.data) == 5


def test_rendering_fabric_paths_with_curves():
    objects = [{"type": "path", "strokeWidth": 10, "path": [["M", 10, 10], ["Q", 50, 10, 90, 90]]}]
    img = drawing.render_objects(objects, width=100, height=100)
    assert img.shape == (100, 100, 3) and img[10, 10, 0] == 0 and img[90, 90, 0] == 0 and img[90, 10, 0] == 255


def test_optimization_takes_a_share_of_the_cores_and_gives_it_back():
    model = cnnviz.build_model("mnist_cnn", seed=0)
    before = torch.get_num_threads()
    seen = []
    lookfor.visualize_channel(model, "features.0", 0, input_shape=(1, 28, 28), mean=(0.5,), std=(0.5,), steps=3,
                              threads=1, progress=lambda d, t: seen.append(torch.get_num_threads()))
    assert seen == [1, 1, 1]
    assert torch.get_num_threads() == before


def _random_stats(model: nn.Module) -> nn.Module:
    """Batch norms with running statistics and affine parameters far from the identity (as after training)."""
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen))
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) * 3 + 0.2)
            m.weight.data.copy_(torch.randn(m.num_features, generator=gen))
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen))
    return model.eval()


@pytest.mark.parametrize("layer", ["layer1", "layer2.0.conv2", "layer2.0.bn2", "layer3"])
def test_folded_batch_norms_give_the_same_maps_and_keep_the_asked_conv(layer):
    """fold_batchnorms: the maps at the layer equal the network's own (PyTorch is the oracle), no batch norm is left
    but the one after a conv that is itself the layer, and the model given is not changed."""
    import torchvision

    from cnnviz.lookfor.layers import fold_batchnorms, private_copy, run_to

    net = private_copy(_random_stats(torchvision.models.resnet18(weights=None)))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    folded = fold_batchnorms(net, layer, (3, 64, 64))
    assert folded is not net
    left = [n for n, m in folded.named_modules() if isinstance(m, nn.BatchNorm2d)]
    assert left == (["layer2.0.bn2"] if layer == "layer2.0.conv2" else [])
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        want, got = run_to(net, layer, x), run_to(folded, layer, x)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())


def test_folding_keeps_timm_activations_and_refuses_a_wrong_order():
    """timm's BatchNormAct2d keeps its activation after folding (EfficientNet-Lite0, the bundled network); a network
    whose children are registered in another order than they run is returned unfolded."""
    from cnnviz.lookfor.layers import fold_batchnorms, private_copy, run_to

    model = private_copy(cnnviz.load_imagenet_model("efficientnet_lite0", download=False))
    folded = fold_batchnorms(model, "blocks.2", (3, 96, 96))
    assert folded is not model and not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    x = torch.rand(2, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(run_to(folded, "blocks.2", x), run_to(model, "blocks.2", x), rtol=1e-3, atol=1e-3)
    inner = "blocks.2.0.bn1.act"  # an activation inside timm's batch norm stays a layer one can ask for
    folded = fold_batchnorms(model, inner, (3, 96, 96))
    assert folded is not model
    with torch.no_grad():
        torch.testing.assert_close(run_to(folded, inner, x), run_to(model, inner, x), rtol=1e-3, atol=1e-3)

    class Backwards(nn.Module):  # the batch norm is registered after the conv but runs before it
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.act(self.conv(self.bn(x)))

    odd = _random_stats(Backwards())
    assert fold_batchnorms(odd, "act", (4, 8, 8)) is odd
