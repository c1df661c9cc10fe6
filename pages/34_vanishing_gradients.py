"""Training | Vanishing gradients | :material/trending_down:

The same deep CNN trained twice side by side, with sigmoid and with ReLU: the gradient norm of every layer at every
step shows the first layers' gradients shrink to almost nothing with sigmoid, and that network hardly learns.
"""

from __future__ import annotations

import os

import numpy as np
import streamlit as st

import cnnviz
from cnnviz import runs
from cnnviz.background import QueueFull
from cnnviz.i18n import _
from cnnviz.plots import probes as pplots
from cnnviz.plots import training as tplots
from cnnviz.runs import experiments
from cnnviz.training import probes, status_label
from dashboard import curves, layout, nav, session
from dashboard.training import pair_job, start_pair_job, training_data, training_probes, training_speed

st.title(_("Vanishing gradients: sigmoid against ReLU"))
with layout.explanation(_("The experiment")):
    st.markdown(_(
        "Backpropagation multiplies the gradient by the activation's slope at every layer on its way back to the "
        "first one. The sigmoid's slope is at most 0.25, so after nine layers little is left; ReLU's slope is 1 "
        "wherever a unit is active. Here the *same* nine-layer CNN (the same initial weights, data and settings: "
        "SGD with learning rate 0.02 and momentum 0.9, batch 64, 5,000 Fashion-MNIST images, 3 epochs) trains twice "
        "at the same time, once with each activation."))

shared = session.shared_runs_folder()
folder = shared or session.training_runs_folder()
job = None if shared else pair_job()
busy = job is not None and job.running
sigmoid_cfg, relu_cfg = experiments.VANISHING
if not shared:
    c1, c2 = st.columns([1, 2])
    start = c1.button(_("Train both side by side"), type="primary", icon=":material/play_arrow:", disabled=busy)
    steps = sigmoid_cfg.epochs * -(-sigmoid_cfg.train_size // sigmoid_cfg.batch_size)
    seconds = 2 * sigmoid_cfg.epochs * sigmoid_cfg.train_size / training_speed("deep_relu") * 1.1
    c2.caption(_("Two runs of {steps:,} steps each; about {minutes:.0f} min on this computer. They appear in *Compare "
                 "runs* too.").format(steps=steps, minutes=max(1, round(seconds / 60))))
    if start:
        try:
            train, test = training_data(sigmoid_cfg.dataset, sigmoid_cfg.model_input_shape, sigmoid_cfg.train_size,
                                        sigmoid_cfg.test_size, sigmoid_cfg.seed)
            start_pair_job(experiments.vanishing_job(folder, train=train, test=test))
        except QueueFull as err:
            st.warning(str(err))
        except (ValueError, cnnviz.DatasetUnavailable) as err:
            st.error(_("Could not start: {err}").format(err=err))
        else:
            st.rerun()
    if busy and st.button(_("Stop both"), icon=":material/stop:"):
        job.stop(wait=10)
        st.rerun()

view = curves.curve_view("vg.view", x_axes=("epoch", "step"), log=False)


def draw() -> None:
    if job is not None and job.running:
        st.session_state["vg.was_running"] = True
        if job.queued:
            st.info(_("Waiting for a free place in the class's queue …"), icon=":material/hourglass_top:")
            return
        cols = st.columns(2)
        for col, name, h in zip(cols, ("sigmoid", "ReLU"), job.histories):
            col.progress(h.progress, text=_("{name}: {status}, step {step:,} of {total:,}").format(
                name=name, status=status_label(h.status), step=h.step, total=h.total_steps))
    elif st.session_state.pop("vg.was_running", False):
        st.rerun()  # both ended: the whole page again (the button comes back)
    pair = experiments.latest_pair(runs.list_runs(folder))
    if not pair:
        st.info(_("Press **Train both side by side**: the gradient of every layer appears here as the two networks "
                  "train.") if not shared else _("These runs hold no vanishing-gradient experiment."))
        return
    recorded = []
    for info in pair:
        path = info.path / probes.PROBES_FILE
        try:
            recorded.append(training_probes(str(path), os.path.getmtime(path)))
        except (ValueError, OSError):
            recorded.append(None)
    if any(r is None or not len(r.norm_steps) for r in recorded):
        st.info(_("The first gradients appear after the first epoch (or half a minute) of training."))
        return
    sigmoid, relu = recorded
    ratio = experiments.first_layer_ratio(sigmoid, relu)
    m = st.columns(4)
    m[0].metric(_("First layer's gradient, sigmoid"), f"{np.median(sigmoid.grad_norm[:, 0]):.1e}")
    m[1].metric(_("First layer's gradient, ReLU"), f"{np.median(relu.grad_norm[:, 0]):.1e}")
    m[2].metric(_("ReLU ÷ sigmoid"), f"{ratio:,.0f}×" if ratio is not None and np.isfinite(ratio) else "–")
    accs = [(info.history.epochs[-1].test_acc if info.history and info.history.epochs else None) for info in pair]
    m[3].metric(_("Test accuracy, sigmoid / ReLU"), " / ".join(f"{a:.0%}" if a is not None else "–" for a in accs))
    with layout.main_figure():
        layout.chart(pplots.grad_norm_figure([("sigmoid", sigmoid), ("ReLU", relu)], view=view,
                                             title=_("Gradient norms: sigmoid against ReLU")),
                     key="vg.norms")
    st.caption(_("Medians over the steps both runs recorded. Each line is one layer, from the first (dark) to the last "
                 "(light); the y axis is logarithmic: one grid line is ten times more or less."))
    histories = [("sigmoid", pair[0].history), ("ReLU", pair[1].history)]
    if all(h is not None and h.epochs for _n, h in histories):
        accuracy = tplots.compare_figure(histories, metric="test_acc", height=340)
        accuracy.update_layout(title=_("Test accuracy after each epoch"), margin_t=60)
        layout.chart(accuracy, key="vg.acc")


layout.live(draw, running=busy)
activations = nav.page("14_activations.py")
st.page_link(str(activations.path), label=_("The same effect with a formula: Activation functions"),
             icon=activations.icon)
layout.reading_notes(
    _("What to look for"),
    _("- With **sigmoid** the lines spread over several powers of ten: the last layer gets a usable gradient, the "
      "first ones almost none, so their weights hardly move and the test accuracy stays near chance (10 %).\n"
      "- With **ReLU** the lines stay close together: every layer learns.\n"
      "- The histograms of the first layer's gradients on *Weights and gradients* show the same: a sigmoid run's "
      "are squeezed around zero."),
    formula=r"\frac{\partial L}{\partial W_1} \propto \prod_{l=2}^{9} \sigma'(z_l)\,W_l,\qquad \sigma' \le 0.25")
