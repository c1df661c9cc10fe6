"""Training | Training studio | :material/model_training:

Set up a run (dataset, model, optimizer, learning rate, batch size, epochs, augmentation, seed), start it
and watch the loss and accuracy curves move while it trains in the background. Stop and resume with no
step lost.
"""

from __future__ import annotations

import streamlit as st

import cnnviz
from cnnviz import runs, training
from cnnviz.background import QueueFull
from cnnviz.i18n import _, pgettext
from cnnviz.plots import training as tplots
from dashboard import curves, layout, notes, session
from dashboard.lab import STACK_KEY
from dashboard.training import (clock, holding, preset_changes, preset_hidden, run_length, start_training_job,
                                training_data, training_job)

st.title(_("Training studio"))
st.caption(_("Train a CNN here and watch it learn. The run keeps going if you visit other pages; come back to see it."))

folder = session.training_runs_folder()
job: training.TrainJob | None = training_job()
busy = job is not None and job.running

# ---------------------------------------------------------------------------- presets
CUSTOM = "Custom"
# every setting a preset fixes (RunConfig's field → its session key); the last three have no widget of their own
KEYS = {"model": "tr.model", "optimizer": "tr.optimizer", "lr": "tr.lr", "batch_size": "tr.batch",
        "epochs": "tr.epochs", "momentum": "tr.momentum", "augment": "tr.augment", "schedule": "tr.schedule",
        "train_size": "tr.train_size", "bf16": "tr.bf16", "log_every": "tr.log_every",
        "label_smoothing": "tr.label_smoothing", "weight_decay": "tr.weight_decay"}
ALL = list(training.PRESETS.values())
# the sliders' options hold every preset's value (and whatever the session holds)
LRS = holding([1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0], *(p.lr for p in ALL))
BATCHES = holding([8, 16, 32, 50, 64, 100, 128, 256, 512], *(p.batch_size for p in ALL))
TRAIN_SIZES = holding([500, 1_000, 2_000, 5_000, 10_000, 20_000, 30_000, None], *(p.train_size for p in ALL))
TEST_SIZES = [500, 1_000, 2_000, 5_000, 10_000]
STACK = "stack"

defaults = {"tr.model": "simple_convnet", "tr.optimizer": "adam", "tr.lr": 1e-3, "tr.batch": 64, "tr.epochs": 3,
            "tr.momentum": 0.9, "tr.augment": False, "tr.schedule": "constant", "tr.train_size": 10_000,
            "tr.test_size": 2_000, "tr.seed": 0, "tr.dataset": "fashion_mnist", "tr.preset": CUSTOM,
            "tr.bf16": training.bf16_fast(), "tr.max_steps": 0}
for key, value in defaults.items():
    st.session_state.setdefault(key, value)


def apply_preset() -> None:
    name = st.session_state["tr.preset"]
    if name == CUSTOM:
        return
    preset = training.PRESETS[name]
    for field, value in preset.run_settings().items():
        st.session_state[KEYS[field]] = value
    st.session_state["tr.test_size"] = 10_000
    st.session_state["tr.dataset"], st.session_state["tr.max_steps"] = preset.dataset, preset.max_steps or 0


def fast_math_switched() -> None:
    """A preset's epochs follow the fast-math switch (the accurate preset: 13 in bfloat16, 11 in float32, the same ten
    minutes), unless they were changed by hand."""
    preset = training.PRESETS.get(st.session_state["tr.preset"])
    now = bool(st.session_state["tr.bf16"])
    if preset is not None and st.session_state["tr.epochs"] == preset.epochs_for(not now):
        st.session_state["tr.epochs"] = preset.epochs_for(now)


# ---------------------------------------------------------------------------- set-up
models = {name: _(spec.title) for name, spec in cnnviz.ZOO.items() if not spec.torchvision}
stack = st.session_state.get(STACK_KEY)
if stack:
    models[STACK] = _("Layer stack from the convolution lab")

# While a run exists, its controls and live curves come first: a set-up panel left open must never push them out of
# sight (they are drawn into this place further down).
live_area = st.container()

