"""Inside a CNN | Feature maps | :material/layers:

Upload a photo (or pick a sample) and see every channel a layer computes from it, the strongest
channels, one channel enlarged, the layers one after another, and the model's prediction.
"""

import streamlit as st

import cnnviz
from cnnviz import capture, cards
from cnnviz.plots import maps
from dashboard import state, widgets

st.title("Inside a CNN: feature maps")
st.markdown(
    "Each filter of a conv layer slides over the image and writes one **feature map**: bright where the "
    "pattern it looks for (an edge, a blob, a texture) is found. Deeper layers combine earlier maps, so "
    "their maps get smaller and more abstract."
)

# ---------------------------------------------------------------------------- input and model
left, right = st.columns(2)
with left:
    st.subheader("1. The image")
    photo = widgets.photo_bytes(help="Up to 25 MB. Or use one of the sample photos below.")
with right:
    st.subheader("2. The model")
    kind, name, ckpt_bytes = widgets.model_choice(
        help="Untrained models have random filters: compare them with the trained one.")

try:
    img = state.decoded_image(photo)
except cnnviz.ImageError as err:
    st.error(f"That file cannot be used: {err}")
    st.stop()
try:
    model, card = state.inside_model(kind, name, ckpt_bytes)
except (ValueError, RuntimeError) as err:  # CheckpointError, WeightsUnavailable
    st.error(str(err))
    st.stop()

small = card.input_shape[1] <= 64
with right:
    if not card.trained:
        st.warning("This model is **untrained**: its filters are random, so its maps and prediction show no "
                   "learned patterns yet.")
    elif card.note:
        st.caption(f"{card.title}: {card.note}")
    native = small and st.toggle(
        "Run the conv layers on the photo at its own resolution", value=True,
        help="A small net's conv layers work on any image size. Off: they see the same tiny image as the prediction.")
    max_side = st.slider("Longest side (pixels)", 64, 512, 256, 32, disabled=not native) if small else 256
    invert = card.input_shape[0] == 1 and st.checkbox(
        "Invert brightness", help="Fashion-MNIST's clothes are light on a black background; photos are often the "
        "other way round.")

try:
    seen = cards.prepare_image(img, card, invert=invert)
    shown = cards.prepare_image(img, card, native=True, max_side=max_side, invert=invert) if native else seen
    prediction = capture.predict(model, seen.tensor, classes=card.classes)
except ValueError as err:
    st.error(str(err))
    st.stop()

c, h, w = shown.tensor.shape
if native:
    st.info(f"**Feature maps:** the conv layers of *{card.title}* on your photo at its own resolution ({w}×{h}), "
            f"so you see its {'learned detectors' if card.trained else 'random filters'} on a real photo. "
            f"**Prediction:** the whole model on the "
            f"{card.input_shape[2]}×{card.input_shape[1]} version it was made for.")
else:
    st.info(f"**Feature maps and prediction:** *{card.title}* on the {w}×{h} image it was made for.")

# ---------------------------------------------------------------------------- what the model sees
st.subheader("3. What the model sees")
a, b = st.columns(2)
with a:
    st.plotly_chart(maps.image_figure(seen.display, title=f"Model input {seen.display.shape[1]}×"
                                      f"{seen.display.shape[0]}", height=360))
    st.caption(f"Preprocessing: {seen.note}.")
with b:
    top = 5 if len(card.classes) > 20 else 10
    st.plotly_chart(maps.prediction_figure(prediction, top=top, title=f"Top {top} class probabilities (softmax)"))
    st.latex(r"p_k = \frac{e^{z_k}}{\sum_j e^{z_j}}")
    if not card.trained:
        st.caption("Untrained: these probabilities are close to chance and mean nothing yet.")

# ---------------------------------------------------------------------------- one layer
st.subheader("4. One layer's feature maps")
layers = capture.viewable_layers(model)
overview = capture.overview_layers(model)
kinds = dict((n, type(m).__name__) for n, m in model.named_modules())
default = overview[0] if overview else layers[0]
col_l, col_n, col_k = st.columns([2, 2, 2])
with col_l:
    layer = st.selectbox("Layer", layers, index=layers.index(default), format_func=lambda n: f"{n} ({kinds[n]})")
with col_n:
    norm = st.radio("Scale colours", maps.NORMS, horizontal=True, format_func=lambda s: f"per {s}",
                    help="per map: each map from its own min to max (see every pattern). per layer: one scale for "
                    "the layer (see which maps are strong). per global: one scale for all layers below.")
with col_k:
    show_top = st.toggle("Only the most active channels")

try:
    captured = capture.feature_maps_many(model, shown.tensor, list(dict.fromkeys([layer, *overview])))
except ValueError as err:
    st.error(str(err))
    st.stop()
fm = captured[0]
k = st.slider("How many", 1, fm.channels, min(8, fm.channels), disabled=not show_top) if show_top else fm.channels
strongest = fm.top_k(k)
channels = strongest if show_top else None
st.plotly_chart(maps.mosaic_figure(fm, norm=norm, channels=channels, value_range=maps.value_range(captured)))
hover = len(strongest if show_top else range(fm.channels)) * fm.size[0] * fm.size[1] <= maps.HOVER_CELLS
st.caption(f"{len(channels or range(fm.channels))} of {fm.channels} channels, each {fm.size[0]}×{fm.size[1]}, in one "
           "picture" + (", strongest first (by mean activation)" if show_top else "")
           + (". Hover a pixel for its channel and value." if hover else
              ". Too many pixels for hover values here: pick a channel below to read its values."))

# ---------------------------------------------------------------------------- one channel enlarged
st.subheader("5. One channel next to the input")
strength = fm.strength().tolist()
channel = st.selectbox("Channel", strongest if show_top else list(range(fm.channels)),
                       format_func=lambda i: f"{i} (mean activation {strength[i]:.3g})")
a, b = st.columns(2)
with a:
    st.plotly_chart(maps.image_figure(shown.display, title=f"Input {w}×{h}", height=400))
with b:
    st.plotly_chart(maps.channel_figure(fm, int(channel)))

# ---------------------------------------------------------------------------- overview
st.subheader("6. Layer by layer")
st.markdown("The four most active maps of each stage, all drawn the same size: every pooling or stride-2 step "
            "halves the maps (see the pixels get coarser and the sizes above them), and what they respond to "
            "becomes less like the picture and more like parts of objects.")
by_name = {f.layer: f for f in captured}
st.plotly_chart(maps.overview_figure([by_name[n] for n in overview]))
