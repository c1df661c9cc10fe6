"""Every preset of the training studio, exactly: the config the Start button builds (what ``runs.RunConfig`` and
``fit`` receive) equals the preset in every setting, a setting changed afterwards changes only itself (and the page
says so), and the page's time estimate comes from this computer's measured speed."""

from __future__ import annotations

import pytest

from cnnviz import runs, training
from dashboard import training as training_cache

STUDIO = "30_training_studio.py"


@pytest.fixture
def started(monkeypatch, tmp_path):
    """Press Start without training: the RunConfig the button builds is kept (list), no data is loaded."""
    monkeypatch.setenv("CNNVIZ_RUNS", str(tmp_path / "runs"))
    built: list[runs.RunConfig] = []

    def keep(folder, config, **kw):
        built.append(config)
        raise ValueError("kept by the test")

    monkeypatch.setattr(runs, "new_run_job", keep)
    monkeypatch.setattr(training_cache, "training_data", lambda *a, **kw: (None, None))
    monkeypatch.setattr(training_cache, "measured_speed", lambda model, batch, bf16: 4_321.0)
    return built


def start(at) -> None:
    [b for b in at.button if b.label == "Start training"][0].click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("kept by the test" in e.value for e in at.error)


EPOCHS_IN_BF16 = {"accurate": 13}  # the presets that spend bfloat16's speed on epochs (measured: README)


def expected(p: training.TrainPreset) -> dict:
    """The preset's settings, written out field by field (not through the code under test)."""
    epochs = EPOCHS_IN_BF16.get(p.name, p.epochs) if training.bf16_fast() else p.epochs
    return {"model": p.model, "optimizer": p.optimizer, "lr": p.lr, "batch_size": p.batch_size, "epochs": epochs,
            "momentum": p.momentum, "augment": p.augment, "schedule": p.schedule, "train_size": p.train_size,
            "log_every": p.log_every, "label_smoothing": p.label_smoothing, "weight_decay": p.weight_decay,
            "bf16": p.bf16 and training.bf16_fast()}


def fit_view(c: runs.RunConfig) -> dict:
    o = c.fit_options()
    return {k: o[k] for k in ("optimizer", "lr", "batch_size", "epochs", "momentum", "augment", "schedule",
                              "log_every", "label_smoothing", "weight_decay", "bf16")}


@pytest.mark.parametrize("name", list(training.PRESETS))
def test_every_preset_reaches_the_run_exactly(name, app_at, started):
    at = app_at(STUDIO)
    at.selectbox(key="tr.preset").set_value(name).run()
    assert not at.exception, [e.value for e in at.exception]
    start(at)
    config = started[-1]
    want = expected(training.PRESETS[name])
    assert {k: getattr(config, k) for k in want} == want
    assert fit_view(config) == {k: v for k, v in want.items() if k in fit_view(config)}  # what fit receives
    assert not [i for i in at.info if "Changed from the preset" in i.value]


def test_the_fast_preset_trains_at_its_own_learning_rate(app_at, started):
    """It once trained at 1e-5: the slider had no 0.002 and snapped to its first option."""
    at = app_at(STUDIO)
    at.selectbox(key="tr.preset").set_value("fast").run()
    assert at.select_slider(key="tr.lr").value == 0.002
    start(at)
    assert started[-1].lr == 0.002


def test_a_setting_changed_after_a_preset_changes_only_itself_and_the_page_says_so(app_at, started):
    at = app_at(STUDIO)
    at.selectbox(key="tr.preset").set_value("accurate").run()
    at.number_input(key="tr.epochs").set_value(2).run()
    at.select_slider(key="tr.lr").set_value(0.03).run()
    assert not at.exception
    notes = [i.value for i in at.info if "Changed from the preset" in i.value]
    epochs = 13 if training.bf16_fast() else 11  # the accurate preset's epochs in bfloat16 where native, else float32
    assert notes and f"epochs {epochs} → 2" in notes[0] and "learning rate 0.1 → 0.03" in notes[0]
    assert any("label smoothing 0.1" in c.value and "weight decay 0.0005" in c.value for c in at.caption)
    start(at)
    want = dict(expected(training.PRESETS["accurate"]), epochs=2, lr=0.03)
    assert {k: getattr(started[-1], k) for k in want} == want
    at.selectbox(key="tr.preset").set_value("Custom").run()  # a custom run: no hidden setting comes along
    start(at)
    assert (started[-1].label_smoothing, started[-1].weight_decay, started[-1].log_every) == (0.0, 0.0, None)


