"""Start | Home | :material/home:

The tour of the dashboard and the model zoo of the lecture notes, with Keras-style summaries.
"""

import pandas as pd
import streamlit as st

import cnnviz
from dashboard import nav, state

st.title("cnnviz: see how a CNN works")
st.markdown(
    "A convolutional neural network slides small **filters** over an image, keeps what each filter finds in "
    "**feature maps**, shrinks them with **pooling**, and finally **classifies** with ordinary fully connected layers. "
    "This dashboard lets you see and change every one of those steps. Everything runs on this computer, no network needed."
)

TOUR = {
    "Convolution lab": "Output sizes, padding, stride and dilation; the sliding window step by step; pooling; "
    "activation functions; im2col; classic kernels on a photo.",
    "Inside a CNN": "Upload a photo and see the feature maps of every layer, the filters before and after training, "
    "the prediction and a Grad-CAM heat map.",
    "Training": "Train a network live: loss and accuracy curves, stop and resume, compare runs, look at the "
    "mistakes in a confusion matrix.",
    "Transfer learning": "Reuse a trained backbone: frozen features + new head vs fine-tuning vs training from "
    "scratch, on the same data and budget.",
}
by_section: dict[str, list[nav.PageInfo]] = {}
for page in nav.pages()[1:]:
    by_section.setdefault(page.section, []).append(page)
if by_section:
    for i, (column, (section, pages)) in enumerate(zip(st.columns(len(by_section)), by_section.items()), start=1):
        with column:
            st.markdown(f"#### {i} · {section}")
            if section in TOUR:
                st.markdown(TOUR[section])
            for page in pages:
                st.page_link(str(page.path), label=page.title, icon=page.icon)

st.divider()
st.subheader("The model zoo of the lecture notes")
names = list(cnnviz.ZOO)
name = st.selectbox(
    "Model", names, index=names.index("keras_cifar10"), format_func=lambda n: f"{cnnviz.ZOO[n].title} ({n})"
)
spec = cnnviz.ZOO[name]
st.caption(spec.description)
try:
    summary = state.model_summary(name)
except ValueError as err:
    st.error(str(err))
    st.stop()

cols = st.columns(4)
cols[0].metric("Input (C×H×W)", "×".join(map(str, summary.input_shape)))
cols[1].metric("Total params", f"{summary.total:,}")
cols[2].metric("Trainable params", f"{summary.trainable:,}")
cols[3].metric("Non-trainable params", f"{summary.non_trainable:,}")

table = pd.DataFrame(
    [{"Layer": r.name, "Type": r.kind, "Output shape (H×W×C)": r.keras_shape, "Params": r.params} for r in summary.rows]
)
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    height=min(38 * (len(table) + 1), 560),
    column_config={"Params": st.column_config.NumberColumn(format="localized")},
)
with st.expander("As text, like Keras's model.summary()"):
    st.code(summary.to_text(), language=None)
st.caption(
    "Shapes are written as the notes (Keras) write them: height × width × channels. PyTorch itself orders them "
    "channels × height × width. A conv layer has (k·k·C_in + 1)·C_out parameters; pooling, ReLU and flatten have none."
)
