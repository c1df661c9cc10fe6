"""Inside a CNN | Feature maps | :material/layers:

Upload a photo (or pick a sample) and see every channel a layer computes from it, the strongest
channels, one channel enlarged, the layers one after another, and the model's prediction.
"""

import streamlit as st

import cnnviz
from cnnviz import capture, i18n
from cnnviz.i18n import _
from cnnviz.plots import maps
from dashboard import layout, links, widgets
from dashboard.data import decoded_image
from dashboard.inside import INSIDE_TRAINED, inside_model_or_stop, inside_photo_maps, inside_photo_view

MOSAIC_ON_A_PROJECTOR = 520  # pixels: every tile of the mosaic in a 1280×720 first screen, under the page's title

st.title(_("Inside a CNN: feature maps"))
# On a projector the first screen shows the maps and the prediction side by side, the layer's controls under the
# prediction; the explanation and the pickers fold below them.
presenting = layout.presenter()
if presenting:
    maps_col, pred_col = layout.main_figure().columns([3, 2])
with layout.explanation(_("What is a feature map?")):
    st.markdown(_(
        "Each filter of a conv layer slides over the image and writes one **feature map**: bright where the "
        "pattern it looks for (an edge, a blob, a texture) is found. Deeper layers combine earlier maps, so "
        "their maps get smaller and more abstract."))

# ---------------------------------------------------------------------------- input and model
inputs = st.expander(_("1. The image · 2. The model"), expanded=False) if presenting else st.container()
left, right = inputs.columns(2)
linked = links.opened_from_link()  # a test image (and the checkpoint it was seen through) sent by Feature space
with left:
    st.subheader(_("1. The image"))
    if linked is not None:
        st.image(linked.photo, width=140, caption=linked.caption)
        st.button(_("Choose another photo"), on_click=links.forget_link)
        photo = linked.photo
    else:
        photo = widgets.photo_bytes(help=_("Up to 25 MB. Or use one of the sample photos below."))
with right:
    st.subheader(_("2. The model"))
    drawn = bool(st.session_state.get("photo.draw"))  # a drawing is for the Fashion-MNIST CNN (28×28, grey)
    kind, name, ckpt_bytes = widgets.model_choice(
        help=_("Untrained models have random filters: compare them with the trained one."),
        default=next(iter(linked.models), INSIDE_TRAINED) if linked else INSIDE_TRAINED if drawn else None,
        extra=linked.models if linked else None, extra_labels=linked.labels if linked else None)

try:
    img = decoded_image(photo)
except cnnviz.ImageError as err:
    st.error(_("That file cannot be used: {err}").format(err=err))
    st.stop()
model, card = inside_model_or_stop(kind, name, ckpt_bytes)

small = card.input_shape[1] <= 64
with right:
    if not card.trained:
        st.warning(_("This model is **untrained**: its filters are random, so its maps and prediction show no "
                   "learned patterns yet."))
    elif card.note:
        st.caption(_("{title}: {note}").format(title=card.title, note=card.note))
    native = small and st.toggle(
        _("Run the conv layers on the photo at its own resolution"), value=True,
        help=_("A small net's conv layers work on any image size. Off: they see the same tiny image as the prediction."))
    max_side = st.slider(_("Longest side (pixels)"), 64, 512, 256, 32, disabled=not native) if small else 256
    invert = card.input_shape[0] == 1 and st.checkbox(
        _("Invert brightness"), help=_("Fashion-MNIST's clothes are light on a black background; photos are often the "
        "other way round."))

lang = i18n.get_language()
try:  # computed once for everyone who looks at the same photo with the same model (cached by content)
    seen, shown, prediction = inside_photo_view(kind, name, ckpt_bytes, photo, invert, native, max_side, lang)
except ValueError as err:
    st.error(str(err))
    st.stop()

c, h, w = shown.tensor.shape
if native:
    what = _("learned detectors") if card.trained else _("random filters")
    st.info(_("**Feature maps:** the conv layers of *{model}* on your photo at its own resolution ({w}×{h}), so "
              "you see its {what} on a real photo. **Prediction:** the whole model on the {mw}×{mh} version it "
              "was made for.").format(model=card.title, w=w, h=h, what=what, mw=card.input_shape[2],
                                      mh=card.input_shape[1]))
else:
    st.info(_("**Feature maps and prediction:** *{model}* on the {w}×{h} image it was made for.").format(
        model=card.title, w=w, h=h))

# ------------------------------------------------------------------------ what the model sees
st.subheader(_("3. What the model sees"))
a, b = st.columns(2)
with a:
    layout.chart(maps.image_figure(seen.display, title=_("Model input {w}×{h}").format(
        w=seen.display.shape[1], h=seen.display.shape[0]), height=360), key="fm_seen")
    st.caption(_("Preprocessing: {seen_note}.").format(seen_note=seen.note))
