"""Training | Errors & confusion | :material/grid_on:

The confusion matrix of a trained network on the test images: which classes it mixes up, and the
misclassified images of any cell with their probabilities (and Grad-CAM: where the network looked).
"""

from __future__ import annotations

import os

import streamlit as st

import cnnviz
from cnnviz import runs, training
from cnnviz.plots import training as tplots
from dashboard import state

st.title("Errors & confusion")
st.caption("Rows are the true class, columns the class the network chose. The diagonal holds the right answers; "
           "every other cell is a kind of mistake. Pick a cell to see its images.")

# ---------------------------------------------------------------------------- which network
SHIPPED = "Shipped Fashion-MNIST CNN"
sources: dict[str, tuple[list[str], str]] = {}
shipped = [str(p) for p in training.pretrained_checkpoints()]
if shipped:
    sources[SHIPPED] = (shipped, "fashion_mnist")
for r in runs.list_runs(state.training_runs_folder()):
    if r.checkpoints and r.config is not None and r.config.dataset in cnnviz.DATASETS:
        sources[f"Your run: {r.title} ({r.name})"] = ([str(p) for p in r.checkpoints], r.config.dataset)
if not sources:
    st.info("No trained network yet: train one in the **Training studio** first.")
    st.stop()

c1, c2, c3 = st.columns([3, 2, 2])
source = c1.selectbox("Network", list(sources))
paths, dataset = sources[source]
epochs = {int(os.path.basename(p).split("_")[1].split(".")[0]): p for p in paths}
epoch = c2.select_slider("After epoch", list(epochs), value=max(epochs),
                         help="Epoch 0 is the untrained network: its mistakes are random.")
test_size = c3.select_slider("Test images", [1_000, 2_000, 5_000, 10_000], value=2_000)
path = epochs[epoch]

try:
    result, data = state.training_confusion(path, os.path.getmtime(path), dataset, test_size)
except (ValueError, cnnviz.DatasetUnavailable) as err:
    st.error(str(err))
    st.stop()

k = len(result.classes)
m1, m2, m3 = st.columns(3)
m1.metric("Test accuracy", f"{result.accuracy:.2%}")
m2.metric("Mistakes", f"{int(result.matrix.sum() - result.matrix.trace()):,} of {int(result.matrix.sum()):,}")
top = result.top_confusions(1)
m3.metric("Most common mix-up", f"{result.classes[top[0][0]]} → {result.classes[top[0][1]]}" if top else "none")

# ---------------------------------------------------------------------------- the matrix and the chosen cell
cell = st.session_state.get(state.TRAIN_CELL_KEY)
if not cell or max(cell) >= k:
    cell = (top[0][0], top[0][1]) if top else (0, 0)
normalize = st.toggle("Colour by share of each true class", value=False)
event = st.plotly_chart(tplots.confusion_figure(result.matrix, result.classes, normalize=normalize, highlight=cell),
                        key="err.matrix", on_select="rerun", selection_mode="points")
points = (event.get("selection", {}) or {}).get("points", []) if event else []
if points:
    p = points[0]
    names = list(result.classes)
    if p.get("x") in names and p.get("y") in names:
        cell = (names.index(p["y"]), names.index(p["x"]))

s1, s2 = st.columns(2)
true = s1.selectbox("True class", range(k), index=cell[0], format_func=lambda i: result.classes[i])
pred = s2.selectbox("Predicted class", range(k), index=cell[1], format_func=lambda i: result.classes[i])
st.session_state[state.TRAIN_CELL_KEY] = (true, pred)
if top:
    st.caption("Biggest mix-ups: " + " · ".join(f"{result.classes[t]} → {result.classes[p]} ({n})"
                                                for t, p, n in result.top_confusions(5)))

idx = result.cell(true, pred, limit=24)
what = "correctly classified" if true == pred else "misclassified"
st.subheader(f"{len(result.cell(true, pred))} {result.classes[true]} images {what} as {result.classes[pred]}")
if len(idx) == 0:
    st.info("No image in this cell.")
    st.stop()

use_cam = st.toggle("Show Grad-CAM (where the network looked)", value=False,
                    help="Red = the regions that pushed the network towards the predicted class.")
images = data.images[idx].numpy()
captions = [f"{result.classes[pred]} {result.probs[i, pred]:.0%} · {result.classes[true]} {result.probs[i, true]:.0%}"
            for i in idx]
shown = tplots.tiles(images, size=112)
if use_cam:
    try:
        from cnnviz import gradcam

        model, mean, std = state.training_checkpoint_model(path, os.path.getmtime(path))
        x = training.normalize(data.images[idx], mean=mean, std=std)
        # the output of the whole conv part (after its last pool/ReLU) of the notes' nets; else the last conv
        layer = f"features.{len(model.features) - 1}" if hasattr(model, "features") else None
        shown = [tplots.cam_overlay(images[j], gradcam.grad_cam(model, x[j], target_class=pred, layer=layer).numpy(),
                                    size=112) for j in range(len(idx))]
    except ImportError:
        st.info("Grad-CAM is not available in this installation.")
    except ValueError as err:
        st.error(f"Grad-CAM failed: {err}")
cols = st.columns(8)
for j, (img, cap) in enumerate(zip(shown, captions)):
    cols[j % 8].image(img, caption=cap, width=112)
st.caption("Under each image: the probability of the predicted class, then of the true class (softmax).")
