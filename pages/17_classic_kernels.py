"""Convolution lab | Classic kernels | :material/photo_filter:

Hand-made kernels (Sobel, Laplacian, blur, sharpen, your own) on a photo, channel by channel.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

import cnnviz
from cnnviz import ops
from cnnviz.i18n import _
from cnnviz.plots import conv as plots
from dashboard import layout, widgets

st.title(_("Classic kernels on a photo"))
st.caption(_("Before CNNs learned their kernels, people designed them by hand. A CNN's first layer learns kernels "
           "much like these."))

photo = widgets.lab_photo_input("ck", max_side=256, sides=[64, 128, 192, 256, 384])

k1, k2, k3 = st.columns([2, 1, 1])
name = k1.selectbox(_("Kernel"), [*ops.KERNELS, "Custom"], key="ck_kernel",
                    format_func=lambda k: _("Custom") if k == "Custom" else _(ops.KERNEL_LABELS[k]))
stride = k2.slider(_("Stride"), 1, 8, 1, key="ck_stride")
padding = k3.slider(_("Padding"), 0, 4, 0, key="ck_padding")
start = ops.KERNELS.get(name, np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=float))
figure, details = layout.figure_first()  # on a projector the photo and its result come before the kernel's numbers
e1, e2 = details.columns([1, 2])
with e1:
    st.markdown(_("**Kernel** (editable)"))
    kernel = st.data_editor(np.round(start, 4), key=f"ck_edit_{name}", width="stretch")
with e2:
    try:
        kernel = np.asarray(kernel, dtype=np.float64)
        result = ops.apply_kernel(photo, kernel, stride=stride, padding=padding)
    except (ValueError, TypeError) as err:
        st.error(_("Cannot apply this kernel: {err}").format(err=err))
        st.stop()
    rows = cnnviz.explain_output_size(photo.shape[1], kernel.shape[0], stride=stride, padding=padding)
    cols = cnnviz.explain_output_size(photo.shape[2], kernel.shape[0], stride=stride, padding=padding)
    m1, m2 = st.columns(2)
    m1.metric(_("Input"), " × ".join(map(str, photo.shape)))
    m2.metric(_("Output"), f"{rows.output} × {cols.output}")
    st.markdown(_("Height: {formula_h}").format(formula_h=f"`{rows.formula}`") + "  \n" +
                _("Width: {formula_w}").format(formula_w=f"`{cols.formula}`"))
    st.caption(_("Mid-grey in the results means 0, white the largest positive, black the most negative value."))

scale = 300 / photo.shape[1]  # same pixels per cell for input and outputs: the size change is visible


def height(h: int) -> int:
    return int(max(80, h * scale)) + 40


out_h = result.total.shape[0]
left, right = figure.columns(2)
layout.chart_in(left, plots.image_figure(photo, title=_("Input {photo_shape_1}×{photo_shape_2}").format(photo_shape_1=photo.shape[1], photo_shape_2=photo.shape[2]),
                                     height=height(photo.shape[1])), key="ck_in")
layout.chart_in(right, plots.image_figure(result.total, signed=True, title=_("Output {out_h}×{result_total_shape_1}").format(out_h=out_h, result_total_shape_1=result.total.shape[1]),
                                      height=height(out_h)), key="ck_total")

if photo.shape[0] == 3:
    st.subheader(_("A filter has as many channels as its input"))
    st.markdown(_("On a colour photo a 3×3 filter is really **3×3×3**: one 3×3 slice per channel. Each slice "
                "convolves its own channel, and the three results are **added** into one feature map (plus a bias)."))
    st.latex(r"y = \sum_{c \in \{R,G,B\}} x_c * w_c + b")
    cols_ = st.columns(4)
    for i, (col, ch) in enumerate(zip(cols_, "RGB")):
        layout.chart_in(col, plots.image_figure(result.per_channel[i], signed=True, title=_("{ch} channel * kernel").format(ch=ch),
                                            height=height(out_h) // 2 + 60), key=f"ck_ch{i}")
    layout.chart_in(cols_[3], plots.image_figure(result.total, signed=True, title=_("sum = the filter's output"),
                                             height=height(out_h) // 2 + 60), key="ck_sum")