with pred_col if presenting else b:
    top = 5 if len(card.classes) > 20 else 10
    title = _("Top {top} class probabilities (softmax)").format(top=top)
    layout.chart(maps.prediction_figure(prediction, top=top, title=title), key="fm_pred")
    st.latex(r"p_k = \frac{e^{z_k}}{\sum_j e^{z_j}}")
    if not card.trained:
        st.caption(_("Untrained: these probabilities are close to chance and mean nothing yet."))


# ------------------------------------------------------------------------ one layer
if not presenting:
    st.subheader(_("4. One layer's feature maps"))
layers = capture.viewable_layers(model)
overview = capture.overview_layers(model)
kinds = dict((n, type(m).__name__) for n, m in model.named_modules())
default = overview[0] if overview else layers[0]
col_l, col_n, col_k = (pred_col,) * 3 if presenting else st.columns([2, 2, 2])
with col_l:
    layer = st.selectbox(_("Layer"), layers, index=layers.index(default),
                         format_func=lambda n: f"{n} ({kinds[n]})")
with col_n:
    norm = st.radio(_("Scale colours"), maps.NORMS, horizontal=True, format_func=lambda s: _(maps.NORM_LABELS[s]),
                    help=_("per map: each map from its own min to max (see every pattern). per layer: one scale "
                           "for the layer (see which maps are strong). all layers: one scale for every layer "
                           "below."))
with col_k:
    show_top = st.toggle(_("Only the most active channels"))

try:
    captured = inside_photo_maps(kind, name, ckpt_bytes, photo, invert, native, max_side,
                                       tuple(dict.fromkeys([layer, *overview])), lang)
except ValueError as err:
    st.error(str(err))
    st.stop()
fm = captured[0]
k = (col_k.slider(_("How many"), 1, fm.channels, min(8, fm.channels), disabled=not show_top) if show_top
     else fm.channels)
strongest = fm.top_k(k)
channels = strongest if show_top else None
picked = list(channels) if channels is not None else list(range(fm.channels))
mosaic = maps.mosaic_figure(fm, norm=norm, channels=channels, value_range=maps.value_range(captured),
                            height=MOSAIC_ON_A_PROJECTOR if presenting else None)
event = layout.chart(mosaic, key=f"fm_mosaic_{layer}", on_select="rerun", selection_mode="points",
                     where=maps_col if presenting else layout.main_figure())
clicked = [p for p in (event.selection.points if event else []) if p.get("curve_number") == 1]
if clicked and clicked[0].get("point_index") is not None:  # a click on a tile enlarges that channel below
    st.session_state["fm_channel"] = picked[int(clicked[0]["point_index"])]
hover = len(picked) * fm.size[0] * fm.size[1] <= maps.HOVER_CELLS
text = _("{n} of {total} channels, each {h}×{w}, in one picture; the number on a tile is its channel.").format(
    n=len(picked), total=fm.channels, h=fm.size[0], w=fm.size[1])
if show_top:
    text += " " + _("Strongest first (by mean activation).")
text += " " + (_("Hover a pixel for its value; click a tile to enlarge it below.") if hover else
               _("Hover a tile for its numbers; click it to enlarge it below with every value on hover."))
(maps_col if presenting else st).caption(text)


# ---------------------------------------------------------------------------- one channel enlarged
st.subheader(_("5. One channel next to the input"))
strength = fm.strength().tolist()
options = strongest if show_top else list(range(fm.channels))
if st.session_state.get("fm_channel") not in options:
    st.session_state.pop("fm_channel", None)
channel = st.selectbox(_("Channel"), options, key="fm_channel",
                       format_func=lambda i: _("{i} (mean activation {value:.3g})").format(i=i, value=strength[i]))
a, b = st.columns(2)
with a:
    layout.chart(maps.image_figure(shown.display, title=_("Input {w}×{h}").format(w=w, h=h), height=400),
                key="fm_input")
with b:
    layout.chart(maps.channel_figure(fm, int(channel)), key="fm_channel_fig")

# ---------------------------------------------------------------------------- overview
st.subheader(_("6. Layer by layer"))
st.markdown(_("The four most active maps of each stage, all drawn the same size: every pooling or stride-2 step "
            "halves the maps (see the pixels get coarser and the sizes above them), and what they respond to "
            "becomes less like the picture and more like parts of objects."))
by_name = {f.layer: f for f in captured}
layout.chart(maps.overview_figure([by_name[n] for n in overview]), key="fm_overview")
