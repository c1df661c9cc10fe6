"""Convolution lab | Output size | :material/straighten:

How big is the output of a convolution or pooling layer? The rule with your numbers, and the window
positions on the padded input grid.
"""

from __future__ import annotations

import streamlit as st

import cnnviz
from cnnviz import arithmetic
from cnnviz.plots import conv as plots

GRID_LIMIT = 40  # padded cells per side we still draw

st.title("Output size of a convolution")
st.caption("A kernel slides over the (padded) input in steps of the stride. How many positions fit is the output size.")

left, right = st.columns([2, 3], gap="large")
with left:
    kind = st.radio("Layer", ["Convolution", "Pooling"], horizontal=True, key="os_kind")
    pooling = kind == "Pooling"
    c1, c2 = st.columns(2)
    height = c1.number_input("Input height H", 1, 1024, 7, key="os_h")
    width = c2.number_input("Input width W", 1, 1024, 7, key="os_w")
    kernel = st.slider("Kernel size k", 1, 11, 2 if pooling else 3, key="os_k")
    stride = st.slider("Stride s", 1, 6, 2 if pooling else 1, key="os_s")
    dilation = 1 if pooling else st.slider("Dilation d", 1, 4, 1, key="os_d",
                                           help="Spreads the kernel's taps apart: a 3×3 kernel with d=2 spans 5×5.")
    pad_mode = st.radio("Padding", ["valid", "same", "custom"], index=1, horizontal=True, key="os_pad_mode",
                        help="valid: no padding. same: (span−1)/2 zeros on each side, keeps the size at stride 1.")
    padding = 0
    if pad_mode == "custom":
        padding = st.slider("Padding p", 0, 6, 1, key="os_p")
    elif pad_mode == "same":
        try:
            padding = arithmetic.same_padding(kernel, dilation=dilation)
        except ValueError as err:
            st.warning(f"{err}. Using padding 0 (valid) instead.")
        if stride > 1:
            st.info(f"'same' gives padding {padding}; with stride {stride} the output is still about H/{stride}.")

    explain = cnnviz.pool_output_size if pooling else cnnviz.conv_output_size
    try:
        explain(height, kernel, stride=stride, padding=padding, dilation=dilation)
        explain(width, kernel, stride=stride, padding=padding, dilation=dilation)
        rows = cnnviz.explain_output_size(height, kernel, stride=stride, padding=padding, dilation=dilation)
        cols = cnnviz.explain_output_size(width, kernel, stride=stride, padding=padding, dilation=dilation)
    except ValueError as err:
        st.error(f"Impossible combination: {err}")
        st.stop()

    st.latex(r"N_{out} = \left\lfloor \frac{N + 2p - d\,(k-1) - 1}{s} \right\rfloor + 1")
    span = rf"{kernel}" if dilation == 1 else rf"{dilation}\cdot({kernel}-1)+1"
    for axis, info in (("H", rows), ("W", cols)):
        st.latex(rf"{axis}_{{out}} = \left\lfloor \frac{{{info.size} + 2\cdot{padding} - {span}}}{{{stride}}} "
                 rf"\right\rfloor + 1 = {info.output}")
    st.markdown(f"Height: `{rows.formula}`  \nWidth: `{cols.formula}`")
    m1, m2, m3 = st.columns(3)
    m1.metric("Output height", rows.output)
    m2.metric("Output width", cols.output)
    m3.metric("Positions", rows.output * cols.output)

    for axis, info in (("rows", rows), ("columns", cols)):
        if info.exact:
            continue
        top = info.size + 2 * padding - info.span
        msg = (f"Along the {axis} the division is not exact: ({info.size} + 2·{padding} − {info.span}) = {top} "
               f"is not a multiple of {stride} (remainder {info.remainder}). ")
        if info.uncovered:
            msg += f"Input {axis} never read by any window (0-based): {', '.join(map(str, info.uncovered))}."
        else:
            msg += "Only padding is skipped at the end; every input cell is still read."
        st.warning(msg)
    for axis, info in (("rows", rows), ("columns", cols)):
        if info.exact and info.uncovered:
            st.info(f"Dilation leaves gaps: input {axis} {', '.join(map(str, info.uncovered))} are never read.")

with right:
    hp, wp = height + 2 * padding, width + 2 * padding
    if max(hp, wp) > GRID_LIMIT:
        st.info(f"The padded input is {hp}×{wp}: too large to draw cell by cell (limit {GRID_LIMIT}). "
                "Make H and W smaller to see the window move.")
        st.stop()
    n_pos = rows.output * cols.output
    if st.session_state.get("os_pos", 1) > n_pos:
        st.session_state["os_pos"] = 1
    playing = st.toggle("Play", key="os_play", help="Move the window by itself, one position at a time.")

    @st.fragment(run_every=0.8 if playing and n_pos > 1 else None)
    def window_view() -> None:
        if playing and n_pos > 1:
            st.session_state["os_pos"] = st.session_state.get("os_pos", 1) % n_pos + 1
        pos = st.slider("Window position", 1, max(n_pos, 2), key="os_pos", disabled=n_pos == 1) if n_pos > 1 else 1
        r, c = divmod(pos - 1, cols.output)
        r_cells = arithmetic.window_cells(r, kernel=kernel, stride=stride, dilation=dilation)
        c_cells = arithmetic.window_cells(c, kernel=kernel, stride=stride, dilation=dilation)
        st.plotly_chart(plots.window_grid(height, width, padding=padding, rows=r_cells, cols=c_cells,
                                          unread_rows=rows.uncovered, unread_cols=cols.uncovered,
                                          title=f"Padded input {hp}×{wp}: window for output cell ({r}, {c})"),
                        key="os_grid")
        ri = [v - padding for v in r_cells]
        ci = [v - padding for v in c_cells]
        st.markdown(f"Output cell **({r}, {c})** reads input rows {ri[0]}…{ri[-1]} and columns {ci[0]}…{ci[-1]}"
                    f"{' (an index below 0 or past the last row/column is a padding zero)' if padding else ''}"
                    f"{f', taking every {dilation}-th cell (dilation)' if dilation > 1 else ''}.")
        st.plotly_chart(plots.window_grid(rows.output, cols.output, rows=[r], cols=[c], cell_px=34,
                                          title=f"Output {rows.output}×{cols.output}"), key="os_out")

    window_view()
    st.caption("Grey: padding (zeros). Blue: input. Orange: the cells this window reads. Red: never read by any window.")
