"""Convolution lab | Sliding window | :material/grid_on:

One output cell of a convolution, multiplied and added by hand: a small editable input and kernel.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from cnnviz import ops
from cnnviz.i18n import _
from cnnviz.plots import conv as plots
from dashboard import layout, widgets

st.title(_("The sliding window, number by number"))
st.caption(_("Each output cell is the sum of the input cells under the kernel, each multiplied by the kernel "
           "number on top of it (then a bias is added). Edit the numbers in the tables below."))

# On a projector all six controls share one row, and the figures come before the editable tables.
compact = layout.presenter()
if compact:  # with the Play switch, and a slider without its label: the figures fit a 720 px screen
    c1, c2, c3, c4, c5, c6, c7 = st.columns([1.2, 1, 1.5, 0.9, 1, 1, 1], vertical_alignment="bottom")
else:
    c1, c2, c3, c4, c5, c6 = [*st.columns(4), *st.columns([1, 1, 2])[:2]]
size = c1.slider(_("Input size (H = W)"), 3, 9, 6, key="sw_size")
pattern = c2.selectbox(_("Example input"), ops.EXAMPLE_PATTERNS, key="sw_pattern",
                       format_func=lambda p: _(ops.PATTERN_LABELS[p]))
CUSTOM = "custom"
kernel_name = c3.selectbox(_("Kernel"), [*ops.KERNELS, CUSTOM], key="sw_kernel",
                           format_func=lambda k: _("Custom (all zeros)") if k == CUSTOM else _(ops.KERNEL_LABELS[k]))
bias = c4.number_input(_("Bias b"), -10.0, 10.0, 0.0, step=1.0, key="sw_bias")
stride = c5.slider(_("Stride"), 1, 3, 1, key="sw_stride")
padding = c6.slider(_("Padding"), 0, 2, 0, key="sw_padding")

start_kernel = ops.KERNELS.get(kernel_name, np.zeros((3, 3)))
figure, tables = layout.figure_first()
e1, e2 = tables.columns([3, 2])
with e1:
    st.markdown(_("**Input** (editable)"))
    grid = st.data_editor(ops.example_grid(size, size, pattern=pattern), key=f"sw_grid_{size}_{pattern}",
                          width="stretch")
with e2:
    st.markdown(_("**Kernel** (editable)"))
    kernel = st.data_editor(np.round(start_kernel, 4), key=f"sw_kern_{kernel_name}", width="stretch")

try:
    x = np.asarray(grid, dtype=np.float64)
    k = np.asarray(kernel, dtype=np.float64)
    out = ops.conv2d(x, k, stride=stride, padding=padding)
except (ValueError, TypeError) as err:
    st.error(_("Cannot convolve these numbers: {err}").format(err=err))
    st.stop()
out = out + bias
h_out, w_out = out.shape
playing = (c7 if compact else figure).toggle(_("Play"), key="sw_play",
                                            help=_("Step through every window position by itself."))


@st.fragment(run_every=1.0 if playing and h_out * w_out > 1 else None)
def window_view() -> None:
    r, c = widgets.output_cell("sw_pos", h_out, w_out, playing=playing, compact=compact)
    win = ops.conv_window(x, k, out_row=r, out_col=c, stride=stride, padding=padding, bias=bias)
    left, mid, right = st.columns([3, 2, 2])
    with left:
        layout.chart(plots.window_grid(size, size, padding=padding, rows=win.rows, cols=win.cols, values=x,
                                          title=_("Input {size}×{size}, padding {padding}").format(size=size, padding=padding),
                                      cell_px=36 if compact else 44),
                        key="sw_in")
    with mid:
        layout.chart(plots.matrix_figure(win.products, title=_("Input × kernel, cell by cell"), height=260),
                        key="sw_prod")
    with right:
        layout.chart(plots.matrix_figure(out, title=_("Output {h_out}×{w_out}").format(h_out=h_out, w_out=w_out), highlight=(r, c),
                                            height=min(420, 60 + 44 * h_out)), key="sw_out")
    st.metric(_("Output cell ({r}, {c})").format(r=r, c=c), f"{win.value:g}")
    st.markdown(_("**Multiply-add:** {win_expression}").format(win_expression=win.expression()))


with figure:
    window_view()
st.info(_("A kernel that matches the pattern under it gives a large number; where the input is flat, edge kernels "
        "give 0. That is what a feature map shows: where the kernel's pattern is in the input."))