with st.expander(_("Set up a run") if job is None else _("Set up a new run"), expanded=job is None):
    st.selectbox(_("Preset"), [CUSTOM, *training.PRESETS], key="tr.preset", on_change=apply_preset,
                 format_func=lambda n: _("Custom") if n == CUSTOM else _(training.PRESETS[n].title),
                 help=_("The lecture notes' runs, or the fast one. Choosing a preset fills in the settings below; "
                        "changing one of them afterwards keeps the preset's other settings exactly."))
    preset = training.PRESETS.get(st.session_state["tr.preset"])
    if preset is not None:
        st.caption(_(preset.description))
        if hidden := preset_hidden(preset):
            st.caption(_("Set by the preset, with no widget of their own: {settings}.").format(settings=hidden))
    preset_notes = st.empty()  # what differs from the preset, once the widgets below are read
    if st.session_state["tr.preset"] in training.NOTES_RUNS:
        notes.notes_runs_table(st.session_state["tr.preset"])
    c1, c2, c3 = st.columns(3)
    with c1:
        datasets = {"fashion_mnist": _("Fashion-MNIST (bundled)"), "mnist": _("MNIST (bundled)"), "cifar10": "CIFAR-10",
                    "folder": _("A folder of images on the server")}
        dataset = st.selectbox(_("Dataset"), list(datasets), format_func=datasets.get, key="tr.dataset")
        if dataset == "folder":
            given = st.text_input(_("Folder (one sub-folder of images per class)"), key="tr.folder",
                                  help=_("Only folders under the ones the teacher allows (CNNVIZ_DATA_ROOTS)."))
            available, dataset = False, given.strip()
            if dataset:
                try:
                    dataset = str(cnnviz.data.allowed_folder(dataset))
                    available = True
                except ValueError as err:
                    st.warning(str(err))
        else:
            available, _where = cnnviz.dataset_status(dataset)  # where on the server: never shown to students
            if not available:
                st.warning(_("{name} is not on this server. The teacher can add it with `cnnviz data --download "
                             "{dataset}` where there is network; meanwhile use the bundled Fashion-MNIST.").format(
                    name=datasets[dataset], dataset=dataset))
        train_size = st.select_slider(_("Training images"), holding(TRAIN_SIZES, st.session_state["tr.train_size"]),
                                      key="tr.train_size", format_func=lambda n: _("all") if n is None else f"{n:,}",
                                      help=_("A random subset trains faster; all is 60,000 for Fashion-MNIST or MNIST."))
        test_size = st.select_slider(_("Test images"), TEST_SIZES, key="tr.test_size", format_func=lambda n: f"{n:,}")
    with c2:
        if st.session_state["tr.model"] not in models:
            st.session_state["tr.model"] = "simple_convnet"
        model_name = st.selectbox(_("Model"), list(models), format_func=models.get, key="tr.model")
        optimizer = st.radio(_("Optimizer"), training.OPTIMIZERS, key="tr.optimizer", horizontal=True,
                             format_func={"sgd": _("SGD (momentum)"), "adam": "Adam"}.get)
        lr = st.select_slider(_("Learning rate"), holding(LRS, st.session_state["tr.lr"]), key="tr.lr",
                              format_func=lambda v: f"{v:g}",
                              help=_("Too high and the loss explodes (try 1 or 10 with SGD); too low and nothing moves."))
        momentum = st.slider(_("Momentum (SGD)"), 0.0, 0.99, key="tr.momentum", step=0.05, disabled=optimizer != "sgd")
    with c3:
        batch_size = st.select_slider(_("Batch size"), holding(BATCHES, st.session_state["tr.batch"]), key="tr.batch")
        epochs = st.number_input(_("Epochs"), 1, 100, key="tr.epochs")
        max_steps = st.number_input(_("End at step (0: after the epochs)"), 0, 1_000_000, key="tr.max_steps", step=100,
                                    help=_("The notes' TensorFlow run ends after exactly 10,000 steps, in the middle "
                                           "of its 9th epoch."))
        augment = st.toggle(_("Augmentation (random shifts and flips)"), key="tr.augment")
        if training.bf16_fast():
            bf16 = st.toggle(_("Fast math (bfloat16)"), key="tr.bf16", on_change=fast_math_switched,
                             help=_("Computes the forward pass in 16-bit floats: several times faster on this CPU; the "
                                    "weights stay 32-bit and accuracy is about the same."))
        else:  # without a native bfloat16 unit it runs ~10x slower: never offered silently
            bf16 = False
            st.caption(_("Fast math (bfloat16) is off: this CPU has no native bfloat16 unit, so it would train about "
                         "ten times slower, not faster."))
        schedule = st.radio(_("Learning-rate schedule"), training.SCHEDULES, key="tr.schedule", horizontal=True,
                            format_func={"constant": pgettext("learning-rate schedule", "constant"), "onecycle": _("one-cycle")}.get,
                            help=_("one-cycle: warm up to the learning rate, then cosine down to almost zero."))
        seed = st.number_input(_("Random seed"), 0, 10_000, key="tr.seed",
                               help=_("Same seed, same settings: the same initial weights, order and curves."))
    if preset is not None:
        shown = {"model": model_name, "optimizer": optimizer, "lr": lr, "batch_size": batch_size, "epochs": epochs,
                 "momentum": momentum, "augment": augment, "schedule": schedule, "train_size": train_size,
                 "bf16": bf16}
        if changes := preset_changes(preset, shown):
            preset_notes.info(_("Changed from the preset: {changes}. Its other settings stay as the preset sets "
                                "them.").format(changes="; ".join(changes)), icon=":material/tune:")
    label = st.text_input(_("Name of the run (optional)"), max_chars=40, placeholder=_("e.g. adam-vs-sgd"))
    if not busy:  # (measuring the speed beside a run would slow it and read half the speed)
        st.caption(run_length(model_name, dataset, train_size, int(batch_size), int(epochs), bf16, int(max_steps)))
    start = st.button(_("Start training"), type="primary", icon=":material/play_arrow:",
                      disabled=busy or not available)

