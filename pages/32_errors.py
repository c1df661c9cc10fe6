"""Training | Errors & confusion | :material/grid_on:

The confusion matrix of a trained network on the test images: which classes it mixes up, and the
misclassified images of any cell with their probabilities (and Grad-CAM: where the network looked).
"""

from __future__ import annotations

import os

import streamlit as st

import cnnviz
from cnnviz import runs, training
from cnnviz.data import class_label
from cnnviz.i18n import _, ngettext
from cnnviz.plots import training as tplots
from cnnviz.training import rundir
from dashboard import layout, session
from dashboard.training import training_checkpoint_model, training_confusion

st.title(_("Errors & confusion"))
early = layout.early_figure()  # on a projector the matrix comes first; the network and the numbers follow it
st.caption(_("Rows are the true class, columns the class the network chose. The diagonal holds the right answers; "
           "every other cell is a kind of mistake. Pick a cell to see its images."))

# ---------------------------------------------------------------------------- which network
SHIPPED = "shipped"  # option keys: "shipped", "shipped_mnist" and "run:<folder name>"
sources: dict[str, tuple[list[str], str]] = {}
titles: dict[str, str] = {}
for key, dataset, title in ((SHIPPED, "fashion_mnist", _("Shipped Fashion-MNIST CNN")),
                            ("shipped_mnist", "mnist", _("Shipped MNIST digits CNN"))):
    if shipped := [str(p) for p in training.pretrained_checkpoints(dataset)]:
        sources[key], titles[key] = (shipped, dataset), title
for r in runs.list_runs(session.training_runs_folder()):
    if r.checkpoints and r.config is not None and r.config.dataset in cnnviz.DATASETS:
        sources[f"run:{r.name}"] = ([str(p) for p in r.checkpoints], r.config.dataset)
        titles[f"run:{r.name}"] = _("Your run: {title} ({name})").format(title=r.title, name=r.name)
if not sources:
    st.info(_("No trained network yet: train one in the **Training studio** first."))
    st.stop()

c1, c2, c3 = st.columns([3, 2, 2])
source = c1.selectbox(_("Network"), list(sources), format_func=titles.get)
paths, dataset = sources[source]
epochs = {rundir.epoch_number(p): p for p in paths}
epoch = c2.select_slider(_("After epoch"), list(epochs), value=max(epochs),
                         help=_("Epoch 0 is the untrained network: its mistakes are random."))
test_size = c3.select_slider(_("Test images"), [1_000, 2_000, 5_000, 10_000], value=2_000)
path = epochs[epoch]

try:
    result, data = training_confusion(path, os.path.getmtime(path), dataset, test_size)
except (ValueError, cnnviz.DatasetUnavailable) as err:
    st.error(str(err))
    st.stop()

k = len(result.classes)
names = [class_label(c) for c in result.classes]
m1, m2, m3 = st.columns(3)
m1.metric(_("Test accuracy"), f"{result.accuracy:.2%}")
m2.metric(_("Mistakes"), _("{n:,} of {total:,}").format(n=int(result.matrix.sum() - result.matrix.trace()),
                                                          total=int(result.matrix.sum())))
top = result.top_confusions(1)
m3.metric(_("Most common mix-up"), f"{names[top[0][0]]} → {names[top[0][1]]}" if top else _("none"))

# ---------------------------------------------------------------------------- the matrix and the chosen cell
chosen = (st.session_state.get("err.true", 0), st.session_state.get("err.pred", 0))
if not all(isinstance(i, int) and 0 <= i < k for i in chosen):  # another model's classes, or a stale widget value
    st.session_state.pop("err.true", None)
    st.session_state.pop("err.pred", None)
if "err.true" not in st.session_state:
    st.session_state["err.true"], st.session_state["err.pred"] = (top[0][0], top[0][1]) if top else (0, 0)
cell = (st.session_state["err.true"], st.session_state["err.pred"])
normalize = st.toggle(_("Colour by share of each true class"), value=False)
event = layout.chart(tplots.confusion_figure(result.matrix, names, normalize=normalize, highlight=cell),
                     key="err.matrix", on_select="rerun", selection_mode="points",
                     where=layout.main_figure(early=early))
clicked = [p for p in (event.selection.points if event else []) if p.get("curve_number") == 1]
click = int(clicked[0]["point_index"]) if clicked and clicked[0].get("point_index") is not None else None
if click != st.session_state.get("err.last_click"):  # a new click on a cell chooses it (once: the dropdowns win after)
    st.session_state["err.last_click"] = click
    if click is not None and divmod(click, k) != cell:
        st.session_state["err.true"], st.session_state["err.pred"] = divmod(click, k)
        st.rerun()  # draw the matrix again with the chosen cell outlined

s1, s2 = st.columns(2)
true = s1.selectbox(_("True class"), range(k), key="err.true", format_func=lambda i: names[i])
pred = s2.selectbox(_("Predicted class"), range(k), key="err.pred", format_func=lambda i: names[i])
if top:
    st.caption(_("Biggest mix-ups: {list}").format(list=" · ".join(
        f"{names[t]} → {names[p]} ({n})" for t, p, n in result.top_confusions(5))))

idx = result.cell(true, pred, limit=24)
count = len(result.cell(true, pred))
if len(idx) < count:  # the heading counts what is shown, and out of how many
    heading = (_("{shown} of {n} {true} images correctly classified") if true == pred
               else _("{shown} of {n} {true} images misclassified as {pred}"))
elif true == pred:
    heading = ngettext("{n} {true} image correctly classified", "{n} {true} images correctly classified", count)
else:
    heading = ngettext("{n} {true} image misclassified as {pred}", "{n} {true} images misclassified as {pred}", count)
st.subheader(heading.format(shown=len(idx), n=count, true=names[true], pred=names[pred]))
if len(idx) == 0:
    st.info(_("No image in this cell."))
    st.stop()

use_cam = st.toggle(_("Show Grad-CAM (where the network looked)"), value=False,
                    help=_("Red = the regions that pushed the network towards the predicted class."))
images = data.images[idx].numpy()
captions = [f"{names[pred]} {result.probs[i, pred]:.0%} · {names[true]} {result.probs[i, true]:.0%}" for i in idx]
shown = tplots.tiles(images, size=112)
if use_cam:
    try:
        from cnnviz import gradcam

        model, mean, std = training_checkpoint_model(path, os.path.getmtime(path))
        x = training.normalize(data.images[idx], mean=mean, std=std)
        # the output of the whole conv part (after its last pool/ReLU) of the notes' nets; else the last conv
        layer = f"features.{len(model.features) - 1}" if hasattr(model, "features") else None
        shown = [tplots.cam_overlay(images[j], gradcam.grad_cam(model, x[j], target_class=pred, layer=layer).numpy(),
                                    size=112) for j in range(len(idx))]
    except ImportError:
        st.info(_("Grad-CAM is not available in this installation."))
    except ValueError as err:
        st.error(_("Grad-CAM failed: {err}").format(err=err))
cols = st.columns(8)
for j, (img, cap) in enumerate(zip(shown, captions)):
    cols[j % 8].image(img, caption=cap, width=112)
st.caption(_("Under each image: the probability of the predicted class, then of the true class (softmax)."))
