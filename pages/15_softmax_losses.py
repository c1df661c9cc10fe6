"""Convolution lab | Softmax and losses | :material/functions:

Softmax with temperature on example logits; binary cross-entropy, cross-entropy and MSE, and which task each is for.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from cnnviz import ops
from cnnviz.i18n import _
from cnnviz.plots import conv as plots
from dashboard import layout

st.title(_("Softmax and loss functions"))

st.subheader(_("Softmax turns scores into probabilities"))
SOFTMAX = r"p_i = \frac{e^{z_i / T}}{\sum_j e^{z_j / T}}"
if layout.presenter():  # the formula beside the inputs: the bars stay in a projector's first screen
    formula, c1, c2 = st.columns([2, 3, 2], vertical_alignment="bottom")
    formula.latex(SOFTMAX)
else:
    st.latex(SOFTMAX)
    c1, c2 = st.columns([3, 2])
text = c1.text_input(_("Logits z (the network's raw scores, comma-separated)"), "2.0, 1.0, 0.1, -1.0",
                     key="sm_logits")
temperature = c2.slider(_("Temperature T"), 0.1, 5.0, 1.0, 0.1, key="sm_temp",
                        help=_("T < 1 sharpens the distribution, T > 1 flattens it."))
try:
    logits = ops.parse_logits(text)
    probs = ops.softmax(logits, temperature=temperature)
except ValueError as err:
    st.error(_("Cannot read these logits: {err}").format(err=err))
    st.stop()
labels = [_("class {i}").format(i=i) for i in range(len(logits))]
top = int(probs.argmax())
layout.chart(plots.bars_figure(labels, probs, title=f"softmax(z / {temperature:g})", highlight=top,
                              y_title=_("probability"), y_range=(0, 1.1)), key="sm_bars", where=layout.main_figure())
m1, m2, m3 = st.columns(3)
m1.metric(_("Predicted class"), labels[top])
m2.metric(_("Its probability"), f"{probs[top]:.3f}")
m3.metric(_("Sum of probabilities"), f"{probs.sum():.3f}")

st.subheader(_("Loss: how wrong is the prediction?"))
t = st.selectbox(_("The correct class"), list(range(len(labels))), key="sm_true", format_func=lambda i: labels[i])
onehot = np.eye(len(logits))[t]
ce = ops.cross_entropy(logits / temperature, t)
m1, m2, m3 = st.columns(3)
m1.metric(_("Cross-entropy  −log p(correct)"), f"{ce:.4f}")
m2.metric(_("MSE against the one-hot target"), f"{ops.mse(probs, onehot):.4f}",
          help=_("The mean over all classes of (p − y)², with y the one-hot target: the curve below uses the same "
                 "definition."))
m3.metric(_("p(correct)"), f"{probs[t]:.4f}")

p = np.linspace(0.001, 0.999, 300)
curves = {_("cross-entropy / BCE: −log p"): -np.log(p), _("BCE when the answer is 0: −log(1−p)"): -np.log(1 - p),
          _("MSE against the one-hot target (mean over the classes)"): ops.mse_onehot_curve(probs, t, p)}
layout.chart(plots.loss_figure(p, curves, marker=float(probs[t])), key="sm_losses")
st.caption(_("The MSE curve keeps the other classes' shares of 1 − p as they are now, so at the dashed line it is "
             "exactly the number above."))
st.caption(_("Cross-entropy punishes a confident wrong answer without limit (−log p → ∞ as p → 0); MSE never gives "
           "more than 1 here, so its gradient is weak exactly when the network is most wrong."))

st.subheader(_("Binary cross-entropy on one prediction"))
b1, b2 = st.columns(2)
p_hat = b1.slider(_("Predicted probability of class 1 (sigmoid output)"), 0.01, 0.99, 0.8, 0.01, key="sm_p")
y = b2.radio(_("True label"), [1, 0], horizontal=True, key="sm_y")
st.metric(_("Binary cross-entropy"), f"{ops.binary_cross_entropy(np.array([p_hat]), np.array([float(y)])):.4f}")

st.markdown(_("""
| Loss | Task | Output layer | Formula |
|---|---|---|---|
| Binary cross-entropy | two classes (cat or not), or several yes/no labels | sigmoid, one unit per label | −[y log p + (1−y) log(1−p)] |
| Cross-entropy | one class out of many (digits 0-9, Fashion-MNIST) | softmax over the classes | −log p(correct class) |
| Mean squared error | regression: predict numbers (age, a box's position) | none (linear) | mean of (prediction − target)² |
"""))
