"""Convolution lab | Output size | :material/straighten:

How big is the output of a convolution or pooling layer? The rule with your numbers, and the window
positions on the padded input grid.
"""

from __future__ import annotations

import streamlit as st

import cnnviz
from cnnviz import arithmetic
from cnnviz.i18n import N_, _
from cnnviz.plots import conv as plots
from dashboard import layout, widgets

GRID_LIMIT = 40  # padded cells per side we still draw
KINDS = {"conv": N_("Convolution"), "pool": N_("Pooling"), "transposed": N_("Transposed convolution")}
PAD_MODES = {"valid": N_("valid (none)"), "same": N_("same"), "custom": N_("custom")}

st.title(_("Output size of a convolution"))
st.caption(_("A kernel slides over the (padded) input in steps of the stride. How many positions fit is the output "
             "size."))

left, right = st.columns([2, 3], gap="large")
with left:
    kind = st.radio(_("Layer"), list(KINDS), format_func=lambda k: _(KINDS[k]), horizontal=True, key="os_kind")
    pooling, transposed = kind == "pool", kind == "transposed"
    c1, c2 = st.columns(2)
    height = c1.number_input(_("Input height H"), 1, 1024, 7, key="os_h")
    width = c2.number_input(_("Input width W"), 1, 1024, 7, key="os_w")
    square = st.checkbox(_("Square kernel"), value=True, key="os_square",
                         help=_("A kernel may be taller than it is wide (e.g. 1×7): each axis follows the same rule."))
    if square:
        kernel_h = kernel_w = st.slider(_("Kernel size k"), 1, 11, 2 if pooling else 3, key="os_k")
    else:
        k1, k2 = st.columns(2)
        kernel_h = k1.slider(_("Kernel height"), 1, 11, 3, key="os_kh")
        kernel_w = k2.slider(_("Kernel width"), 1, 11, 5, key="os_kw")
    stride = st.slider(_("Stride s"), 1, 6, 2 if pooling else 1, key="os_s")
    dilation = 1 if pooling else st.slider(
        _("Dilation d"), 1, 4, 1, key="os_d", help=_("Spreads the kernel's taps apart: a 3×3 kernel with d=2 spans 5×5."))
    ceil_mode = pooling and st.checkbox(
        _("ceil_mode (round up)"), key="os_ceil",
        help=_("PyTorch's ceil_mode=True rounds up: a last window may hang off the end, as long as it starts inside "
               "the input or the left padding."))
    output_padding = 0
    if transposed:
        pad_mode = "custom"
        padding = st.slider(_("Padding p"), 0, 6, 0, key="os_tp")
        if max(stride, dilation) > 1:
            output_padding = st.slider(_("Output padding"), 0, max(stride, dilation) - 1, 0, key="os_op",
                                       help=_("Adds cells on one side of the output, to pick among the sizes that "
                                              "the same stride can produce."))
    else:
        pad_mode = st.radio(_("Padding"), list(PAD_MODES), index=1, horizontal=True, key="os_pad_mode",
                            format_func=lambda m: _(PAD_MODES[m]),
                            help=_("valid: no padding. same: zeros around the input so that the output has ⌈N/s⌉ "
                                   "cells (N at stride 1), as in Keras and TensorFlow."))
        padding = st.slider(_("Padding p"), 0, 6, 1, key="os_p") if pad_mode == "custom" else 0

if transposed:
    try:
        out_h = arithmetic.transposed_output_size(height, kernel_h, stride=stride, padding=padding, dilation=dilation,
                                                  output_padding=output_padding)
        out_w = arithmetic.transposed_output_size(width, kernel_w, stride=stride, padding=padding, dilation=dilation,
                                                  output_padding=output_padding)
    except ValueError as err:
        st.error(_("Impossible combination: {reason}").format(reason=err))
        st.stop()
    figure, numbers = layout.figure_first(right)
    with numbers:
        st.latex(r"N_{out} = (N - 1)\cdot s - 2p + d\,(k-1) + \mathit{output\_padding} + 1")
        for axis, n, k, out in (("H", height, kernel_h, out_h), ("W", width, kernel_w, out_w)):
            st.latex(rf"{axis}_{{out}} = ({n} - 1)\cdot {stride} - 2\cdot {padding} + {dilation}\cdot({k}-1) + "
                     rf"{output_padding} + 1 = {out}")
        m1, m2 = st.columns(2)
        m1.metric(_("Output height"), out_h)
        m2.metric(_("Output width"), out_w)
    with figure:
        st.markdown(_("A transposed convolution makes a small map bigger (e.g. in a decoder). The same result as an "
                      "ordinary stride-1 convolution over the input with **s − 1 zeros inserted between its cells** "
                      "and **d·(k − 1) − p zeros around it**, as the convolution-arithmetic paper draws it:"))
        side = (max(height, width) - 1) * stride + 1 + 2 * (dilation * (kernel_h - 1) - padding) + output_padding
        if not square or height != width:
            st.info(_("The drawing shows a square input: make H = W and the kernel square to see it."))
        elif side > GRID_LIMIT or dilation * (kernel_h - 1) < padding:
            st.info(_("This combination is too large to draw cell by cell, or its padding is larger than d·(k−1)."))
        else:
            layout.chart(plots.transposed_grid(height, kernel_h, stride=stride, padding=padding, dilation=dilation,
                                              output_padding=output_padding,
                                              title=_("Input {n}×{n} spread out: output {out}×{out}").format(
                                                  n=height, out=out_h)), key="os_transposed")
            st.caption(_("Blue: the input's cells. Grey: zeros (inserted between the cells and around them). Orange: "
                         "the cells the first output cell's window reads."))
    st.stop()

