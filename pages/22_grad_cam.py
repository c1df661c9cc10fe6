"""Inside a CNN | Grad-CAM: where it looks | :material/center_focus_strong:

Grad-CAM (captum's LayerGradCam) lays a heat map over the image: the places that pushed the model
towards the predicted class, or a class you choose.
"""

import streamlit as st

import cnnviz
from cnnviz import capture, gradcam, i18n
from cnnviz.i18n import _
from cnnviz.plots import maps
from dashboard import layout, nav, widgets
from dashboard.inside import inside_grad_cam, inside_model, inside_photo_view

st.title(_("Grad-CAM: where does the model look?"))
presenting = layout.presenter()  # on a projector the heat map comes first; the formula and the pickers fold
early = layout.early_figure()
with layout.explanation(_("How Grad-CAM works")):
    st.markdown(_(
        "Grad-CAM takes a conv layer's maps $A^k$, weighs each by how much it raises the class score $y^c$ "
        "(its gradient, averaged over the map), adds them up and keeps the positive part. Red = evidence for the "
        "class."))
    st.latex(r"\alpha_k^c = \frac{1}{HW}\sum_{i,j}\frac{\partial y^c}{\partial A^k_{ij}}, \qquad "
             r"L^c = \mathrm{ReLU}\Big(\sum_k \alpha_k^c A^k\Big)")

inputs = st.expander(_("The image and the model"), expanded=False) if presenting else st.container()
left, right = inputs.columns(2)
with left:
    photo = widgets.photo_bytes()
with right:
    kind, name, ckpt_bytes = widgets.model_choice()

try:
    model, card = inside_model(kind, name, ckpt_bytes)
except cnnviz.ImageError as err:
    st.error(_("That file cannot be used: {err}").format(err=err))
    st.stop()
except (ValueError, RuntimeError) as err:  # CheckpointError, WeightsUnavailable
    st.error(str(err))
    st.stop()

with right:
    if not card.trained:
        st.warning(_("This model is **untrained**: its heat map is as random as its weights."))
    invert = card.input_shape[0] == 1 and st.checkbox(
        _("Invert brightness"), help=_("Fashion-MNIST's clothes are light on a black background."))

lang = i18n.get_language()
try:  # computed once for everyone who looks at the same photo with the same model (cached by content)
    seen, _shown, prediction = inside_photo_view(kind, name, ckpt_bytes, photo, invert, False, 256, lang)
except cnnviz.ImageError as err:
    st.error(_("That file cannot be used: {err}").format(err=err))
    st.stop()
except ValueError as err:
    st.error(str(err))
    st.stop()
convs = capture.conv_layers(model)
try:
    default_layer = gradcam.default_cam_layer(model)
except ValueError as err:  # no conv layer
    st.error(str(err))
    st.stop()
layer_opts = list(dict.fromkeys([default_layer, *reversed(convs)]))

a, b, c = st.columns(3)
with a:
    # The prediction names every output of the model (a bare state_dict has no class names: "class 3")
    names = prediction.classes
    order = sorted(range(len(names)), key=lambda i: -prediction.probs[i])
    target = st.selectbox(_("Class to explain"), ["predicted", *order],
                          format_func=lambda i: (_("predicted: {name}").format(name=names[prediction.best])
                                                 if i == "predicted" else f"{names[i]} ({prediction.probs[i]:.1%})"))
with b:
    layer = st.selectbox(_("Layer"), layer_opts, help=_("The last conv stage is usual: its maps still have a "
                         "position but already mean parts of objects. Earlier layers give finer, noisier maps."))
with c:
    alpha = st.slider(_("Heat map opacity"), 0.0, 1.0, 0.7, 0.05)

try:
    result = inside_grad_cam(kind, name, ckpt_bytes, photo, invert, None if target == "predicted" else int(target),
                                   layer, lang)
except ValueError as err:
    st.error(str(err))
    st.stop()

a, b = layout.main_figure(early=early).columns([3, 2])
with a:
    name_c = names[result.target_class] if result.target_class < len(names) else str(result.target_class)
    layout.chart(maps.gradcam_figure(seen.display, result.cam.numpy(), alpha=alpha,
                                    title=_("Grad-CAM for “{name}” ({p:.1%}) at {layer}").format(
                                        name=name_c, p=result.probability, layer=layer)), key="gc_cam")
    h, w = result.raw.shape
    st.caption(_("The heat map is computed on {layer}'s {h}×{w} grid and stretched to the {iw}×{ih} input; it is "
                 "scaled so that its hottest point is 1. Input: {note}.").format(
        layer=layer, h=h, w=w, iw=seen.display.shape[1], ih=seen.display.shape[0], note=seen.note))
with b:
    top = 5 if len(names) > 20 else 10
    layout.chart(maps.prediction_figure(prediction, top=top, title=_("Top {top} class probabilities").format(top=top)),
                key="gc_pred")
    if float(result.cam.max()) == 0:
        st.info(_("The heat map is empty: nothing in this layer pushes the score of this class up."))
    st.page_link(str(nav.page("26_where_it_looks.py").path), icon=":material/compare:",
                 label=_("Compare with three other methods and a sanity check"))
