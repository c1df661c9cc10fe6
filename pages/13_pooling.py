"""Convolution lab | Pooling | :material/filter_center_focus:

Max vs average pooling on a small grid and on a photo; shifting the input by a pixel; no parameters.
"""

from __future__ import annotations

import streamlit as st

from cnnviz import ops
from cnnviz.i18n import N_, _, pgettext
from cnnviz.plots import conv as plots
from dashboard import layout, widgets

MAX_SIDE = 256

st.title(_("Pooling: max vs average"))
st.caption(_("Pooling slides a window like a convolution, but has no weights: it keeps the largest number (max) or "
           "the mean (average) of each window, channel by channel."))

c1, c2, c3, c4 = st.columns(4)
size = c1.slider(_("Grid size"), 4, 10, 6, key="pl_size")
kernel = c2.slider(_("Pool size k"), 2, 4, 2, key="pl_k")
stride = c3.slider(_("Stride"), 1, 4, 2, key="pl_s")
seed = c4.number_input(_("Random grid #"), 0, 999, 0, key="pl_seed")
grid = ops.example_grid(size, size, pattern="random digits", seed=int(seed))
try:
    pmax = ops.pool2d(grid, mode="max", kernel=kernel, stride=stride)
    pavg = ops.pool2d(grid, mode="avg", kernel=kernel, stride=stride)
except ValueError as err:
    st.error(_("Impossible pooling: {err}").format(err=err))
    st.stop()
a, b, c = layout.main_figure().columns(3)
# One colour scale for the whole row (pooled values lie within the input's range), with its colour bar at the end:
# the same colour means the same number in the input, the max pool and the average pool.
row_range = (float(grid.min()), float(grid.max()))
with a:
    layout.chart(plots.matrix_figure(grid, title=_("Input {n}×{n}").format(n=size), signed=False, height=330,
                                    zrange=row_range), key="pl_in")
with b:
    layout.chart(plots.matrix_figure(pmax, title=_("Max pool → {h}×{w}").format(h=pmax.shape[0], w=pmax.shape[1]),
                                    signed=False, height=330, zrange=row_range), key="pl_max")
with c:
    layout.chart(plots.matrix_figure(pavg, title=_("Average pool → {h}×{w}").format(h=pavg.shape[0], w=pavg.shape[1]),
                                    signed=False, height=330, zrange=row_range, colorbar=True), key="pl_avg")
m1, m2, m3 = st.columns(3)
m1.metric(_("Output size"), f"{pmax.shape[0]} × {pmax.shape[1]}")
m2.metric(_("Parameters"), 0, help=_("Nothing to learn: max and mean are fixed rules."))
m3.metric(_("Top-left max / average"), f"{pmax[0, 0]:g} / {pavg[0, 0]:.2f}")

st.subheader(_("Shift the input by one pixel"))
SHIFTS = {"right": pgettext("direction", "right"), "down": pgettext("direction", "down")}
SHIFTED = {"right": N_("Input shifted right by 1"), "down": N_("Input shifted down by 1")}
direction = st.radio(pgettext("which way to move the input", "Shift"), list(SHIFTS), horizontal=True, key="pl_dir",
                     format_func=SHIFTS.get)
dx, dy = (1, 0) if direction == "right" else (0, 1)
test = ops.shift_test(grid, dx=dx, dy=dy, kernel=kernel, stride=stride)
a, b, c = st.columns(3)
with a:
    layout.chart(plots.matrix_figure(test.shifted, title=_(SHIFTED[direction]), signed=False, height=330,
                                    zrange=row_range), key="pl_shift_in")
with b:
    layout.chart(plots.matrix_figure(test.max_after, title=_("Max pool of the shifted input"), signed=False,
                                    height=330, zrange=row_range), key="pl_shift_max")
with c:
    layout.chart(plots.matrix_figure(test.avg_after, title=_("Average pool of the shifted input"), signed=False,
                                    height=330, zrange=row_range, colorbar=True), key="pl_shift_avg")
m1, m2 = st.columns(2)
m1.metric(_("Max-pool outputs unchanged"), f"{test.max_unchanged:.0%}")
m2.metric(_("Average-pool outputs unchanged"), f"{test.avg_unchanged:.0%}")
st.caption(_("The largest number of a window often stays inside the window after a small shift, so max pooling "
           "gives a little tolerance to where exactly a feature is (a little translation invariance)."))

st.subheader(_("On a photo"))
photo = widgets.lab_photo_input("pl", max_side=MAX_SIDE)
big_k = st.slider(_("Photo pool size (stride = size)"), 2, 16, 4, key="pl_photo_k")
try:
    pmax_img = ops.pool2d(photo, mode="max", kernel=big_k)
    pavg_img = ops.pool2d(photo, mode="avg", kernel=big_k)
except ValueError as err:
    st.error(_("Impossible pooling on this photo: {err}").format(err=err))
    st.stop()


def shape(a) -> str:
    return " × ".join(map(str, a.shape))


a, b, c = st.columns(3)
with a:
    layout.chart(plots.image_figure(photo, title=_("Photo {shape}").format(shape=shape(photo))), key="pl_photo")
with b:
    layout.chart(plots.image_figure(pmax_img, title=_("Max pool → {shape}").format(shape=shape(pmax_img))),
                key="pl_photo_max")
with c:
    layout.chart(plots.image_figure(pavg_img, title=_("Average pool → {shape}").format(shape=shape(pavg_img))),
                key="pl_photo_avg")
photo_test = ops.shift_test(photo, dx=1, kernel=big_k)
m1, m2, m3 = st.columns(3)
m1.metric(_("Channels in → out"), f"{photo.shape[0]} → {pmax_img.shape[0]}")
m2.metric(_("Max pool unchanged after a 1-pixel shift"), f"{photo_test.max_unchanged:.0%}")
m3.metric(_("Average pool unchanged after a 1-pixel shift"), f"{photo_test.avg_unchanged:.0%}")
st.caption(_("Max pooling keeps bright details (edges, highlights); average pooling blurs. Both keep the channel "
           "count and cut each side by the pool size."))
