"""Convolution lab | Softmax and losses | :material/functions:

Softmax with temperature on example logits; binary cross-entropy, cross-entropy and MSE, and which task each is for.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from cnnviz import ops
from cnnviz.plots import conv as plots

st.title("Softmax and loss functions")

st.subheader("Softmax turns scores into probabilities")
st.latex(r"p_i = \frac{e^{z_i / T}}{\sum_j e^{z_j / T}}")
c1, c2 = st.columns([3, 2])
text = c1.text_input("Logits z (the network's raw scores, comma-separated)", "2.0, 1.0, 0.1, -1.0", key="sm_logits")
temperature = c2.slider("Temperature T", 0.1, 5.0, 1.0, 0.1, key="sm_temp",
                        help="T < 1 sharpens the distribution, T > 1 flattens it.")
try:
    logits = np.array([float(v) for v in text.replace(";", ",").split(",") if v.strip()])
    if len(logits) < 2:
        raise ValueError("give at least two numbers, e.g. 2, 1, 0.1")
    probs = ops.softmax(logits, temperature=temperature)
except ValueError as err:
    st.error(f"Cannot read these logits: {err}")
    st.stop()
labels = [f"class {i}" for i in range(len(logits))]
top = int(probs.argmax())
st.plotly_chart(plots.bars_figure(labels, probs, title=f"softmax(z / {temperature:g})", highlight=top,
                                  y_title="probability", y_range=(0, 1.1)), key="sm_bars")
m1, m2, m3 = st.columns(3)
m1.metric("Predicted class", labels[top])
m2.metric("Its probability", f"{probs[top]:.3f}")
m3.metric("Sum of probabilities", f"{probs.sum():.3f}")

st.subheader("Loss: how wrong is the prediction?")
true = st.selectbox("The correct class", labels, key="sm_true")
t = labels.index(true)
onehot = np.eye(len(logits))[t]
ce = ops.cross_entropy(logits / temperature, t)
m1, m2, m3 = st.columns(3)
m1.metric("Cross-entropy  −log p(correct)", f"{ce:.4f}")
m2.metric("MSE against the one-hot target", f"{ops.mse(probs, onehot):.4f}")
m3.metric("p(correct)", f"{probs[t]:.4f}")

p = np.linspace(0.001, 0.999, 300)
curves = {"cross-entropy / BCE: −log p": -np.log(p), "BCE when the answer is 0: −log(1−p)": -np.log(1 - p),
          "MSE: (1 − p)²": (1 - p) ** 2}
st.plotly_chart(plots.loss_figure(p, curves, marker=float(probs[t])), key="sm_losses")
st.caption("Cross-entropy punishes a confident wrong answer without limit (−log p → ∞ as p → 0); MSE never gives "
           "more than 1 here, so its gradient is weak exactly when the network is most wrong.")

st.subheader("Binary cross-entropy on one prediction")
b1, b2 = st.columns(2)
p_hat = b1.slider("Predicted probability of class 1 (sigmoid output)", 0.01, 0.99, 0.8, 0.01, key="sm_p")
y = b2.radio("True label", [1, 0], horizontal=True, key="sm_y")
st.metric("Binary cross-entropy", f"{ops.binary_cross_entropy(np.array([p_hat]), np.array([float(y)])):.4f}")

st.markdown("""
| Loss | Task | Output layer | Formula |
|---|---|---|---|
| Binary cross-entropy | two classes (cat or not), or several yes/no labels | sigmoid, one unit per label | −[y log p + (1−y) log(1−p)] |
| Cross-entropy | one class out of many (digits 0-9, Fashion-MNIST) | softmax over the classes | −log p(correct class) |
| Mean squared error | regression: predict numbers (age, a box's position) | none (linear) | mean of (prediction − target)² |
""")
