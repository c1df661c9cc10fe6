"""Start | Home | :material/home:

The tour of the dashboard and the model zoo of the lecture notes, with Keras-style summaries.
"""

import pandas as pd
import streamlit as st

import cnnviz
from cnnviz.i18n import N_, _
from dashboard import layout, nav
from dashboard.data import model_summary

st.title(_("cnnviz: see how a CNN works"))
# On a projector the tour comes first and shows only the pages to click (the teacher says what each section is); the
# introduction follows it.
early = layout.early_figure()
st.markdown(_(
    "A convolutional neural network slides small **filters** over an image, keeps what each filter finds in "
    "**feature maps**, shrinks them with **pooling**, and finally **classifies** with ordinary fully connected "
    "layers. This dashboard lets you see and change every one of those steps. Everything runs on this computer, no "
    "network needed."
))

TOUR = {
    nav.CONV_LAB: N_("Output sizes, padding, stride and dilation; the sliding window step by step; pooling; "
                     "activation functions; im2col; classic kernels on a photo."),
    nav.INSIDE: N_("Upload a photo and see the feature maps of every layer, the filters before and after training, "
                   "the prediction and a Grad-CAM heat map."),
    nav.TRAINING: N_("Train a network live: loss and accuracy curves, stop and resume, compare runs, look at the "
                     "mistakes in a confusion matrix."),
    nav.TRANSFER: N_("Reuse a trained backbone: frozen features + new head vs fine-tuning vs training from scratch, "
                     "on the same data and budget."),
}
by_section: dict[str, list[nav.PageInfo]] = {}
for page in nav.pages()[1:]:
    by_section.setdefault(page.section_id, []).append(page)
if by_section:
    columns = layout.main_figure(early=early).columns(len(by_section))
    for i, (column, (section, pages)) in enumerate(zip(columns, by_section.items()), start=1):
        with column:
            st.markdown(f"#### {i} · {_(section)}")
            # a section of one page (the Class) is described by that page's own summary
            text = _(TOUR[section]) if section in TOUR else pages[0].summary if len(pages) == 1 else None
            if text and not early:
                st.markdown(text)
            for page in pages:
                st.page_link(str(page.path), label=page.title, icon=page.icon)

st.divider()
st.subheader(_("The model zoo of the lecture notes"))
names = list(cnnviz.ZOO)
name = st.selectbox(
    _("Model"), names, index=names.index("keras_cifar10"),
    format_func=lambda n: "{title} ({name})".format(title=_(cnnviz.ZOO[n].title), name=n),
)
spec = cnnviz.ZOO[name]
st.caption(_(spec.description))
try:
    summary = model_summary(name)
except ValueError as err:
    st.error(str(err))
    st.stop()

cols = st.columns(4)
cols[0].metric(_("Input (C×H×W)"), "×".join(map(str, summary.input_shape)))
cols[1].metric(_("Total params"), f"{summary.total:,}")
cols[2].metric(_("Trainable params"), f"{summary.trainable:,}")
cols[3].metric(_("Non-trainable params"), f"{summary.non_trainable:,}")

LAYER, TYPE, SHAPE, PARAMS = _("Layer"), _("Type"), _("Output shape (Keras: H×W×C)"), _("Params")
table = pd.DataFrame(
    [{LAYER: r.name, TYPE: r.kind, SHAPE: r.keras_shape, PARAMS: r.params} for r in summary.rows]
)
# all rows and nothing more, or a scrolling table
layout.table(table, counts=[PARAMS], height="content" if len(table) <= 14 else 560)
with st.expander(_("As text, like Keras's model.summary()")):
    st.code(summary.to_text(), language=None)
st.caption(_(
    "This table is the lecture notes' Keras summary, so shapes are written as Keras writes them: height × width × "
    "channels. Everywhere else the dashboard writes PyTorch's order, channels × height × width (C×H×W). A conv "
    "layer has (k·k·C_in + 1)·C_out parameters; pooling, ReLU and flatten have none."
))
