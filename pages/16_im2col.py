"""Convolution lab | im2col | :material/table_rows:

How libraries really compute a convolution: unroll every window into a row (im2col) and do one matrix product.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from cnnviz import ops
from cnnviz.i18n import _
from cnnviz.plots import conv as plots
from dashboard import layout

st.title(_("im2col: a convolution as one matrix product"))
st.caption(_("Copy every window of the input into one row of a matrix (image → columns), put every kernel into one "
           "column of a weight matrix, multiply once. Fast on hardware made for matrix products, but the copies "
           "cost memory."))

c = st.columns(7)
channels = c[0].slider(_("Channels C"), 1, 3, 2, key="ic_c")
size = c[1].slider("H = W", 3, 8, 4, key="ic_size")
kernel = c[2].slider(_("Kernel k"), 1, 4, 2, key="ic_k")
n_kernels = c[3].slider(_("Kernels"), 1, 4, 2, key="ic_o")
stride = c[4].slider(_("Stride"), 1, 3, 1, key="ic_s")
padding = c[5].slider(_("Padding"), 0, 2, 0, key="ic_p")
seed = c[6].number_input(_("Numbers #"), 0, 999, 0, key="ic_seed")

rng = np.random.default_rng(int(seed))
x = rng.integers(0, 10, size=(channels, size, size)).astype(np.float64)
weights = rng.integers(-1, 2, size=(n_kernels, channels, kernel, kernel)).astype(np.float64)
try:
    result = ops.im2col_conv(x, weights, stride=stride, padding=padding)
except ValueError as err:
    st.error(_("Impossible combination: {err}").format(err=err))
    st.stop()

h_out, w_out = result.output.shape[1:]
figure, numbers = layout.figure_first()  # on a projector the matrix product comes first
m = numbers.columns(4)
m[0].metric(_("Max |im2col − F.conv2d|"), f"{result.max_abs_diff:.1e}")
m[1].metric(_("Numbers in the input"), result.input_numbers)
m[2].metric(_("Numbers in the im2col matrix"), result.column_numbers)
m[3].metric(_("Memory cost"), f"{result.memory_ratio:.2f}×")
if result.max_abs_diff == 0:
    numbers.success(_("The matrix product, reshaped to {n_kernels}×{h_out}×{w_out}, equals PyTorch's F.conv2d exactly.").format(n_kernels=n_kernels, h_out=h_out, w_out=w_out))
else:
    numbers.info(_("The matrix product equals F.conv2d up to rounding ({result_max_abs_diff:.1e}).").format(result_max_abs_diff=result.max_abs_diff))
numbers.caption(_("Each of the {h_out_w_out} windows copies C·k·k = {channels}·{kernel}·{kernel} = {channels_kernel_kernel} numbers; neighbouring windows overlap when the stride is smaller than k, so input numbers are copied several times.").format(h_out_w_out=h_out * w_out, channels=channels, kernel=kernel, channels_kernel_kernel=channels * kernel * kernel))

with numbers.expander(_("Input: {channels} channel(s) of {size}×{size}").format(channels=channels, size=size), expanded=True):
    cols = st.columns(channels)
    for i, col in enumerate(cols):
        layout.chart_in(col, plots.matrix_figure(x[i], title=_("channel {i}").format(i=i), signed=False, height=240), key=f"ic_x{i}")

col_labels = [f"c{ch} ({r},{q})" for ch in range(channels) for r in range(kernel) for q in range(kernel)]
row_labels = [f"win ({r},{q})" for r in range(h_out) for q in range(w_out)]
big = result.columns.size > 900
left, mid, right = figure.columns([5, 2, 2])
with left:
    st.markdown(_("**im2col matrix**: {result_columns_shape_0} windows × {result_columns_shape_1} numbers").format(result_columns_shape_0=result.columns.shape[0], result_columns_shape_1=result.columns.shape[1]))
    layout.chart(plots.matrix_figure(result.columns, signed=False, annotate=not big, x_labels=col_labels,
                                        y_labels=row_labels, height=min(700, 80 + 22 * len(row_labels))),
                    key="ic_cols")
with mid:
    st.markdown(_("**× weight matrix** {result_weight_matrix_sha}×{n_kernels}").format(result_weight_matrix_sha=result.weight_matrix.shape[0], n_kernels=n_kernels))
    layout.chart(plots.matrix_figure(result.weight_matrix, x_labels=[f"k{o}" for o in range(n_kernels)],
                                        y_labels=col_labels, height=min(700, 80 + 22 * len(col_labels))),
                    key="ic_w")
with right:
    st.markdown(_("**= product** {len_row_labels}×{n_kernels}").format(len_row_labels=len(row_labels), n_kernels=n_kernels))
    layout.chart(plots.matrix_figure(result.product, x_labels=[f"k{o}" for o in range(n_kernels)],
                                        y_labels=row_labels, height=min(700, 80 + 22 * len(row_labels))),
                    key="ic_prod")

figure.markdown(_("**Reshaped into the output**: column k*o* of the product becomes output channel *o* ({h_out}×{w_out}).").format(h_out=h_out, w_out=w_out))
cols = figure.columns(n_kernels)
for o, col in enumerate(cols):
    layout.chart_in(col, plots.matrix_figure(result.output[o], title=_("output channel {o}").format(o=o), height=240), key=f"ic_out{o}")
