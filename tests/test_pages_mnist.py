"""MNIST on the pages: the shipped MNIST CNN offered beside the Fashion-MNIST one (Feature maps, Filters during
training, Errors & confusion, What a filter looks for), the notes' presets in the studio (dataset, step count, the
table of the notes' runs, the notes' plot of a run) and MNIST as a transfer target, in English and Korean."""

from __future__ import annotations

import json

import pytest

from cnnviz import i18n, training
from cnnviz.i18n import has_hangul
from dashboard import inside
from dashboard import training as training_cache

@pytest.fixture(autouse=True)
def runs_in_tmp(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNVIZ_RUNS", str(tmp_path / "runs"))
    yield tmp_path / "runs"
    i18n.set_language(None)


def ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def open_page(name: str, lang: str = "en"):
    from conftest import APP
    from streamlit.testing.v1 import AppTest

    i18n.set_language(lang)  # AppTest formats widget options in the test's own thread
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.query_params["lang"] = lang
    at.run()
    at.switch_page(f"../pages/{name}")
    at.run()
    ok(at)
    return at


def chooser(at, *labels):
    return next(s for s in at.selectbox if s.label in labels)


def specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_feature_maps_and_lookfor_offer_the_mnist_cnn(lang):
    at = open_page("20_feature_maps.py", lang)
    model = chooser(at, "Model", "모델")
    labels = [inside.inside_model_label(k) for k in (inside.INSIDE_TRAINED, inside.INSIDE_TRAINED_MNIST)]
    assert set(labels) <= set(model.options)  # beside the Fashion-MNIST network, in the reader's language
    model.set_value(inside.INSIDE_TRAINED_MNIST).run()
    ok(at)
    figure = next(s for s in specs(at) if any(d.get("type") == "bar" for d in s["data"]))
    bars = next(d for d in figure["data"] if d.get("type") == "bar")
    assert set(bars["y"]) <= set("0123456789")  # the prediction is a digit
    assert figure["layout"]["yaxis"]["type"] == "category"  # each bar named by its digit, not a numeric axis
    at = open_page("23_filter_looks_for.py", lang)
    chooser(at, "Model", "모델").set_value(inside.INSIDE_TRAINED_MNIST).run()
    ok(at)
    assert at.radio[0].value == "mnist"  # a digit network searches MNIST's test images first
    at.select_slider[0].set_value(1_000).run()
    ok(at)
    examples = specs(at)[0]
    assert sum(t["type"] == "image" for t in examples["data"]) == 9
    names = [a["text"] for a in examples["layout"]["annotations"]]
    # each example is titled "activation · digit #index"
    assert len(names) == 9 and all(n.split(" · ")[1].split()[0] in set("0123456789") for n in names), names
    assert all(has_hangul(e.value) == (lang == "ko") for e in at.caption if e.value.strip())


def test_filters_page_scrubs_the_mnist_cnn_and_its_own_test_images():
    at = open_page("21_filters.py")
    run = chooser(at, "Training run")
    assert run.options[:2] == ["Fashion-MNIST CNN (trained, bundled)", "MNIST digits CNN (trained, bundled)"]
    run.set_value(inside.INSIDE_TRAINED_MNIST).run()
    ok(at)
    assert at.select_slider[0].options == [str(e) for e in range(11)]
    image = next(s for s in specs(at) if s["layout"].get("title", {}).get("text", "").startswith("#0:"))
    assert image["layout"]["title"]["text"] == "#0: 7"  # MNIST's first test image is a 7


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_errors_page_shows_the_shipped_mnist_cnns_confusion(lang):
    at = open_page("32_errors.py", lang)
    network = chooser(at, "Network", "네트워크")
    assert network.options[1] in ("Shipped MNIST digits CNN", "기본 제공 MNIST 숫자 CNN")
    network.set_value("shipped_mnist").run()
    ok(at)
    accuracy = float(at.metric[0].value.rstrip("%")) / 100
    assert accuracy >= 0.98
    matrix = specs(at)[0]["data"][0]
    assert matrix["x"] == list("0123456789")


def test_studio_notes_presets_set_the_dataset_and_the_step_count(app_at):
    at = app_at("30_training_studio.py")
    at.selectbox(key="tr.preset").set_value("tf_mnist").run()
    ok(at)
    assert at.selectbox(key="tr.dataset").value == "mnist" and at.number_input(key="tr.max_steps").value == 10_000
    assert at.number_input(key="tr.epochs").value == 9 and at.select_slider(key="tr.batch").value == 50
    assert any("10,000 steps;" in c.value for c in at.caption)
    assert not [w for w in at.warning if "not available" in w.value]  # MNIST is here: no download warning
    table = at.dataframe[0].value
    assert list(table["the notes' run"]) == [training.PRESETS[n].title for n in training.NOTES_RUNS]
    assert list(table["test accuracy: the notes"]) == ["at least 99%"] * 2
    assert [v.endswith("%") and float(v.rstrip("%")) >= 98.5 for v in table["test accuracy: here"]] == [True] * 2
    measured = [s for s in specs(at) if s["data"] and s["data"][0].get("name", "").startswith("training accuracy")]
    assert measured and measured[0]["data"][1]["x"] == [10_000]  # the TF notes' plot of the run made here
    assert not [c for c in at.caption if "seeds" in c.value]  # the TensorFlow run was made here with one seed
    at.selectbox(key="tr.preset").set_value("pytorch_mnist").run()
    assert at.selectbox(key="tr.dataset").value == "mnist" and at.number_input(key="tr.max_steps").value == 0
    # the PyTorch run, made here with four seeds: each one's test accuracy after epoch 10, as its history says
    [seeds] = [c.value for c in at.caption if "The same run here with 4 seeds" in c.value]
    for r in training.seed_results("pytorch_mnist"):
        assert f"seed {r.seed}: {r.final:.2%} (best {r.best:.2%})" in seeds
    assert "From 98.89% to 99.18%, mean 99.03%" in seeds
    at.selectbox(key="tr.preset").set_value("fast").run()
    assert at.selectbox(key="tr.dataset").value == "fashion_mnist"


def test_studio_says_the_seeds_of_the_notes_run_in_korean(app_at):
    at = app_at("30_training_studio.py", query={"lang": "ko"})
    at.selectbox(key="tr.preset").select_index(1 + list(training.PRESETS).index("pytorch_mnist")).run()
    ok(at)
    [seeds] = [c.value for c in at.caption if "시드 4개" in c.value]
    assert "시드 3: 99.18% (최고 99.20%)" in seeds and "평균 99.03%" in seeds


def test_studio_runs_a_notes_preset_on_mnist_to_its_step_count_with_the_notes_plot(app_at):
    from cnnviz import runs

    at = app_at("30_training_studio.py")
    at.selectbox(key="tr.preset").set_value("tf_mnist").run()
    at.select_slider(key="tr.train_size").set_value(500)
    at.select_slider(key="tr.test_size").set_value(500)
    at.number_input(key="tr.max_steps").set_value(25)
    at.selectbox(key="tr.model").set_value("simple_convnet")  # the notes' settings, on a small net: seconds
    at.run()
    next(b for b in at.button if b.label == "Start training").click()
    at.run()
    ok(at)
    job = at.session_state[training_cache.TRAIN_JOB_KEY]
    assert job.join(180)
    at.run()
    ok(at)
    h = job.history
    assert h.status == "finished" and h.step == 25 and h.total_steps == 25 and len(h.epochs) == 3
    assert any("finished at step 25" in s.value for s in at.success)
    live = next(s for s in specs(at) if s["data"] and s["data"][0].get("name", "").startswith("training accuracy"))
    assert live["data"][1]["x"] == [25]  # the notes' plot: training accuracy, and the test accuracy at step 25
    config = runs.list_runs(job.options["checkpoint_dir"].parent)[-1].config
    assert (config.dataset, config.max_steps, config.preset) == ("mnist", 25, "tf_mnist")


def test_compare_strategies_offers_mnist_for_the_shipped_cnn(app_at):
    at = app_at("40_transfer_compare.py", timeout=120)
    at.radio(key="tl.source").set_value("shipped_cnn").run()
    ok(at)
    assert at.selectbox(key="tl.target").options == ["MNIST digits (a few images per class)",
                                                    "Your own images (a zip of one folder per class)"]
    assert at.selectbox(key="tl.target").value == "mnist"
    assert not at.warning and not at.checkbox  # bundled: no download needed, none offered
    at.radio(key="tl.source").set_value("heldout_cnn").run()
    assert "MNIST digits (a few images per class)" in at.selectbox(key="tl.target").options