def test_the_time_estimate_is_this_computers_measured_speed(app_at, started):
    """The first estimate once read 86:00 (a constant speed); it is the speed measured here, for what is set now."""
    at = app_at(STUDIO)
    at.selectbox(key="tr.preset").set_value("fast").run()
    p = training.PRESETS["fast"]
    caption = next(c.value for c in at.caption if "images/s" in c.value)
    seconds = round(p.estimate_s(4_321.0))
    assert f"{p.steps:,} steps; about {seconds // 60}:{seconds % 60:02d} (min:s) at 4,321 images/s" in caption
    at.number_input(key="tr.epochs").set_value(2).run()  # what is set now, not the preset
    caption = next(c.value for c in at.caption if "images/s" in c.value)
    assert f"{p.steps // 3:,} steps" in caption


def test_no_server_path_on_the_studio(app_at, started, tmp_path):
    at = app_at(STUDIO)
    text = " ".join(str(getattr(e, "value", "")) for e in (*at.caption, *at.markdown, *at.info, *at.warning))
    assert str(tmp_path) not in text and "/runs" not in text and "sessions" not in text


def test_one_format_for_every_duration():
    assert [training_cache.clock(s) for s in (0, 18, 59.6, 334, 3_725, None)] == [
        "0:00", "0:18", "1:00", "5:34", "1:02:05", "–"]


