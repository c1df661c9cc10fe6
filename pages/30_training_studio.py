"""Training | Training studio | :material/model_training:

Set up a run (dataset, model, optimizer, learning rate, batch size, epochs, augmentation, seed), start it
and watch the loss and accuracy curves move while it trains in the background. Stop and resume with no
step lost.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

import cnnviz
from cnnviz import runs, training
from cnnviz.plots import training as tplots
from dashboard import state

st.title("Training studio")
st.caption("Train a CNN here and watch it learn. The run keeps going if you visit other pages; come back to see it.")

folder = state.training_runs_folder()
job: training.TrainJob | None = state.training_job()
busy = job is not None and job.running

# ---------------------------------------------------------------------------- presets
CUSTOM = "Custom"
KEYS = {"model": "tr.model", "optimizer": "tr.optimizer", "lr": "tr.lr", "batch_size": "tr.batch",
        "epochs": "tr.epochs", "momentum": "tr.momentum", "augment": "tr.augment", "schedule": "tr.schedule"}
LRS = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0]
BATCHES = [8, 16, 32, 50, 64, 100, 128, 256, 512]
TRAIN_SIZES = [500, 1_000, 2_000, 5_000, 10_000, 20_000, 30_000, 60_000]
TEST_SIZES = [500, 1_000, 2_000, 5_000, 10_000]
STACK = "stack"

defaults = {"tr.model": "simple_convnet", "tr.optimizer": "adam", "tr.lr": 1e-3, "tr.batch": 64, "tr.epochs": 3,
            "tr.momentum": 0.9, "tr.augment": False, "tr.schedule": "constant", "tr.train_size": 10_000,
            "tr.test_size": 2_000, "tr.seed": 0, "tr.dataset": "fashion_mnist", "tr.preset": CUSTOM,
            "tr.bf16": training.bf16_fast()}
for key, value in defaults.items():
    st.session_state.setdefault(key, value)


def apply_preset() -> None:
    name = st.session_state["tr.preset"]
    if name == CUSTOM:
        return
    p = training.PRESETS[name]
    st.session_state["tr.log_every"] = p.log_every
    for field, key in KEYS.items():
        st.session_state[key] = getattr(p, field)
    st.session_state["tr.bf16"] = p.bf16 and training.bf16_fast()
    if p.name in ("fast", "accurate"):
        st.session_state["tr.train_size"] = 60_000
        st.session_state["tr.test_size"] = 10_000


# ---------------------------------------------------------------------------- set-up
models = {name: spec.title for name, spec in cnnviz.ZOO.items() if not spec.torchvision}
stack = st.session_state.get(state.STACK_KEY)
if stack:
    models[STACK] = "Layer stack from the convolution lab"

with st.expander("Set up a run" if job is None else "Set up a new run", expanded=job is None):
    st.selectbox("Preset", [CUSTOM, *training.PRESETS], key="tr.preset", on_change=apply_preset,
                 format_func=lambda n: n if n == CUSTOM else training.PRESETS[n].title,
                 help="The lecture notes' runs, or the fast one. Choosing a preset fills in the settings below.")
    if st.session_state["tr.preset"] != CUSTOM:
        st.caption(training.PRESETS[st.session_state["tr.preset"]].description)
    c1, c2, c3 = st.columns(3)
    with c1:
        datasets = {"fashion_mnist": "Fashion-MNIST (bundled)", "mnist": "MNIST", "cifar10": "CIFAR-10",
                    "folder": "A folder of images on this computer"}
        dataset = st.selectbox("Dataset", list(datasets), format_func=datasets.get, key="tr.dataset")
        if dataset == "folder":
            dataset = st.text_input("Folder (one sub-folder of images per class)", key="tr.folder").strip()
            available = bool(dataset) and Path(dataset).is_dir()
            if dataset and not available:
                st.warning(f"{dataset} is not a folder on the computer running cnnviz.")
        else:
            available, where = cnnviz.dataset_status(dataset)
            if not available:
                st.warning(f"{datasets[dataset]} is {where}. Run `cnnviz data --download {dataset}` where there is "
                           "network, or use the bundled Fashion-MNIST.")
        train_size = st.select_slider("Training images", TRAIN_SIZES, key="tr.train_size",
                                      help="A random subset trains faster; 60,000 is all of Fashion-MNIST.")
        test_size = st.select_slider("Test images", TEST_SIZES, key="tr.test_size")
    with c2:
        if st.session_state["tr.model"] not in models:
            st.session_state["tr.model"] = "simple_convnet"
        model_name = st.selectbox("Model", list(models), format_func=models.get, key="tr.model")
        optimizer = st.radio("Optimizer", training.OPTIMIZERS, key="tr.optimizer", horizontal=True,
                             format_func={"sgd": "SGD (momentum)", "adam": "Adam"}.get)
        lr = st.select_slider("Learning rate", LRS, key="tr.lr", format_func=lambda v: f"{v:g}",
                              help="Too high and the loss explodes (try 1 or 10 with SGD); too low and nothing moves.")
        momentum = st.slider("Momentum (SGD)", 0.0, 0.99, key="tr.momentum", step=0.05, disabled=optimizer != "sgd")
    with c3:
        batch_size = st.select_slider("Batch size", BATCHES, key="tr.batch")
        epochs = st.number_input("Epochs", 1, 100, key="tr.epochs")
        augment = st.toggle("Augmentation (random shifts and flips)", key="tr.augment")
        bf16 = st.toggle("Fast math (bfloat16)", key="tr.bf16",
                         help="Computes the forward pass in 16-bit floats: "
                              + ("several times faster on this CPU" if training.bf16_fast() else
                                 "this CPU has no native bfloat16, so it would be slower here")
                              + "; the weights stay 32-bit and accuracy is about the same.")
        schedule = st.radio("Learning-rate schedule", training.SCHEDULES, key="tr.schedule", horizontal=True,
                            help="one-cycle: warm up to the learning rate, then cosine down to almost zero.")
        seed = st.number_input("Random seed", 0, 10_000, key="tr.seed",
                               help="Same seed, same settings: the same initial weights, order and curves.")
    label = st.text_input("Name of the run (optional)", max_chars=40, placeholder="e.g. adam-vs-sgd")
    start = st.button("Start training", type="primary", icon=":material/play_arrow:", disabled=busy or not available)

if start:
    try:
        config = runs.RunConfig(
            model=model_name, dataset=dataset, train_size=train_size, test_size=test_size, optimizer=optimizer,
            lr=float(lr), momentum=float(momentum), batch_size=int(batch_size), epochs=int(epochs), augment=augment,
            seed=int(seed), schedule=schedule, label=label.strip(), bf16=bf16,
            log_every=st.session_state.get("tr.log_every") if st.session_state["tr.preset"] != CUSTOM else None,
            spec=tuple(stack[0]) if model_name == STACK and stack else None,
            input_shape=tuple(stack[1]) if model_name == STACK and stack else None)
        train, test = state.training_data(dataset, config.model_input_shape, train_size, test_size, int(seed))
        state.set_training_job(runs.new_run_job(folder, config, train=train, test=test).start())
    except (ValueError, TypeError, cnnviz.DatasetUnavailable, ImportError) as err:
        st.error(f"Could not start: {err}")
    else:
        st.rerun()  # redraw with the set-up folded away and the live view on top

# ---------------------------------------------------------------------------- a stopped run on disk
if job is None:
    stopped = [r for r in runs.list_runs(folder) if r.status == "stopped" and r.config is not None]
    if stopped:
        last = stopped[-1]
        st.info(f"Your run **{last.title}** was stopped at step {last.history.step}.")
        if st.button("Resume it", icon=":material/resume:"):
            c = last.config
            try:
                train, test = state.training_data(c.dataset, c.model_input_shape, c.train_size, c.test_size, c.seed)
                state.set_training_job(runs.resume_run_job(last.path, train=train, test=test).resume())
            except (ValueError, TypeError, cnnviz.DatasetUnavailable, ImportError) as err:
                st.error(f"Could not resume: {err}")
            else:
                st.rerun()
    else:
        st.info("Set up a run above and press **Start training**. A first run of SimpleConvNet on 10,000 images "
                "takes about half a minute.")
    if job is None:
        st.stop()

# ---------------------------------------------------------------------------- controls
b1, _ = st.columns([1, 5])
if busy:
    if b1.button("Stop", icon=":material/stop:", help="Stops after the current step; Resume continues from there."):
        job.stop(wait=10)
        st.rerun()
elif job.status == "stopped":
    if b1.button("Resume", type="primary", icon=":material/play_arrow:", help="Continues from the exact step it stopped at."):
        job.resume()
        st.rerun()


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


def draw_live() -> None:
    h = job.history
    if job.running:
        st.session_state["tr.was_running"] = True
    elif st.session_state.pop("tr.was_running", False):
        st.rerun()  # the run just ended: redraw the whole page (buttons, status)
    m = st.columns(7)
    last_loss = h.steps[-1].loss if h.steps else None
    m[0].metric("Status", h.status)
    m[1].metric("Epoch", f"{min(h.step // max(h.steps_per_epoch, 1) + 1, max(h.total_epochs, 1))} / {h.total_epochs}"
                if h.total_epochs else "–")
    m[2].metric("Training loss", f"{last_loss:.4f}" if last_loss is not None else "–")
    m[3].metric("Test accuracy", f"{h.epochs[-1].test_acc:.2%}" if h.epochs else "–",
                delta=f"{h.epochs[-1].test_acc - h.epochs[-2].test_acc:+.2%}" if len(h.epochs) > 1 else None)
    m[4].metric("Elapsed", fmt_time(h.elapsed_s))
    m[5].metric("Images / s", f"{h.images_per_s:,.0f}" if h.images_per_s else "–")
    m[6].metric("Time left", fmt_time(h.eta_s) if job.running else "–")
    st.progress(h.progress, text=f"step {h.step:,} of {h.total_steps:,}" if h.total_steps else "starting …")
    if h.status == "failed":
        st.error(h.message)
    elif h.status == "stopped":
        st.warning(h.message)
    elif h.status == "finished":
        st.success(h.message)
    st.plotly_chart(tplots.curves_figure(h), key="tr.curves")
    if h.epochs:
        with st.expander("Epoch table"):
            st.dataframe([{"epoch": e.epoch, "train loss": round(e.train_loss, 4), "train acc": round(e.train_acc, 4),
                           "test loss": round(e.test_loss, 4), "test acc": round(e.test_acc, 4),
                           "images/s": round(e.images_per_s), "elapsed s": round(e.elapsed_s, 1)} for e in h.epochs],
                         hide_index=True)


st.fragment(run_every=1.0 if busy else None)(draw_live)()

with st.expander("How to read the curves"):
    st.markdown(
        "- **Training loss** (blue) is the cross-entropy averaged over the last few batches: noisy, but it should go down.\n"
        "- **Test loss and accuracy** (red) are measured on images the network never trains on, after each epoch.\n"
        "- When training loss keeps falling but test loss rises, the network starts to memorise: *overfitting*.\n"
        "- A learning rate that is too high makes the loss jump or become NaN; one that is too low makes it crawl.")
    st.latex(r"\text{loss} = -\frac{1}{B}\sum_{i=1}^{B} \log p_\theta(y_i \mid x_i)")
st.caption(f"Runs of this session are kept in `{folder}` (config, history, a checkpoint per epoch). "
           "Compare them on the *Compare runs* page; look at the mistakes on *Errors & confusion*.")
