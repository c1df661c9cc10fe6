"""Convolution lab | Layer stack | :material/stacks:

Stack conv / pool / flatten / linear layers and follow the shape, the parameters and the receptive
field through the network; PyTorch checks every number.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from cnnviz import conv_cost, stack
from cnnviz.i18n import N_, _, pgettext
from cnnviz.plots import conv as plots
from dashboard import layout, nav
from dashboard.lab import STACK_KEY, lab_verify_stack

st.title(_("Layer stack: shapes, parameters, receptive field"))
st.caption(_("Pick a network from the lecture notes or build your own; edit any cell, add or delete rows. "
           "Blank cells take PyTorch's defaults (pool stride = kernel)."))

names = list(stack.PRESETS)
top = st.columns([2, 1, 1, 1])
choice = top[0].selectbox(pgettext("a network of the notes to edit", "Start from"), names, format_func=lambda n: _(stack.PRESETS[n].title), key="ls_preset")
spec0, shape0 = stack.preset(choice)
c = top[1].number_input(_("Input channels C"), 1, 512, shape0[0], key=f"ls_c_{choice}")
h = top[2].number_input(_("Input height H"), 1, 1024, shape0[1], key=f"ls_h_{choice}")
w = top[3].number_input(_("Input width W"), 1, 1024, shape0[2], key=f"ls_w_{choice}")
input_shape = (int(c), int(h), int(w))
st.caption(_(stack.PRESETS[choice].note))

acts = [None, *stack.STACK_ACTIVATIONS]
figure, editor = layout.figure_first()  # on a projector the shapes come first, the editable table under them
edited = editor.data_editor(
    pd.DataFrame(stack.to_table(spec0), columns=list(stack.TABLE_COLUMNS)),
    key=f"ls_table_{choice}", num_rows="dynamic", width="stretch", hide_index=True, placeholder="",
    column_config={
        "type": st.column_config.SelectboxColumn(_("layer type"), options=list(stack.LAYER_TYPES), required=True,
                                                 help=_("conv, pool, flatten, linear or dropout")),
        "out": st.column_config.NumberColumn(_("out channels / features"), min_value=1, step=1),
        "kernel": st.column_config.NumberColumn(_("kernel"), min_value=1, step=1),
        "stride": st.column_config.NumberColumn(_("stride"), min_value=1, step=1),
        "padding": st.column_config.NumberColumn(_("padding"), min_value=0, step=1),
        "dilation": st.column_config.NumberColumn(_("dilation"), min_value=1, step=1),
        "mode": st.column_config.SelectboxColumn(_("pool mode"), options=["max", "avg"]),
        "activation": st.column_config.SelectboxColumn(_("activation"), options=acts[1:]),
        "p": st.column_config.NumberColumn(_("dropout p"), min_value=0.0, max_value=0.99, step=0.1),
    },
)
with figure:
    spec = stack.from_table(edited.to_dict("records"))
    if not spec:
        st.warning(_("The stack is empty: add a row (the + under the table)."))
        st.stop()
    try:
        analysis = stack.analyze_stack(spec, input_shape)
    except ValueError as err:
        st.error(str(err))
        st.stop()

    LAYER, SHAPE, PARAMS, FIELD = _("layer"), _("output shape (C×H×W)"), _("parameters"), _("receptive field")
    rows = [{LAYER: _("input"), SHAPE: " × ".join(map(str, analysis.input_shape)), PARAMS: 0, FIELD: "1 × 1"}]
    for info in analysis.layers:
        rf = _("whole input") if info.receptive_field is None else f"{info.receptive_field} × {info.receptive_field}"
        rows.append({LAYER: f"{info.index + 1}. {info.label}", SHAPE: " × ".join(map(str, info.output_shape)),
                     PARAMS: info.params, FIELD: rf})
    if analysis.problem is not None:
        p = analysis.problem
        rows.append({LAYER: "{n}. {type}  ✖ {what}".format(n=p.index + 1, type=p.type, what=_("impossible")),
                     SHAPE: "—", PARAMS: None, FIELD: "—"})
    layout.table(pd.DataFrame(rows), counts=[PARAMS],
                column_config={PARAMS: st.column_config.NumberColumn(format="localized")})

    m1, m2, m3 = st.columns(3)
    m1.metric(_("Total parameters"), f"{analysis.total_params:,}")
    m2.metric(_("Output shape"), " × ".join(map(str, analysis.output_shape)))
    m3.metric(_("Layers"), len(spec))

    if analysis.problem is not None:
        st.error(str(analysis.problem))
        failure = stack.torch_failure(spec, input_shape)
        if failure is not None and failure[0] == analysis.problem.index:
            st.caption(_("PyTorch fails at the same layer: {message}").format(message=f"`{failure[1]}`"))
        elif failure is not None:
            st.caption(_("PyTorch fails at layer {n}: {message}").format(n=failure[0] + 1, message=f"`{failure[1]}`"))
        else:
            st.caption(_("PyTorch would run this layer, but not as you mean it (e.g. a linear layer on an image acts on "
                       "its last axis only)."))
        st.stop()

    try:
        check = lab_verify_stack(json.dumps(spec), input_shape)
    except ValueError as err:
        st.error(str(err))
        st.stop()
    if check.agrees:
        st.success(_("Verified by PyTorch: nn.Sequential gives the same shape after every layer and {n:,} "
                     "parameters.").format(n=check.total_params), icon=":material/verified:")
    else:
        st.error(_("PyTorch disagrees: {details}").format(details="; ".join(check.mismatches)))

with st.expander(_("Where do the parameters sit?"), expanded=True):
    labels = [f"{i.index + 1}. {i.type}" for i in analysis.layers]
    layout.chart(plots.bars_figure(labels, [i.params for i in analysis.layers], y_title=_("parameters"),
                                  title=_("Parameters per layer"), fmt="{:,}"), key="ls_params")
    heaviest = max(analysis.layers, key=lambda i: i.params)
    share = heaviest.params / analysis.total_params if analysis.total_params else 0.0
    st.markdown(_("In this stack, layer **{n} ({type})** holds the most parameters: {params:,} of {total:,} "
                  "({share:.0%}).").format(n=heaviest.index + 1, type=heaviest.type, params=heaviest.params,
                                           total=analysis.total_params, share=share))
    st.markdown(_("A conv layer has **C_out·(C_in·k·k + 1)** parameters whatever the image size; a linear layer has "
                  "**in·out + out**, so a linear layer right after flatten grows with the size of the image that "
                  "reaches it. Pooling, flatten and dropout have none."))
with st.expander(_("Receptive field")):
    st.latex(r"r_{l} = r_{l-1} + (k_l^{\mathrm{eff}} - 1)\, j_{l-1}, \qquad j_l = j_{l-1}\, s_l, \qquad r_0 = j_0 = 1")
    st.markdown(_("The receptive field is how many input pixels (per side) one output cell of a layer depends on; "
                "*j* is how far apart (in input pixels) neighbouring cells of the layer are. After flatten, every "
                "number depends on the whole input."))

with st.expander(_("Grouped and depthwise convolution: the MobileNet block")):
    st.markdown(_("A plain conv connects every input channel to every output channel. With **groups** g, the channels "
                  "split into g parts that never mix: g times fewer weights. **Depthwise** (g = C_in) gives each "
                  "channel its own k×k filter; a **pointwise** 1×1 conv then mixes the channels. MobileNet replaces "
                  "each plain conv with this pair."))
    inputs = ((N_("Input channels"), 1024, 32, "ls_g_cin"), (N_("Output channels"), 1024, 64, "ls_g_cout"),
              (N_("Kernel k"), 11, 3, "ls_g_k"), (N_("Output size (H = W)"), 512, 56, "ls_g_side"))
    c_in, c_out, k_g, side = (int(column.number_input(_(label), 1, largest, start, key=key))
                              for column, (label, largest, start, key) in zip(st.columns(4), inputs))
    try:
        plain = conv_cost.conv_cost(c_in, c_out, k_g, (side, side))
        depthwise = conv_cost.conv_cost(c_in, c_in, k_g, (side, side), groups=c_in)
        pointwise = conv_cost.conv_cost(c_in, c_out, 1, (side, side))
    except ValueError as err:
        st.error(str(err))
    else:
        KIND, PARAMS, MACS = _("layer"), _("parameters"), _("multiply-adds per image")
        table = pd.DataFrame([
            {KIND: _("plain conv {k}×{k}, {a} → {b}").format(k=k_g, a=c_in, b=c_out), PARAMS: plain.params,
             MACS: plain.macs},
            {KIND: _("depthwise {k}×{k}, groups = {a}").format(k=k_g, a=c_in), PARAMS: depthwise.params,
             MACS: depthwise.macs},
            {KIND: _("pointwise 1×1, {a} → {b}").format(a=c_in, b=c_out), PARAMS: pointwise.params,
             MACS: pointwise.macs},
        ])
        st.dataframe(table, hide_index=True, width="stretch",
                     column_config={PARAMS: st.column_config.NumberColumn(format="localized"),
                                    MACS: st.column_config.NumberColumn(format="localized")})
        pair = depthwise.params + pointwise.params
        st.metric(_("Depthwise + pointwise against the plain conv"),
                  _("{p:.1f}× fewer parameters, {m:.1f}× fewer multiply-adds").format(
                      p=plain.params / pair, m=plain.macs / (depthwise.macs + pointwise.macs)))

with st.expander(_("The spec (for the training studio or your own code)")):
    st.code(f"spec = {json.dumps(spec, indent=1)}\ninput_shape = {input_shape}\n"
            "model = cnnviz.stack.build_stack(spec, input_shape)", language="python")
if st.button(_("Send to training"), icon=":material/send:", key="ls_send"):
    st.session_state[STACK_KEY] = (spec, input_shape)
    st.success(_("Stack sent. Open the **Training studio** page in the sidebar to train it."))
    studio = nav.page("30_training_studio.py")
    st.page_link(str(studio.path), label=_("Open the Training studio"), icon=studio.icon)