# ---- every preset trained through the page: what the run does, not only the config it is given
@pytest.fixture
def tiny_runs(monkeypatch, tmp_path):
    """The page's Start really starts the run (config.json, model, TrainJob, queue, worker thread), on a few
    Fashion-MNIST images: two steps an epoch (a full batch and 2 images). Records what the page asked the data
    for and what the loop did: the optimizer it built, the learning rates of the one-cycle schedule, the label
    smoothing of every training loss, the batches it augmented."""
    from cnnviz.training import loop

    monkeypatch.setenv("CNNVIZ_RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(training_cache, "measured_speed", lambda model, batch, bf16: 4_321.0)
    seen: dict[str, list] = {"data": [], "optimizers": [], "one_cycle": [], "smoothing": [], "batches": [],
                             "augmented": []}

    def data(dataset, input_shape, train_size, test_size, seed):
        seen["data"].append((dataset, train_size, test_size))
        return training.load_train_test("fashion_mnist", input_shape=input_shape, train_size=seen["batch"] + 2,
                                        test_size=50, seed=seed, download=False)

    def optimizer(*args, **kwargs):
        opt = real_optimizer(*args, **kwargs)
        seen["optimizers"].append(opt)
        return opt

    def one_cycle(step, total, peak):
        seen["one_cycle"].append((step, total, peak))
        return real_one_cycle(step, total, peak)

    def cross_entropy(logits, labels, **kwargs):
        seen["smoothing"].append(kwargs.get("label_smoothing", 0.0))
        seen["batches"].append(len(labels))
        return real_cross_entropy(logits, labels, **kwargs)

    def augment(images, **kwargs):
        seen["augmented"].append(len(images))
        return real_augment(images, **kwargs)

    real_optimizer, real_one_cycle, real_augment = loop.make_optimizer, loop.one_cycle, loop.augment_batch
    real_cross_entropy = loop.F.cross_entropy
    monkeypatch.setattr(training_cache, "training_data", data)
    monkeypatch.setattr(loop, "make_optimizer", optimizer)
    monkeypatch.setattr(loop, "one_cycle", one_cycle)
    monkeypatch.setattr(loop, "augment_batch", augment)
    # the training loss only (the test pass computes its loss in training.tensors, through torch's own function)
    monkeypatch.setattr(loop, "F", type("F", (), {"cross_entropy": staticmethod(cross_entropy)}))
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("name", list(training.PRESETS))
def test_every_preset_trains_with_exactly_its_settings(name, app_at, tiny_runs, tmp_path):
    """Each preset chosen on the studio and started with its button trains, to its end, as the preset says: the
    data asked for, the model, the optimizer and its learning rate, momentum and weight decay, the schedule, the
    label smoothing, the augmentation, the batches, the epochs and the points of the curve; config.json (what a
    resume reads) holds the same; the page reports the run finished after all of the preset's epochs."""
    import json
    from pathlib import Path

    import torch

    from cnnviz.models import build_model
    from cnnviz.training.settings import one_cycle

    p = training.PRESETS[name]
    tiny_runs["batch"] = p.batch_size
    at = app_at(STUDIO)
    at.selectbox(key="tr.preset").set_value(name).run()
    next(b for b in at.button if b.label == "Start training").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    job = at.session_state[training_cache.TRAIN_JOB_KEY]
    assert job.join(300), "the run did not end"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    h = job.history
    assert h.status == "finished", h.message

    # the data: the preset's dataset (the notes' runs: MNIST), every training image when the preset says so (None),
    # the whole test set
    assert tiny_runs["data"] == [(p.dataset, p.train_size, 10_000)]
    # the model: the zoo's network of that name, its layers and their shapes
    zoo = build_model(p.model, num_classes=10, seed=0)
    assert type(job.model) is type(zoo)
    assert {k: v.shape for k, v in job.model.state_dict().items()} == {k: v.shape for k, v in zoo.state_dict().items()}
    # the optimizer, as built
    [opt] = tiny_runs["optimizers"]
    assert type(opt) is {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[p.optimizer]
    assert opt.defaults["lr"] == p.lr and opt.defaults["weight_decay"] == p.weight_decay
    if p.optimizer == "sgd":
        assert opt.defaults["momentum"] == p.momentum
    # the schedule: one-cycle up to the preset's rate over the whole run, or the rate itself at every step
    total = p.run_epochs * 2
    if p.schedule == "onecycle":
        assert tiny_runs["one_cycle"] == [(s, total, p.lr) for s in range(total)]
        assert opt.param_groups[0]["lr"] == one_cycle(total - 1, total, p.lr)
    else:
        assert tiny_runs["one_cycle"] == [] and opt.param_groups[0]["lr"] == p.lr
    # every training step: the label smoothing, the batch, the augmentation
    assert tiny_runs["smoothing"] == [p.label_smoothing] * total
    assert tiny_runs["batches"] == [p.batch_size, 2] * p.run_epochs
    assert tiny_runs["augmented"] == ([p.batch_size, 2] * p.run_epochs if p.augment else [])
    # the epochs and the points of the training curve (log_every 100 > 2 steps: one point an epoch; else one a step)
    assert (h.total_epochs, len(h.epochs), h.batch_size) == (p.run_epochs, p.run_epochs, p.batch_size)
    assert len(h.steps) == p.run_epochs * (1 if p.log_every and p.log_every >= 2 else 2)
    # what a resume reads, and what the page shows
    saved = json.loads((Path(job.options["checkpoint_dir"]) / "config.json").read_text())
    assert {k: saved[k] for k in expected(p)} == expected(p)
    assert any(m.label == "Epoch" and m.value == f"{p.run_epochs} / {p.run_epochs}" for m in at.metric)
    assert any(f"finished {p.run_epochs} epochs" in s.value for s in at.success)


@pytest.mark.parametrize("native", [True, False])
def test_the_accurate_presets_epochs_follow_the_fast_math_switch(native, app_at, started, monkeypatch):
    """13 epochs in bfloat16, 11 in float32 (the same ten minutes): chosen with the preset, swapped with the switch
    unless the student set the epochs by hand, and the page lists only what the student changed."""
    from cnnviz.training import presets

    monkeypatch.setattr(presets, "bf16_fast", lambda: native)
    monkeypatch.setattr(training, "bf16_fast", lambda: native)
    at = app_at(STUDIO)
    at.selectbox(key="tr.preset").set_value("accurate").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.number_input(key="tr.epochs").value == (13 if native else 11)
    if not native:  # no switch: float32 only
        assert not [t for t in at.toggle if t.key == "tr.bf16"]
        start(at)
        assert (started[-1].epochs, started[-1].bf16) == (11, False)
        return
    assert not [i for i in at.info if "Changed from the preset" in i.value]
    at.toggle(key="tr.bf16").set_value(False).run()
    assert at.number_input(key="tr.epochs").value == 11
    notes = [i.value for i in at.info if "Changed from the preset" in i.value]
    assert notes and "fast math (bfloat16) on → off" in notes[0] and "epochs" not in notes[0], notes
    start(at)
    assert (started[-1].epochs, started[-1].bf16) == (11, False)
    at.toggle(key="tr.bf16").set_value(True).run()
    assert at.number_input(key="tr.epochs").value == 13
    assert not [i for i in at.info if "Changed from the preset" in i.value]
    at.number_input(key="tr.epochs").set_value(5).run()  # set by hand: the switch leaves it alone
    at.toggle(key="tr.bf16").set_value(False).run()
    assert at.number_input(key="tr.epochs").value == 5
    start(at)
    assert (started[-1].epochs, started[-1].bf16) == (5, False)
