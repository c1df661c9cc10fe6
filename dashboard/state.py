"""Every st.cache_* wrapper and session-state key of the dashboard, in one place.

Resources cached here are shared by all sessions: treat them as read-only. Anything that trains or
edits a model takes ``copy.deepcopy`` of it first (see ``private_copy``).
"""

from __future__ import annotations

import copy

import streamlit as st

import cnnviz

# ---------------------------------------------------------------------------- session-state keys
STACK_KEY = "cnnviz.stack"  # (spec: list[dict], input_shape: tuple[int, int, int]) sent from the layer-stack page


# ---------------------------------------------------------------------------- data


@st.cache_resource(show_spinner="Loading Fashion-MNIST …")
def fashion_mnist(train: bool) -> cnnviz.ImageData:
    return cnnviz.load_fashion_mnist(train=train)


@st.cache_data(max_entries=32, show_spinner=False)
def decoded_image(data: bytes):
    """Decode an upload once per distinct file; raises cnnviz.ImageError with a plain reason."""
    return cnnviz.decode_image(data)


@st.cache_data(show_spinner=False)
def sample_bytes(name: str) -> bytes:
    return cnnviz.sample_images()[name].read_bytes()


def private_copy(model):
    """A deep copy a page may train or change without touching the shared cached model."""
    return copy.deepcopy(model)


# ---- home / models (lead)


@st.cache_data(max_entries=16, show_spinner="Summarising the model …")
def model_summary(name: str) -> cnnviz.ModelSummary:
    return cnnviz.summarize(name)


# ---- conv lab (issue 3)


@st.cache_data(max_entries=16, show_spinner=False)
def lab_photo(data: bytes, channels: int | None, max_side: int):
    """An upload or sample as float C×H×W in [0, 1], longer side <= max_side; raises cnnviz.ImageError."""
    from cnnviz import ops

    return ops.photo_to_array(decoded_image(data), channels=channels, max_side=max_side)


@st.cache_data(max_entries=64, show_spinner=False)
def lab_gradient_flow(depth: int, activation: str):
    from cnnviz import ops

    return ops.gradient_flow(depth, activation=activation)


@st.cache_data(max_entries=32, show_spinner="Building the stack in PyTorch …")
def lab_verify_stack(spec_json: str, input_shape: tuple[int, int, int]):
    """``cnnviz.stack.verify_stack`` on a JSON-encoded spec (hashable); raises ValueError."""
    import json

    from cnnviz import stack

    return stack.verify_stack(json.loads(spec_json), input_shape)
