"""Inside a CNN | Draw and predict | :material/draw:

Draw on a canvas and watch a 28×28 network's prediction and feature maps change with every stroke; the drawing's
preprocessing (MNIST's recipe) step by step.
"""

import streamlit as st

from cnnviz import drawing, i18n
from cnnviz.i18n import _
from cnnviz.plots import lookfor as lookfor_plots
from cnnviz.plots import maps
from dashboard import layout, widgets
from dashboard.inside import draw_model, draw_model_label, draw_model_options, draw_view

st.title(_("Draw and predict"))
early = layout.early_figure()  # on a projector the canvas and the prediction come first, the settings under them
st.markdown(_("Draw a digit and see what the MNIST CNN makes of it: the prediction and the feature maps follow every "
              "stroke. Choose the Fashion-MNIST CNN to draw a T-shirt, a trouser, a sneaker or a bag as a filled "
              "silhouette instead."))

options = draw_model_options()
choice = st.selectbox(_("Model"), list(options), format_func=draw_model_label)
kind, name = options[choice]
upload = None
if kind == "upload":
    ckpt_file = st.file_uploader(_("Checkpoint (.pt, weights only)"), type=["pt", "pth", "ckpt"])
    upload = ckpt_file.getvalue() if ckpt_file else None
try:
    model, card = draw_model(kind, name, upload)
except (ValueError, RuntimeError) as err:  # CheckpointError
    st.error(str(err))
    st.stop()
if card.input_shape != (1, 28, 28):
    st.error(_("This model takes {c}×{h}×{w} inputs; a drawing is made for 1×28×28 networks (MNIST, "
               "Fashion-MNIST).").format(c=card.input_shape[0], h=card.input_shape[1], w=card.input_shape[2]))
    st.stop()

digits = card.dataset == "mnist"
left, right = layout.main_figure(early=early).columns([1, 1])
settings = st.container() if early else left
settings.subheader(_("1. Draw"))
box = settings.slider(_("Size of the drawing in the 28×28 input (pixels)"), 12, 28, 20 if digits else 28,
                      help=_("MNIST's digits were scaled into a 20×20 box; Fashion-MNIST's clothes fill the 28×28 "
                             "frame. Try both and watch the prediction."))
with left:
    drawn = widgets.drawing_input("draw", box=box,
                                  examples=drawing.DIGIT_EXAMPLES if digits else drawing.CLOTHES_EXAMPLES)

try:  # computed once per drawing and model (a rerun that changes neither recomputes nothing)
    prepared, prediction, fms = draw_view(kind, name, upload, drawn.png, i18n.get_language())
except ValueError as err:
    st.error(str(err))
    st.stop()

with right:
    st.subheader(_("2. The prediction"))
    layout.chart(maps.prediction_figure(prediction, title=_("Class probabilities (softmax)")), key="draw_pred")
    best, p = prediction.top(1)[0]
    st.metric(_("The network says"), best)
    st.caption(_("with probability {p:.0%} (softmax)").format(p=p))

st.subheader(_("3. From your drawing to the network's input"))
st.markdown(_("As MNIST was made: **invert** (the network was trained on light strokes on black), **crop** to the "
              "ink, **scale** it into a {box}×{box} box keeping its shape, and put it in 28×28 so that its **centre "
              "of mass** sits in the middle (moved by {dy} rows and {dx} columns).").format(
    box=drawn.drawing.box, dy=drawn.drawing.shift[0], dx=drawn.drawing.shift[1]))
layout.chart(lookfor_plots.drawing_steps_figure(list(zip(drawn.drawing.step_names(),
                                                        (img for _n, img in drawn.drawing.steps)))),
            key="draw_steps")

st.subheader(_("4. Its feature maps"))
first = fms[0]
layout.chart(maps.mosaic_figure(first), key="draw_mosaic")
st.caption(_("All {n} channels of the first conv layer ({layer}) on your drawing.").format(n=first.channels,
                                                                                          layer=first.layer))
layout.chart(maps.overview_figure(fms), key="draw_overview")
