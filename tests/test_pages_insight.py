"""The training-insight pages under AppTest, in English and Korean: Weights and gradients, Vanishing gradients, Feature
space, Compare runs' settings table and parallel coordinates, the studio's curve controls, a test image opened on
Feature maps from a link. The runs are made once (tiny) and shown to every AppTest as its session's own."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from cnnviz import i18n, runs
from cnnviz.i18n import has_hangul
from cnnviz.runs import experiments
from cnnviz.training import load_train_test, probes
from dashboard import session
from dashboard import training as training_cache
from test_pages_conv import plotly_array

SESSION = "insight-tests"


def seed_runs(folder) -> None:
    """A tiny SimpleConvNet run (2 epochs, probes recorded, label "tiny") and a tiny vanishing pair in ``folder``."""
    folder.mkdir(parents=True)
    config = runs.RunConfig(model="simple_convnet", train_size=256, test_size=200, epochs=2, label="tiny")
    train, test = load_train_test(config.dataset, input_shape=config.model_input_shape, train_size=256,
                                  test_size=200, seed=0)
    job = runs.new_run_job(folder, config, train=train, test=test, threads=1)
    job.start()
    assert job.join(120) and job.history.status == "finished"
    tiny = tuple(replace(c, train_size=256, test_size=100, epochs=1) for c in experiments.VANISHING)
    pair = experiments.vanishing_job(folder, train=train, test=test.subset(100, seed=0), configs=tiny)
    for j in pair.jobs:
        j.options["threads"] = 1
    pair.start()
    assert pair.join(120)


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("insight-runs")
    seed_runs(runs.session_folder(SESSION, root=root))
    return root


@pytest.fixture
def open_page(runs_root, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from conftest import APP

    monkeypatch.setenv("CNNVIZ_RUNS", str(runs_root))

    def go(name: str, lang: str = "en", query: dict | None = None, state: dict | None = None):
        """The page in ``lang``; ``state``: widget values set before it first runs (AppTest cannot set a widget whose
        options a page translates once the page runs in Korean)."""
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.session_state[session.TRAIN_SESSION_KEY] = SESSION
        at.query_params["lang"] = lang
        at.run()
        for key, value in (state or {}).items():
            at.session_state[key] = value
        at.switch_page(f"../pages/{name}")
        at.query_params.update(query or {})
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return go


def figures(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def title(fig: dict) -> str:
    return (fig["layout"].get("title") or {}).get("text", "")


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_weights_and_gradients_show_what_was_recorded(open_page, runs_root, lang):
    run = next(r for r in runs.list_runs(runs.session_folder(SESSION, root=runs_root)) if r.config.label == "tiny")
    at = open_page("33_weights_gradients.py", lang, state={"wg.run": f"run:{run.name}", "wg.what": "gradients"})
    recorded = probes.load_probes(run.path)
    ridge, bands, norms = figures(at)
    with i18n.language(lang):
        assert title(ridge) == i18n._("{layer}: {what} over training").format(layer=recorded.layer_label(0),
                                                                             what=i18n._("gradients"))
    assert len(ridge["data"]) == min(len(recorded.grad_steps), 24)
    median = next(t for t in bands["data"] if t.get("name") in ("median", "중앙값"))
    assert plotly_array(median["y"]) == pytest.approx(list(recorded.grad_pct[:, 0, 4]))
    assert len(norms["data"]) == len(recorded.layers) and norms["layout"]["yaxis"]["type"] == "log"
    if lang == "ko":
        assert has_hangul(title(ridge)) and has_hangul(title(norms))


def test_a_damaged_recording_falls_back_to_the_checkpoints(open_page, runs_root):
    folder = runs.session_folder(SESSION, root=runs_root)
    run = next(r for r in runs.list_runs(folder) if r.config.label == "tiny")
    saved = (run.path / probes.PROBES_FILE).read_bytes()
    (run.path / probes.PROBES_FILE).write_bytes(b"PK\x03\x04 damaged")
    try:
        at = open_page("33_weights_gradients.py", state={"wg.run": f"run:{run.name}"})
        assert not at.exception
        assert any("cannot be read" in i.value and "checkpoints" in i.value for i in at.info)
        assert len(figures(at)) == 2  # histograms and bands of the weights; no gradients
    finally:
        (run.path / probes.PROBES_FILE).write_bytes(saved)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_vanishing_gradients_side_by_side(open_page, lang):
    at = open_page("34_vanishing_gradients.py", lang)
    with i18n.language(lang):
        ratio = next(m for m in at.metric if m.label == i18n._("ReLU ÷ sigmoid"))
    assert float(ratio.value.rstrip("×").replace(",", "")) >= 10
    norms = figures(at)[0]
    assert len({t["xaxis"] for t in norms["data"] if "xaxis" in t} | {"x"}) == 2  # two panels: sigmoid, ReLU
    assert norms["layout"]["yaxis"]["type"] == "log"
    if lang == "ko":
        assert has_hangul(title(norms))


def test_the_experiment_button_trains_the_pair(open_page, monkeypatch):
    tiny = tuple(replace(c, train_size=64, test_size=50, epochs=1) for c in experiments.VANISHING)
    monkeypatch.setattr(experiments, "VANISHING", tiny)
    at = open_page("34_vanishing_gradients.py")
    [b for b in at.button if b.label == "Train both side by side"][0].click().run()
    job = at.session_state[training_cache.PAIR_JOB_KEY]
    assert job.join(120) and [h.status for h in job.histories] == ["finished", "finished"]
    assert [h.train_size for h in job.histories] == [64, 64]


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_feature_space_before_and_after(open_page, runs_root, lang):
    run = next(r for r in runs.list_runs(runs.session_folder(SESSION, root=runs_root)) if r.config.label == "tiny")
    at = open_page("35_feature_space.py", lang, state={"fs.run": f"run:{run.name}"})
    before, after = figures(at)
    assert len(before["data"]) == 10 and sum(len(plotly_array(t.get("x", []))) for t in before["data"]) == 2_000
    assert list((run.path / "projections").glob("epoch_02-pca-*.npz"))  # kept on disk beside the checkpoint
    with i18n.language(lang):
        from cnnviz.data import class_label

        assert [t["name"] for t in after["data"]] == [class_label(c) for c in load_classes()]
    if lang == "ko":
        assert has_hangul(title(before)) and has_hangul(after["layout"]["xaxis"]["title"]["text"])
    picked = int(plotly_array(after["data"][0]["customdata"])[0][0])  # what a click on the first point chooses
    at.session_state["fs.picked"], at.session_state["fs.picked_epoch"] = picked, 2
    at.run()
    link = str(at.get("page_link")[0].proto)
    assert f"test_image=fashion_mnist%3A{picked}" in link and f"checkpoint={run.name}%2Fepoch_02.pt" in link


def load_classes():
    from cnnviz.data import DATASETS

    return DATASETS["fashion_mnist"].classes


def test_feature_maps_opens_a_linked_test_image_and_checkpoint(open_page, runs_root):
    run = next(r for r in runs.list_runs(runs.session_folder(SESSION, root=runs_root)) if r.config.label == "tiny")
    at = open_page("20_feature_maps.py", query={"test_image": "fashion_mnist:17",
                                                "checkpoint": f"{run.name}/epoch_02.pt"})
    assert [b.label for b in at.button] == ["Choose another photo"]  # the photo picker gives way to the linked image
    assert any("(28×28)" in i.value for i in at.info)  # the 28×28 test image, not the default photo of a cat
    model = next(s for s in at.selectbox if s.label == "Model")
    assert model.value == f"link:{run.name}/epoch_02.pt" and "epoch 2" in model.format_func(model.value)
    bad = open_page("20_feature_maps.py", query={"test_image": "fashion_mnist:99999",
                                                 "checkpoint": "../../etc/epoch_01.pt"})
    assert any("Cannot open the linked image" in w.value for w in bad.warning)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_compare_runs_settings_against_results(open_page, lang):
    at = open_page("31_compare_runs.py", lang)
    table = at.dataframe[0].value
    with i18n.language(lang):
        best, model = i18n._("best test accuracy"), i18n._("model")
    assert best in table.columns and model in table.columns
    assert set(table[model]) >= {"simple_convnet", "deep_sigmoid", "deep_relu"}
    parcoords = next(f for f in figures(at) if f["data"][0]["type"] == "parcoords")
    labels = [d["label"] for d in parcoords["data"][0]["dimensions"]]
    assert model in labels and best in labels
    assert at.slider(key="cmp.view.smoothing").value == 0.6
    if lang == "ko":
        assert has_hangul(title(parcoords))


def test_studio_chart_follows_the_curve_controls(open_page, runs_root):
    run = next(r for r in runs.list_runs(runs.session_folder(SESSION, root=runs_root)) if r.config.label == "tiny")
    at = open_page("30_training_studio.py")
    at.session_state[training_cache.TRAIN_JOB_KEY] = runs.resume_run_job(run.path)  # the session's last run
    at.run()
    at.radio(key="tr.view.x").set_value("step").run()
    at.toggle(key="tr.view.log").set_value(True).run()
    chart = figures(at)[0]
    steps = [s.step for s in run.history.steps]
    raw = [t for t in chart["data"] if t.get("opacity") == 0.25]
    assert raw and list(plotly_array(raw[0]["x"])) == steps
    assert list(plotly_array(raw[0]["y"])) == pytest.approx([s.loss for s in run.history.steps])
    assert chart["layout"]["xaxis"]["title"]["text"] == "step" and chart["layout"]["yaxis"]["type"] == "log"
    assert at.get("download_button")  # the history as CSV


CASES = "insight-cases"  # another session's folder: copies of the tiny run, each missing what one case lacks


def case_run(runs_root, name: str, *, probes_file: bool, epochs: tuple[int, ...], history: bool = True):
    """A copy of the tiny run in the CASES session, with or without its probes.npz, keeping the checkpoints of
    ``epochs`` only, with or without its history.json (a run before its first save has none)."""
    import shutil

    tiny = next(r for r in runs.list_runs(runs.session_folder(SESSION, root=runs_root)) if r.config.label == "tiny")
    folder = runs.session_folder(CASES, root=runs_root) / name
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(tiny.path, folder)
    if not probes_file:
        (folder / probes.PROBES_FILE).unlink()
    for path in folder.glob("epoch_*.pt"):
        if int(path.stem.split("_")[1]) not in epochs:
            path.unlink()
    if not history:
        (folder / "history.json").unlink()
    return folder


def open_case(open_page, page: str, folder, lang: str = "en", key: str = "wg.run"):
    return open_page(page, lang, state={session.TRAIN_SESSION_KEY: CASES, key: f"run:{folder.name}"})


def texts(at) -> list[str]:
    return [e.value for e in (*at.info, *at.warning, *at.caption)]


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_weights_page_says_what_each_run_has(open_page, runs_root, lang):
    """A finished run without a recording is never told to wait: its checkpoints are shown (and said so), or it
    is said that there is nothing; only a run still before its first epoch is asked to come back."""
    from cnnviz.training.job import LiveLock

    with i18n.language(lang):
        wait = i18n._("This run has recorded nothing yet: come back after its first epoch.")
        unrecorded = i18n.ngettext(
            "This run was trained without recording its weights and gradients: the weights below are read from its "
            "only checkpoint, and its gradients cannot be shown.",
            "This run was trained without recording its weights and gradients: the weights below are read from its "
            "{n} checkpoints, and its gradients cannot be shown.", 3).format(n=3)
        nothing = i18n._("This run was trained without recording its weights and gradients and kept no checkpoints: "
                         "there is nothing to show here.")
    # finished, no recording, its three epoch checkpoints: the weights from them, said so; no gradients
    at = open_case(open_page, "33_weights_gradients.py",
                   case_run(runs_root, "unrecorded", probes_file=False, epochs=(0, 1, 2)), lang)
    assert unrecorded in texts(at) and wait not in texts(at)
    assert len(figures(at)) == 2 and at.radio(key="wg.what").options == [i18n_text(lang, "weights")]
    # finished, nothing at all
    at = open_case(open_page, "33_weights_gradients.py",
                   case_run(runs_root, "bare", probes_file=False, epochs=()), lang)
    assert nothing in texts(at) and wait not in texts(at) and not figures(at)
    if lang == "ko":
        assert has_hangul(unrecorded) and has_hangul(nothing)
        return
    # still before its first epoch (its initial checkpoint only, training in this server): come back later
    early = case_run(runs_root, "early", probes_file=False, epochs=(0,), history=False)
    live = LiveLock(early)
    try:
        at = open_case(open_page, "33_weights_gradients.py", early)
        assert wait in texts(at) and not figures(at)
    finally:
        live.release()
    # the same folder once nobody trains it any more (interrupted): its one checkpoint, said so
    at = open_case(open_page, "33_weights_gradients.py", early)
    assert any("read from its only checkpoint" in t for t in texts(at)) and wait not in texts(at)
    # finished with a recording: nothing to explain, the gradients are there
    at = open_case(open_page, "33_weights_gradients.py",
                   case_run(runs_root, "recorded", probes_file=True, epochs=(0, 1, 2)))
    assert not at.info and not at.warning and len(figures(at)) == 3
    # the shipped network: from its checkpoints, said so
    at = open_page("33_weights_gradients.py", state={"wg.run": "shipped"})
    assert any(t.startswith("This run was trained without recording") for t in texts(at)) and len(figures(at)) == 2


def i18n_text(lang: str, text: str) -> str:
    with i18n.language(lang):
        return i18n._(text)


def test_feature_space_one_checkpoint_says_whether_more_will_come(open_page, runs_root):
    from cnnviz.training.job import LiveLock

    later = "This run has one checkpoint so far: the comparison appears after its first epoch."
    never = "This run kept only one checkpoint: there is no other to compare it with."
    at = open_case(open_page, "35_feature_space.py", case_run(runs_root, "last-only", probes_file=True, epochs=(2,)),
                   key="fs.run")
    assert never in texts(at) and later not in texts(at) and len(figures(at)) == 1
    early = case_run(runs_root, "early-fs", probes_file=False, epochs=(0,), history=False)
    live = LiveLock(early)
    try:
        at = open_case(open_page, "35_feature_space.py", early, key="fs.run")
        assert later in texts(at) and never not in texts(at)
    finally:
        live.release()
