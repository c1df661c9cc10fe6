"""Convolution lab | Activation functions | :material/show_chart:

Sigmoid, tanh, ReLU, leaky ReLU and ELU with their derivatives, and why deep sigmoid networks stop learning.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from cnnviz import ops
from cnnviz.plots import conv as plots
from dashboard import state

st.title("Activation functions")
st.caption("After each conv or linear layer comes a non-linear function; without it, a stack of layers would be "
           "one big linear map. Backpropagation multiplies by its derivative at every layer.")

FORMULAS = {
    "sigmoid": r"\sigma(x) = \frac{1}{1+e^{-x}},\quad \sigma'(x) = \sigma(x)\,(1-\sigma(x)) \le 0.25",
    "tanh": r"\tanh'(x) = 1 - \tanh^2(x) \le 1",
    "relu": r"\mathrm{ReLU}(x) = \max(0, x),\quad \mathrm{ReLU}'(x) = 1 \text{ if } x>0 \text{ else } 0",
    "leaky_relu": r"\mathrm{LeakyReLU}(x) = x \text{ if } x>0 \text{ else } a\,x",
    "elu": r"\mathrm{ELU}(x) = x \text{ if } x>0 \text{ else } \alpha\,(e^{x}-1)",
}

c1, c2, c3 = st.columns([3, 1, 1])
chosen = c1.multiselect("Functions", list(ops.ACTIVATIONS), default=list(ops.ACTIVATIONS), key="ac_names")
slope = c2.slider("Leaky ReLU slope a", 0.0, 0.5, 0.1, 0.01, key="ac_slope")
alpha = c3.slider("ELU α", 0.1, 3.0, 1.0, 0.1, key="ac_alpha")
x_range = st.slider("x range", -10.0, 10.0, (-5.0, 5.0), 0.5, key="ac_range")
if x_range[0] >= x_range[1]:
    st.error("The x range needs a left end smaller than its right end.")
    st.stop()
x = np.linspace(*x_range, 401)
curves = {name: ops.activation(name, x, slope=slope, alpha=alpha) for name in chosen}
if not curves:
    st.info("Pick at least one function.")
else:
    st.plotly_chart(plots.activation_figure(x, curves), key="ac_curves")
    probe = st.slider("Evaluate at x =", float(x_range[0]), float(x_range[1]), 0.5, 0.1, key="ac_probe")
    cols = st.columns(len(curves))
    for col, name in zip(cols, curves):
        y, dy = ops.activation(name, np.array([probe]), slope=slope, alpha=alpha)
        col.metric(name, f"{y[0]:.4f}", f"slope {dy[0]:.4f}", delta_color="off")
    with st.expander("Formulas"):
        for name in curves:
            st.latex(FORMULAS[name])

st.subheader("Vanishing gradient")
st.markdown("A gradient is multiplied by the activation's derivative at every layer on its way back to the first "
            "layer. The sigmoid's derivative is at most 0.25, so N sigmoid layers shrink it by up to 0.25ᴺ (the "
            "weights multiply it too); ReLU's derivative is 1 wherever the unit is active.")
d1, d2 = st.columns([3, 1])
depth = d1.slider("Depth N (layers)", 1, 40, 10, key="ac_depth")
compare = d2.selectbox("Compare with", ["relu", "tanh", "leaky_relu", "elu"], key="ac_compare")
flows = [state.lab_gradient_flow(depth, "sigmoid"), state.lab_gradient_flow(depth, compare)]
st.plotly_chart(plots.gradient_flow_figure(flows), key="ac_flow")
m1, m2, m3 = st.columns(3)
m1.metric("Layer 1 ÷ layer N gradient, sigmoid", f"{flows[0].first_to_last:.1e}")
m2.metric(f"Layer 1 ÷ layer N gradient, {compare}", f"{flows[1].first_to_last:.1e}")
m3.metric("Best case of N−1 sigmoid slopes: 0.25ᴺ⁻¹", f"{0.25 ** (depth - 1):.1e}")
st.caption(f"{depth} fully connected layers of width 32 with He-initialised weights, a batch of 64 random inputs, "
           "loss = sum of the outputs; the norm of ∂loss/∂W is measured in each layer by PyTorch's autograd.")
