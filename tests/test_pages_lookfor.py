"""The "What a filter looks for" and "Draw and predict" pages under AppTest, in Korean and English: the main
interactions, a drawing sent as the canvas sends it, and bad input (a missing channel, a layer without maps, an empty
drawing) as one translated sentence."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image
from test_pages_inside import ckpt_dir  # noqa: F401 - the fixture

import cnnviz
from cnnviz import i18n
from cnnviz.i18n import has_hangul
from dashboard import inside

LOOKFOR = "23_filter_looks_for.py"
DRAW = "24_draw.py"


@pytest.fixture
def tiny_checkpoints(ckpt_dir):
    """Quick-to-make mnist_cnn checkpoints the pages use instead of the shipped ones (the inside pages' fixture)."""
    return ckpt_dir


@pytest.fixture(autouse=True)
def test_language():
    """AppTest formats widget options in the test's own thread: it speaks the page's language (set by open_page)."""
    yield
    i18n.set_language(None)


def open_page(name: str, lang: str, **params):
    from conftest import APP
    from streamlit.testing.v1 import AppTest

    i18n.set_language(lang)
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.query_params["lang"] = lang
    at.run()
    at.switch_page(f"../pages/{name}")
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    ok(at)
    return at


def ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def choose(at, label: str, value, lang: str = "en") -> None:
    next(s for s in at.selectbox if s.label == label).set_value(value).run()
    ok(at)


def canvas_value(pixels: np.ndarray) -> dict:
    """What the canvas component sends back to the server: the Fabric.js JSON and the canvas as a PNG data URL."""
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    return {"drawing": {"raw": {"objects": [{"type": "path"}]}, "data": url}, "backgroundFit": None}


def trouser_pixels() -> np.ndarray:
    img = np.zeros((280, 280, 4), np.uint8)  # transparent, as the canvas is, with black ink
    for rows, cols in ((slice(25, 255), slice(95, 130)), (slice(25, 255), slice(150, 185)),
                       (slice(25, 60), slice(95, 185))):
        img[rows, cols] = (0, 0, 0, 255)
    return img


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_lookfor_page_examples_optimization_and_row(tiny_checkpoints, lang):
    at = open_page(LOOKFOR, lang)
    choose(at, "Model" if lang == "en" else "모델", inside.INSIDE_TRAINED, lang)
    assert at.radio[0].value == "fashion"
    at.select_slider[0].set_value(1_000).run()
    ok(at)
    examples = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert sum(t["type"] == "image" for t in examples["data"]) == 9
    assert "features.3" in examples["layout"]["title"]["text"]
    at.button(key="lf_optimize").click().run()
    ok(at)
    assert len(at.metric) == 3
    said = [m.value for m in (*at.success, *at.info)]
    assert said and all(has_hangul(s) == (lang == "ko") for s in said)
    at.button(key="lf_row").click().run()
    ok(at)
    row = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert sum(t["type"] == "image" for t in row["data"]) == 15  # 5 channels of 3 stages
    # a rerun finds both in the server-wide store: no button left
    at.run()
    assert not [b for b in at.button if b.key in ("lf_optimize", "lf_row")]


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_lookfor_page_bad_links_get_one_sentence(tiny_checkpoints, lang):
    at = open_page(LOOKFOR, lang)
    choose(at, "Model" if lang == "en" else "모델", inside.INSIDE_TRAINED, lang)
    at.query_params["layer"] = "classifier.1"
    at.query_params["channel"] = "999"
    at.run()
    ok(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 2 and all(has_hangul(e) == (lang == "ko") for e in errors)
    assert "classifier.1" in errors[0] and "999" in errors[1]
    if lang == "en":
        assert "has no feature maps" in errors[0] and "does not exist" in errors[1]
    assert at.number_input[0].value == 0  # and the page goes on with the defaults
    assert at.get("plotly_chart")


def test_lookfor_page_folder_outside_the_roots(tiny_checkpoints, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNVIZ_DATA_ROOTS", str(tmp_path / "allowed"))
    at = open_page(LOOKFOR, "en")
    at.radio[0].set_value("folder").run()
    ok(at)
    assert at.info and not at.get("plotly_chart")
    at.text_input[0].input("/etc").run()
    ok(at)
    assert "only folders inside" in at.error[0].value


def seven_pixels() -> np.ndarray:
    """A 7 drawn with a thick pen, as the canvas sends it (transparent, black ink)."""
    from PIL import ImageDraw

    img = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(img).line([(75, 55), (205, 55), (125, 245)], fill=(0, 0, 0, 255), width=24, joint="curve")
    return np.asarray(img)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_draw_page_empty_then_a_drawing(lang):
    at = open_page(DRAW, lang)
    assert next(s for s in at.selectbox if s.label in ("Model", "모델")).value == inside.INSIDE_TRAINED_MNIST
    assert len(at.info) == 1 and has_hangul(at.info[0].value) == (lang == "ko")  # the empty canvas: one sentence
    at.session_state["draw.canvas.empty"] = canvas_value(seven_pixels())
    at.run()
    ok(at)
    assert not at.info
    assert at.metric[0].value == "7"
    assert at.slider[0].value == 20  # MNIST's 20×20 box, for a digit network
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(charts) == 4  # prediction, preprocessing steps, first layer's maps, layer by layer
    assert sum(t["type"] == "image" for t in charts[1]["data"]) == 5


def test_draw_page_examples_are_digits_then_clothes_for_the_fashion_cnn():
    at = open_page(DRAW, "en")
    examples = next(s for s in at.selectbox if s.label == "Start from")
    assert examples.options == ["an empty canvas", "the digit 1", "the digit 7", "the digit 0", "the digit 2",
                                "the digit 4"]
    examples.set_value("zero").run()
    ok(at)
    assert at.metric[0].value == "0"
    choose(at, "Model", inside.INSIDE_TRAINED)  # the Fashion-MNIST CNN: its examples are clothes
    examples = next(s for s in at.selectbox if s.label == "Start from")
    assert examples.value == "" and "a sneaker" in examples.options and "the digit 7" not in examples.options
    examples.set_value("sneaker").run()
    ok(at)
    assert at.metric[0].value == "Sneaker"
    at.slider[0].set_value(20).run()  # MNIST's 20×20 box
    ok(at)
    assert "20×20" in " ".join(m.value for m in at.markdown)


def test_feature_maps_page_takes_a_drawing():
    at = open_page("20_feature_maps.py", "en")
    next(t for t in at.toggle if t.label == "Draw it yourself").set_value(True).run()
    ok(at)
    assert at.info and "empty" in at.info[0].value
    at.session_state["photo.drawing.canvas.empty"] = canvas_value(trouser_pixels())
    at.run()
    ok(at)
    assert next(s for s in at.selectbox if s.label == "Model").value == inside.INSIDE_TRAINED
    bars = json.loads(at.get("plotly_chart")[1].proto.spec)["data"][0]
    assert bars["y"][-1] == "Trouser" or bars["y"][0] == "Trouser"


def test_draw_page_computes_a_drawing_once(monkeypatch):
    """Every rerun (any click) recomputed the prediction and the feature maps; now one drawing is computed once."""
    from cnnviz import capture

    calls = []
    maps_of = capture.feature_maps_many
    monkeypatch.setattr(capture, "feature_maps_many", lambda *a, **kw: calls.append(1) or maps_of(*a, **kw))
    inside.draw_view.clear()
    at = open_page(DRAW, "en")
    next(s for s in at.selectbox if s.label == "Start from").set_value("seven").run()  # the MNIST CNN first
    ok(at)
    assert len(calls) == 1
    for _ in range(2):
        at.run()  # e.g. a click elsewhere on the page
        ok(at)
    assert len(calls) == 1 and len(at.get("plotly_chart")) == 4
