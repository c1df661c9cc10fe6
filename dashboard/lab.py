"""Caches of the convolution lab's pages (photos as arrays, the gradient-flow experiment, the layer stack checked by
PyTorch) and the key by which the layer stack hands a network to the training studio."""

from __future__ import annotations

import streamlit as st

from cnnviz.i18n import N_
from dashboard.data import decoded_image
from dashboard.layout import spinner

STACK_KEY = "cnnviz.stack"  # (spec: list[dict], input_shape: tuple[int, int, int]) sent from the layer-stack page


@st.cache_data(max_entries=16, show_spinner=False)
def lab_photo(data: bytes, channels: int | None, max_side: int):
    """An upload or sample as float C×H×W in [0, 1], longer side <= max_side; raises cnnviz.ImageError."""
    from cnnviz import ops

    return ops.photo_to_array(decoded_image(data), channels=channels, max_side=max_side)


@st.cache_data(max_entries=64, show_spinner=False)
def lab_gradient_flow(depth: int, activation: str):
    from cnnviz import ops

    return ops.gradient_flow(depth, activation=activation)


@spinner(N_("Building the stack in PyTorch …"))
@st.cache_data(max_entries=32, show_spinner=False)
def lab_verify_stack(spec_json: str, input_shape: tuple[int, int, int]):
    """``cnnviz.stack.verify_stack`` on a JSON-encoded spec (hashable); raises ValueError."""
    import json

    from cnnviz import stack

    return stack.verify_stack(json.loads(spec_json), input_shape)
