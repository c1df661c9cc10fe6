"""The "Inside a CNN" pages under AppTest: uploads (good and bad), widgets, models, and the shared cache untouched."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

import cnnviz
from dashboard import data as data_cache
from dashboard import inside, session

FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


@pytest.fixture
def ckpt_dir(tmp_path, monkeypatch):
    """Three tiny-to-make mnist_cnn checkpoints (epochs 0-2) the pages use instead of the shipped ones."""
    for epoch in range(3):
        model = cnnviz.build_model("mnist_cnn", seed=epoch)
        cnnviz.save_checkpoint(tmp_path / f"epoch_{epoch:02d}.pt", model, model_name="mnist_cnn",
                               input_shape=(1, 28, 28), classes=FASHION,
                               meta={"epoch": epoch, "mean": [0.286], "std": [0.353], "dataset": "fashion_mnist"})
    monkeypatch.setenv(inside.INSIDE_CKPT_ENV, str(tmp_path))
    return tmp_path


def image_bytes(mode: str = "RGB", size=(120, 80), fmt: str = "PNG", **save) -> bytes:
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).convert(mode)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **save)
    return buf.getvalue()


def ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def spec(at, i: int = 0) -> dict:
    return json.loads(at.get("plotly_chart")[i].proto.spec)


def info_text(at) -> str:
    return " ".join(i.value for i in at.info)


def fashion_model(at):
    """Choose the trained Fashion-MNIST CNN (photos default to the ImageNet network)."""
    next(s for s in at.selectbox if s.label == "Model").set_value(inside.INSIDE_TRAINED).run()
    ok(at)
    return at


def test_feature_maps_page_default_shows_maps_prediction_and_overview(app_at, ckpt_dir):
    at = fashion_model(app_at("20_feature_maps.py"))
    assert "own resolution" in info_text(at) and "28×28" in info_text(at)
    charts = at.get("plotly_chart")
    assert len(charts) == 6  # input, prediction, mosaic, input again, channel, overview
    mosaic = spec(at, 2)
    assert [t["type"] for t in mosaic["data"]][1:] == ["scatter"]  # all channels as ONE trace + the tile labels
    assert mosaic["data"][1]["text"][:3] == ["0", "1", "2"]  # each tile carries its channel number
    assert "32 maps" in mosaic["layout"]["title"]["text"]
    bars = spec(at, 1)["data"][0]
    assert set(bars["y"]) <= set(FASHION) and len(bars["y"]) == 10


def test_upload_generated_images_including_awkward_formats(app_at, ckpt_dir):
    at = fashion_model(app_at("20_feature_maps.py"))
    cases = {
        "photo.png": (image_bytes(size=(300, 200)), "image/png", "256×171"),
        "rgba.png": (image_bytes("RGBA"), "image/png", "120×80"),
        "palette.gif": (image_bytes("P", fmt="GIF"), "image/gif", "120×80"),
        "cmyk.jpg": (image_bytes("CMYK", fmt="JPEG"), "image/jpeg", "120×80"),
        "gray.webp": (image_bytes("L", fmt="WEBP"), "image/webp", "120×80"),
        "scan.tiff": (image_bytes("RGB", fmt="TIFF"), "image/tiff", "120×80"),
    }
    for name, (data, mime, dims) in cases.items():
        at.file_uploader[0].upload(name, data, mime).run()
        ok(at)
        assert not at.error, (name, [e.value for e in at.error])
        assert dims in info_text(at), (name, info_text(at))
    huge = io.BytesIO()
    Image.new("RGB", (4000, 3000), (200, 120, 40)).save(huge, format="PNG")  # 12 MP: shrunk, not refused
    at.file_uploader[0].upload("huge.png", huge.getvalue(), "image/png").run()
    ok(at)
    assert not at.error and "256×192" in info_text(at)
    # 16-bit grayscale and an EXIF-rotated photo (orientation 6: turn 90°, so 120×80 becomes 80×120)
    sixteen = io.BytesIO()
    Image.fromarray((np.arange(80 * 120).reshape(80, 120) * 6).astype(np.uint16)).save(sixteen, format="PNG")
    at.file_uploader[0].upload("deep.png", sixteen.getvalue(), "image/png").run()
    ok(at)
    assert not at.error and "120×80" in info_text(at)
    exif = Image.Exif()
    exif[0x0112] = 6
    at.file_uploader[0].upload("turned.jpg", image_bytes(fmt="JPEG", exif=exif), "image/jpeg").run()
    ok(at)
    assert "80×120" in info_text(at)


@pytest.mark.parametrize("name,data,reason", [
    ("notes.png", b"these are lecture notes, not a picture", "not an image"),
    ("empty.png", b"", "empty"),
    ("cut.png", image_bytes(size=(200, 200))[:400], "damaged or truncated"),
])
def test_bad_uploads_show_an_error_and_the_page_keeps_working(app_at, ckpt_dir, name, data, reason):
    at = app_at("20_feature_maps.py")
    at.file_uploader[0].upload(name, data, "image/png").run()
    ok(at)
    assert at.error and reason in at.error[0].value
    at.file_uploader[0].upload("fine.png", image_bytes(), "image/png").run()
    ok(at)
    assert not at.error and len(at.get("plotly_chart")) == 6


def test_decompression_bomb_is_refused(app_at, ckpt_dir):
    buf = io.BytesIO()
    Image.new("1", (9000, 5000)).save(buf, format="PNG")  # 45 MP, a few kB on disk
    at = app_at("20_feature_maps.py")
    at.file_uploader[0].upload("bomb.png", buf.getvalue(), "image/png").run()
    ok(at)
    assert at.error and "megapixels" in at.error[0].value


def test_layer_norm_topk_and_channel_widgets(app_at, ckpt_dir):
    at = fashion_model(app_at("20_feature_maps.py"))
    layer = next(s for s in at.selectbox if s.label == "Layer")
    layer.set_value("features.5").run()  # the second ReLU: 64 maps
    ok(at)
    assert "64 maps" in spec(at, 2)["layout"]["title"]["text"]
    at.radio[0].set_value("global").run()
    ok(at)
    assert "scaled all layers" in spec(at, 2)["layout"]["title"]["text"]
    next(t for t in at.toggle if t.label == "Only the most active channels").set_value(True).run()
    ok(at)
    next(s for s in at.slider if s.label == "How many").set_value(5).run()
    ok(at)
    assert "5 maps" in spec(at, 2)["layout"]["title"]["text"]
    channel = next(s for s in at.selectbox if s.label == "Channel")
    assert len(channel.options) == 5
    channel.select_index(4).run()
    ok(at)
    assert f"channel {channel.value.split()[0]} (" in spec(at, 4)["layout"]["title"]["text"]
    next(t for t in at.toggle if "own resolution" in t.label).set_value(False).run()  # prediction-size input too
    ok(at)
    assert "on the 28×28 image" in info_text(at)


def test_untrained_zoo_model_is_labelled(app_at, ckpt_dir):
    at = app_at("20_feature_maps.py")
    model = next(s for s in at.selectbox if s.label == "Model")
    model.set_value("zoo:lenet5_28").run()
    ok(at)
    assert any("untrained" in w.value for w in at.warning)


def test_uploaded_checkpoints_good_bare_and_mismatched(app_at, ckpt_dir, tmp_path):
    at = app_at("20_feature_maps.py")
    next(s for s in at.selectbox if s.label == "Model").set_value(inside.INSIDE_UPLOAD).run()
    ok(at)
    assert at.error and "Upload a checkpoint file" in at.error[0].value
    good = (ckpt_dir / "epoch_01.pt").read_bytes()
    at.file_uploader[1].upload("mine.pt", good, "application/octet-stream").run()
    ok(at)
    assert not at.error and len(at.get("plotly_chart")) == 6
    bare = io.BytesIO()
    torch.save(cnnviz.build_model("lenet5_28", seed=0).state_dict(), bare)
    at.file_uploader[1].upload("bare.pt", bare.getvalue(), "application/octet-stream").run()
    ok(at)
    assert at.error and "choose the architecture" in at.error[0].value
    arch = next(s for s in at.selectbox if s.label == "Architecture")
    arch.set_value("mnist_cnn").run()  # the wrong architecture for these weights
    ok(at)
    assert at.error and "does not match the mnist_cnn architecture" in at.error[0].value
    arch.set_value("lenet5_28").run()
    ok(at)
    assert not at.error and len(at.get("plotly_chart")) == 6
    unsafe = io.BytesIO()
    torch.save({"state_dict": Sneaky()}, unsafe)  # unpickling it would build an arbitrary object
    at.file_uploader[1].upload("evil.pt", unsafe.getvalue(), "application/octet-stream").run()
    ok(at)
    assert at.error and "refused" in at.error[0].value


class Sneaky:
    def __reduce__(self):
        return (print, ("this would run on load",))


def test_filters_page_scrubs_epochs(app_at, ckpt_dir):
    at = app_at("21_filters.py")
    ok(at)
    titles = [spec(at, i)["layout"]["title"]["text"] for i in range(3)]
    assert "Initial weights" in titles[0] and "After epoch 2" in titles[1]
    at.select_slider[0].set_value("0").run()
    ok(at)
    assert "Initial weights" in spec(at, 1)["layout"]["title"]["text"]  # not "After epoch 0"
    assert at.caption[0].value.startswith("Mean |ΔW| is 0%")
    next(s for s in at.selectbox if s.label == "Conv layer").set_value("features.3").run()
    ok(at)
    at.slider[0].set_value(7).run()  # input channel of the deeper layer
    ok(at)
    assert "input channel 7" in spec(at, 0)["layout"]["title"]["text"]
    at.number_input[0].set_value(5).run()
    ok(at)
    assert "#5:" in spec(at, 3)["layout"]["title"]["text"]


def test_filters_page_without_checkpoints_says_so(app_at, tmp_path, monkeypatch):
    monkeypatch.setenv(inside.INSIDE_CKPT_ENV, str(tmp_path))
    at = app_at("21_filters.py")
    ok(at)
    assert at.warning and "No training checkpoints" in at.warning[0].value


def test_grad_cam_page_classes_layers_and_bad_upload(app_at, ckpt_dir):
    at = fashion_model(app_at("22_grad_cam.py"))
    overlay = spec(at, 0)
    assert [t["type"] for t in overlay["data"]] == ["image", "heatmap"]
    cls = next(s for s in at.selectbox if s.label == "Class to explain")
    cls.set_value(3).run()
    ok(at)
    assert "“Dress”" in spec(at, 0)["layout"]["title"]["text"]
    next(s for s in at.selectbox if s.label == "Layer").set_value("features.0").run()
    ok(at)
    assert "at features.0" in spec(at, 0)["layout"]["title"]["text"]
    at.file_uploader[0].upload("x.jpg", b"\xff\xd8\xff\xe0 not really", "image/jpeg").run()
    ok(at)
    assert at.error
    at.file_uploader[0].upload("ok.png", image_bytes(), "image/png").run()
    ok(at)
    assert not at.error


def test_shared_cached_model_is_unchanged_after_the_pages_run(app_at, ckpt_dir):
    for page in ("20_feature_maps.py", "22_grad_cam.py", "21_filters.py"):
        ok(app_at(page))
    path = ckpt_dir / "epoch_02.pt"
    model, _ = inside.inside_checkpoint_model(str(path), path.stat().st_mtime)  # the very object the pages used
    saved = cnnviz.load_checkpoint(path).state_dict
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
    assert not model.training and all(p.grad is None for p in model.parameters())
    assert sum(len(m._forward_hooks) + len(m._backward_hooks) for m in model.modules()) == 0


def test_imagenet_backbone_appears_when_its_weights_are_cached(app_at, ckpt_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cached, path = cnnviz.imagenet_weights_status("resnet18")
    assert not cached
    path.parent.mkdir(parents=True)
    model = cnnviz.build_model("resnet18", num_classes=1000, seed=0)
    torch.save(model.state_dict(), path)  # stands in for the real download
    at = app_at("20_feature_maps.py")
    choice = next(s for s in at.selectbox if s.label == "Model")
    assert "ResNet-18 (ImageNet weights)" in choice.options
    choice.set_value("imagenet:resnet18").run()
    ok(at)
    bars = spec(at, 1)["data"][0]
    assert len(bars["y"]) == 5 and set(bars["y"]) <= set(cnnviz.imagenet_categories())
    assert "224×224" in info_text(at)


def test_filters_page_offers_this_sessions_training_runs_with_colour_filters(app_at, ckpt_dir, tmp_path, monkeypatch):
    from cnnviz.training import History

    monkeypatch.setenv("CNNVIZ_RUNS", str(tmp_path / "runs"))
    run = tmp_path / "runs" / "sessions" / "abcdef012345" / "cifar-run"
    for epoch in range(2):
        model = cnnviz.build_model("keras_cifar10", seed=epoch)
        cnnviz.save_checkpoint(run / f"epoch_{epoch:02d}.pt", model, model_name="keras_cifar10", input_shape=(3, 32, 32),
                               classes=[f"c{i}" for i in range(10)], meta={"epoch": epoch, "mean": [0.5] * 3,
                                                                           "std": [0.25] * 3})
    History(steps=(), epochs=(), status="finished").save(run / "history.json")
    at = app_at()
    at.session_state[session.TRAIN_SESSION_KEY] = "abcdef012345"
    at.switch_page("../pages/21_filters.py").run()
    ok(at)
    choice = next(s for s in at.selectbox if s.label == "Training run")
    assert choice.options == ["Fashion-MNIST CNN (trained, bundled)", "Your run: cifar-run (cifar-run)"]
    choice.set_value("run:cifar-run").run()
    ok(at)
    assert [spec(at, i)["data"][0]["type"] for i in range(3)] == ["image"] * 3  # RGB filters drawn in colour
    assert "|ΔW|" in spec(at, 2)["layout"]["title"]["text"]
    assert "#0:" in spec(at, 3)["layout"]["title"]["text"]  # the test image, made 3×32×32 for this model


def test_filters_before_and_after_share_one_symmetric_scale_with_a_colour_bar(app_at, ckpt_dir):
    at = app_at("21_filters.py")
    next(s for s in at.selectbox if s.label == "Conv layer").set_value("features.3").run()
    ok(at)
    before, after = spec(at, 0)["data"][0], spec(at, 1)["data"][0]
    assert before["zmin"] == after["zmin"] == -before["zmax"] and before["zmax"] == after["zmax"]
    assert before["colorbar"]["title"]["text"] == "weight"
    assert "share one colour scale" in at.caption[0].value
    at.toggle(key="fi_shared").set_value(False).run()  # each panel on its own scale
    ok(at)
    assert spec(at, 0)["data"][0]["zmax"] != spec(at, 1)["data"][0]["zmax"]


def test_grad_cam_on_a_bare_state_dict_without_class_names(app_at, ckpt_dir):
    """A bare state_dict has no class names: Grad-CAM used to fail with an IndexError."""
    at = app_at("22_grad_cam.py")
    model = next(s for s in at.selectbox if s.label == "Model")
    model.set_value("upload").run()
    bare = io.BytesIO()
    torch.save(cnnviz.build_model("mnist_cnn", seed=0).state_dict(), bare)
    at.file_uploader[1].upload("bare.pt", bare.getvalue(), "application/octet-stream").run()
    next(s for s in at.selectbox if s.label == "Architecture").set_value("mnist_cnn").run()
    ok(at)
    assert not at.error
    classes = next(s for s in at.selectbox if s.label == "Class to explain")
    assert classes.options[0].startswith("predicted: class ")
    classes.set_value(3).run()
    ok(at)
    assert "class 3" in spec(at, 0)["layout"]["title"]["text"]


def test_a_checkpoint_claiming_a_huge_input_is_refused_before_anything_is_built():
    from cnnviz import cards

    state_dict = cnnviz.build_model("mnist_cnn", seed=0).state_dict()
    ckpt = cnnviz.Checkpoint(state_dict=state_dict, model_name="mnist_cnn", input_shape=(1, 100_000, 100_000))
    with pytest.raises(ValueError, match="at most 1024×1024"):
        cards.card_for_checkpoint(ckpt)
    wrong = cnnviz.Checkpoint(state_dict=state_dict, model_name="mnist_cnn", input_shape=(3, 28, 28))
    with pytest.raises(ValueError, match="first conv layer takes 1"):
        cards.card_for_checkpoint(wrong)



def test_photos_get_real_answers_from_the_bundled_imagenet_network(app_at, ckpt_dir):
    """The cat photo was classified "Sandal 47.7 %" by the clothing CNN; the default is now EfficientNet-Lite0."""
    at = app_at("20_feature_maps.py")
    model = next(s for s in at.selectbox if s.label == "Model")
    assert model.value == "imagenet:efficientnet_lite0"
    bars = spec(at, 1)["data"][0]
    top3 = list(bars["y"])[::-1][:3]  # the figure lists the best last (on top)
    assert {"tiger cat", "Egyptian cat", "tabby"} & set(top3), top3
    assert len(bars["y"]) == 5  # top 5 of the 1,000 ImageNet classes
    sample = next(s for s in at.selectbox if s.label == "…or a sample photo")
    sample.set_value("coffee").run()
    ok(at)
    assert list(spec(at, 1)["data"][0]["y"])[-1] == "espresso"


def test_imagenet_class_names_in_korean(app_at, ckpt_dir):
    from conftest import APP
    from streamlit.testing.v1 import AppTest

    from cnnviz.i18n import has_hangul

    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["lang"] = "ko"
    at.run()
    at.switch_page("../pages/22_grad_cam.py")
    at.run()
    ok(at)
    names = list(spec(at, 1)["data"][0]["y"])
    assert {"호랑이무늬 고양이", "이집트 고양이", "얼룩고양이"} & set(names), names
    assert len(names) == 5 and all(has_hangul(n) for n in names), names  # every one of the top 5 in Korean
    picker = next(s for s in at.selectbox if s.label == "설명할 클래스")  # Grad-CAM's class picker: all 1,000
    assert picker.options[0].startswith("예측: ") and all(has_hangul(o) for o in picker.options), picker.options[:5]


def test_camera_shot_and_fashion_mnist_pick(app_at, ckpt_dir):
    """A camera photo replaces the sample; the Fashion-MNIST CNN gets its own inputs, picked by class."""
    at = app_at("20_feature_maps.py")
    next(t for t in at.toggle if "camera" in t.label).set_value(True).run()
    ok(at)
    assert any("No photo yet" in c.value for c in at.caption)  # a denied or missing camera: a plain note
    at.get("camera_input")[0].upload("shot.jpg", image_bytes(fmt="JPEG", size=(160, 120)), "image/jpeg").run()
    ok(at)
    assert not at.error and not any("No photo yet" in c.value for c in at.caption)
    assert "224×224" in info_text(at)  # the camera picture went through the ImageNet network
    next(t for t in at.toggle if "camera" in t.label).set_value(False).run()
    fashion_model(at)
    sample = next(s for s in at.selectbox if s.label == "…or a sample photo")
    sample.set_value("fashion_mnist").run()
    ok(at)
    next(s for s in at.selectbox if s.label == "Kind of clothing").set_value(1).run()  # Trouser
    ok(at)
    assert "28×28" in info_text(at) and len(spec(at, 1)["data"][0]["y"]) == 10
    first_trouser = data_cache.testset_png("fashion_mnist", 1, 0)
    from PIL import Image

    img = Image.open(io.BytesIO(first_trouser))
    assert img.size == (28, 28) and img.mode == "L"


def test_filters_page_shows_the_imagenet_stem_filters_in_colour(app_at, ckpt_dir):
    at = app_at("21_filters.py")
    figure = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "EfficientNet" in
                  json.loads(c.proto.spec)["layout"]["title"]["text"])
    from test_pages_conv import plotly_array

    image = figure["data"][0]
    assert image["type"] == "image" and plotly_array(image["z"]).shape[-1] == 3  # RGB filters in colour
    assert "32 filters 3×3" in figure["layout"]["title"]["text"]
