"""Caches that pages of every section read: Fashion-MNIST, decoded uploads, the bundled sample photos and the model
zoo's summaries. Shared by all sessions: read-only.
"""

from __future__ import annotations

import streamlit as st

import cnnviz
from cnnviz.i18n import N_
from dashboard.layout import spinner


@spinner(N_("Loading Fashion-MNIST …"))
@st.cache_resource(show_spinner=False)
def fashion_mnist(train: bool) -> cnnviz.ImageData:
    return cnnviz.load_fashion_mnist(train=train)


WORK_SIDE = 2048  # uploads are shrunk to this longer side when decoded: no page draws more (≤ 12.6 MB each)


@st.cache_data(max_entries=8, show_spinner=False)
def decoded_image(data: bytes):
    """Decode an upload once per distinct file, shrunk early to WORK_SIDE: at most 8 × 12.6 MB for the whole
    server, whatever is uploaded (full-size 36 MP photos once kept ~116 MB each). Raises cnnviz.ImageError."""
    return cnnviz.decode_image(data, max_side=WORK_SIDE)


@st.cache_data(max_entries=10, show_spinner=False)
def fashion_class_count(cls: int) -> int:
    """How many Fashion-MNIST test images class ``cls`` has."""
    return int((fashion_mnist(False).labels == cls).sum())


@st.cache_data(max_entries=64, show_spinner=False)
def fashion_png(cls: int, nth: int) -> bytes:
    """The ``nth`` Fashion-MNIST test image of class ``cls`` as PNG bytes (28×28 grey)."""
    import io

    from PIL import Image

    test = fashion_mnist(False)
    index = int((test.labels == cls).nonzero()[nth])
    buf = io.BytesIO()
    Image.fromarray(test.images[index, 0].numpy()).save(buf, format="PNG")
    return buf.getvalue()


@st.cache_data(max_entries=16, show_spinner=False)
def sample_bytes(name: str) -> bytes:
    return cnnviz.sample_images()[name].read_bytes()


@spinner(N_("Summarising the model …"))
@st.cache_data(max_entries=16, show_spinner=False)
def model_summary(name: str) -> cnnviz.ModelSummary:
    return cnnviz.summarize(name)
