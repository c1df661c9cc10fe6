"""Inside a CNN | Where it looks, four ways | :material/compare:

Grad-CAM, plain gradients (saliency), Integrated Gradients and occlusion side by side for the same image and class,
what each measures and when they disagree, and a sanity check from the literature (randomize the last layer).
"""

import pandas as pd
import streamlit as st

import cnnviz
from cnnviz import attribution, i18n
from cnnviz.i18n import _
from cnnviz.plots import attribution as attr_plots
from dashboard import layout, widgets
from dashboard.inside import inside_attributions, inside_model_or_stop, inside_photo_view, inside_sanity_check

st.title(_("Where does it look? Four answers"))
presenting = layout.presenter()
with layout.explanation(_("Why four?")):
    st.markdown(_(
        "Grad-CAM is one answer to *where did the model look*. The libraries offer more, and they do not always "
        "agree, because they measure different things. Here are four for the same image and the same class, "
        "and a test from the literature that tells a real explanation from a picture that only looks like one."))

inputs = st.expander(_("The image and the model"), expanded=False) if presenting else st.container()
left, right = inputs.columns(2)
with left:
    photo = widgets.photo_bytes(key="wl_photo")
with right:
    kind, name, ckpt_bytes = widgets.model_choice(default=st.query_params.get("model"))  # a link may name it
model, card = inside_model_or_stop(kind, name, ckpt_bytes)
with right:
    if not card.trained:
        st.warning(_("This model is **untrained**: its heat maps are as random as its weights."))
    invert = card.input_shape[0] == 1 and st.checkbox(
        _("Invert brightness"), key="wl_invert", help=_("Fashion-MNIST's clothes are light on a black background."))

lang = i18n.get_language()
try:
    seen, _shown, prediction = inside_photo_view(kind, name, ckpt_bytes, photo, invert, False, 256, lang)
except cnnviz.ImageError as err:
    st.error(_("That file cannot be used: {err}").format(err=err))
    st.stop()
except ValueError as err:
    st.error(str(err))
    st.stop()
names = prediction.classes
order = sorted(range(len(names)), key=lambda i: -prediction.probs[i])
target = st.selectbox(_("Class to explain"), ["predicted", *order[:20]], key="wl_target",
                      format_func=lambda i: (_("predicted: {name}").format(name=names[prediction.best])
                                             if i == "predicted" else f"{names[i]} ({prediction.probs[i]:.1%})"))
target = None if target == "predicted" else int(target)
big = max(card.input_shape[1:]) > 64
asked = ("wl_maps", kind, name, photo, invert, target)
if big and st.session_state.get("wl_maps_for") != asked:  # an ImageNet network: dozens of passes, so on request
    st.info(_("For this network the four maps take about {s} seconds on a 2-core computer (Integrated Gradients "
              "and occlusion run it dozens of times); they are computed once for everyone.").format(s=30))
    if st.button(_("Compute the four maps"), type="primary", key="wl_maps_button"):
        st.session_state["wl_maps_for"] = asked
        st.rerun()
    st.stop()
with st.spinner(_("Computing the four maps (about {s} seconds for this network) …").format(s=30 if big else 2)):
    try:
        result = inside_attributions(kind, name, ckpt_bytes, photo, invert, target, lang)
    except ValueError as err:
        st.error(str(err))
        st.stop()

cls = names[result.target] if result.target < len(names) else str(result.target)
with layout.main_figure():
    layout.chart(attr_plots.attribution_figure(seen.display, result, title=_(
        "Where the model looks for “{name}” ({p:.1%}), four ways").format(name=cls, p=result.probability)),
        key="wl_maps")
columns = st.columns(len(result.maps))
for box, m in zip(columns, result.maps):
    box.markdown(f"**{_(attribution.METHOD_TITLES[m.method])}**")
    box.caption(_(attribution.METHOD_NOTES[m.method]))

st.subheader(_("When they disagree"))
agree = result.agreement()
titles = [_(attribution.METHOD_TITLES[m.method]) for m in result.maps]
table = pd.DataFrame(agree.round(2), columns=titles)
table.insert(0, _("method"), titles)
layout.table(table)
st.markdown(_(
    "Each number is the rank correlation (Spearman) of two maps: 1 when they order the pixels the same way, 0 when "
    "they are unrelated. Saliency and Integrated Gradients score pixels, Grad-CAM and occlusion score regions, so "
    "the two pairs often agree with each other more than across. When the gradient maps light up edges everywhere "
    "while occlusion finds one region, the gradient is saturated (the model is sure, a small change does nothing): "
    "trust occlusion for *where*, and the check below for *whether the map depends on the model at all*."))

st.subheader(_("A sanity check: randomize the last layer"))
st.markdown(_(
    "Adebayo et al. (2018) proposed a test: replace the weights of the model's last layer with random numbers and "
    "compute the maps again. A map that explains the model must change, because the model did. A method that "
    "only finds edges in the image gives the same picture for any weights. The number is the rank correlation "
    "between the map before and after: near 1 means the map did **not** depend on what the layer learned."))
key = ("wl_sanity", kind, name, photo, invert, target)
if st.session_state.get("wl_sanity_for") != key:
    if st.button(_("Randomize the last layer and compare"), key="wl_sanity_button", type="primary"):
        st.session_state["wl_sanity_for"] = key
        st.rerun()
else:
    with st.spinner(_("Computing the maps again with random weights …")):
        check = inside_sanity_check(kind, name, ckpt_bytes, photo, invert, target, lang)
    cols = st.columns(len(check.similarity) + 1)
    for box, (method, rho) in zip(cols, check.similarity.items()):
        box.metric(_(attribution.METHOD_TITLES[method]), f"{rho:.2f}",
                   help=_("Rank correlation of the map before and after the weights of {layer} were "
                          "randomized.").format(layer=check.layer))
    cols[-1].metric(_("Edge detector (control)"), f"{check.edges:.2f}",
                    help=_("Sobel edges of the image: they never look at the model."))
    layout.chart(attr_plots.sanity_figure(seen.display, check), key="wl_sanity_fig")
    changed = [_(attribution.METHOD_TITLES[m]) for m, r in check.similarity.items() if r < 0.5]
    st.caption(_("Randomized layer: {layer}. Maps that changed (ρ below 0.5): {names}. The edge detector stays at "
                 "1.00 whatever the weights.").format(layer=check.layer, names=", ".join(changed) or _("none")))