if start:
    from_preset = st.session_state["tr.preset"] != CUSTOM  # a preset's settings without widgets go with its run
    try:
        config = runs.RunConfig(
            model=model_name, dataset=dataset, train_size=train_size, test_size=test_size, optimizer=optimizer,
            lr=float(lr), momentum=float(momentum), batch_size=int(batch_size), epochs=int(epochs), augment=augment,
            seed=int(seed), schedule=schedule, label=label.strip(), bf16=bf16, max_steps=int(max_steps) or None,
            preset=st.session_state["tr.preset"] if from_preset else "",
            log_every=st.session_state.get("tr.log_every") if from_preset else None,
            label_smoothing=st.session_state.get("tr.label_smoothing", 0.0) if from_preset else 0.0,
            weight_decay=st.session_state.get("tr.weight_decay", 0.0) if from_preset else 0.0,
            spec=tuple(stack[0]) if model_name == STACK and stack else None,
            input_shape=tuple(stack[1]) if model_name == STACK and stack else None)
        train, test = training_data(dataset, config.model_input_shape, train_size, test_size, int(seed))
        new_job = runs.new_run_job(folder, config, train=train, test=test, quota=runs.runs_quota())
        try:
            start_training_job(new_job)
        except QueueFull:
            runs.delete_run(new_job.options["checkpoint_dir"], folder=folder)  # it never started: leave no trace
            raise
    except (QueueFull, runs.QuotaFull) as err:
        st.warning(str(err))
    except (ValueError, TypeError, cnnviz.DatasetUnavailable, ImportError) as err:
        st.error(_("Could not start: {err}").format(err=err))
    else:
        st.rerun()  # redraw with the set-up folded away and the live view on top

# ---------------------------------------------------------------------------- a stopped run on disk
if job is None:
    stopped = [r for r in runs.list_runs(folder) if r.resumable]
    if stopped:
        last = stopped[-1]
        step = last.history.step if last.history else 0
        if last.status == "interrupted":
            st.warning(_("Your run **{title}** was interrupted at step {step}: the server stopped while it trained. "
                         "Resume continues from its last save.").format(title=last.title, step=step))
        else:
            st.info(_("Your run **{title}** was stopped at step {step}.").format(title=last.title, step=step))
        if st.button(_("Resume it"), icon=":material/resume:"):
            c = last.config
            try:
                train, test = training_data(c.dataset, c.model_input_shape, c.train_size, c.test_size, c.seed)
                start_training_job(runs.resume_run_job(last.path, train=train, test=test, quota=runs.runs_quota()),
                                   resume=True)
            except (ValueError, TypeError, cnnviz.DatasetUnavailable, ImportError) as err:
                st.error(_("Could not resume: {err}").format(err=err))
            else:
                st.rerun()
    else:
        st.info(_("Set up a run above and press **Start training**: the line above the button says how long it will "
                  "take on this computer."))
    if job is None:
        st.stop()

# ---------------------------------------------------------------------------- controls
controls = live_area.container()
b1, _spare = controls.columns([1, 5])
if busy and job.queued:
    if b1.button(_("Cancel"), icon=":material/cancel:", help=_("Leaves the queue; nothing has been trained yet.")):
        job.stop(wait=5)
        st.rerun()
elif busy:
    if b1.button(_("Stop"), icon=":material/stop:", help=_("Stops after the current step; Resume continues from there.")):
        job.stop(wait=10)
        st.rerun()
elif job.status == "stopped":
    if b1.button(_("Resume"), type="primary", icon=":material/play_arrow:",
                 help=_("Continues from the exact step it stopped at.")):
        try:
            start_training_job(job, resume=True)
        except ValueError as err:
            st.warning(str(err))
        else:
            st.rerun()


def precision_badge(bf16: bool) -> None:
    """Which numbers the run computes with: bfloat16 where the CPU has it natively, float32 otherwise."""
    if bf16:
        st.badge(_("bfloat16 fast math (native on this CPU)"), icon=":material/bolt:", color="green")
    else:
        st.badge(_("float32"), icon=":material/calculate:", color="gray")


