"""Training | Weights and gradients | :material/ssid_chart:

Every run records each layer's weights and gradients while it trains: their histograms stacked over the steps,
their spread as bands (min, percentiles, max), and each layer's gradient norm at every step on one chart.
"""

from __future__ import annotations

import os

import streamlit as st

from cnnviz.i18n import _, ngettext
from cnnviz.plots import probes as pplots
from cnnviz.training import probes, rundir
from dashboard import curves, layout
from dashboard.training import training_checkpoint_probes, training_probes

st.title(_("Weights and gradients over time"))
with layout.explanation(_("What is recorded?")):
    st.markdown(_("While a run trains, cnnviz keeps, for every layer with weights, a histogram and a few percentiles "
                  "of its weights and of their gradients at about fifty moments (fewer in a short run), and the "
                  "size (norm) of each layer's gradient at every step: what TensorBoard's histograms and "
                  "distributions show. Healthy training moves the weights slowly and keeps the gradients of all "
                  "layers within a few powers of ten of each other."))

sources = curves.run_sources()
if not sources:
    st.info(_("No run yet: train one in the **Training studio** first."))
    st.stop()
c1, c2, c3 = st.columns([4, 2, 2])
source = curves.pick_run(sources, key="wg.run", where=c1)

recorded, note = None, None
if source.folder is not None and (source.folder / probes.PROBES_FILE).is_file():
    path = source.folder / probes.PROBES_FILE
    try:
        recorded = training_probes(str(path), os.path.getmtime(path))
    except (ValueError, OSError) as err:
        note = str(err)
if recorded is None and note is None and source.under_way and not any(
        (rundir.epoch_number(p) or 0) > 0 for p in source.checkpoints):  # its first recording comes with epoch 1
    st.info(_("This run has recorded nothing yet: come back after its first epoch."), icon=":material/hourglass_empty:")
    st.stop()
if recorded is None and source.checkpoints:  # an older run, a CLI run or the shipped network: weights only
    try:
        recorded = training_checkpoint_probes(source.checkpoints, tuple(os.path.getmtime(p) for p in source.checkpoints),
                                              source.steps_per_epoch)
    except (ValueError, OSError) as err:
        note = str(err)
    else:
        n = len(source.checkpoints)
        if note:  # a recording that cannot be read
            instead = ngettext("The weights below are read from its only checkpoint instead.",
                               "The weights below are read from its {n} checkpoints instead.", n).format(n=n)
            st.info(note + " " + instead, icon=":material/info:")
        else:
            st.info(ngettext("This run was trained without recording its weights and gradients: the weights below are "
                             "read from its only checkpoint, and its gradients cannot be shown.",
                             "This run was trained without recording its weights and gradients: the weights below are "
                             "read from its {n} checkpoints, and its gradients cannot be shown.", n).format(n=n),
                    icon=":material/info:")
if recorded is None or not recorded.layers:
    st.warning(note or _("This run was trained without recording its weights and gradients and kept no checkpoints: "
                         "there is nothing to show here."))
    st.stop()

has_grads = len(recorded.grad_steps) > 0
if st.session_state.get("wg.layer", 0) >= len(recorded.layers):  # another run with fewer layers was picked
    st.session_state.pop("wg.layer")
if not has_grads:
    st.session_state.pop("wg.what", None)
what = c2.radio(_("Values"), list(pplots.WHAT) if has_grads else ["weights"], key="wg.what",
                format_func=lambda w: _(pplots.WHAT[w]))
layer = c3.selectbox(_("Layer"), range(len(recorded.layers)), key="wg.layer", format_func=recorded.layer_label)

with layout.main_figure():
    layout.chart(pplots.ridge_figure(recorded, layer, what), key="wg.ridge")
st.caption(_("Each curve is the histogram of the layer's {what} at one moment of training, the earliest at the top; "
             "it spreads out or narrows as training goes on.").format(what=_(pplots.WHAT[what])))

view = curves.curve_view("wg.view", x_axes=("epoch", "step"), log=False)
layout.chart(pplots.distribution_figure(recorded, layer, what, view=view), key="wg.bands")
if has_grads:
    st.subheader(_("Gradient norm of every layer"))
    layout.chart(pplots.grad_norm_figure([(source.title, recorded)], view=view), key="wg.norms")
    st.caption(_("The first layers (dark) and the last ones (light) on a log scale: lines far apart mean the first "
                 "layers learn much more slowly. Compare a deep sigmoid network on the *Vanishing gradients* page."))

layout.reading_notes(
    _("How to read these charts"),
    _("- **Histograms**: the weights usually start as a bell (random initialisation) and spread a little; "
      "gradients are large at first and shrink as the loss falls.\n"
      "- **Bands**: the darkest band holds the middle 38 % of the values, then 68 %, 87 %, and the lightest "
      "everything from the minimum to the maximum (TensorBoard's distribution view).\n"
      "- **Gradient norm**: the length of the layer's gradient, ‖∂loss/∂W‖. A step changes the weights by about the "
      "learning rate times this (for SGD)."),
    formula=r"\lVert \nabla_W L \rVert = \sqrt{\textstyle\sum_{i} (\partial L / \partial w_i)^2}")
