"""The training pages under AppTest: a tiny run end to end, stop/resume, NaN, presets, comparing, errors."""

from __future__ import annotations

import json

import pytest

from dashboard import state

STUDIO = "30_training_studio.py"
COMPARE = "31_compare_runs.py"
ERRORS = "32_errors.py"


@pytest.fixture(autouse=True)
def runs_in_tmp(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNVIZ_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


def ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def configure(at, *, train_size=500, test_size=500, epochs=2, **widgets) -> None:
    at.select_slider(key="tr.train_size").set_value(train_size)
    at.select_slider(key="tr.test_size").set_value(test_size)
    at.number_input(key="tr.epochs").set_value(epochs)
    for key, value in widgets.items():
        at.session_state[f"tr.{key}"] = value


def click(at, label: str) -> None:
    [b for b in at.button if b.label == label][0].click()
    at.run()
    ok(at)


def run_to_end(at, timeout: float = 120):
    job = at.session_state[state.TRAIN_JOB_KEY]
    assert job.join(timeout)
    at.run()
    ok(at)
    return job


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_tiny_run_end_to_end(app_at):
    at = app_at(STUDIO)
    ok(at)
    configure(at)
    click(at, "Start training")
    job = run_to_end(at)
    h = job.history
    assert h.status == "finished" and len(h.epochs) == 2
    assert metric(at, "Status") == "finished"
    assert metric(at, "Test accuracy") == f"{h.epochs[-1].test_acc:.2%}"
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    traces = {t["name"]: t for t in spec["data"]}
    assert traces["test (each epoch)"]["y"] == pytest.approx([e.test_loss for e in h.epochs])
    assert len(traces["training loss (recent steps)"]["y"]) == len(h.steps) > 2
    assert any("finished" in s.value for s in at.success)


def test_nan_run_says_the_learning_rate_is_too_high(app_at):
    at = app_at(STUDIO)
    configure(at, epochs=3, optimizer="sgd", lr=10.0, momentum=0.9)
    at.run()
    click(at, "Start training")
    run_to_end(at)
    assert metric(at, "Status") == "failed"
    assert any("learning rate" in e.value for e in at.error)


def test_stop_and_resume_buttons(app_at):
    at = app_at(STUDIO)
    configure(at, epochs=50, batch=8)
    at.run()
    click(at, "Start training")
    job = at.session_state[state.TRAIN_JOB_KEY]
    while job.running and job.history.step < 20:
        job.join(0.05)
    at.run()
    click(at, "Stop")
    assert job.status == "stopped" and any("resume" in w.value for w in at.warning)
    stopped_at = job.history.step
    click(at, "Resume")
    while job.running and job.history.step < stopped_at + 20:
        job.join(0.05)
    at.run()
    click(at, "Stop")
    steps = [s.step for s in job.history.steps]
    gaps = [b - a for a, b in zip(steps, steps[1:])]
    assert min(gaps) >= 1 and max(gaps) <= 10 and steps[-1] > stopped_at  # in order, none repeated, none skipped


def test_a_preset_fills_in_the_settings(app_at):
    at = app_at(STUDIO)
    at.selectbox(key="tr.preset").set_value("pytorch_mnist").run()
    ok(at)
    assert at.selectbox(key="tr.model").value == "mnist_cnn"
    assert at.radio(key="tr.optimizer").value == "sgd"
    assert at.select_slider(key="tr.lr").value == 0.01
    assert at.slider(key="tr.momentum").value == 0.5
    assert at.select_slider(key="tr.batch").value == 64 and at.number_input(key="tr.epochs").value == 10


def test_compare_overlays_runs_deletes_and_sessions_stay_apart(app_at):
    at = app_at(STUDIO)
    configure(at, epochs=1)
    at.run()
    click(at, "Start training")
    run_to_end(at)
    at.session_state["tr.optimizer"] = "sgd"
    at.session_state["tr.lr"] = 0.01
    at.run()
    click(at, "Start training")
    run_to_end(at)
    at.switch_page(f"../pages/{COMPARE}")
    at.run()
    ok(at)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [t["name"] for t in spec["data"]]
    assert len(names) == 2 and "adam" in names[0] and "sgd" in names[1]
    at.multiselect(key="cmp.delete").set_value([names[0]]).run()
    click(at, "Delete")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [t["name"] for t in spec["data"]] == [names[1].replace("2.", "1.", 1)]

    other = app_at(COMPARE)  # another browser session sees none of these runs
    ok(other)
    assert any("No runs yet" in i.value for i in other.info)


def test_errors_page_shows_a_cell_of_a_run(app_at):
    at = app_at(STUDIO)
    configure(at, epochs=1)
    click(at, "Start training")
    job = run_to_end(at)
    at.switch_page(f"../pages/{ERRORS}")
    at.run()
    ok(at)
    mine = [o for o in at.selectbox[0].options if o.startswith("Your run")]
    at.selectbox[0].set_value(mine[0]).run()
    ok(at)
    at.select_slider[1].set_value(1000).run()
    ok(at)
    acc = float(metric(at, "Test accuracy").rstrip("%")) / 100
    assert 0 <= acc <= 1
    mistakes, total = metric(at, "Mistakes").replace(",", "").split(" of ")
    assert int(total) == 1000 and int(mistakes) == round((1 - acc) * 1000)
    true_box = next(s for s in at.selectbox if s.label == "True class")
    pred_box = next(s for s in at.selectbox if s.label == "Predicted class")
    true_box.set_value(0)
    pred_box.set_value(0)
    at.run()
    ok(at)
    assert any("correctly classified" in h.value for h in at.subheader)
    assert job.history.status == "finished"
    count = int(next(h.value for h in at.subheader if "correctly classified" in h.value).split()[0])
    captions = [c for img in at.image for c in img.captions]
    assert len(captions) == min(24, count) and all("%" in c for c in captions)
    at.toggle[1].set_value(True).run()  # Grad-CAM on the shown images
    ok(at)
    assert not at.error and len(at.image) == len(captions)


def test_a_layer_stack_from_the_convolution_lab_trains(app_at):
    pytest.importorskip("cnnviz.stack")
    at = app_at(STUDIO)
    spec = [{"type": "conv", "out_channels": 4, "kernel": 3, "stride": 1, "padding": 1, "dilation": 1,
             "activation": "relu"}, {"type": "pool", "mode": "max", "kernel": 2, "stride": 2}, {"type": "flatten"},
            {"type": "linear", "out_features": 10, "activation": None}]
    at.session_state[state.STACK_KEY] = (spec, (1, 28, 28))
    at.run()
    configure(at, epochs=1, model="stack")
    at.run()
    click(at, "Start training")
    job = run_to_end(at)
    assert job.status == "finished", job.history.message
    assert job.options["model_name"] == "stack" and job.options["spec"] == spec