def draw_live() -> None:
    h = job.history
    if job.running:
        st.session_state["tr.was_running"] = True
    elif st.session_state.pop("tr.was_running", False):
        st.rerun()  # the run just ended: redraw the whole page (buttons, status)
    if job.queued:
        st.session_state["tr.was_queued"] = True
        place = job.queue_place()
        if place is not None:
            wait = _("about {time}").format(time=clock(place.wait_s)) if place.wait_s is not None else _("unknown")
            st.info(_("Waiting for a free place: position {position} of {waiting}; expected wait {wait}. Every run on "
                      "this server goes through one queue, so the computer stays fast for everyone.").format(
                position=place.position, waiting=place.waiting, wait=wait), icon=":material/hourglass_top:")
        return
    if st.session_state.pop("tr.was_queued", False):
        st.rerun()  # its turn came: redraw the whole page (the Stop button replaces Cancel)
    m = st.columns(7)
    last_loss = h.steps[-1].loss if h.steps else None
    m[0].metric(_("Status"), training.status_label(h.status))
    m[1].metric(_("Epoch"), f"{min(h.step // max(h.steps_per_epoch, 1) + 1, max(h.total_epochs, 1))} / {h.total_epochs}"
                if h.total_epochs else "–")
    m[2].metric(_("Training loss"), f"{last_loss:.4f}" if last_loss is not None else "–")
    m[3].metric(_("Test accuracy"), f"{h.epochs[-1].test_acc:.2%}" if h.epochs else "–",
                delta=f"{h.epochs[-1].test_acc - h.epochs[-2].test_acc:+.2%}" if len(h.epochs) > 1 else None)
    m[4].metric(_("Elapsed"), clock(h.elapsed_s))
    m[5].metric(_("Images / s"), f"{h.images_per_s:,.0f}" if h.images_per_s else "–")
    m[6].metric(_("Time left"), clock(job.estimate_s()) if job.running else "–")
    precision_badge(bool(job.options.get("bf16")))
    st.progress(h.progress, text=_("step {step:,} of {total:,}").format(step=h.step, total=h.total_steps)
                if h.total_steps else _("starting …"))
    if h.status == "failed":
        st.error(h.message)
    elif h.status == "stopped":
        st.warning(h.message)
    elif h.status == "finished":
        st.success(h.message)


def draw_curves() -> None:
    """The curves and the epoch table: a fragment of their own, redrawn less often than the numbers above."""
    if job.queued:
        return
    h = job.history
    layout.chart(tplots.curves_figure(h, view=curves.curve_view("tr.view"), max_points=CURVE_POINTS),
                 key="tr.curves", where=layout.main_figure())
    notes.notes_live_plot(job)
    run_name = str(job.options.get("checkpoint_dir") or "run").rstrip("/").rsplit("/", 1)[-1]
    curves.history_download([(run_name, h)], key="tr.csv", file_name=run_name)
    if h.epochs:
        with st.expander(_("Epoch table")):
            cols = {"epoch": _("epoch"), "train_loss": _("training loss"), "train_acc": _("training accuracy"),
                    "test_loss": _("test loss"), "test_acc": _("test accuracy"), "ips": _("images/s"),
                    "elapsed": _("elapsed (s)")}
            layout.table([{cols["epoch"]: e.epoch, cols["train_loss"]: round(e.train_loss, 4),
                           cols["train_acc"]: e.train_acc, cols["test_loss"]: round(e.test_loss, 4),
                           cols["test_acc"]: e.test_acc, cols["ips"]: round(e.images_per_s),
                           cols["elapsed"]: round(e.elapsed_s, 1)} for e in h.epochs],
                         counts=[cols["ips"]], percents=[cols["train_acc"], cols["test_acc"]])


CURVE_POINTS = 400  # training-loss points drawn at most: enough for a smooth curve, a bounded figure to send

with live_area:
    layout.live(draw_live, running=busy, every=layout.LIVE_NUMBERS_EVERY_S)
    layout.live(draw_curves, running=busy, every=layout.LIVE_FIGURE_EVERY_S)

layout.reading_notes(
    _("How to read the curves"),
    _("- **Training loss** (blue) is the cross-entropy averaged over the last few batches: noisy, but it should go "
      "down.\n"
      "- **Test loss and accuracy** (red) are measured on images the network never trains on, after each epoch.\n"
      "- When training loss keeps falling but test loss rises, the network starts to memorise: *overfitting*.\n"
      "- A learning rate that is too high makes the loss jump or become NaN; one that is too low makes it crawl."),
    formula=r"\text{loss} = -\frac{1}{B}\sum_{i=1}^{B} \log p_\theta(y_i \mid x_i)")
st.caption(_("The runs of this session are kept on the server (settings, curves, a checkpoint per epoch). Compare them "
             "on the *Compare runs* page; look at the mistakes on *Errors & confusion*.") + " " + _(
    "On the teacher's Class page your runs carry the tag **#{tag}**.").format(tag=session.session_tag()))
