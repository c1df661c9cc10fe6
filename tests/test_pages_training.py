"""The training pages under AppTest: a tiny run end to end, stop/resume, NaN, presets, comparing, errors."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from dashboard import lab, session
from dashboard import training as training_cache

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
    job = at.session_state[training_cache.TRAIN_JOB_KEY]
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
    test_loss = next(t for t in spec["data"] if t.get("name") == "test (after each epoch)")
    assert test_loss["y"] == pytest.approx([e.test_loss for e in h.epochs])
    train = [t for t in spec["data"] if t.get("name", "") == "training (last few steps)"]
    assert len(train) == 2 and len(train[0]["y"]) == len(h.steps) > 2  # loss and accuracy: one legend name for both
    assert all("loss" not in t.get("name", "") for t in spec["data"])  # the accuracy panel's line is not called "loss"
    assert any("finished 2 epochs" in s.value and "%" in s.value for s in at.success)  # plural, a percentage
    for axis in ("xaxis", "xaxis2"):  # whole epochs only: no tick at 0.5 or 1.5
        assert (spec["layout"][axis]["tick0"], spec["layout"][axis]["dtick"]) == (0, 1)


def test_one_epoch_run_says_epoch_not_epochs(app_at):
    at = app_at(STUDIO)
    configure(at, epochs=1)
    click(at, "Start training")
    run_to_end(at)
    assert any("finished 1 epoch;" in s.value for s in at.success)


def _in_order(node, out=None):
    """(type, label) of every element under ``node`` in page order (AppTest keeps children by position)."""
    out = [] if out is None else out
    for _key, child in sorted(getattr(node, "children", {}).items()):
        kind = getattr(child, "type", type(child).__name__)
        out.append((kind, getattr(child, "label", "")))
        _in_order(child, out)
    return out


def test_live_view_and_stop_come_before_an_open_set_up_panel(app_at):
    """On a second run the curves and the Stop button stayed hidden below the still-open set-up panel."""
    at = app_at(STUDIO)
    configure(at, epochs=1)
    click(at, "Start training")
    run_to_end(at)
    order = _in_order(at.main)
    chart = next(i for i, (kind, _label) in enumerate(order) if kind == "plotly_chart")
    setup = next(i for i, (kind, label) in enumerate(order) if kind == "expander" and "Set up" in str(label))
    assert chart < setup, order


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
    job = at.session_state[training_cache.TRAIN_JOB_KEY]
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


def one_finished_run(app_at):
    """The studio after a one-epoch run has finished."""
    at = app_at(STUDIO)
    configure(at, epochs=1)
    at.run()
    click(at, "Start training")
    run_to_end(at)
    return at


def test_compare_overlays_runs_deletes_and_sessions_stay_apart(app_at):
    at = one_finished_run(app_at)
    at.session_state["tr.optimizer"] = "sgd"
    at.session_state["tr.lr"] = 0.01
    at.run()
    click(at, "Start training")
    run_to_end(at)
    at.switch_page(f"../pages/{COMPARE}")
    at.run()
    ok(at)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [t.get("name", "") for t in spec["data"]]
    assert len(names) == 2 and "adam" in names[0] and "sgd" in names[1]
    assert (spec["layout"]["xaxis"]["tick0"], spec["layout"]["xaxis"]["dtick"]) == (0, 1)  # never 1.5 or 2.5
    curve = next(r for r in at.radio if r.label == "Curve")
    curve.set_value("step_loss").run()  # steps fall between epochs; the ticks stay on whole ones
    steps = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert any(x % 1 for x in steps["data"][0]["x"]) and steps["layout"]["xaxis"]["dtick"] == 1
    next(r for r in at.radio if r.label == "Curve").set_value("test_acc").run()
    at.multiselect(key="cmp.delete").set_value([names[0]]).run()
    click(at, "Delete")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert names == ["1. adam · lr=0.001", "2. sgd · lr=0.01"]  # each run named by what differs
    left = [t.get("name", "") for t in spec["data"]]
    assert len(left) == 1 and left[0].startswith("1.") and "sgd" in left[0]

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
    assert mine
    at.selectbox[0].set_value("run:" + Path(job.options["checkpoint_dir"]).name).run()
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
    heading = next(h.value for h in at.subheader if "correctly classified" in h.value).split()
    count = int(heading[2]) if heading[1] == "of" else int(heading[0])  # "24 of 180 …" or "7 …"
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
    at.session_state[lab.STACK_KEY] = (spec, (1, 28, 28))
    at.run()
    configure(at, epochs=1, model="stack")
    at.run()
    click(at, "Start training")
    job = run_to_end(at)
    assert job.status == "finished", job.history.message
    assert job.options["model_name"] == "stack" and job.options["spec"] == spec


def test_confusion_cells_are_clickable_points_and_accuracy_ticks_do_not_repeat():
    import numpy as np

    from cnnviz.plots import training as tplots
    from cnnviz.training import EpochRecord, History

    m = np.array([[8, 2, 0], [1, 7, 2], [0, 3, 7]])
    fig = tplots.confusion_figure(m, ["a", "b", "c"])
    cells = fig.data[1]
    assert cells.type == "scatter" and len(cells.x) == 9 and fig.layout.clickmode == "event+select"
    for i in range(9):  # the page maps a clicked point's index to its cell: divmod(index, k)
        t, p = divmod(i, 3)
        assert (cells.y[i], cells.x[i]) == ("abc"[t], "abc"[p]) and list(cells.customdata[i][:2]) == [t, p]

    def run(accs):
        return History((), tuple(EpochRecord(i + 1, 0.3, 0.9, 0.3, a, 1.0, 1.0) for i, a in enumerate(accs)), "finished")

    close = tplots.compare_figure([("a", run([0.901, 0.905])), ("b", run([0.903, 0.912]))])
    assert close.layout.yaxis.tickformat == ".1%"  # 90.1 %, 90.5 %, … not 90 %, 90 %, 91 %
    wide = tplots.compare_figure([("a", run([0.5, 0.9]))])
    assert wide.layout.yaxis.tickformat == ".0%"
    long = tplots.compare_figure([("a", run([0.5] * 30))])
    assert (long.layout.xaxis.tick0, long.layout.xaxis.dtick) == (0, 5)  # about ten ticks, still whole epochs
    for accs in ([0.85], [0.999], [0.0], [0.5, 0.9]):  # one epoch is one point: the axis stays within 0 … 100 %
        low, high = tplots.compare_figure([("a", run(accs))]).layout.yaxis.range
        assert 0 <= low <= min(accs) < max(accs) + 1e-9 <= high <= 1.0


def metric_or_none(at, label: str):
    return next((m.value for m in at.metric if m.label == label), None)


def test_a_run_waits_in_the_class_queue_and_can_be_cancelled(app_at):
    from cnnviz.background import BackgroundWork

    class Hold(BackgroundWork):  # another student's run holding a place
        def __init__(self):
            super().__init__()
            self.gate = threading.Event()

        def _run(self):
            self.gate.wait(60)

    queue = training_cache.work_queue()
    holders = [Hold().enqueue(queue, owner=f"other{i}") for i in range(queue.max_jobs)]
    for h in holders:
        h._launch("hold")
    try:
        at = app_at(STUDIO)
        configure(at, epochs=1)
        at.run()
        click(at, "Start training")
        job = at.session_state[training_cache.TRAIN_JOB_KEY]
        assert job.queued and job.history.status == "queued"
        assert any("position 1 of 1" in i.value for i in at.info), [i.value for i in at.info]
        assert metric_or_none(at, "Status") is None  # no live metrics for a run that has not started
        assert [b for b in at.button if b.label == "Start training"][0].disabled  # one run per student
        click(at, "Cancel")
        assert job.join(10) and job.status == "stopped" and "nothing was trained" in job.history.message
        assert queue.counts() == (queue.max_jobs, 0)
    finally:
        for h in holders:
            h.gate.set()
            h.join(5)


def test_runs_belong_to_a_secret_not_to_the_url_and_share_links_are_read_only(app_at):
    at = one_finished_run(app_at)
    mine = at.session_state[session.TRAIN_SESSION_KEY]
    token = at.session_state[session.TRAIN_TOKEN_KEY]
    assert mine not in token and token not in str(dict(at.query_params))

    thief = app_at(COMPARE, query={"runs": mine})  # an old-style link with someone's runs id adopts nothing
    ok(thief)
    assert thief.session_state[session.TRAIN_SESSION_KEY] != mine
    assert any("No runs yet" in i.value for i in thief.info)

    viewer = app_at(COMPARE, query={"share": mine})  # the read-only link shows the runs, with no delete
    ok(viewer)
    assert any("read-only" in i.value for i in viewer.info)
    assert viewer.get("plotly_chart") and not [e for e in viewer.expander if e.label == "Delete runs"]

    at.switch_page(f"../pages/{COMPARE}")
    at.run()
    ok(at)
    assert [e for e in at.expander if e.label == "Share these runs (read-only)"]
    assert any(f"share={mine}" in c.value for c in at.code)


def _run_on_disk(folder: Path, name: str, dataset: str) -> None:
    """A finished one-epoch run written as the studio writes one (config.json, history.json)."""
    from cnnviz import runs
    from cnnviz.training import EpochRecord, History

    (folder / name).mkdir(parents=True)
    config = runs.RunConfig(dataset=dataset, train_size=500, epochs=1)
    (folder / name / runs.CONFIG_FILE).write_text(json.dumps(config.to_dict()), encoding="utf-8")
    History((), (EpochRecord(1, 0.5, 0.8, 0.5, 0.8, 3.0, 1000.0),), "finished", total_epochs=1,
            train_size=500).save(folder / name / "history.json")


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_compare_runs_names_datasets_as_readers_do(lang, runs_in_tmp):
    from conftest import APP
    from streamlit.testing.v1 import AppTest

    from cnnviz import i18n

    mine = "abcdef0123456789abcdef01"
    _run_on_disk(runs_in_tmp / "sessions" / mine, "20260101-000000-a", "fashion_mnist")
    _run_on_disk(runs_in_tmp / "sessions" / mine, "20260101-000001-b", str(runs_in_tmp / "data" / "leaves"))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state[session.TRAIN_SESSION_KEY] = mine
    at.query_params["lang"] = lang
    at.run()
    at.switch_page(f"../pages/{COMPARE}")
    at.run()
    ok(at)
    try:
        i18n.set_language(lang)
        column = i18n._("dataset")
        want = [i18n._("Fashion-MNIST"), i18n._("folder {name}").format(name="leaves")]
    finally:
        i18n.set_language(None)
    assert list(at.dataframe[0].value[column]) == want  # not fashion_mnist, not the server's path


def test_errors_heading_counts_the_images_shown(app_at):
    at = app_at(ERRORS)
    ok(at)
    at.selectbox(key="err.true").set_value(0)
    at.selectbox(key="err.pred").set_value(0)
    at.run()
    ok(at)
    heading = next(h.value for h in at.subheader if "correctly classified" in h.value)
    shown = len(at.image)
    assert shown == 24 and heading.startswith("24 of ") and int(heading.split()[2]) > 24, heading
