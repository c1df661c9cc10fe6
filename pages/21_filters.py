"""Inside a CNN | Filters during training | :material/filter_vintage:

The filters (conv weights) before training, after, and how much each weight moved; an epoch scrubber
shows the filters and one fixed image's feature maps at every checkpoint a training run saved.
"""

import os

import streamlit as st
from PIL import Image

from cnnviz import capture, cards
from cnnviz.plots import maps
from dashboard import state

st.title("Inside a CNN: filters before and after training")
st.markdown(
    "A conv layer's **filters** are its weights: small grids that are multiplied with every patch of the input. "
    "Before training they are random noise; training moves each weight a little, step by step, until the "
    "filters become edge, stripe and blob detectors."
)
st.latex(r"W \leftarrow W - \eta \, \frac{\partial L}{\partial W}")

sets = state.inside_checkpoint_sets()
if not sets:
    st.warning("No training checkpoints were found (the trained Fashion-MNIST CNN ships them in "
               "assets/pretrained/fashion_mnist_cnn/). Train a model with `cnnviz train` or on the training page, "
               "then come back.")
    st.stop()
paths = sets[st.selectbox("Training run", list(sets), help="Runs you train on the training page appear here too.")]

try:
    runs = [state.inside_checkpoint_model(p, os.path.getmtime(p)) for p in paths]
except ValueError as err:  # CheckpointError: a damaged or mismatched file
    st.error(str(err))
    st.stop()
epochs = [str(i if card.epoch is None else card.epoch) for i, (_, card) in enumerate(runs)]
first_model, first_card = runs[0]

# ---------------------------------------------------------------------------- before / after / difference
convs = capture.conv_layers(first_model)
if not convs:
    st.info("This model has no conv layers, so it has no filters to show.")
    st.stop()
a, b = st.columns(2)
with a:
    layer = st.selectbox("Conv layer", convs, help="The first layer looks at pixels; deeper layers look at maps.")
probe = capture.filter_grid(first_model, layer)
with b:
    in_ch = 0
    if probe.colour:
        st.caption("This layer reads RGB: each filter is drawn as a small colour image.")
    elif probe.weights.shape[1] > 1:
        in_ch = st.slider("Input channel", 0, probe.weights.shape[1] - 1, 0,
                          help=f"Each of the {probe.count} filters has one {probe.weights.shape[2]}×"
                          f"{probe.weights.shape[3]} slice per input map; this picks which slice is shown.")

epoch = st.select_slider("Epoch", options=epochs, value=epochs[-1],
                         help="Drag to scrub through the checkpoints that training saved (epoch 0 = before training).")
idx = epochs.index(epoch)
model, card = runs[idx]
before = capture.filter_grid(first_model, layer, in_channel=in_ch, label=f"Before training (epoch {epochs[0]})")
after = capture.filter_grid(model, layer, in_channel=in_ch, label=f"After epoch {epoch}")
delta = capture.filter_delta(before, after)

cols = st.columns(3)
for col, grid in zip(cols, (before, after, delta)):
    with col:
        st.plotly_chart(maps.filters_figure(grid))
change = float(abs(delta.weights).mean()) / max(1e-12, float(abs(before.weights).mean()))
st.caption(f"Mean |ΔW| is {change:.0%} of the mean |W| before training. "
           "Blue weights are negative, red positive; |ΔW| shows where training changed the filters most."
           + (f" {card.title}: {card.note}." if card.note else ""))

# ---------------------------------------------------------------------------- one image across epochs
st.subheader("One test image through the epochs")
test = state.fashion_mnist(False)
i = st.number_input("Test image number", 0, len(test) - 1, 0, help="A Fashion-MNIST test image (made to fit the "
                    "model's input); it stays fixed while you move the epoch slider.")
label = test.classes[int(test.labels[i])]
try:
    seen = cards.prepare_image(Image.fromarray(test.images[i, 0].numpy()), card)
except ValueError as err:
    st.error(str(err))
    st.stop()
x = seen.tensor
fm_layer = st.selectbox("Layer to look at", capture.viewable_layers(model), index=0)
try:
    fm = capture.feature_maps(model, x, fm_layer)
    pred = capture.predict(model, x, classes=card.classes)
except ValueError as err:
    st.error(str(err))
    st.stop()
a, b, c = st.columns([1, 2, 1.4])
with a:
    st.plotly_chart(maps.image_figure(seen.display, title=f"#{i}: {label}", height=300))
with b:
    st.plotly_chart(maps.mosaic_figure(fm, title=f"Epoch {epoch}: {fm.layer} ({fm.kind}), {fm.channels} maps",
                                       width=480))
with c:
    st.plotly_chart(maps.prediction_figure(pred, top=5, title=f"Epoch {epoch}: prediction"))
verdict = "right" if pred.classes[pred.best] == label else "wrong"
st.caption(f"At epoch {epoch} the model says **{pred.classes[pred.best]}** ({pred.probs[pred.best]:.0%}); the "
           f"answer is **{label}** ({verdict}). Move the epoch slider to watch the maps sharpen as the filters learn.")
