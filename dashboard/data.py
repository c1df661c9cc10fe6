"""Caches that pages of every section read: Fashion-MNIST and MNIST, decoded uploads, the bundled sample photos and
the model zoo's summaries. Shared by all sessions: read-only.
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


@spinner(N_("Loading the dataset …"))
@st.cache_resource(max_entries=4, show_spinner=False)
def bundled_dataset(name: str, train: bool) -> cnnviz.ImageData:
    """A bundled dataset, "fashion_mnist" or "mnist" (its training or test images); shared, read-only. Raises
    cnnviz.DatasetUnavailable when its files are missing."""
    if name == "fashion_mnist":
        return fashion_mnist(train)
    return cnnviz.load_dataset(name, train=train, download=False)


WORK_SIDE = 2048  # uploads are shrunk to this longer side when decoded: no page draws more (≤ 12.6 MB each)


@st.cache_data(max_entries=8, show_spinner=False)
def decoded_image(data: bytes):
    """Decode an upload once per distinct file, shrunk early to WORK_SIDE: at most 8 × 12.6 MB for the whole
    server, whatever is uploaded (full-size 36 MP photos once kept ~116 MB each). Raises cnnviz.ImageError."""
    return cnnviz.decode_image(data, max_side=WORK_SIDE)


@st.cache_data(max_entries=20, show_spinner=False)
def testset_class_count(dataset: str, cls: int) -> int:
    """How many test images of a bundled dataset ("fashion_mnist" or "mnist") class ``cls`` has."""
    return int((bundled_dataset(dataset, False).labels == cls).sum())


@st.cache_data(max_entries=64, show_spinner=False)
def testset_png(dataset: str, cls: int, nth: int) -> bytes:
    """The ``nth`` test image of class ``cls`` of a bundled dataset as PNG bytes (28×28 grey)."""
    import io

    from PIL import Image

    test = bundled_dataset(dataset, False)
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