# Padding per side: (before, after) for the height and for the width
if pad_mode == "same":
    keras_h = arithmetic.same_padding_tf(height, kernel_h, stride=stride, dilation=dilation)
    keras_w = arithmetic.same_padding_tf(width, kernel_w, stride=stride, dilation=dilation)
    pads_h, pads_w = keras_h, keras_w
    if pooling:  # PyTorch pools with equal padding of at most k // 2 on both sides
        pads_h = (min(max(keras_h), kernel_h // 2),) * 2
        pads_w = (min(max(keras_w), kernel_w // 2),) * 2
else:
    pads_h = pads_w = (padding, padding)

try:
    if pooling:
        rows = arithmetic.explain_pool_output_size(height, kernel_h, stride=stride, padding=pads_h[0],
                                                   ceil_mode=ceil_mode)
        cols = arithmetic.explain_pool_output_size(width, kernel_w, stride=stride, padding=pads_w[0],
                                                   ceil_mode=ceil_mode)
    else:
        rows = cnnviz.explain_output_size(height, kernel_h, stride=stride, padding=pads_h[0], padding_after=pads_h[1],
                                          dilation=dilation)
        cols = cnnviz.explain_output_size(width, kernel_w, stride=stride, padding=pads_w[0], padding_after=pads_w[1],
                                          dilation=dilation)
except ValueError as err:
    st.error(_("Impossible combination: {reason}").format(reason=err))
    st.stop()
out_h, out_w = rows.output, cols.output
axis_names = {"rows": _("rows"), "columns": _("columns"), "rows and columns": _("rows and columns")}

figure, numbers = layout.figure_first(right)
with numbers:
    if ceil_mode:
        st.latex(r"N_{out} = \left\lceil \frac{N + 2p - d\,(k-1) - 1}{s} \right\rceil + 1")
    else:
        st.latex(r"N_{out} = \left\lfloor \frac{N + 2p - d\,(k-1) - 1}{s} \right\rfloor + 1")
    for axis, info in (("H", rows), ("W", cols)):
        st.latex(rf"{axis}_{{out}} = " + info.latex)
    m1, m2, m3 = st.columns(3)
    m1.metric(_("Output height"), out_h)
    m2.metric(_("Output width"), out_w)
    m3.metric(_("Window positions"), out_h * out_w)

    if pad_mode == "same":
        uneven = [(name, p) for name, p in ((_("top / bottom"), pads_h), (_("left / right"), pads_w)) if p[0] != p[1]]
        if uneven:
            st.info(_("'same' needs {total} zeros here, an odd number: Keras and TensorFlow (and PyTorch's "
                      "padding='same') put the extra zero after the input, on the right and at the bottom.").format(
                total=sum(uneven[0][1])) + " " + " · ".join(
                _("{where}: {before} and {after}").format(where=name, before=p[0], after=p[1]) for name, p in uneven))
        else:
            st.caption(_("'same' pads the input with zeros: {ph} at the top and at the bottom, {pw} on the left and on "
                         "the right.").format(ph=pads_h[0], pw=pads_w[0]))
        if pooling and (pads_h, pads_w) != (keras_h, keras_w):
            st.info(_("PyTorch's pooling pads both sides equally, at most k // 2 cells: {ph} at the top and bottom, "
                      "{pw} on the left and right. Keras's 'same' would pad {kt} and {kb}, {kl} and {kr}, so here the "
                      "output has {h}×{w} cells, not ⌈N/s⌉ = {ch}×{cw}.").format(
                ph=pads_h[0], pw=pads_w[0], kt=keras_h[0], kb=keras_h[1], kl=keras_w[0], kr=keras_w[1], h=out_h,
                w=out_w, ch=-(-height // stride), cw=-(-width // stride)))

    same_axes = (height, kernel_h, pads_h) == (width, kernel_w, pads_w)  # one sentence says it for both axes
    for axis, info in (("rows and columns", rows),) if same_axes else (("rows", rows), ("columns", cols)):
        where = axis_names[axis]
        if info.overhang:
            start = (info.output - 1) * info.stride - info.padding
            st.info(_("ceil_mode rounds up along the {axis}: the last window starts at index {start} and hangs {n} "
                      "cells past the end of the padded input. PyTorch keeps it because it starts inside the input or "
                      "the left padding; the cells past the end are left out of the max or the average.").format(
                axis=where, start=start, n=info.overhang))
        elif info.dropped:
            st.info(_("ceil_mode would round up to {n} windows along the {axis}, but the last one would start in the "
                      "right padding, reading no input cell: PyTorch drops it, so {out} remain.").format(
                n=info.rounded, axis=where, out=info.output))
        cells = arithmetic.describe_ranges(info)
        if not info.exact and not info.overhang:
            top = info.padded - info.span
            msg = _("Along the {axis} the division is not exact: {top} is not a multiple of the stride {s} "
                    "(remainder {r}).").format(axis=where, top=top, s=stride, r=info.remainder)
            if info.unread_count:
                msg += " " + _("Input {axis} never read by any window (counting from 0): {cells}.").format(
                    axis=where, cells=cells)
            else:
                msg += " " + _("Only padding is skipped at the end; every input cell is still read.")
            st.warning(msg)
        elif info.unread_count:
            st.info(_("The window skips cells: input {axis} {cells} are never read.").format(axis=where, cells=cells))

with figure:
    hp, wp = height + sum(pads_h), width + sum(pads_w)
    if max(hp + rows.overhang, wp + cols.overhang) > GRID_LIMIT:
        st.info(_("The padded input is {h}×{w}: too large to draw cell by cell (at most {limit}). Make H and W "
                  "smaller to see the window move.").format(h=hp, w=wp, limit=GRID_LIMIT))
        st.stop()
    playing = st.toggle(_("Play"), key="os_play", help=_("Move the window by itself, one position at a time."))
    compact = layout.presenter()  # on a projector: the slider without its label and smaller cells, so the grid fits

    @st.fragment(run_every=0.8 if playing and out_h * out_w > 1 else None)
    def window_view() -> None:
        r, c = widgets.output_cell("os_pos", out_h, out_w, playing=playing, compact=compact)
        r_cells = arithmetic.window_cells(r, kernel=kernel_h, stride=stride, dilation=dilation)
        c_cells = arithmetic.window_cells(c, kernel=kernel_w, stride=stride, dilation=dilation)
        layout.chart(plots.window_grid(height, width, padding=(*pads_h, *pads_w), rows=r_cells, cols=c_cells,
                                      unread_rows=rows.uncovered, unread_cols=cols.uncovered,
                                      beyond=(rows.overhang, cols.overhang), cell_px=34 if compact else 40,
                                      title=_("Padded input {h}×{w}: the window of output cell ({r}, {c})").format(
                                          h=hp, w=wp, r=r, c=c)), key="os_grid")
        ri = [v - pads_h[0] for v in r_cells]
        ci = [v - pads_w[0] for v in c_cells]
        text = _("Output cell **({r}, {c})** reads input rows {r0}…{r1} and columns {c0}…{c1}.").format(
            r=r, c=c, r0=ri[0], r1=ri[-1], c0=ci[0], c1=ci[-1])
        if pooling and max(pads_h + pads_w + (rows.overhang, cols.overhang)):
            text += " " + _("An index below 0 or past the last row or column is not part of the input: max pooling "
                            "never picks it, and average pooling counts padding as zeros.")
        elif max(pads_h + pads_w):
            text += " " + _("An index below 0 or past the last row or column is a padding zero.")
        if dilation > 1:
            text += " " + _("With dilation {d} the window reads one cell, then skips {skip}.").format(
                d=dilation, skip=dilation - 1)
        st.markdown(text)
        layout.chart(plots.window_grid(out_h, out_w, rows=[r], cols=[c], cell_px=34,
                                      title=_("Output {h}×{w}").format(h=out_h, w=out_w)), key="os_out")

    window_view()
    st.caption(_("Grey: padding (zeros). Blue: input. Orange: the cells this window reads. Red: never read by any "
                 "window."))
    if rows.overhang or cols.overhang:
        st.caption(_("Pale: past the end of the padded input, where ceil_mode's last window hangs off."))
