"""Convolution lab | Activation functions | :material/show_chart:

Sigmoid, tanh, ReLU, leaky ReLU and ELU with their derivatives, and why deep sigmoid networks stop learning.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from cnnviz import ops
from cnnviz.i18n import _
from cnnviz.plots import conv as plots
from cnnviz.plots.text import short_lines
from dashboard import layout
from dashboard.lab import lab_gradient_flow


def label(name: str) -> str:
    return _(ops.ACTIVATION_LABELS[name])


st.title(_("Activation functions"))
early = layout.early_figure()  # on a projector the curves and their legends come first, the controls under them
st.caption(_("After each conv or linear layer comes a non-linear function; without it, a stack of layers would be "
           "one big linear map. Backpropagation multiplies by its derivative at every layer."))

FORMULAS = {
    "sigmoid": r"\sigma(x) = \frac{1}{1+e^{-x}},\quad \sigma'(x) = \sigma(x)\,(1-\sigma(x)) \le 0.25",
    "tanh": r"\tanh'(x) = 1 - \tanh^2(x) \le 1",
    "relu": r"\mathrm{ReLU}(x) = \max(0, x),\quad \mathrm{ReLU}'(x) = 1 \text{ if } x>0 \text{ else } 0",
    "leaky_relu": r"\mathrm{LeakyReLU}(x) = x \text{ if } x>0 \text{ else } a\,x",
    "elu": r"\mathrm{ELU}(x) = x \text{ if } x>0 \text{ else } \alpha\,(e^{x}-1)",
}

if layout.presenter():  # one row of controls: the figure stays in a projector's first screen
    c1, c2, c3, c4 = st.columns([2.6, 1.5, 1.2, 2])
else:
    (c1, c2, c3), c4 = st.columns([3, 1, 1]), st
chosen = c1.multiselect(_("Functions"), list(ops.ACTIVATIONS), default=list(ops.ACTIVATIONS), key="ac_names",
                        format_func=label)
slope = c2.slider(_("Leaky ReLU slope a"), 0.0, 0.5, 0.1, 0.01, key="ac_slope")
alpha = c3.slider(_("ELU α"), 0.1, 3.0, 1.0, 0.1, key="ac_alpha")
x_range = c4.slider(_("x range"), -10.0, 10.0, (-5.0, 5.0), 0.5, key="ac_range")
if x_range[0] >= x_range[1]:
    st.error(_("The x range needs a left end smaller than its right end."))
    st.stop()
x = np.linspace(*x_range, 401)
curves = {name: ops.activation(name, x, slope=slope, alpha=alpha) for name in chosen}
if not curves:
    st.info(_("Pick at least one function."))
else:
    figure = plots.activation_figure(x, curves, labels={n: label(n) for n in curves})
    # Readable on a phone too (a panel is ~160 px wide there): each panel's legend a column under it, below the axis
    # title, and each heading centred over its panel in short lines.
    figure.update_layout(height=560, margin_t=84, legend=dict(orientation="v", y=-0.2, yanchor="top"),
                         legend2=dict(orientation="v", y=-0.2, yanchor="top"))
    for heading in figure.layout.annotations:
        heading.update(text=short_lines(heading.text), xanchor="center")
    layout.chart(figure, key="ac_curves", where=layout.main_figure(early=early))
    # a new x range makes a new slider: it starts where the last one was, moved inside the range (0.5 at first)
    start = min(max(float(st.session_state.get("ac_probe", 0.5)), x_range[0]), x_range[1])
    probe = st.slider(_("Evaluate at x ="), float(x_range[0]), float(x_range[1]), start, 0.1, key="ac_probe")
    cols = st.columns(len(curves))
    for col, name in zip(cols, curves):
        y, dy = ops.activation(name, np.array([probe]), slope=slope, alpha=alpha)
        # the slope as a plain number: a metric's delta badge (↑ 0.2350) would read as an increase
        col.metric(label(name), f"f = {y[0]:.4f}")
        col.caption(_("slope f′ = {slope:.4f}").format(slope=dy[0]))
    with st.expander(_("Formulas")):
        for name in curves:
            st.latex(FORMULAS[name])

st.subheader(_("Vanishing gradient"))
st.markdown(_("A gradient is multiplied by the activation's derivative at every layer on its way back to the first "
            "layer. The sigmoid's derivative is at most 0.25, so N sigmoid layers shrink it by up to 0.25ᴺ (the "
            "weights multiply it too); ReLU's derivative is 1 wherever the unit is active."))
d1, d2 = st.columns([3, 1])
depth = d1.slider(_("Depth N (layers)"), 1, 40, 10, key="ac_depth")
compare = d2.selectbox(_("Compare with"), ["relu", "tanh", "leaky_relu", "elu"], key="ac_compare", format_func=label)
flows = [lab_gradient_flow(depth, "sigmoid"), lab_gradient_flow(depth, compare)]
layout.chart(plots.gradient_flow_figure(flows, labels={n: label(n) for n in ("sigmoid", compare)}), key="ac_flow")
m1, m2, m3 = st.columns(3)
m1.metric(_("Layer 1 ÷ layer N gradient, sigmoid"), f"{flows[0].first_to_last:.1e}")
m2.metric(_("Layer 1 ÷ layer N gradient, {name}").format(name=label(compare)), f"{flows[1].first_to_last:.1e}")
m3.metric(_("Best case of N−1 sigmoid slopes: 0.25ᴺ⁻¹"), f"{0.25 ** (depth - 1):.1e}")
st.caption(_("{depth} fully connected layers of width 32 with He-initialised weights, a batch of 64 random inputs, "
             "loss = sum of the outputs; the norm of ∂loss/∂W is measured in each layer by PyTorch's "
             "autograd.").format(depth=depth))
