"""Training | Feature space | :material/scatter_plot:

What the network's last layer sees: the features of 2,000 test images projected to 2-D (PCA or t-SNE), coloured by
class, before training and after, and epoch by epoch as the clusters form. Click a point to see its image and open
it on Feature maps.
"""

from __future__ import annotations

import os

import streamlit as st

import cnnviz
from cnnviz import projection
from cnnviz.data import class_label
from cnnviz.i18n import _
from cnnviz.plots import projection as proj_plots
from cnnviz.training import rundir
from dashboard import curves, layout, links, nav
from dashboard.training import feature_space, test_image_png

st.title(_("The learned feature space"))
with layout.explanation(_("What is shown?")):
    st.markdown(_(
        "Each dot is a test image, placed by what the network's last layer receives from it: the features it has "
        "learned to compute (one vector per image, e.g. 128 numbers). The vectors are projected to two dimensions. "
        "**PCA** turns them so the two directions of largest spread lie in the screen (distances are kept along "
        "them); **t-SNE** keeps neighbours together (clusters mean something, distances between them little). "
        "Before training the classes overlap; after it they form clusters."))

sources = {k: s for k, s in curves.run_sources().items()
           if s.checkpoints and (s.dataset in cnnviz.DATASETS or os.path.isdir(s.dataset))}
if not sources:
    st.info(_("No trained network yet: train one in the **Training studio** first."))
    st.stop()
early = layout.early_figure()  # on a projector the projection comes first, the run and its settings under it
c1, c2, c3 = st.columns([4, 2, 2])
source = curves.pick_run(sources, key="fs.run", where=c1)
method = c2.radio(_("Projection"), list(projection.METHODS), key="fs.method", horizontal=True,
                  format_func=lambda m: _(projection.METHODS[m]),
                  help=_("PCA takes a second; t-SNE about ten to twenty on this computer, once per checkpoint."))
mode = c3.radio(_("Show"), ["pair", "epoch"], key="fs.mode", horizontal=True,
                format_func={"pair": _("before and after"), "epoch": _("epoch by epoch")}.get)
epochs = {rundir.epoch_number(p): p for p in source.checkpoints}


def project(epoch: int):
    path = epochs[epoch]
    try:
        return feature_space(path, os.path.getmtime(path), source.dataset, source.input_shape, source.seed, method,
                             source.folder is not None)
    except (ValueError, OSError, cnnviz.DatasetUnavailable) as err:
        st.error(_("Cannot project this checkpoint: {err}").format(err=err))
        st.stop()


def scatter(where, epoch: int, key: str) -> None:
    result = project(epoch)
    names = [class_label(c) for c in result.classes]
    title = _("After epoch {epoch}: test accuracy {acc:.0%}").format(epoch=epoch, acc=result.accuracy) if epoch else \
        _("Before training: test accuracy {acc:.0%}").format(acc=result.accuracy)
    fig = proj_plots.projection_figure(result, names, title=title, highlight=st.session_state.get("fs.picked"))
    if layout.presenter():  # the legend below the presenter's larger tick labels and axis title, not over them
        fig.update_layout(legend_y=-0.27)
    event = layout.chart_in(where, fig, key=key, on_select="rerun", selection_mode="points")
    points = event.selection.points if event else []
    if points and points[0].get("point_index") is not None:
        picked = proj_plots.projection_point(result, int(points[0]["curve_number"]), int(points[0]["point_index"]))
        if picked is not None and picked != st.session_state.get("fs.picked"):
            st.session_state["fs.picked"], st.session_state["fs.picked_epoch"] = picked, epoch
            st.rerun()


figure_box = layout.main_figure(early=early)
if mode == "pair" and len(epochs) >= 2:
    left, right = figure_box.columns(2)
    scatter(left, min(epochs), "fs.before")
    scatter(right, max(epochs), "fs.after")
    shown_epoch = max(epochs)
else:
    if len(epochs) < 2 and source.under_way:
        st.caption(_("This run has one checkpoint so far: the comparison appears after its first epoch."))
    elif len(epochs) < 2:
        st.caption(_("This run kept only one checkpoint: there is no other to compare it with."))
    shown_epoch = st.select_slider(_("After epoch"), list(epochs), value=max(epochs), key="fs.epoch",
                                   help=_("Epoch 0 is the untrained network. Each checkpoint is projected once."))
    scatter(figure_box, shown_epoch, "fs.one")
st.caption(_("Colour: the true class. An open circle: an image the network gets wrong. Hover a dot for its number; "
             "click it to see the image here."))

picked = st.session_state.get("fs.picked")
if picked is not None:
    epoch = st.session_state.get("fs.picked_epoch", shown_epoch)
    epoch = epoch if epoch in epochs else shown_epoch
    result = project(epoch)
    hit = [i for i, v in enumerate(result.indices) if v == picked]
    if hit and source.dataset in cnnviz.DATASETS:
        i = hit[0]
        a, b = st.columns([1, 3])
        a.image(test_image_png(source.dataset, int(picked)), width=112)
        names = [class_label(c) for c in result.classes]
        b.markdown(_("**Test image #{number}**: {true}; the network after epoch {epoch} says {pred}.").format(
            number=picked, true=names[int(result.labels[i])], epoch=epoch, pred=names[int(result.predicted[i])]))
        fm = nav.page("20_feature_maps.py")
        b.page_link(str(fm.path), label=_("Open it on Feature maps"), icon=fm.icon,
                    query_params=links.feature_maps_query(source.dataset, int(picked),
                                                          None if source.folder is None else source.folder.name,
                                                          epochs[epoch]))

layout.reading_notes(
    _("How to read the feature space"),
    _("- **Before training** the features are random mixtures of the pixels: classes overlap (similar-looking "
      "images still land near each other).\n"
      "- **After training** each class gathers in its own region; the open circles (mistakes) sit where two classes "
      "meet, e.g. shirts among T-shirts and pullovers.\n"
      "- The last layer draws straight boundaries between these regions: well separated clusters are what makes the "
      "classes easy to tell apart."))
